"""Work over many URLs on a thread pool, host by host: the cron run's fetching.

A dispatcher thread hands a worker a task only when the task's host is free and due (one request
at a time per host, its delay kept: politeness.py), the hosts with the longest queues first, so
no worker sits blocked behind a busy host while another host waits. Tasks may be added while it
runs (the run adds a site's URLs as soon as that site's discovery queues them, so one slow site
never holds the others back), and each result is handed to ``report`` as it comes.

With ``max_open`` the consumer bounds what is between fetching and its end: a task counts from
its start until the consumer calls ``settle()`` (the cron run: once the page is extracted and
stored), and no task starts while ``max_open`` are open. So pages wait in bounded numbers whatever
the speeds of fetching and extraction, and a host's turn still ends as soon as its answer is in.

Tasks that will not be started are reported with a ``Deferred`` result, left untouched in the
archive's queue for a later run: the tasks of a host that asked to be left alone longer than
``max_wait`` (a far Retry-After), of a host whose next turn comes after the run's ``deadline``
(a long Crawl-delay near the end of the run), and every task still waiting when the deadline
comes. Requests in flight then finish (each has its own deadline, within the run's).
"""
from __future__ import annotations

import math
import queue as stdlib_queue
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from typing import Callable, Iterable, Iterator, TypeVar

from .politeness import DEFAULT_WORKERS, Politeness, host_of

T = TypeVar("T")
R = TypeVar("R")


class Deferred:
    """The result of a task not started: left in the queue for a later run, and why."""

    def __init__(self, host: str, wait: float, why: str = "asked to be left alone", *, by_deadline: bool = False):
        self.host, self.wait, self.why = host, wait, why
        self.by_deadline = by_deadline     # left because of the run's time limit (not the host's wish)

    def __str__(self) -> str:
        wait = f"{self.wait:,.0f} s more" if math.isfinite(self.wait) else "now"
        return f"{self.host} {self.why} ({wait}); left for a later run"


