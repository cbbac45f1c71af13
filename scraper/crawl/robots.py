"""robots.txt per RFC 9309: fetched once per host and run, kept across runs for 24 h, read and
matched by robotstxt.py.

Why not ``urllib.robotparser``: the standard library applies the first matching rule in file order
and knows no ``*``/``$`` wildcards, so ``Disallow: /news/`` + ``Allow: /news/open/`` blocks
/news/open/1 where RFC 9309 (longest match wins, Allow on a tie) allows it. robotstxt.py reads
files as protego (the parser Scrapy uses) does, through an index that keeps a check fast under a
file of thousands of rules.

What an answer means (RFC 9309 section 2.3.1): 2xx, parse it; 4xx ("unavailable"), everything is
allowed; 5xx or no answer at all ("unreachable"), everything is disallowed. 429 is treated as
unreachable, like the major crawlers do, because the host is telling us to stay away.

Caching (section 2.4): a copy (a 2xx body or a 4xx answer) is reused for up to 24 hours without
asking; after that it is asked for again with If-None-Match / If-Modified-Since, and a 304 makes
the copy fresh for another 24 hours. When the host is unreachable, the RFC lets a cached copy
stand in (we use one up to 30 days old, its "reasonably long period"); without one, everything
is disallowed as before. The copies live in the archive (scraper/store/listings.py stores them); this
module only decides, so a cron run every ten minutes asks each host once a day, not 144 times.
"""
from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Mapping

from ..clock import Clock, utc_now
from ..errors import BadURL, FetchError, HTTPStatusError
from ..models import Page, RobotsCopy
from ..urls import Rejected, parse_url, resolve
from .robotstxt import RobotsRules

# RFC 9309 section 2.5: parse at least the first 500 KiB; we stop there.
MAX_ROBOTS_BYTES = 500 * 1024
FRESH_FOR = timedelta(hours=24)     # section 2.4: "SHOULD NOT use the cached version for more than 24 hours"
STALE_IF_UNREACHABLE = timedelta(days=30)   # section 2.3.1.4's example of "a reasonably long period"


