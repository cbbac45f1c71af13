"""WARC in and out (warcio): write each fetched page as request + response records; import the HTML
pages of any WARC file (ours, Common Crawl's, a browser extension's) into the archive.

Page.body is the decompressed body, so the response record says what its bytes are: the
Content-Encoding and Transfer-Encoding headers are dropped (kept as X-Archive-Orig-* for the
record) and Content-Length is the length of the bytes written. Replay tools (pywb,
ReplayWeb.page) then serve the page as stored, and any reader gets the HTML without guessing.
"""
from __future__ import annotations

import http.client
import io
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping
from urllib.parse import urlsplit

from requests.structures import CaseInsensitiveDict
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from .. import __version__
from ..charset import decode_html
from ..errors import BadURL, NotHTML, OutputFailed, OutputRefused, ScraperError, StoreError
from ..fetch.http import FetchOptions, check_html
from ..models import Page
from ..outfiles import append_whole, check_target
from ..pipeline import FAILED, record_page
from ..profiles import Profile
from ..store.archive import Archive
from ..urls import parse_url
from .warc_ends import ends_whole
from .warcread import MAX_HEADER, RawRecord, WarcDamage, read_records

# Request headers that carry credentials: never written (README: credentials are never stored).
_SECRET_HEADERS = ("authorization", "proxy-authorization", "cookie")
# Headers that describe the transfer, not the bytes we keep (see the module docstring).
_TRANSFER_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
MAX_BYTES = FetchOptions().max_bytes  # the same cap as fetching: a bigger "page" is not an article


