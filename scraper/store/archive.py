"""The archive on disk: Article (+ raw Page) -> rows in SQLite via sqlite-utils, and the errors of that boundary.

One article is one row however it was linked (every URL it was reached by is in `url_aliases`);
a changed article keeps its previous version in `revisions`; the raw bytes of every distinct
version are kept compressed in `pages`. Each save is one transaction, so a crash, a full disk
or a kill -9 leaves either the whole article or nothing. sqlite3 errors are turned into
StoreError subclasses here and nowhere else.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence
from urllib.parse import urlsplit, urlunsplit

from requests.structures import CaseInsensitiveDict
from sqlite_utils import Database

from ..charset import decode_html
from ..errors import DatabaseBusy, DiskFull, NotADatabase, NotArchived, StoreError
from .migrations import migrate, write_transaction
from ..models import ARTICLE_FIELDS, Article, FetchAttempt, Page
from ..urls import canonicalize, same_site

SQLITE_HEADER = b"SQLite format 3\x00"
# What a fetch attempt can come to ("retried": an earlier attempt of a fetch that was tried again).
FETCH_OUTCOMES = frozenset(
    {"saved", "updated", "unchanged", "not_modified", "skipped", "failed", "retried", "redirected",
     "discovery"})
# The fields of a version kept in `revisions` (and listed by history()).
SNAPSHOT_FIELDS = ("title", "published", "modified", "author", "section", "tags", "summary",
                   "text", "content_hash", "fetched_at", "page_id")
_RAW_BATCH = 16  # raw pages read per query by iter_raw_pages: bounded memory, no long-held cursor


@dataclass(frozen=True)
class SaveResult:
    outcome: Literal["saved", "updated", "unchanged"]
    article_id: int


class Archive:
    """An open archive database. ``Archive.open(path)``; a context manager; ``.db`` for reads.

    One Archive may be shared by threads: its methods take a lock, so transactions never interleave.
    """

    def __init__(self, db: Database, path: Path, busy_timeout: float):
        self.db = db
        self.path = path
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | os.PathLike, *, busy_timeout: float = 30.0) -> "Archive":
        """Open (creating if missing) the archive: WAL mode, busy timeout, foreign keys, migrations."""
        path = Path(path)
        _check_location(path)
        conn = None
        try:
            conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=False)
            db = Database(conn)
            db.enable_wal()  # readers never wait for the writer, and the writer never waits for them
            db.execute("PRAGMA foreign_keys = ON")
            # In WAL mode NORMAL never corrupts and survives kill -9; only a power cut can undo the
            # last commits, which the next run fetches again. FULL would fsync every article.
            db.execute("PRAGMA synchronous = NORMAL")
            migrate(db)
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise _store_error(exc, path, busy_timeout) from exc
        return cls(db, path, busy_timeout)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialise access and turn sqlite3 errors into StoreErrors (the only place that does)."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise _store_error(exc, self.path, self.busy_timeout) from exc

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """``with archive.transaction() as db:`` one write transaction for other modules' tables."""
        with self._guard(), write_transaction(self.db) as db:
            yield db

    # -- writing -----------------------------------------------------------------------------

    def save(self, article: Article, page: Page | None = None, *, run_id: int | None = None) -> SaveResult:
        """Store an article (and the raw page it came from) in one transaction.

        Same content hash as stored: "unchanged" (only fetched_at and the validators refreshed).
        Different: "updated", the previous version kept in `revisions`. New: "saved".
        ``run_id`` is accepted for symmetry with log_fetch; runs are recorded in the fetch log.
        """
        if page is not None and page.not_modified:
            raise ValueError("a 304 answer has no body to store: log_fetch(outcome='not_modified')")
        key, aliases = article_identity(article, page)
        now = _now()
        record = {"url": key, **row_values(article, page)}
        fetched = {"fetched_at": _iso(page.fetched_at) if page else now}
        if page is not None:
            fetched.update(http_status=page.status, etag=page.etag, last_modified=page.last_modified)
        articles = self.db.table("articles")
        with self._guard(), write_transaction(self.db):
            article_id = self._lookup(aliases)
            if article_id is None:
                article_id = articles.insert({**record, **fetched, "first_seen": now, "updated_at": now}).last_pk
                outcome, changes, page_id = "saved", {}, None
            else:
                current = articles.get(article_id)
                page_id = current["page_id"]
                if current["content_hash"] == record["content_hash"]:
                    outcome, changes = "unchanged", fetched
                else:
                    self.db.table("revisions").insert(
                        {"article_id": article_id, "replaced_at": fetched["fetched_at"],
                         **{name: current[name] for name in SNAPSHOT_FIELDS}})
                    record.pop("url")   # the row keeps its first key URL: links to it keep working
                    outcome, changes, page_id = "updated", {**record, **fetched, "updated_at": now}, None
            for url in aliases:
                self.db.execute("INSERT OR IGNORE INTO url_aliases (url, article_id) VALUES (?, ?)",
                                [url, article_id])
            # An unchanged article keeps the page its record came from, unless it has none yet.
            if page is not None and (outcome != "unchanged" or page_id is None):
                page_id = self._store_page(article_id, page)
            articles.update(article_id, {**changes, "page_id": page_id})
        return SaveResult(outcome, article_id)

    def _store_page(self, article_id: int, page: Page) -> int:
        """The id of this article's page with these exact bytes, stored now if it is new."""
        digest = hashlib.sha256(page.body).hexdigest()
        row = self.db.execute("SELECT id FROM pages WHERE article_id = ? AND sha256 = ?",
                              [article_id, digest]).fetchone()
        if row:
            return row[0]
        return self.db.table("pages").insert({
            "article_id": article_id, "url": page.url, "final_url": page.final_url,
            "fetched_at": _iso(page.fetched_at), "status": page.status,
            "headers": json.dumps(dict(page.headers), ensure_ascii=False),
            "encoding": page.encoding, "sha256": digest, "size": len(page.body),
            "body": zlib.compress(page.body, 6),
        }).last_pk

    def log_fetch(self, url: str, *, outcome: str, status: int | None = None, error: str | None = None,
                  bytes: int = 0, elapsed: float = 0.0, etag: str | None = None,
                  last_modified: str | None = None, run_id: int | None = None,
                  at: datetime | str | None = None) -> None:
        """One line in the fetch log: every attempt, whatever came of it."""
        if outcome not in FETCH_OUTCOMES:
            raise ValueError(f"unknown fetch outcome {outcome!r} (one of {', '.join(sorted(FETCH_OUTCOMES))})")
        when = _now() if at is None else at if isinstance(at, str) else _iso(at)
        with self._guard(), write_transaction(self.db):
            self.db.table("fetch_log").insert({
                "url": url, "at": when, "status": status, "outcome": outcome, "error": error,
                "bytes": bytes, "elapsed": elapsed, "etag": etag, "last_modified": last_modified,
                "run_id": run_id})

    def log_attempts(self, attempts: Sequence[FetchAttempt], *, final: str | None, error: str | None = None,
                     run_id: int | None = None) -> None:
        """Log the HTTP attempts of one fetch (what fetch() passes to ``on_attempt``).

        The last attempt carries the fetch's ``final`` outcome (and ``error``); earlier ones were
        redirect hops (3xx) or retries. ``final=None`` marks discovery fetches (feeds, sitemaps,
        start pages, robots.txt), logged as ``discovery`` or ``failed``.
        """
        for i, attempt in enumerate(attempts):
            last = i == len(attempts) - 1
            status = attempt.status or 0
            if final is None:
                outcome = "failed" if attempt.error or status >= 400 else "discovery"
            elif last:
                outcome = final
            else:
                outcome = "redirected" if 300 <= status < 400 else "retried"
            self.log_fetch(
                attempt.url, outcome=outcome, status=attempt.status,
                error=(error if last and error else attempt.error), bytes=attempt.bytes,
                elapsed=attempt.elapsed, etag=attempt.etag, last_modified=attempt.last_modified,
                run_id=run_id)

    def rewrite(self, article_id: int, article: Article, page: Page, *, dry_run: bool = False) -> list[str]:
        """Rewrite in place every field of the record derived from its page (all but the key URL and
        the fetch's own columns); return the names of those that changed.

        For re-extraction after a rule change: the page is the stored one, so no revision is kept
        (revisions are versions of the article, not of our rules) and no time but updated_at moves.
        """
        values = row_values(article, page)
        with self._guard(), contextlib.nullcontext() if dry_run else write_transaction(self.db):
            current = self.db.table("articles").get(article_id)
            changes = {name: value for name, value in values.items() if current.get(name) != value}
            if changes and not dry_run:
                self.db.table("articles").update(article_id, {**changes, "updated_at": _now()})
        return list(changes)

    # -- reading -----------------------------------------------------------------------------

    def _lookup(self, urls: list[str]) -> int | None:
        """The article any of ``urls`` (or their www/scheme variants) leads to; earlier URLs win."""
        candidates = list(dict.fromkeys(v for url in urls for v in _variants(url)))
        marks = ", ".join("?" * len(candidates))
        found = dict(self.db.execute(
            f"SELECT url, article_id FROM url_aliases WHERE url IN ({marks})", candidates).fetchall())
        return next((found[url] for url in candidates if url in found), None)

    def find(self, url: str) -> int | None:
        """The id of the article reached by ``url`` in any of its known forms, or None."""
        with self._guard():
            return self._lookup([canonicalize(url)])

    def has(self, url: str) -> bool:
        return self.find(url) is not None

    def _require(self, url: str) -> int:
        article_id = self.find(url)
        if article_id is None:
            raise NotArchived(f"{url} is not in the archive (archive it first: scraper fetch URL)")
        return article_id

    def has_newer(self, url: str, moment: datetime) -> bool:
        """Whether the article reached by ``url`` is archived from a fetch later than ``moment``."""
        with self._guard():
            article_id = self._lookup([canonicalize(url)])
            row = article_id and self.db.execute("SELECT fetched_at FROM articles WHERE id = ?",
                                                 [article_id]).fetchone()
        return bool(row and row[0]) and datetime.fromisoformat(row[0]) > moment

    def key_url(self, article_id: int) -> str:
        """The article's key URL (the one its row is known by)."""
        with self._guard():
            row = self.db.execute("SELECT url FROM articles WHERE id = ?", [article_id]).fetchone()
        if row is None:
            raise NotArchived(f"article {article_id} is not in the archive")
        return row[0]

    def get(self, url: str) -> dict[str, Any]:
        """The stored record of the article reached by ``url``, tags as a list."""
        article_id = self._require(url)
        with self._guard():
            return _decoded(self.db.table("articles").get(article_id))

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) to send with a conditional GET for this article."""
        record = self.get(url)
        return record["etag"], record["last_modified"]

    def history(self, url: str) -> list[dict[str, Any]]:
        """Every version, oldest first: the revisions (with replaced_at), then the current one."""
        article_id = self._require(url)
        fields = ", ".join(SNAPSHOT_FIELDS)
        with self._guard():
            versions = [_decoded(row) for row in self.db.query(
                f"SELECT {fields}, replaced_at FROM revisions WHERE article_id = ? ORDER BY id",
                [article_id])]
            current = next(self.db.query(
                f"SELECT {fields}, NULL AS replaced_at FROM articles WHERE id = ?", [article_id]))
        return versions + [_decoded(current)]

    def raw_page(self, article_id: int) -> Page:
        """The raw page the article's current record came from (else its latest), decoded again."""
        with self._guard():
            row = next(self.db.query(
                "SELECT * FROM pages WHERE id = (SELECT COALESCE(a.page_id, "
                "(SELECT max(id) FROM pages WHERE article_id = a.id)) FROM articles a WHERE a.id = ?)",
                [article_id]), None)
        if row is None:
            raise NotArchived(f"article {article_id} has no stored raw page")
        return _page_from_row(row)

    def iter_raw_pages(self, site: str | None = None) -> Iterator[tuple[int, Page]]:
        """(article_id, Page) for every article with a raw page, by id, to re-extract without fetching.

        Read in small keyset batches rather than one open cursor, so memory stays bounded and the
        caller may save re-extracted articles while iterating.
        """
        last_id = 0
        site_clause = "AND a.site = :site" if site is not None else ""
        while True:
            with self._guard():
                rows = list(self.db.query(
                    "SELECT a.id AS _article_id, p.* FROM articles a JOIN pages p ON p.id = "
                    "COALESCE(a.page_id, (SELECT max(id) FROM pages WHERE article_id = a.id)) "
                    f"WHERE a.id > :last {site_clause} ORDER BY a.id LIMIT {_RAW_BATCH}",
                    {"last": last_id, "site": site}))
            if not rows:
                return
            for row in rows:
                yield row["_article_id"], _page_from_row(row)
            last_id = rows[-1]["_article_id"]


