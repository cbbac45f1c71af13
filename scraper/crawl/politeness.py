"""Politeness: per host one request at a time and a delay between requests; across hosts, concurrency.

`Politeness` keeps, for each host, whether a request is in flight and when the next may start.
The delay is the larger of the site's `delay` and the robots.txt Crawl-delay; a 429 or 503 adds a
penalty that doubles on each throttled answer and halves on each good one, so a host that asks us
to slow down gets slower requests until it is happy again.

Every delay (the site's, Crawl-delay) counts for at most MAX_DELAY: a `Crawl-delay: 100000` or
`delay = 1e308` would otherwise hold a run (and its lock) for days, or overflow the clock.
The scheduler (scheduler.py) runs the work over many URLs with a thread pool, using these turns.
"""
from __future__ import annotations

import dataclasses
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import requests

from ..clock import Clock, utc_now
from ..fetch.http import FetchOptions, fetch as default_fetch
from ..models import FetchAttempt, Page
from ..errors import FetchTimeout, OutOfTime, RobotsDisallowed
from .robots import MAX_ROBOTS_BYTES, RobotsCache
from ..urls import host_key

DEFAULT_DELAY = 1.0
DEFAULT_WORKERS = 8
FIRST_PENALTY = 1.0    # seconds added after the first 429/503, even for a site with delay 0
MAX_PENALTY = 120.0    # never slower than one request every two minutes (plus Retry-After)
MAX_DELAY = 120.0      # a site's delay or Crawl-delay above this counts as this
SITEMAP_MAX_BYTES = 50 * 1024 * 1024


@dataclass
class _Host:
    delay: float
    penalty: float = 0.0
    busy: bool = False
    last_end: float = -math.inf     # when the last request to this host ended
    not_before: float = -math.inf   # a Retry-After deadline

    def due(self) -> float:
        # Computed, not stored, so a delay lowered by robots.txt/the profile applies at once.
        return max(self.last_end + self.delay + self.penalty, self.not_before)


class Politeness:
    """Per-host turn-taking, thread-safe; the clock is an argument so tests can control time."""

    def __init__(self, default_delay: float = DEFAULT_DELAY, *,
                 clock: Callable[[], float] = time.monotonic):
        self.default_delay = default_delay
        self._clock = clock
        self._hosts: dict[str, _Host] = {}
        self._cond = threading.Condition()
        self._closed = False

    def _host(self, host: str) -> _Host:
        if host not in self._hosts:
            self._hosts[host] = _Host(self.default_delay)
        return self._hosts[host]

    def set_delay(self, url_or_host: str, *delays: float | None) -> float:
        """Set a host's delay to the largest of the given ones (site delay, Crawl-delay), at most
        MAX_DELAY; return it. A delay that is not a number of seconds >= 0 is ignored."""
        with self._cond:
            host = self._host(host_of(url_or_host))
            usable = [min(float(d), MAX_DELAY) for d in delays
                      if isinstance(d, (int, float)) and not math.isnan(d) and d >= 0]
            host.delay = max(usable or [min(self.default_delay, MAX_DELAY)])
            return host.delay

    def delay(self, url_or_host: str) -> float:
        """The current gap between two requests to this host, penalty included."""
        with self._cond:
            host = self._host(host_of(url_or_host))
            return host.delay + host.penalty

    def held_off(self, host: str) -> float:
        """Seconds until the host's Retry-After ends (0 when it gave none, or it is over)."""
        with self._cond:
            return max(0.0, self._host(host).not_before - self._clock())

    def try_acquire(self, host: str) -> float:
        """Take the host's turn if it is free and due: return 0.0; else seconds to wait (inf if busy)."""
        with self._cond:
            state = self._host(host)
            if state.busy:
                return math.inf
            wait_for = state.due() - self._clock()
            if wait_for > 0:
                return wait_for
            state.busy = True
            return 0.0

    def release(self, host: str, *, throttled: float | None = None) -> None:
        """End the host's turn. ``throttled`` is None for a normal answer, else the Retry-After (or 0)."""
        with self._cond:
            state = self._host(host)
            if throttled is None:
                state.penalty = state.penalty / 2 if state.penalty >= 2 * FIRST_PENALTY else 0.0
            else:
                state.penalty = min(MAX_PENALTY, max(FIRST_PENALTY, state.penalty * 2))
            state.last_end = self._clock()
            if throttled:
                state.not_before = state.last_end + throttled
            state.busy = False
            self._cond.notify_all()

    def requested(self, url: str) -> None:
        """A request to this URL's host made outside its turns (robots.txt) has just ended: the
        host's next turn is due a delay from now, as after any request."""
        with self._cond:
            state = self._host(host_of(url))
            state.last_end = max(state.last_end, self._clock())

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """No more turns: every thread waiting for one, and every later ask, gets OutOfTime. A run
        that stops on an error or Ctrl-C calls it, so no thread is left waiting for a host whose
        turn nobody will give back: the process could not exit, since it joins its worker threads."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @contextmanager
    def turn(self, url: str, deadline: float | None = None):
        """Block until this URL's host is free and due, hold it for one request; OutOfTime when
        its turn cannot come before ``deadline`` (time.monotonic).

        The body may set ``box[0]`` to a Retry-After (or 0) to report a 429/503.
        """
        host = host_of(url)
        while (wait_for := self.try_acquire(host)) != 0.0 or self._closed:
            if self._closed:
                if wait_for == 0.0:
                    self.release(host)
                raise OutOfTime(url, "the run is stopping")
            if deadline is not None and self._clock() + (0 if wait_for == math.inf else wait_for) >= deadline:
                raise OutOfTime(url, f"{host} is not due before the run's time limit")
            with self._cond:   # woken early by any release; then simply try again
                timeout = None if wait_for == math.inf else wait_for
                if deadline is not None:
                    timeout = max(0.0, min(timeout if timeout is not None else math.inf, deadline - self._clock()))
                self._cond.wait(timeout)
        box: list[float | None] = [None]
        try:
            yield box
        finally:
            self.release(host, throttled=box[0])


def host_of(url_or_host: str) -> str:
    """The key a host's turns are kept under (www. and the bare host are one)."""
    return host_key(url_or_host) if "://" in url_or_host else url_or_host.lower().removeprefix("www.")


class PoliteClient:
    """How the archiver talks to hosts: robots.txt first, the host's turn, one pooled session per thread.

    Every HTTP attempt (retries included) is appended to ``attempts`` as a FetchAttempt, for the fetch log,
    which the caller's thread writes (worker threads never touch SQLite). ``deadline`` (time.monotonic,
    set by the run) bounds every request: none starts after it, none runs past it (OutOfTime).
    ``on_page`` sees every page answered (a 304 excepted: it has no body), robots.txt, feeds,
    sitemaps and start pages, in the thread that fetched it (the WARC writer); ``capture=False``
    leaves a page to the caller (the run writes its articles' pages itself, in its own thread).
    """

    def __init__(self, options: FetchOptions, politeness: Politeness, *,
                 fetch: Callable[..., Page] = default_fetch, clock: Clock = utc_now,
                 deadline: float | None = None, on_page: Callable[[Page], None] | None = None):
        self.options = options
        self.politeness = politeness
        self.deadline = deadline
        self.on_page = on_page
        self._fetch = fetch
        self.clock = clock            # the pages' fetched_at and robots.txt copies' ages
        self._local = threading.local()
        # robots.txt may be asked for conditionally (etag=, last_modified=) to refresh a cached copy.
        # It is asked for outside the host's turns: a fetch thread holds its host's turn (the
        # scheduler took it) when it learns that the host's robots.txt must be read first, and a
        # robots.txt request waiting for that turn waited for itself, or for a thread waiting on it.
        self.robots = RobotsCache(lambda url, **validators: self.get(url, kind="robots", check_robots=False,
                                                                     hold_turn=False, **validators),
                                  options.user_agent, now=clock)

    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def allowed(self, url: str) -> bool:
        return self.robots.allowed(url)

    def check(self, url: str) -> None:
        """Raise RobotsDisallowed unless robots.txt lets us fetch ``url``; the message says why
        (an unreachable robots.txt, and what made it so, is not the same as a Disallow line)."""
        robots = self.robots.for_url(url)
        if not robots.allowed(url, self.robots.user_agent):
            if robots.unreachable:
                raise RobotsDisallowed(url, f"robots.txt {robots.why}: nothing on that host is fetched "
                                            "until it answers")
            raise RobotsDisallowed(url, "disallowed by robots.txt")

    def get(self, url: str, *, html: bool = True, kind: str | None = None, check_robots: bool = True,
            hold_turn: bool = True, etag: str | None = None, last_modified: str | None = None,
            attempts: list[FetchAttempt] | None = None, capture: bool = True) -> Page:
        """Fetch ``url`` politely and return its Page; raise FetchError (RobotsDisallowed, OutOfTime...).

        ``html=False`` for a feed or sitemap; ``kind="robots"`` for a robots.txt (read up to 500 KiB).
        """
        if self.politeness.closed:
            # The run is stopping (cut_requests has ended what was in flight): a robots.txt asked
            # for outside the host's turns must not begin now and hold the process at exit.
            raise OutOfTime(url, "the run is stopping")
        if check_robots:
            self.check(url)
        options = self.options
        if kind == "robots":
            # RFC 9309 section 2.5: at least 500 KiB is parsed; we read that much and no more.
            options = dataclasses.replace(options, expect_html=False, max_bytes=MAX_ROBOTS_BYTES, truncate=True)
        elif not html:
            # A sitemap may be 50 MB uncompressed (the protocol's limit), more than a page's cap.
            options = dataclasses.replace(options, expect_html=False,
                                          max_bytes=max(options.max_bytes, SITEMAP_MAX_BYTES))
        clamped = False
        if self.deadline is not None:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise OutOfTime(url, "the run's time limit came before it could be asked for")
            if remaining < options.total_timeout:
                options, clamped = dataclasses.replace(options, total_timeout=remaining), True
        log = attempts if attempts is not None else []

        def once():
            try:
                page = self._fetch(url, options, session=self.session(), etag=etag,
                                   last_modified=last_modified, clock=self.clock,
                                   on_attempt=log.append)
            except FetchTimeout:
                if clamped and time.monotonic() >= self.deadline - 1.0:
                    raise OutOfTime(url, "the run's time limit came before the answer was complete") from None
                raise
            if capture and self.on_page is not None and not page.not_modified:
                self.on_page(page)
            return page
        if not hold_turn:
            try:
                return once()   # robots.txt: the caller (the scheduler) may hold this host's turn
            finally:
                # Still a request to the host: the next one waits its delay from this one's end.
                self.politeness.requested(url)
        with self.politeness.turn(url, deadline=self.deadline) as box:
            try:
                return once()
            except Exception as exc:
                box[0] = throttle_of(exc)
                raise


def throttle_of(error: BaseException | None) -> float | None:
    """None unless the error is a 429/503 answer; then its Retry-After, or 0."""
    status = getattr(error, "status", None)
    if status in (429, 503):
        return float(getattr(error, "retry_after", None) or 0.0)
    return None