def _warc_date(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WarcWriter:
    """``with WarcWriter("crawl.warc.gz") as warc: warc.write_page(page)``.

    Appends to an existing file (gzip members and plain records both concatenate); a new file
    starts with a warcinfo record. Gzipped when the name ends in .gz. Thread-safe: the archiver's
    workers may share one writer. The file obeys outfiles.py's rules: never one of ``protect``
    (the archive's files), a regular file only, and an existing one must already be a WARC file
    (plain or gzipped), so a mistyped name never grows the archive or a page (OutputRefused).
    """

    def __init__(self, path: str | os.PathLike, *, gzip: bool | None = None,
                 protect: Iterable[str | os.PathLike] = ()):
        self.path = Path(path)
        self.gzip = self.path.name.endswith(".gz") if gzip is None else gzip
        self._lock = threading.Lock()
        check_target(path, protect=protect, append=True, magic=(b"WARC/", b"\x1f\x8b"))
        try:
            new = not self.path.exists() or self.path.stat().st_size == 0
            if not new and not ends_whole(self.path):
                raise OutputRefused(f"{path} ends in a partial record (a write cut short): what is added "
                                    f"after it could not be read; give another file")
            # Unbuffered: each exchange goes out in one append_whole, cut back if it fails midway.
            self._file = open(self.path, "ab", buffering=0)
        except OSError as exc:
            raise OutputRefused(f"cannot write the WARC file {path}: {exc.strerror}") from None
        # Records are made in memory, then appended whole: a full disk never leaves half a record.
        self._buffer = io.BytesIO()
        self._writer = WARCWriter(self._buffer, gzip=self.gzip)
        if new:
            try:
                self._writer.write_record(self._writer.create_warcinfo_record(self.path.name, {
                    "software": f"arabic-news-scraper/{__version__} (warcio)",
                    "format": "WARC File Format 1.0",
                    "description": "Response bodies are stored decoded (no Content-Encoding); "
                                   "credentials (Authorization, Cookie) are not kept.",
                }))
                self._flush()
            except BaseException:
                self._file.close()
                raise

    def _flush(self) -> None:
        """The records made since the last call, appended to the file whole (or not at all)."""
        data = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        try:
            append_whole(self._file, data)
        except OSError as exc:
            raise OutputFailed(f"cannot write the WARC file {self.path}: {exc.strerror or exc}; it ends on "
                               f"its last complete record") from None

    def write_page(self, page: Page) -> None:
        """Write one exchange: request + response for HTTP, a resource record for a local file."""
        fetched = bool(page.request_headers) or (
            urlsplit(page.final_url).scheme in ("http", "https") and bool(page.headers))
        with self._lock:
            if fetched:
                self._writer.write_request_response_pair(*self._exchange(page))
            else:
                self._writer.write_record(self._writer.create_warc_record(
                    _without_userinfo(page.final_url), "resource", payload=io.BytesIO(page.body),
                    length=len(page.body), warc_content_type=page.headers.get("Content-Type") or "text/html",
                    warc_headers_dict={"WARC-Date": _warc_date(page.fetched_at)}))
            self._flush()   # on disk page by page

    def _exchange(self, page: Page):
        date = {"WARC-Date": _warc_date(page.fetched_at)}
        uri = _without_userinfo(page.final_url)
        parts = urlsplit(uri)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        # The header stays, its value does not: the record still says credentials were sent.
        request_headers = [("Host", parts.netloc)] + [
            (k, "(redacted)" if k.lower() in _SECRET_HEADERS else v)
            for k, v in page.request_headers.items() if k.lower() != "host"]
        request = self._writer.create_warc_record(
            uri, "request", payload=io.BytesIO(b""), length=0, warc_headers_dict=date,
            http_headers=StatusAndHeaders(f"GET {target} HTTP/1.1", request_headers, is_http_request=True))
        headers = [(k, v) for k, v in page.headers.items() if k.lower() not in _TRANSFER_HEADERS]
        headers += [(f"X-Archive-Orig-{k}", v) for k, v in page.headers.items()
                    if k.lower() in _TRANSFER_HEADERS]
        headers.append(("Content-Length", str(len(page.body))))
        reason = http.client.responses.get(page.status, "")
        response = self._writer.create_warc_record(
            uri, "response", payload=io.BytesIO(page.body), length=None,
            warc_headers_dict=date,
            http_headers=StatusAndHeaders(f"{page.status} {reason}".strip(), headers, protocol="HTTP/1.1"))
        return request, response

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> "WarcWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _without_userinfo(url: str) -> str:
    """``url`` without a user name and password (http://alice:s3cret@host/ -> http://host/)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


# -- reading -------------------------------------------------------------------------------------

@dataclass
class ImportReport:
    records: int = 0                    # WARC records read
    pages: int = 0                      # HTML responses offered to the extractor
    outcomes: Counter = field(default_factory=Counter)   # saved / updated / unchanged
    skipped: Counter = field(default_factory=Counter)    # reason -> count
    problems: list[str] = field(default_factory=list)    # one line per malformed record, naming it
    errors: list[str] = field(default_factory=list)      # files that could not be read to the end

    def to_dict(self) -> dict:
        return {"records": self.records, "pages": self.pages, "outcomes": dict(self.outcomes),
                "skipped": dict(self.skipped), "problems": self.problems, "errors": self.errors}


class BadRecord(ScraperError):
    """One record that cannot be a page (a malformed date, status, header block...): one line."""


class WarcError(ScraperError):
    """A WARC file that cannot be read to the end (damaged or truncated)."""


# A page's bytes, plus the HTTP header block before them (held to the WARC header's cap).
MAX_BLOCK = MAX_BYTES + MAX_HEADER
_HTTP_STATUS = re.compile(r"HTTP/\d(\.\d)?\Z")


def warc_date(value: str | None) -> datetime:
    """A WARC-Date (W3C ISO 8601 in UTC, WARC 1.1 section 5.4; seconds, fractions or a bare day
    accepted) as an aware datetime; BadRecord for anything else."""
    text = (value or "").strip()
    try:
        if not _WARC_DATE.fullmatch(text):
            raise ValueError(text)
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRecord(f"WARC-Date {text[:40]!r} is not a date" if text else "no WARC-Date") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


_WARC_DATE = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?Z)?")


def _record_page(raw: RawRecord) -> tuple[Page | None, str | None]:
    """(Page, None) for an HTML page record, else (None, why it is skipped); BadRecord for a
    record that is malformed (it is named on stderr)."""
    kind = raw.headers.get("warc-type")
    if kind not in ("response", "resource"):
        return None, None                # requests, warcinfo, metadata, revisits: not pages
    try:
        # WARC 1.1's own example wraps the URI in <>; some writers followed it.
        url = parse_url(raw.headers.get("warc-target-uri", "").strip().strip("<>")).text
    except BadURL as exc:
        raise BadRecord(f"WARC-Target-URI is not a valid URL ({exc.why})") from None
    when = warc_date(raw.headers.get("warc-date"))
    if raw.block is None:
        return None, "too large"
    http = kind == "response" and raw.headers.get("content-type", "").lower().startswith("application/http")
    if http and b"\r\n\r\n" not in raw.block[:MAX_HEADER] and b"\n\n" not in raw.block[:MAX_HEADER]:
        # Before warcio reads the lines: an HTTP header line is held to the WARC header's cap too.
        raise BadRecord(f"its HTTP header block has no end in its first {MAX_HEADER // 1024} KiB")
    try:
        record = next(ArchiveIterator(io.BytesIO(raw.head + raw.block + b"\r\n\r\n")))
    except Exception as exc:  # warcio raises many kinds on malformed headers
        raise BadRecord(f"unreadable record ({exc.__class__.__name__})") from None
    if kind == "response":
        if record.http_headers is None:
            return None, "not HTTP"
        status = record.http_headers.get_statuscode() or ""
        if not (_HTTP_STATUS.match(record.http_headers.protocol or "") and status.isascii()
                and status.isdigit() and len(status) == 3):
            raise BadRecord(f"HTTP status line {record.http_headers.statusline[:60]!r} is not one")
        headers = CaseInsensitiveDict(
            (k, v) for k, v in record.http_headers.headers if k.lower() not in _TRANSFER_HEADERS)
        if status != "200":
            return None, f"HTTP {status}"
    else:
        headers = CaseInsensitiveDict({"Content-Type": raw.headers.get("content-type", "")})
    try:
        check_html(url, headers.get("Content-Type"))
    except NotHTML:
        return None, "not HTML"
    try:
        body = record.content_stream().read(MAX_BYTES + 1)  # transfer and content encodings undone
    except Exception:  # zlib, brotli or chunking errors: this record's body is broken, not the file
        raise BadRecord("its body does not decode (Content-Encoding or chunks damaged)") from None
    if len(body) > MAX_BYTES:
        return None, "too large"
    if not body:    # a capture of nothing (or a header damaged so the body reads as none)
        return None, "empty"
    try:
        check_html(url, headers.get("Content-Type"), body)      # what `fetch` refuses, refused
    except NotHTML as exc:
        raise BadRecord(str(exc).removeprefix(f"{url}: ")) from None
    html, encoding = decode_html(body, headers.get("Content-Type"))
    return Page(url=url, final_url=url, status=200, headers=headers, body=body, html=html,
                encoding=encoding, fetched_at=when), None


def iter_pages(path: str | os.PathLike, report: ImportReport) -> Iterator[Page]:
    """The HTML pages of one WARC file (plain or gzipped), counting the rest in ``report``; a
    malformed record is one line in ``report.problems``, and the records after it are read on.
    WarcError when the file cannot be read to its end (what was read before is kept)."""
    with open(path, "rb") as stream:
        try:
            for raw in read_records(stream, MAX_BLOCK):
                report.records += 1
                try:
                    if raw.problem:
                        raise BadRecord(raw.problem)
                    page, why = _record_page(raw)
                except BadRecord as exc:
                    report.problems.append(f"{path}: {raw.name}: {exc}")
                    continue
                if why:
                    report.skipped[why] += 1
                if page is not None:
                    yield page
        except WarcDamage as exc:
            raise WarcError(f"{path}: {exc}") from None


def import_warc(archive: Archive, paths: list[str], *, profiles: Mapping[str, Profile] | None = None,
                on_page: Callable[[str, str], None] | None = None) -> ImportReport:
    """Archive the article pages of WARC files as if fetched then (WARC-Date is the fetch time),
    each through the same record path as a fetched page (pipeline.record_page).

    A capture older than the version already archived is skipped: the archive's current record
    stays the newest one whatever order the files come in.
    """
    report = ImportReport()
    for path in paths:
        try:
            for page in iter_pages(path, report):
                report.pages += 1
                outcome = _record(archive, page, profiles)
                (report.outcomes if outcome in ("saved", "updated", "unchanged") else report.skipped)[outcome] += 1
                if on_page:
                    on_page(outcome, page.url)
        except WarcError as exc:
            report.errors.append(str(exc))
        except OSError as exc:
            report.errors.append(f"{path}: cannot read ({exc.__class__.__name__}: {exc})")
    return report


def _record(archive: Archive, page: Page, profiles: Mapping[str, Profile] | None) -> str:
    if archive.has_newer(page.final_url, page.fetched_at):
        return "older than archived"
    outcome = record_page(archive, page, profiles=profiles)
    return "no article" if outcome.status == FAILED else outcome.status
