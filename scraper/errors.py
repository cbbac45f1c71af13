"""Every error the scraper raises on purpose, in one hierarchy.

    ScraperError                 base: the CLI prints str(exc) as one line and exits non-zero
    ├── FetchError               a URL could not be turned into a Page (.url, .retryable)
    │   ├── UnsupportedURL       not http(s) and not an existing local file
    │   │   └── BadURL           not a valid URL (urls.parse_url says why), from whatever source
    │   ├── NetworkError         DNS, refused, reset, truncated body (retryable)
    │   │   └── FetchTimeout     connect/read timeout or the total time budget ran out (retryable)
    │   ├── HTTPStatusError      a non-2xx answer after retries (.status, .retry_after)
    │   ├── TooManyRedirects     a redirect loop or a chain longer than allowed
    │   ├── NotHTML              content type or bytes say this is not an HTML page
    │   ├── TooLarge             more (decompressed) bytes than the size cap
    │   ├── OutOfTime            the run's time limit (--max-time) came first: left for the next run
    │   └── RobotsDisallowed     robots.txt does not let us fetch it (the next run checks again)
    ├── ExtractionError          the page has no article we can find
    │   ├── NoArticle            no article text in it (yet): empty, or only a page's frame (retryable)
    │   ├── ExtractionAborted    its extraction worker died or ran past its time limit (retryable: due at once)
    │   └── FeedError            a feed or sitemap that is malformed, declares entities, or is too large
    ├── StoreError               the archive database could not be used
    │   ├── NoSuchArchive        a command that reads was given an archive that does not exist
    │   ├── NotADatabase         the file exists but is not SQLite (never overwritten)
    │   ├── DatabaseBusy         another process held the write lock past the busy timeout
    │   ├── DiskFull             the disk or a file-size limit stopped a write (nothing half-written)
    │   ├── WriteConflict        PostgreSQL: a concurrent writer won (unique key, deadlock); the write may be tried again
    │   ├── QueryError           the database refused a statement (.detail: its own words), e.g. a malformed search
    │   │   └── QueryTimeout     the statement ran past its time limit and was stopped
    │   └── ArchiveLocked        another `scraper archive` run holds the run lock
    ├── NotArchived              the archive has no record for that URL
    ├── DateError                a text that holds no date we can read (also a ValueError)
    ├── OutputRefused            a file named for output that must not be written (the archive, a FIFO, an existing file)
    │   └── OutputFailed         writing it failed (a full disk, a size limit): nothing half-written
    └── ConfigError              a site profile or sites.toml is invalid
        └── UnknownSite          a site name given on the command line that no profile has

    Terminated (a KeyboardInterrupt)  SIGTERM or SIGHUP: stopped as by Ctrl-C, exit 128 + the signal

Exceptions, never silent ``None``: callers decide whether a failure skips a URL or stops the run.
"""
from __future__ import annotations


class ScraperError(Exception):
    """Base class; ``str(exc)`` is a complete one-line message for the user."""


class FetchError(ScraperError):
    retryable = False

    def __init__(self, url: str, message: str):
        self.url = url
        super().__init__(f"{url}: {message}")


class UnsupportedURL(FetchError):
    pass


class BadURL(UnsupportedURL):
    """A URL that cannot be requested: a broken host, port, IPv6 literal, control characters...

    ``url`` is the text as given, made printable and cut short, so the message stays one line.
    """

    def __init__(self, url: str, why: str):
        shown = url if len(url) <= 300 else url[:300] + "..."
        shown = shown.encode("unicode_escape").decode("ascii") if not shown.isprintable() else shown
        self.why = why
        super().__init__(shown, f"not a valid URL: {why}")


class NetworkError(FetchError):
    retryable = True


class FetchTimeout(NetworkError):
    pass


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int, reason: str = "", retry_after: float | None = None):
        self.status = status
        self.retry_after = retry_after
        # 429 and 5xx are worth another try later; 404, 410 and other 4xx are not.
        self.retryable = status == 429 or status >= 500
        super().__init__(url, f"HTTP {status}{' ' + reason if reason else ''}")


class TooManyRedirects(FetchError):
    pass


class NotHTML(FetchError):
    pass


class TooLarge(FetchError):
    pass


class OutOfTime(FetchError):
    """Not asked for, or not finished, before the run's time limit: not a failure of the URL."""

    retryable = True


class RobotsDisallowed(FetchError):
    pass


class ExtractionError(ScraperError):
    pass


class NoArticle(ExtractionError):
    """The page held no article text this time. Retried on later runs like a network failure: a
    page served empty for a moment, a story published before its text, or a learned template that
    cut the body (a bug fixed by then) all have their article next time. A page that is refused for
    its shape (too big, too deep: the other ExtractionErrors) will not change and is not retried."""

    retryable = True


class ExtractionAborted(ExtractionError):
    """Not the page's fault as far as we know: its worker process died (kill -9, out of memory, a
    crash in lxml) or it ran past the per-page time limit. The queue tries it again on the very
    next run: our own stage gave it up, the server has nothing to recover from, so the spacing
    that spares a failing server (10 min, doubling) would only make a cron user wait. It still
    counts as a try: a page that kills its worker every time is given up after MAX_TRIES runs."""

    retryable = True
    retry_at_once = True       # runstate.mark_failed: due again at once, not after a delay

    def __init__(self, url: str, message: str):
        self.url = url
        super().__init__(f"{url}: {message}")


class FeedError(ExtractionError):
    pass


class StoreError(ScraperError):
    pass


class NoSuchArchive(StoreError):
    pass


class NotADatabase(StoreError):
    pass


class DatabaseBusy(StoreError):
    pass


class DiskFull(StoreError):
    pass


class QueryError(StoreError):
    def __init__(self, message: str, detail: str):
        self.detail = detail
        super().__init__(message)


class QueryTimeout(QueryError):
    pass


class WriteConflict(StoreError):
    pass


class ArchiveLocked(StoreError):
    pass


class NotArchived(ScraperError):
    pass


class ConfigError(ScraperError):
    pass


class UnknownSite(ConfigError):
    """--site NAME (or `discover NAME`) names no site: the user's word is wrong, not the sites file."""


class OutputRefused(ScraperError):
    """A file the user named for output that is not written: the archive, not a regular file, in a
    missing folder, or an existing file without --force (scraper/outfiles.py). A usage error."""


class OutputFailed(OutputRefused):
    """Writing a file named for output failed midway (disk full, file-size limit, I/O error); the
    temporary file is removed and an existing file is left as it was. Exit 3, not a usage error."""


class DateError(ScraperError, ValueError):
    """No readable date in a text (scraper/dates.py); a ValueError too, as date parsers raise."""


class Terminated(KeyboardInterrupt):
    """The process was told to stop: SIGTERM (cron's `timeout`, systemd, `kill`) or SIGHUP (its
    terminal closed). A KeyboardInterrupt, so every path that ends a command cleanly on Ctrl-C
    (the run row closed, the log's last line, the workers ended, what was saved kept) ends it the
    same way; only the exit code differs: 128 + the signal's number, as a shell reports it."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        import signal
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum
