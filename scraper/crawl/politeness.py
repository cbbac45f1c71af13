"""Politeness: per host one request at a time and a delay between requests; across hosts, concurrency.

`Politeness` keeps, for each host, whether a request is in flight and when the next may start.
The delay is the larger of the site's `delay` and the robots.txt Crawl-delay; a 429 or 503 adds a
penalty that doubles on each throttled answer and halves on each good one, so a host that asks us
to slow down gets slower requests until it is happy again.

`polite_map` runs work over many URLs with a thread pool: a worker is only handed a URL whose host
is free and due, so no worker sits blocked behind a busy host while another host waits.
"""
from __future__ import annotations

import dataclasses
import math
import queue as stdlib_queue
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, TypeVar

import requests

from ..clock import Clock, utc_now
from ..fetch.http import FetchOptions, fetch as default_fetch
from ..models import FetchAttempt, Page
from ..errors import RobotsDisallowed
from .robots import RobotsCache
from ..urls import host_key

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_DELAY = 1.0
DEFAULT_WORKERS = 8
FIRST_PENALTY = 1.0    # seconds added after the first 429/503, even for a site with delay 0
MAX_PENALTY = 120.0    # never slower than one request every two minutes (plus Retry-After)
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

    def _host(self, host: str) -> _Host:
        if host not in self._hosts:
            self._hosts[host] = _Host(self.default_delay)
        return self._hosts[host]

    def set_delay(self, url_or_host: str, *delays: float | None) -> float:
        """Set a host's delay to the largest of the given ones (site delay, Crawl-delay); return it."""
        with self._cond:
            host = self._host(_key(url_or_host))
            host.delay = max([d for d in delays if d is not None] or [self.default_delay])
            return host.delay

    def delay(self, url_or_host: str) -> float:
        """The current gap between two requests to this host, penalty included."""
        with self._cond:
            host = self._host(_key(url_or_host))
            return host.delay + host.penalty

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

    @contextmanager
    def turn(self, url: str):
        """Block until this URL's host is free and due, hold it for one request.

        The body may set ``box[0]`` to a Retry-After (or 0) to report a 429/503.
        """
        host = _key(url)
        while (wait_for := self.try_acquire(host)) != 0.0:
            with self._cond:   # woken early by any release; then simply try again
                self._cond.wait(None if wait_for == math.inf else wait_for)
        box: list[float | None] = [None]
        try:
            yield box
        finally:
            self.release(host, throttled=box[0])


def _key(url_or_host: str) -> str:
    return host_key(url_or_host) if "://" in url_or_host else url_or_host.lower().removeprefix("www.")


def polite_map(tasks: Iterable[T], work: Callable[[T], R], politeness: Politeness, *,
               url_of: Callable[[T], str], workers: int = DEFAULT_WORKERS,
               throttled: Callable[[R], float | None] = lambda result: None,
               max_wait: float = math.inf,
               ) -> Iterator[tuple[T, "R | BaseException | Deferred"]]:
    """Run ``work(task)`` on a pool, host by host, and yield ``(task, result)`` as each finishes.

    Results come back to the caller's thread, so the caller can write them to SQLite (whose
    connection belongs to that thread) while a dispatcher thread keeps the workers busy; at most
    a few results per worker wait for the caller, so memory stays flat however many tasks.
    An exception raised by ``work`` is yielded as the result.
    ``throttled(result)`` tells whether the host asked us to slow down (None: it did not).
    A host that must not be asked again for more than ``max_wait`` seconds (its Retry-After) gets
    its remaining tasks back at once, each with a ``Deferred`` as the result.
    """
    queues: dict[str, deque[T]] = {}
    for task in tasks:
        queues.setdefault(_key(url_of(task)), deque()).append(task)
    results: stdlib_queue.Queue = stdlib_queue.Queue(maxsize=workers * 4)
    stop = threading.Event()

    def dispatch() -> None:
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
                _dispatch(queues, pool, work, politeness, workers, throttled, results.put, stop,
                          max_wait)
        except BaseException as exc:   # a bug here must reach the caller, not die in a thread
            results.put((None, _Crashed(exc)))
        finally:
            results.put(_END)

    dispatcher = threading.Thread(target=dispatch, name="dispatch", daemon=True)
    dispatcher.start()
    try:
        while (item := results.get()) is not _END:
            if isinstance(item[1], _Crashed):
                raise item[1].error
            yield item
    finally:
        stop.set()
        while dispatcher.is_alive():   # let it finish its in-flight requests without blocking
            try:
                results.get(timeout=0.1)
            except stdlib_queue.Empty:
                pass


_END = object()


class Deferred:
    """The result of a task not done: its host asked us to stay away ``wait`` seconds more."""

    def __init__(self, host: str, wait: float):
        self.host, self.wait = host, wait

    def __str__(self) -> str:
        return f"{self.host} asked to be left alone for {self.wait:,.0f} s more; left for a later run"


class _Crashed:
    def __init__(self, error: BaseException):
        self.error = error


def _dispatch(queues, pool, work, politeness, workers, throttled, put, stop,
              max_wait=math.inf) -> None:
    """Hand each free worker a task whose host is free and due; report each result with ``put``."""
    inflight: dict = {}
    while (queues and not stop.is_set()) or inflight:
        soonest = math.inf
        # Longest queue first: the hosts with the most left to do bound how long the run takes,
        # so they must never wait while a worker serves a host with one URL left.
        for host in sorted(queues, key=lambda h: -len(queues[h])) if not stop.is_set() else ():
            if len(inflight) >= workers:
                break
            wait_for = politeness.try_acquire(host)
            if wait_for == 0.0:
                task = queues[host].popleft()
                if not queues[host]:
                    del queues[host]
                inflight[pool.submit(work, task)] = (host, task)
            elif max_wait < wait_for < math.inf:
                # Waiting hours for a host (a far Retry-After) would hold the whole run and the
                # runs after it: its tasks go back untouched, for a later run.
                for task in queues.pop(host):
                    put((task, Deferred(host, wait_for)))
            else:
                soonest = min(soonest, wait_for)
        if not inflight:
            # Every pending host is waiting out its delay (or is held by a `turn` elsewhere).
            time.sleep(min(soonest, 0.5))
            continue
        done, _ = wait(inflight, timeout=None if soonest == math.inf else soonest,
                       return_when=FIRST_COMPLETED)
        for future in done:
            host, task = inflight.pop(future)
            error = future.exception()
            result = error if error is not None else future.result()
            politeness.release(host, throttled=None if error is not None else throttled(result))
            put((task, result))


class PoliteClient:
    """How the archiver talks to hosts: robots.txt first, the host's turn, one pooled session per thread.

    Every HTTP attempt (retries included) is appended to ``attempts`` as a FetchAttempt, for the fetch log,
    which the caller's thread writes (worker threads never touch SQLite).
    """

    def __init__(self, options: FetchOptions, politeness: Politeness, *,
                 fetch: Callable[..., Page] = default_fetch, clock: Clock = utc_now):
        self.options = options
        self.politeness = politeness
        self._fetch = fetch
        self.clock = clock            # the pages' fetched_at and robots.txt copies' ages
        self._local = threading.local()
        # robots.txt may be asked for conditionally (etag=, last_modified=) to refresh a cached copy.
        self.robots = RobotsCache(lambda url, **validators: self.get(url, html=False, check_robots=False,
                                                                     **validators),
                                  options.user_agent, now=clock)

    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def allowed(self, url: str) -> bool:
        return self.robots.allowed(url)

    def get(self, url: str, *, html: bool = True, check_robots: bool = True, hold_turn: bool = True,
            etag: str | None = None, last_modified: str | None = None,
            attempts: list[FetchAttempt] | None = None) -> Page:
        """Fetch ``url`` politely and return its Page; raise FetchError (or RobotsDisallowed)."""
        if check_robots and not self.allowed(url):
            raise RobotsDisallowed(url, "disallowed by robots.txt")
        # A sitemap may be 50 MB uncompressed (the protocol's limit), more than a page's cap.
        options = self.options if html else dataclasses.replace(
            self.options, expect_html=False, max_bytes=max(self.options.max_bytes, SITEMAP_MAX_BYTES))
        log = attempts if attempts is not None else []

        def once():
            return self._fetch(url, options, session=self.session(), etag=etag,
                               last_modified=last_modified, clock=self.clock, on_attempt=log.append)
        if not hold_turn:
            return once()       # the caller (polite_map) already holds this host's turn
        with self.politeness.turn(url) as box:
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