# -- identity --------------------------------------------------------------------------------

def article_identity(article: Article, page: Page | None = None) -> tuple[str, list[str]]:
    """(key URL, every canonical URL the article is known by, key first)."""
    final = (article.final_url or (page.final_url if page else None) or article.url
             or (page.url if page else None))
    if not final:
        raise StoreError("cannot archive an article without a URL (give the page's address with --url)")
    canonical = article.canonical_url
    # A canonical on another site (syndication) or at the site's root (some CMSs point every page
    # at the home page) would merge unrelated articles into one row: ignore it then.
    trusted = bool(canonical) and same_site(canonical, final) and urlsplit(canonical).path.strip("/") != ""
    key = canonicalize(canonical if trusted else final)
    seen = [key, canonicalize(final)]
    for url in (article.url, page.url if page else None, page.final_url if page else None):
        if url:
            seen.append(canonicalize(url))
    return key, list(dict.fromkeys(seen))


def _variants(url: str) -> list[str]:
    """The URL itself, then its www/bare-host and http/https twins: one article on one site."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [url]
    host = parts.netloc
    other_host = host[4:] if host.startswith("www.") else "www." + host
    other_scheme = "https" if parts.scheme == "http" else "http"
    return [urlunsplit((scheme, netloc) + tuple(parts[2:]))
            for scheme in (parts.scheme, other_scheme) for netloc in (host, other_host)]


# -- rows <-> values -------------------------------------------------------------------------

def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _iso(when: datetime) -> str:
    if when.tzinfo is None:  # the models promise aware UTC; a naive one is taken as UTC
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def row_values(article: Article, page: Page | None = None) -> dict[str, Any]:
    """Every column of an article's row that comes from the article (the key URL aside), as stored:
    the one serialisation of an Article, for a save and for a rewrite alike."""
    values = {name: getattr(article, name) for name in ARTICLE_FIELDS if name != "url"}
    values.update(
        tags=json.dumps(list(article.tags or []), ensure_ascii=False),
        final_url=article.final_url or (page.final_url if page else None),
        content_hash=article.content_hash or _fallback_hash(article),
        provenance=json.dumps(sources(article), ensure_ascii=False))
    return values


def _fallback_hash(article: Article) -> str:
    # The extractor sets content_hash; this keeps "unchanged" meaningful if a caller did not.
    return hashlib.sha256(f"{article.title or ''}\n{article.text or ''}".encode()).hexdigest()


def sources(article: Article) -> dict[str, str]:
    """The field -> source part of the provenance (the extractor's lists of dropped blocks are for
    --explain, not for the archive)."""
    return {field: how for field, how in article.provenance.items() if isinstance(how, str)}


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    decoded = {**row, "tags": json.loads(row["tags"]) if row.get("tags") else []}
    if "provenance" in row:
        decoded["provenance"] = json.loads(row["provenance"]) if row["provenance"] else {}
    return decoded


def _page_from_row(row: dict[str, Any]) -> Page:
    body = zlib.decompress(row["body"])
    headers = CaseInsensitiveDict(json.loads(row["headers"] or "{}"))
    html, encoding = decode_html(body, headers.get("Content-Type"))
    return Page(url=row["url"], final_url=row["final_url"], status=row["status"], headers=headers,
                body=body, html=html, encoding=encoding,
                fetched_at=datetime.fromisoformat(row["fetched_at"]))


# -- errors at the boundary ------------------------------------------------------------------

def _check_location(path: Path) -> None:
    """Refuse, before SQLite touches anything, what it would fail on or could damage."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not an archive file")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise StoreError(f"cannot create the archive {path}: directory {parent} does not exist")
    if path.exists():
        try:
            with open(path, "rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot read the archive {path}: {exc.strerror}") from exc
        # An empty file is a valid empty database to SQLite; anything else must be one already.
        if head and head != SQLITE_HEADER:
            raise NotADatabase(f"{path} is not an SQLite database; it was left untouched (choose another --db)")
    elif not os.access(parent, os.W_OK):
        raise StoreError(f"cannot create the archive {path}: directory {parent} is read-only")


