"""The listing cache: what the archive remembers between runs of each feed, sitemap, start page and robots.txt.

A cron run every ten minutes would otherwise download every listing in full each time. For each
listing URL we keep the ETag / Last-Modified of its last *complete* read (and when it was last asked
for and what came of it); the next run sends them as If-None-Match / If-Modified-Since, and a 304
means the listing is as it was when its articles were queued, so it is not read again.

Three rules keep a 304 from hiding an article:
- validators are stored only after a complete read, and only once the articles it listed are
  queued (the caller saves them after ``runstate.enqueue``): a run killed mid-read stores nothing,
  so the next run reads the listing again;
- they are sent only while the site's reading rules (article regex, domains, robots.txt of the
  listing hosts) are the ones the listing was read with: a fixed regex re-reads every listing;
- a listing is read in full at least once a day (``FULL_READ_EVERY``) whatever it answers, which
  bounds the harm of a server that says 304 wrongly.
A start page or sitemap index that answers 304 still leads to what it named when last read (the
feeds a start page links to, an index's child sitemaps), each asked for conditionally in turn.

``ListingMemory`` is pure (discovery asks it and tells it, in any thread); ``load``/``save`` and
``robots_copies``/``save_robots`` are the archive's end, called from the run's own thread. The tables
are migration 005_listing_cache's (store/migrations.py).
"""
from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Iterable, Mapping

from ..clock import Clock, iso_utc, utc_now
from ..models import Page, RobotsCopy
from .archive import Archive

FULL_READ_EVERY = timedelta(days=1)
READ, PARTIAL, NOT_MODIFIED, FAILED = "read", "partial", "not_modified", "failed"


@dataclass(frozen=True)
class Listing:
    """One listing's state: its last request (``outcome``...) and, after a complete read, its validators."""

    site: str
    url: str
    kind: str                           # start-page | feed | sitemap
    outcome: str                        # read | partial (malformed, links kept) | not_modified | failed
    checked_at: datetime
    status: int | None = None
    error: str | None = None
    etag: str | None = None             # of the last complete read
    last_modified: str | None = None
    rules: str | None = None            # reading_rules() when it was read
    children: tuple[str, ...] = ()      # the feeds a start page named, the sitemaps an index named
    read_at: datetime | None = None     # the last complete read


def reading_rules(article_regex: str | None, domains: Iterable[str], robots_digests: Iterable[str]) -> str:
    """A digest of what decides which of a listing's links are queued: a change means re-read."""
    return hashlib.sha256(json.dumps([article_regex, sorted(domains), sorted(robots_digests)])
                          .encode()).hexdigest()[:16]


class ListingMemory:
    """For one site's discovery: which validators to send, and what came of each listing this run.

    ``known`` is what the archive remembers (empty: every listing is read in full, as `scraper
    discover` does). Thread-safe: discovery of one site may run beside another's.
    """

    def __init__(self, site: str, known: Mapping[str, Listing] | None = None, *,
                 clock: Clock = utc_now):
        self.site = site
        self._known = dict(known or {})
        self._clock = clock
        self.rules: str | None = None   # set by discovery once robots.txt is read
        self.results: dict[str, Listing] = {}
        self._lock = threading.Lock()

    def _trusted(self, url: str) -> Listing | None:
        """The stored state of ``url`` if its validators may be sent now."""
        known = self._known.get(url)
        if known is None or not (known.etag or known.last_modified) or known.read_at is None:
            return None
        if known.rules != self.rules or self._clock() - known.read_at >= FULL_READ_EVERY:
            return None
        return known

    def validators(self, url: str) -> dict[str, str]:
        """``etag``/``last_modified`` keyword arguments for the fetch (empty: ask unconditionally)."""
        known = self._trusted(url)
        if known is None:
            return {}
        return {k: v for k, v in (("etag", known.etag), ("last_modified", known.last_modified)) if v}

    def children(self, url: str) -> tuple[str, ...]:
        """What the listing named when last read (followed on a 304)."""
        known = self._known.get(url)
        return known.children if known is not None else ()

    def _record(self, listing: Listing) -> None:
        with self._lock:
            self.results[listing.url] = listing

    def not_modified(self, url: str, kind: str) -> None:
        self._record(Listing(self.site, url, kind, NOT_MODIFIED, self._clock(), 304))

    def read(self, url: str, kind: str, page: Page, children: Iterable[str] = ()) -> None:
        """A complete read: its validators may be stored (once its articles are queued)."""
        moment = self._clock()
        self._record(Listing(self.site, url, kind, READ, moment, page.status, None, page.etag,
                             page.last_modified, self.rules, tuple(children), moment))

    def partial(self, url: str, kind: str, page: Page, error: str) -> None:
        self._record(Listing(self.site, url, kind, PARTIAL, self._clock(), page.status, error))

    def failed(self, url: str, kind: str, error: Exception) -> None:
        self._record(Listing(self.site, url, kind, FAILED, self._clock(),
                             getattr(error, "status", None), str(error)))

    def unconfirmed(self) -> None:
        """Some links were dropped for a reason that may pass (a host unreachable): read again next time."""
        with self._lock:
            self.results = {url: replace(item, etag=None, last_modified=None) if item.outcome == READ
                            else item for url, item in self.results.items()}


