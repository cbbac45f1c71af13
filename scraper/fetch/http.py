"""URL -> Page: the network end of the pipeline (requests), and saved pages from disk.

One ``fetch`` call makes one or more HTTP requests (redirect hops and retries), each reported to
``on_attempt`` as a FetchAttempt so the archive can log every one. The body is streamed and decompressed here, in
bounded pieces, so the size cap counts decompressed bytes and a gzip bomb never expands in memory.
"""
from __future__ import annotations

import gzip
import http.client
import os
import random
import socket
import ssl
import time
import zlib
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit
from urllib.request import url2pathname

import requests
import urllib3

from .. import PROJECT_URL, __version__
from ..charset import decode_html, looks_binary, sniffs_as_html
from ..clock import Clock, utc_now
from ..errors import (BadURL, FetchError, FetchTimeout, HTTPStatusError, NetworkError, NotHTML, OutOfTime,
                     TooLarge, TooManyRedirects, UnsupportedURL)
from .deadline import Deadline, cut_since, pause_unless_cut, watched
from .memory import release_free_memory
from ..models import FetchAttempt, Page
from ..urls import URL, parse_url

DEFAULT_USER_AGENT = f"scraper/{__version__} (+{PROJECT_URL})"
HTML_TYPES = ("text/html", "application/xhtml+xml")
HTML_EXTENSIONS = (".html", ".htm", ".xhtml", ".shtml")
_CHUNK = 64 * 1024  # bytes read from the socket, and bytes inflated, per step


@dataclass(frozen=True)
class FetchOptions:
    timeout: float = 20.0            # seconds, to connect and for each read
    total_timeout: float = 90.0      # seconds for the whole page, retries and waits included
    user_agent: str = DEFAULT_USER_AGENT
    max_bytes: int = 10 * 1024 * 1024  # decompressed
    max_redirects: int = 5
    retries: int = 3                 # further attempts after the first failure
    backoff: float = 1.0             # base of the exponential backoff, seconds
    retry_after_cap: float = 120.0   # a longer Retry-After means "not today": give up at once
    expect_html: bool = True         # False for feeds, sitemaps, robots.txt: no HTML check
    truncate: bool = False           # past max_bytes: keep the first max_bytes (robots.txt), not TooLarge


def fetch(url: str, options: FetchOptions = FetchOptions(), *, session: requests.Session | None = None,
          etag: str | None = None, last_modified: str | None = None,
          sleep: Callable[[float], None] | None = None, clock: Clock = utc_now,
          on_attempt: Callable[[FetchAttempt], None] | None = None) -> Page:
    """Fetch one page over http(s); raise a FetchError subclass when it cannot be had.

    ``etag``/``last_modified`` (from the archive) make the request conditional: a 304 answer
    comes back as a Page with status 304 and no body. ``sleep`` is what waits between retries
    (by default a wait that ``deadline.cut_requests`` ends: the command is stopping);
    ``clock`` what the Page's ``fetched_at`` reads.
    The whole fetch, retries, waits and every byte of every answer included, ends within
    ``options.total_timeout``: a deadline closes the connection whatever the server does.
    """
    target = parse_url(url)
    conditional = {"If-None-Match": etag, "If-Modified-Since": last_modified}
    headers = {
        "User-Agent": options.user_agent,
        "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8" if options.expect_html else "*/*",
        "Accept-Encoding": "gzip, deflate",  # only what _Inflater can decode with a bounded memory
        **{name: value for name, value in conditional.items() if value},
    }
    with nullcontext(session) if session else requests.Session() as session:
        return _Fetch(target, options, watched(session), headers, sleep, on_attempt, clock).run()


class _Fetch:
    """The state of one fetch: where we are in the redirect chain, how many failures so far."""

    def __init__(self, target: URL, options, session, headers, sleep, on_attempt, clock):
        # The URL as asked for, without credentials: what errors, the log and the Page show.
        self.url, self.target = target.text, target
        self.options, self.session, self.headers = options, session, headers
        self.sleep, self.on_attempt, self.clock = sleep, on_attempt, clock
        self.start = time.monotonic()
        self.deadline = self.start + options.total_timeout

    def run(self) -> Page:
        current, hops, failures = self.url, 0, 0
        seen = {self._loop_key(current)}
        while True:
            # What this attempt got, as far as it got: reported whatever came of it.
            self.answer: requests.Response | None = None
            self.received = 0
            began, error = time.monotonic(), None
            try:
                response, body = self._attempt(current)
            except FetchError as exc:
                error = str(exc)
                failure, retry_after = exc, None
            else:
                failure = retry_after = None
            finally:
                if self.on_attempt:
                    self.on_attempt(self._attempt_record(current, error, time.monotonic() - began))
            if failure is None:
                status = response.status_code
                if body is not None or (status == 304 and self._conditional):
                    return self._page(response, body or b"")
                if response.is_redirect:
                    current, hops = self._redirect(response, current, hops, seen)
                    continue
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                where = f" (at {current})" if current != self.url else ""
                failure = HTTPStatusError(self.url, status, f"{response.reason or ''}{where}".strip(),
                                          retry_after)
            failures += 1
            # OutOfTime is "try again on a later run", never now: the command is stopping.
            if not failure.retryable or isinstance(failure, OutOfTime) or failures > self.options.retries:
                raise failure
            self._wait(failures, retry_after, failure)

    @property
    def _conditional(self) -> bool:
        return "If-None-Match" in self.headers or "If-Modified-Since" in self.headers

    def _attempt_record(self, url: str, error: str | None, elapsed: float) -> FetchAttempt:
        answer = self.answer
        return FetchAttempt(url, answer.status_code if answer is not None else None, error, self.received,
                            round(elapsed, 3), answer.headers.get("ETag") if answer is not None else None,
                            answer.headers.get("Last-Modified") if answer is not None else None)

    def _attempt(self, url: str) -> tuple[requests.Response, bytes | None]:
        """One HTTP request; the body (decompressed) for a 2xx answer, else None and no body read."""
        if cut_since(self.start):      # the command is stopping: no further attempt
            raise OutOfTime(self.url, "the command is stopping")
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise FetchTimeout(self.url, f"gave up after {self.options.total_timeout:g}s in total")
        timeout = min(self.options.timeout, remaining)
        with Deadline(self.deadline) as deadline:
            try:
                answer = self._exchange(url, timeout)
            except (FetchError, requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
                if not deadline.fired:
                    if isinstance(exc, FetchError):
                        raise
                    raise _network_error(self.url, exc, timeout) from None
            # A cut connection looks like an error or like an early end of the body: either way
            # the answer is incomplete.
            if deadline.cut:
                raise OutOfTime(self.url, "the command is stopping") from None
            if deadline.fired:
                raise FetchTimeout(self.url, f"no complete answer within "
                                             f"{self.options.total_timeout:g}s in total") from None
            return answer

    def _exchange(self, url: str, timeout: float) -> tuple[requests.Response, bytes | None]:
        # Credentials given in the URL go to its own host only, never to where it redirects.
        auth = self.target.auth if urlsplit(url).hostname == self.target.host else None
        try:
            response = self.session.get(url, headers=self.headers, stream=True, auth=auth,
                                        allow_redirects=False, timeout=(timeout, timeout))
        except requests.RequestException:
            raise          # (its InvalidURL is a ValueError too: _attempt maps it)
        except ValueError:
            # requests prepares the next hop of a redirect even when not following it, and its
            # URL parser raises on a Location such as "http://[::1"
            raise BadURL(self.url, "redirected to an address that is not a valid URL") from None
        with response:
            self.answer = response
            if not 200 <= response.status_code < 300:
                return response, None
            content_type = response.headers.get("Content-Type")
            if self.options.expect_html:
                check_html(self.url, content_type)      # before a byte of an image is read
            body = self._read_body(response, timeout)
        if self.options.expect_html:
            check_html(self.url, content_type, body)
        return response, body

    def _read_body(self, response: requests.Response, timeout: float) -> bytes:
        cap = self.options.max_bytes
        coding = response.headers.get("Content-Encoding", "")
        length = response.headers.get("Content-Length", "")
        if (coding.strip().lower() in ("", "identity") and length.isdigit() and int(length) > cap
                and not self.options.truncate):
            raise TooLarge(self.url, f"Content-Length {int(length):,} is over the cap of {cap:,} bytes")
        try:
            inflater = _Inflater(coding)
        except ValueError:
            # Not a NetworkError: asking again would get the same answer.
            raise FetchError(self.url, f"unsupported Content-Encoding {coding!r}") from None
        pieces, size = [], 0
        try:
            while raw := response.raw.read1(_CHUNK, decode_content=False):
                for piece in inflater.feed(raw):
                    size += len(piece)
                    self.received = size
                    if size > cap and self.options.truncate:
                        pieces.append(piece[:len(piece) - (size - cap)])
                        self.received = cap
                        return b"".join(pieces)
                    if size > cap:
                        pieces.clear()
                        release_free_memory()   # else this worker's arena keeps the cap's worth
                        raise TooLarge(self.url, f"more than the cap of {cap:,} bytes")
                    pieces.append(piece)
                # The socket timeout only bounds each read; a server trickling one byte at a time
                # is stopped here.
                if time.monotonic() > self.deadline:
                    raise FetchTimeout(self.url, f"body still arriving after "
                                                 f"{self.options.total_timeout:g}s in total")
            inflater.finish()
        except zlib.error as exc:
            raise NetworkError(self.url, f"cannot decompress the {coding} body ({exc})") from None
        except EOFError:
            raise NetworkError(self.url, f"the {coding} body is truncated") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _network_error(self.url, exc, timeout) from None
        return b"".join(pieces)

    def _redirect(self, response, current: str, hops: int, seen: set) -> tuple[str, int]:
        location = self.session.get_redirect_target(response)
        if hops + 1 > self.options.max_redirects:
            raise TooManyRedirects(self.url, f"more than {self.options.max_redirects} redirects")
        try:
            target = parse_url(location, base=current).text
        except BadURL as exc:
            raise BadURL(self.url, f"redirected to {exc.url}: {exc.why}") from None
        if (key := self._loop_key(target)) in seen:
            raise TooManyRedirects(self.url, f"redirect loop at {target}")
        seen.add(key)
        return target, hops + 1

    def _loop_key(self, url: str) -> tuple:
        # A site may redirect a page to itself once to set a cookie; only the same URL with the
        # same cookies is a loop.
        return url.split("#")[0], tuple(sorted(self.session.cookies.items()))

    def _wait(self, failures: int, retry_after: float | None, failure: FetchError) -> None:
        if retry_after is not None:
            if retry_after > self.options.retry_after_cap:
                raise failure
            delay = retry_after
        else:
            base = self.options.backoff * 2 ** (failures - 1)
            delay = base / 2 + random.uniform(0, base / 2)  # jitter: clients do not retry in step
        if time.monotonic() + delay >= self.deadline:
            raise failure
        if self.sleep is not None:
            self.sleep(delay)
        elif pause_unless_cut(delay, self.start):
            raise OutOfTime(self.url, "the command is stopping")

    def _page(self, response: requests.Response, body: bytes) -> Page:
        html, encoding = decode_html(body, response.headers.get("Content-Type"))
        return Page(url=self.url, final_url=response.url, status=response.status_code,
                    headers=response.headers, body=body, html=html, encoding=encoding,
                    fetched_at=self.clock(),
                    elapsed=round(time.monotonic() - self.start, 3),
                    request_headers=dict(response.request.headers))


class _Inflater:
    """Decompresses a gzip/deflate stream piece by piece, never more than _CHUNK bytes at once."""

    def __init__(self, coding: str):
        coding = coding.strip().lower()
        if coding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise ValueError(coding)
        self.coding, self._z = (None if coding in ("", "identity") else coding), None

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self.coding is None:
            yield data
            return
        while True:
            if self._z is None:
                if not data:
                    return
                self._z = self._new(data)
            out = self._z.decompress(data, _CHUNK)
            if out:
                yield out
            if self._z.eof:
                # Another gzip member may follow (concatenated gzip files are valid).
                data, self._z = self._z.unused_data, None
            elif self._z.unconsumed_tail or out:
                data = self._z.unconsumed_tail
            else:
                return

    def finish(self) -> None:
        if self._z is not None:
            raise EOFError("compressed stream ended early")

    def _new(self, data: bytes):
        if self.coding == "deflate" and not (len(data) > 1 and data[0] & 0x0F == 8
                                             and (data[0] << 8 | data[1]) % 31 == 0):
            return zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
        return zlib.decompressobj(zlib.MAX_WBITS | (16 if self.coding != "deflate" else 0))


def is_html_type(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in HTML_TYPES


def check_html(name: str, content_type: str | None, body: bytes | None = None) -> None:
    """NotHTML unless what came with this Content-Type (and these bytes, once read) is an HTML
    page: the one test of fetched bodies, saved files and WARC records. A declared HTML type
    is taken at its word for a stray NUL (WHATWG sniffing), not for binary data."""
    if content_type and not is_html_type(content_type):
        raise NotHTML(name, f"content type is {content_type.split(';')[0].strip()[:100]}, not an HTML page")
    if body is not None and looks_binary(body, declared_html=bool(content_type)):
        raise NotHTML(name, "the body is binary data, not an HTML page")
    if body is not None and not content_type and not sniffs_as_html(body):
        raise NotHTML(name, "no Content-Type and the body does not start as an HTML page")


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delay-seconds or HTTP-date); None if absent/bad."""
    if not value or (value := value.strip()).isdigit():
        return float(value) if value else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or utc_now())).total_seconds())


def _network_error(url: str, exc: BaseException, timeout: float) -> FetchError:
    """A one-line message for a requests/urllib3/socket failure, without their object reprs."""
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return UnsupportedURL(url, "invalid URL")
    chain, todo = [], [exc]  # the exception, its causes, and the exceptions wrapped in its args
    while todo:
        e = todo.pop()
        if isinstance(e, BaseException) and all(e is not c for c in chain):
            chain.append(e)
            todo += [e.__cause__, e.__context__, getattr(e, "reason", None), *e.args]
    found = lambda *types: next((e for e in chain if isinstance(e, types)), None)  # noqa: E731
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return FetchTimeout(url, f"no connection within {timeout:g}s")
    if found(requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, socket.timeout):
        return FetchTimeout(url, f"no data from the server for {timeout:g}s")
    if found(socket.gaierror):
        return NetworkError(url, "cannot resolve the host name")
    if e := found(ssl.SSLError):
        return NetworkError(url, f"TLS error: {getattr(e, 'verify_message', None) or e.reason}")
    if e := found(http.client.IncompleteRead):
        short = f" ({e.expected:,} bytes short)" if isinstance(e.expected, int) else ""
        return NetworkError(url, f"connection closed before the end of the body{short}")
    if found(http.client.RemoteDisconnected):
        return NetworkError(url, "the server closed the connection without an answer")
    # (requests' own exceptions are OSErrors too, without an strerror)
    if e := next((e for e in chain if isinstance(e, OSError) and e.strerror), None):
        return NetworkError(url, e.strerror[0].lower() + e.strerror[1:])
    return NetworkError(url, f"connection failed ({exc.__class__.__name__})")


def load_file(path: str | Path, url: str | None = None, *,
              max_bytes: int = FetchOptions.max_bytes, clock: Clock = utc_now) -> Page:
    """A page saved on disk (a path or file:// URL; ``.gz`` accepted), as if fetched from ``url``.

    The same checks as a fetched body: a file over ``max_bytes`` is refused from its size, before a
    byte is read (TooLarge; a gzipped one is inflated up to ``max_bytes`` only), and bytes that are
    not a text document (an executable, an image, random data) are NotHTML. A missing file or a
    directory is UnsupportedURL saying which.
    """
    if str(path).lower().startswith("file://"):
        try:
            path = url2pathname(urlsplit(str(path)).path)
        except ValueError:
            raise UnsupportedURL(str(path), "not a valid file: URI") from None
    address = parse_url(url).text if url else None   # the page's address: validated like any URL
    path = Path(path)
    try:
        if path.is_dir():
            raise UnsupportedURL(str(path), "is a directory, not a saved page")
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            gzipped = f.read(2) == b"\x1f\x8b"
            if not gzipped and size > max_bytes:
                raise TooLarge(str(path), f"the file is {size:,} bytes, over the cap of {max_bytes:,}")
            f.seek(0)
            if gzipped:
                with gzip.open(f, "rb") as inflated:
                    body = inflated.read(max_bytes + 1)
                if len(body) > max_bytes:
                    raise TooLarge(str(path), f"inflates to more than the cap of {max_bytes:,} bytes")
            else:
                body = f.read(max_bytes + 1)   # a file that grew since fstat stops at the cap too
                if len(body) > max_bytes:
                    raise TooLarge(str(path), f"the file is over the cap of {max_bytes:,} bytes")
    except FileNotFoundError:
        raise UnsupportedURL(str(path), "no such file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise UnsupportedURL(str(path), f"cannot read the file ({exc.__class__.__name__}: "
                                        f"{getattr(exc, 'strerror', None) or exc})") from None
    # A file named .html is declared HTML, as a web server (or a browser opening it) would label it.
    declared = path.name.lower().removesuffix(".gz").endswith(HTML_EXTENSIONS)
    return page_from_bytes(body, str(path), address or path.resolve().as_uri(), clock=clock,
                           declared_html=declared)


def page_from_bytes(body: bytes, name: str, address: str | None, *, clock: Clock = utc_now,
                    declared_html: bool = False) -> Page:
    """A page given as bytes (a saved file, standard input) with a fetched body's HTML check;
    ``address`` is where it was published (None: unknown)."""
    if looks_binary(body, declared_html=declared_html):
        raise NotHTML(name, "binary data, not an HTML page")
    # As an answer without a Content-Type: a file not named .html must start as a page does.
    if not declared_html and not sniffs_as_html(body):
        raise NotHTML(name, "does not start as an HTML page (a file not named .html must begin with "
                            "a tag such as <!DOCTYPE html> or <html>)")
    html, encoding = decode_html(body, None)
    return Page(url=address, final_url=address, status=200, headers={}, body=body, html=html,
                encoding=encoding, fetched_at=clock())


def get_page(target: str, options: FetchOptions = FetchOptions(), url: str | None = None) -> Page:
    """A local path or file:// URL -> load_file; http(s) -> fetch; anything else -> UnsupportedURL."""
    if target.strip().lower().startswith(("http:", "https:")):
        return fetch(target, options)
    if target.lower().startswith("file://") or Path(target).is_file():
        return load_file(target, url)
    raise UnsupportedURL(target, "not an http(s) URL or an existing file")
