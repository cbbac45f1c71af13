"""robots.txt per RFC 9309: fetched once per host and run, matched with protego.

Why protego and not ``urllib.robotparser``: the standard library applies the first matching rule
in file order and knows no ``*``/``$`` wildcards, so ``Disallow: /news/`` + ``Allow: /news/open/``
blocks /news/open/1 where RFC 9309 (longest match wins, Allow on a tie) allows it. protego (the
parser Scrapy uses) implements the RFC's matching, Crawl-delay and Sitemap lines.

What an answer means (RFC 9309 section 2.3.1): 2xx, parse it; 4xx ("unavailable"), everything is
allowed; 5xx or no answer at all ("unreachable"), everything is disallowed. 429 is treated as
unreachable, like the major crawlers do, because the host is telling us to stay away.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin, urlsplit

from protego import Protego

from .errors import FetchError, HTTPStatusError
from .models import Page

# RFC 9309 section 2.5: parse at least the first 500 KiB; we stop there.
MAX_ROBOTS_BYTES = 500 * 1024


@dataclass
class Robots:
    """The rules of one host for our user agent."""

    url: str
    rules: Protego | None = None
    allow_all: bool = False
    why: str = ""                   # "", "missing (HTTP 404)", "unreachable (HTTP 503)"...
    sitemaps: list[str] = field(default_factory=list)

    def allowed(self, url: str, user_agent: str) -> bool:
        if self.rules is None:
            return self.allow_all
        return self.rules.can_fetch(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.rules is None:
            return None
        delay = self.rules.crawl_delay(user_agent)
        return float(delay) if delay is not None else None


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def parse_robots(text: str, url: str) -> Robots:
    rules = Protego.parse(text)
    # Sitemap lines may be relative; they are resolved against the robots.txt address.
    return Robots(url, rules, sitemaps=[urljoin(url, s.strip()) for s in rules.sitemaps])


def robots_from(url: str, get: Callable[[str], Page]) -> Robots:
    """Fetch and read ``url`` (a robots.txt address) with ``get``; never raises for HTTP answers."""
    try:
        page = get(url)
    except HTTPStatusError as exc:
        if 400 <= exc.status < 500 and exc.status != 429:
            return Robots(url, allow_all=True, why=f"missing (HTTP {exc.status})")
        return Robots(url, allow_all=False, why=f"unreachable (HTTP {exc.status})")
    except FetchError as exc:
        return Robots(url, allow_all=False, why=f"unreachable ({exc})")
    text = page.body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff")
    return parse_robots(text, url)


class RobotsCache:
    """One robots.txt per scheme+host for the whole run, shared by the worker threads."""

    def __init__(self, get: Callable[[str], Page], user_agent: str):
        self._get = get
        self.user_agent = user_agent
        self._cache: dict[str, Robots] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def for_url(self, url: str) -> Robots:
        key = robots_url(url)
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:   # two threads asking for one host fetch its robots.txt once
            if key not in self._cache:
                self._cache[key] = robots_from(key, self._get)
            return self._cache[key]

    def allowed(self, url: str) -> bool:
        return self.for_url(url).allowed(url, self.user_agent)

    def crawl_delay(self, url: str) -> float | None:
        return self.for_url(url).crawl_delay(self.user_agent)