@dataclass
class Robots:
    """The rules of one host for our user agent."""

    url: str
    rules: RobotsRules | None = None
    allow_all: bool = False
    why: str = ""                   # "", "missing (HTTP 404)", "unreachable (HTTP 503)"...
    sitemaps: list[str] = field(default_factory=list)
    digest: str = ""                # what the rules were read from: tells a changed robots.txt
    rejected: Rejected = field(default_factory=Rejected)   # Sitemap: lines that are not valid URLs

    @property
    def unreachable(self) -> bool:
        """No answer and no kept copy: everything on the host is disallowed for now (``why`` says why)."""
        return self.why.startswith("unreachable")

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.rules is None:
            return self.allow_all
        return self.rules.allowed(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.rules is None:
            return None
        return self.rules.crawl_delay(user_agent)



def robots_of(copy: RobotsCopy) -> Robots:
    """The rules a kept copy stands for: its body when 2xx, else everything allowed (a 4xx)."""
    if 200 <= copy.status < 300:
        return parse_robots(copy.text, copy.url)
    return Robots(copy.url, allow_all=True, why=f"missing (HTTP {copy.status})",
                  digest=f"missing {copy.status}")


def robots_url(url: str) -> str:
    """The robots.txt address of a URL's origin (credentials left out); BadURL for a broken URL."""
    parsed = parse_url(url)
    netloc = (f"[{parsed.host}]" if ":" in parsed.host else parsed.host) + (
        f":{parsed.port}" if parsed.port is not None else "")
    return f"{parsed.scheme}://{netloc}/robots.txt"


def parse_robots(text: str, url: str) -> Robots:
    rules = RobotsRules.parse(text)
    # Sitemap lines may be relative; they are resolved against the robots.txt address.
    sitemaps, rejected = [], Rejected()
    for line in rules.sitemaps:
        try:
            sitemaps.append(resolve(url, line.strip()).text)
        except BadURL as exc:
            rejected.add(exc)
    return Robots(url, rules, sitemaps=sitemaps, rejected=rejected,
                  digest=hashlib.sha256(text.encode(errors="replace")).hexdigest()[:16])


def robots_from(url: str, get: Callable[..., Page], copy: RobotsCopy | None = None,
                now: Clock = utc_now) -> tuple[Robots, RobotsCopy | None]:
    """Fetch and read ``url`` (a robots.txt address) with ``get``; never raises for HTTP answers.

    ``copy`` (a cached answer) is revalidated with a conditional GET, and stands in when the host
    is unreachable. Returns the rules and the copy to keep (None: nothing worth keeping).
    """
    moment = now()
    validators = {"etag": copy.etag, "last_modified": copy.last_modified} if copy else {}
    try:
        page = get(url, **{k: v for k, v in validators.items() if v})
    except HTTPStatusError as exc:
        if 400 <= exc.status < 500 and exc.status != 429:
            kept = RobotsCopy(url, exc.status, "", moment, checked_at=moment)
            return robots_of(kept), kept
        why = f"unreachable (HTTP {exc.status})"
    except FetchError as exc:
        why = f"unreachable ({exc})"
    else:
        if page.not_modified and copy is not None:
            kept = dataclasses.replace(copy, fetched_at=moment, checked_at=moment, error=None)
            return robots_of(kept), kept
        text = page.body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff")
        kept = RobotsCopy(url, page.status, text, moment, page.etag, page.last_modified, moment)
        return robots_of(kept), kept
    if copy is not None and moment - copy.fetched_at <= STALE_IF_UNREACHABLE:
        robots = robots_of(copy)
        robots.why = f"cached copy of {copy.fetched_at:%Y-%m-%d %H:%M} UTC used: {why}"
        return robots, dataclasses.replace(copy, checked_at=moment, error=why)
    return Robots(url, allow_all=False, why=why, digest="unreachable"), None


class RobotsCache:
    """One robots.txt per scheme+host for the whole run, shared by the worker threads.

    ``copies`` are the answers kept from earlier runs (fresh ones are used without asking); the
    copies fetched or confirmed in this run are handed back by ``new_copies()`` for the caller's
    thread to store (worker threads never touch SQLite).
    """

    def __init__(self, get: Callable[..., Page], user_agent: str, *,
                 copies: Mapping[str, RobotsCopy] | None = None, now: Clock = utc_now):
        self._get = get
        self.user_agent = user_agent
        self._copies = dict(copies or {})
        self._now = now
        self._new: dict[str, RobotsCopy] = {}
        self._cache: dict[str, Robots] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def use_copies(self, copies: Mapping[str, RobotsCopy], now: Clock | None = None) -> None:
        """Start from the copies an earlier run kept (call before anything is asked)."""
        with self._guard:
            self._copies.update(copies)
            self._now = now or self._now

    def new_copies(self) -> list[RobotsCopy]:
        """The copies fetched, confirmed or marked unreachable since the last call, to be stored."""
        with self._guard:
            new, self._new = list(self._new.values()), {}
            return new

    def for_url(self, url: str) -> Robots:
        key = robots_url(url)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:   # two threads asking for one host fetch its robots.txt once
            if key not in self._cache:
                self._cache[key] = self._resolve(key)
            return self._cache[key]

    def _resolve(self, key: str) -> Robots:
        copy = self._copies.get(key)
        if copy is not None and self._now() - copy.fetched_at < FRESH_FOR:
            return robots_of(copy)      # fresh enough: not asked at all
        robots, kept = robots_from(key, self._get, copy, self._now)
        if kept is not None:
            with self._guard:
                self._copies[key] = self._new[key] = kept
        return robots

    def allowed(self, url: str) -> bool:
        return self.for_url(url).allowed(url, self.user_agent)

    def crawl_delay(self, url: str) -> float | None:
        return self.for_url(url).crawl_delay(self.user_agent)