# -- the archive's end (the run's thread only) ----------------------------------------------------

_LISTING_COLUMNS = ("kind", "checked_at", "status", "outcome", "error", "etag", "last_modified", "rules",
                    "children", "read_at")
_ROBOTS_COLUMNS = ("status", "body", "etag", "last_modified", "fetched_at", "checked_at", "error")


def _replace(columns: Iterable[str]) -> str:
    """The SET list of an upsert that replaces the row's other columns with the new values."""
    return ", ".join(f"{name} = excluded.{name}" for name in columns)


def _iso(moment: datetime | None) -> str | None:
    return iso_utc(moment) if moment else None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def load(archive: Archive, site: str) -> dict[str, Listing]:
    """{listing URL: what the archive remembers of it} for one site."""
    return {row["url"]: Listing(
        row["site"], row["url"], row["kind"], row["outcome"], _when(row["checked_at"]), row["status"],
        row["error"], row["etag"], row["last_modified"], row["rules"],
        tuple(json.loads(row["children"] or "[]")), _when(row["read_at"]))
        for row in archive.query("SELECT * FROM listings WHERE site = ?", [site])}


def save(archive: Archive, listings: Iterable[Listing]) -> None:
    """Remember this run's listings in one transaction; call it after their articles are queued.

    A complete read replaces everything; any other outcome updates only the last-request columns,
    so the validators of the last complete read stay (they still describe what was queued).
    """
    with archive.transaction() as tx:
        for item in listings:
            last = [item.kind, _iso(item.checked_at), item.status, item.outcome, item.error]
            if item.outcome == READ:
                tx.execute(
                    "INSERT INTO listings (site, url, kind, checked_at, status, outcome, error, "
                    "etag, last_modified, rules, children, read_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    f"ON CONFLICT (site, url) DO UPDATE SET {_replace(_LISTING_COLUMNS)}",
                    [item.site, item.url, *last, item.etag, item.last_modified, item.rules,
                     json.dumps(list(item.children)), _iso(item.read_at)])
            else:
                tx.execute(
                    "INSERT INTO listings (site, url, kind, checked_at, status, outcome, error) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(site, url) DO UPDATE SET kind = excluded.kind, "
                    "checked_at = excluded.checked_at, status = excluded.status, "
                    "outcome = excluded.outcome, error = excluded.error", [item.site, item.url, *last])


def robots_copies(archive: Archive) -> dict[str, RobotsCopy]:
    """{robots.txt URL: the copy kept} (one small row per host)."""
    return {row["url"]: RobotsCopy(row["url"], row["status"], row["body"] or "", _when(row["fetched_at"]),
                                   row["etag"], row["last_modified"], _when(row["checked_at"]), row["error"])
            for row in archive.query("SELECT * FROM robots_txt")}


def save_robots(archive: Archive, copies: Iterable[RobotsCopy]) -> None:
    copies = list(copies)
    if not copies:
        return
    with archive.transaction() as tx:
        for copy in copies:
            tx.execute("INSERT INTO robots_txt (url, status, body, etag, last_modified, "
                       "fetched_at, checked_at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                       f"ON CONFLICT (url) DO UPDATE SET {_replace(_ROBOTS_COLUMNS)}",
                       [copy.url, copy.status, copy.text, copy.etag, copy.last_modified,
                        _iso(copy.fetched_at), _iso(copy.checked_at), copy.error])


def health(archive: Archive) -> dict[str, dict]:
    """{site: {"outcomes": {outcome: listings}, "failing": [(url, error)]}} of each listing's last
    request, for `scraper sites`: a feed that keeps failing is what an operator must see."""
    out: dict[str, dict] = {}
    for row in archive.query("SELECT site, url, outcome, status, error FROM listings ORDER BY site, url"):
        site = out.setdefault(row["site"], {"outcomes": {}, "failing": []})
        outcome = row["outcome"]
        site["outcomes"][outcome] = site["outcomes"].get(outcome, 0) + 1
        if outcome in (FAILED, PARTIAL):
            error = (row["error"] or (f"HTTP {row['status']}" if row["status"] else outcome))
            site["failing"].append((row["url"], error.removeprefix(f"{row['url']}: ")))
    return out