class HostScheduler:
    """``add`` tasks, get ``report(task, result)`` calls from the dispatcher thread; ``close`` at the end.

    ``work(task)`` runs in a worker; an exception it raises is reported as the result.
    ``throttled(result)`` says whether the host asked us to slow down (None: it did not).
    ``max_open``: at most this many tasks started and not yet ``settle``d (None: no bound).
    """

    def __init__(self, work: Callable[[T], R], politeness: Politeness, report: Callable[[T, object], None], *,
                 url_of: Callable[[T], str], workers: int = DEFAULT_WORKERS,
                 throttled: Callable[[R], float | None] = lambda result: None,
                 max_wait: float = math.inf, deadline: float | None = None,
                 max_open: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.work, self.politeness, self.report = work, politeness, report
        self.max_open, self._open = max_open, 0
        self.url_of, self.workers, self.throttled = url_of, workers, throttled
        self.max_wait, self.deadline, self.clock = max_wait, deadline, clock
        self._queues: dict[str, deque] = {}
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._guarded, name="dispatch", daemon=True)
        self._thread.start()

    def add(self, tasks: Iterable[T]) -> None:
        with self._cond:
            for task in tasks:
                self._queues.setdefault(host_of(self.url_of(task)), deque()).append(task)
            self._cond.notify_all()

    def settle(self) -> None:
        """One started task is done with (its result handled): another may start (see ``max_open``)."""
        with self._cond:
            self._open -= 1
            self._cond.notify_all()

    def _full(self) -> bool:
        return self.max_open is not None and self._open >= self.max_open

    def queued(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    def close(self) -> None:
        """Wait until every task added is done (or deferred), then stop the dispatcher and the pool."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def cancel(self) -> None:
        """Start nothing more: the tasks not started are dropped without a report (they stay queued)."""
        with self._cond:
            self._queues.clear()
            self._cond.notify_all()

    def _take_all(self, why: str) -> list:
        """(task, Deferred) for every task waiting, now taken out; reported outside the lock."""
        taken = [(task, Deferred(host, math.inf, why, by_deadline=True))
                 for host, tasks in self._queues.items() for task in tasks]
        self._queues.clear()
        return taken

    def _guarded(self) -> None:
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fetch") as pool:
                self._dispatch(pool)
        except BaseException as exc:   # a bug here must reach the caller, not die in a thread
            self.report(None, Crashed(exc))

    def _dispatch(self, pool: ThreadPoolExecutor) -> None:
        inflight: dict = {}
        while True:
            soonest = math.inf
            deferred: list = []    # reported once the lock is released: ``report`` may block
            with self._cond:
                now = self.clock()
                if self.deadline is not None and now >= self.deadline and self._queues:
                    deferred += self._take_all("was not reached within the run's time limit")
                if not self._queues and not inflight and not deferred:
                    if self._closing:
                        return
                    self._cond.wait()
                    continue
                # Longest queue first: the hosts with the most left to do bound how long the run
                # takes, so they must never wait while a worker serves a host with one URL left.
                for host in sorted(self._queues, key=lambda h: -len(self._queues[h])):
                    if len(inflight) >= self.workers or self._full():
                        break
                    wait_for = self.politeness.try_acquire(host)
                    if wait_for == 0.0:
                        task = self._queues[host].popleft()
                        if not self._queues[host]:
                            del self._queues[host]
                        inflight[pool.submit(self.work, task)] = (host, task)
                        self._open += 1
                    elif wait_for < math.inf and self.politeness.held_off(host) > self.max_wait:
                        # Waiting hours for a host (a far Retry-After) would hold the whole run
                        # and the runs after it: its tasks go back untouched, for a later run.
                        deferred += [(task, Deferred(host, wait_for)) for task in self._queues.pop(host)]
                    elif self.deadline is not None and now + wait_for > self.deadline and wait_for < math.inf:
                        # Its delay (a long Crawl-delay) does not fit in what is left of the run.
                        deferred += [(task, Deferred(host, wait_for, "is not due before the run's time limit",
                                                     by_deadline=True)) for task in self._queues.pop(host)]
                    else:
                        soonest = min(soonest, wait_for)
                if not inflight and not deferred:
                    # Every pending host is waiting out its delay (or is held by a `turn` elsewhere),
                    # or the consumer has max_open tasks in hand; add(), settle() or close() wakes us.
                    timeout = min(soonest, 0.5)
                    if self.deadline is not None:
                        timeout = max(0.0, min(timeout, self.deadline - now))
                    self._cond.wait(timeout)
                    continue
            for task, result in deferred:
                self.report(task, result)
            if not inflight:
                continue
            timeout = None if soonest == math.inf else soonest
            if self.deadline is not None:
                timeout = max(0.0, min(timeout if timeout is not None else math.inf, self.deadline - now))
            # New tasks for an idle worker are picked up at least twice a second.
            done, _ = wait(inflight, timeout=min(timeout, 0.5) if timeout is not None else 0.5,
                           return_when=FIRST_COMPLETED)
            for future in done:
                host, task = inflight.pop(future)
                error = future.exception()
                result = error if error is not None else future.result()
                self.politeness.release(host, throttled=None if error is not None else self.throttled(result))
                self.report(task, result)


class Crashed:
    def __init__(self, error: BaseException):
        self.error = error


def polite_map(tasks: Iterable[T], work: Callable[[T], R], politeness: Politeness, *,
               url_of: Callable[[T], str], workers: int = DEFAULT_WORKERS,
               throttled: Callable[[R], float | None] = lambda result: None,
               max_wait: float = math.inf, deadline: float | None = None,
               ) -> Iterator[tuple[T, "R | BaseException | Deferred"]]:
    """All of ``tasks`` through a HostScheduler; yield ``(task, result)`` in this thread as each finishes.

    Results come back to the caller's thread, so the caller can write them to SQLite (whose
    connection belongs to that thread); at most a few results per worker wait for the caller,
    so memory stays flat however many tasks.
    """
    results: stdlib_queue.Queue = stdlib_queue.Queue(maxsize=workers * 4)
    scheduler = HostScheduler(work, politeness, lambda task, result: results.put((task, result)),
                              url_of=url_of, workers=workers, throttled=throttled, max_wait=max_wait,
                              deadline=deadline)
    scheduler.add(tasks)
    closer = threading.Thread(target=lambda: (scheduler.close(), results.put(_END)), daemon=True)
    closer.start()
    try:
        while (item := results.get()) is not _END:
            if isinstance(item[1], Crashed):
                raise item[1].error
            yield item
    finally:
        scheduler.cancel()         # the caller stopped reading (or all is done): start nothing more
        while closer.is_alive():   # let it finish its in-flight requests without blocking
            try:
                results.get(timeout=0.1)
            except stdlib_queue.Empty:
                pass


_END = object()