def _store_error(exc: sqlite3.Error, path: Path, busy_timeout: float) -> StoreError:
    name = getattr(exc, "sqlite_errorname", "") or ""  # Python 3.11+; the message otherwise
    message = str(exc)
    if name == "SQLITE_FULL" or "database or disk is full" in message:
        return DiskFull(f"{path}: the disk is full; nothing was half-written (free some space and retry)")
    if name == "SQLITE_IOERR_WRITE" or message == "disk I/O error":
        # SQLite reports a write refused by a file-size limit (EFBIG) as a plain I/O error.
        why = _space_problem(path)
        if why:
            return DiskFull(f"{path}: could not write ({why}); nothing was half-written")
    if name.startswith("SQLITE_BUSY") or "database is locked" in message:
        return DatabaseBusy(f"{path}: another process kept the archive locked for more than "
                            f"{busy_timeout:g} s; try again later")
    if name == "SQLITE_NOTADB" or "file is not a database" in message:
        return NotADatabase(f"{path} is not an SQLite database; it was left untouched (choose another --db)")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")) or "readonly" in message:
        return StoreError(f"cannot write the archive {path}: {message} "
                          "(is the file or its directory read-only?)")
    return StoreError(f"{path}: {message}")


def _space_problem(path: Path) -> str | None:
    """Why a write could have failed for lack of room (file-size limit or full disk), else None."""
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-journal")]
    largest = max((f.stat().st_size for f in files if f.exists()), default=0)
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        # A write that crossed the limit stops within a page of it; 1 MB leaves room for big pages.
        if limit != resource.RLIM_INFINITY and largest + (1 << 20) >= limit:
            return f"the file-size limit of {limit} bytes was reached"
    except ImportError:  # not on Unix
        pass
    stat = os.statvfs(path.absolute().parent) if hasattr(os, "statvfs") else None
    if stat is not None and stat.f_bavail * stat.f_frsize < (1 << 20):
        return "no space left on the device"
    return None
