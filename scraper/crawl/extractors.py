"""Page -> Article on every core: the extraction stage of the cron run (and of `fetch` with many URLs).

Extraction is nearly all of an archive run's CPU (88 % on real pages), and Python threads share
one interpreter lock, so the stage runs ``page_to_article`` in worker processes, as many as the
cores the process may use; fetching stays in threads and only the caller's thread writes to the
archive. With one core, or ``workers`` 0 or 1, it runs on one thread of this process instead
(``ThreadStage``): no process to start for a small run or a test.

Why our own small pool rather than ``concurrent.futures.ProcessPoolExecutor``: one worker killed
(kill -9, the OOM killer, a page that crashes lxml) breaks a ProcessPoolExecutor as a whole (every
page in it fails with BrokenProcessPool), and a running call cannot be stopped. Here each worker
holds one page at a time, so a death is that page's alone: it is failed with ``ExtractionAborted``
(the queue tries it again on the next run) and the worker is replaced; a page past ``time_limit``
gets the same, its worker killed.

Workers are forks of a fork server, never of this process once it runs threads (a fork copies
locks other threads hold). The fork server imports the extractor once and warms it (``PRELOAD``,
warm_extractor.py), so every worker is warm in milliseconds and shares what it loaded. It is a
``Forker`` (forker.py) when the caller made one while it had a single thread (``forker_for``,
which the cron run calls first thing): a fork of the caller, sharing its modules too, with no
resource tracker; else multiprocessing's ``forkserver``, a fresh interpreter. The profiles are
handed over once per worker, and a worker is replaced after ``tasks_per_worker`` pages, so what
pages leave in its heap goes with it. Workers ignore Ctrl-C and the stop signals (the caller ends them: ``close``),
and one whose caller is gone sees its pipe closed and exits.

Results are handed to ``report(job, outcome)`` from the stage's own thread, ``outcome`` an
Article or a ScraperError; the caller bounds what it submits (the run's ``max_open``).
"""
from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
import pickle
from multiprocessing.connection import Connection, wait as wait_for
from typing import Any, Callable, Iterator, Mapping

from ..errors import ExtractionAborted, ScraperError
from ..fetch.memory import release_free_memory
from ..models import Article, Found, Page
from .forker import Forker, ignore_stop_signals, why_not

# Imported once by the fork server, so each worker starts with them loaded, warm, and shared
# with the other workers (warm_extractor.py: what a first page would load, and gc.freeze()).
PRELOAD = ["scraper.pipeline", "scraper.crawl.warm_extractor"]
TIME_LIMIT = 30.0          # seconds one page may take; the slowest corpus page takes under 1 s
# Pages before a worker is replaced by a fresh fork. What a worker holds grows with the pages it
# has seen (caches, heap holes, the fork server's pages it has written to): 7 MB private after one
# corpus page, 23 after 10, 46 after 100. On real pages (bench/archive.py --real, 2 workers) 10
# keeps the run's peak PSS 10-15 MB under 100, at no cost in pages/s: a fork takes milliseconds.
TASKS_PER_WORKER = 10
READY = "ready"            # a worker's first word: its time limits count from then
# Seconds close(wait=False) waits for the stage's thread: it returns at once unless the thread is
# stuck starting a worker from a fork server that does not answer (stopped, say).
CLOSE_WAIT = 2.0


def usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system says)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def stage(workers: int | None, extract: Callable[..., Article], profiles: Mapping[str, Any] | None,
          report: Callable[[Any, Article | ScraperError], None], *, time_limit: float = TIME_LIMIT,
          tasks_per_worker: int = TASKS_PER_WORKER,
          crashed: Callable[[BaseException], None] = lambda exc: None,
          forker: Forker | None = None) -> "ThreadStage | ProcessStage":
    """The extraction stage for ``workers`` processes (None: one per usable core; 0 or 1: in-process).
    ``crashed(exc)`` hears of a bug in the stage itself, which then reports nothing more."""
    count = usable_cores() if workers is None else workers
    if count <= 1:
        return ThreadStage(extract, profiles, report)
    return ProcessStage(count, extract, profiles, report, time_limit=time_limit,
                        tasks_per_worker=tasks_per_worker, crashed=crashed, forker=forker)


@contextlib.contextmanager
def forker_for(workers: int | None) -> Iterator[Forker | None]:
    """A Forker for a stage of ``workers`` (None: one per core), or None when that stage runs in
    this process or this process cannot fork safely now (forker.py). Closed on the way out."""
    count = usable_cores() if workers is None else workers
    forker = None
    if count > 1 and why_not() is None:
        # What this process holds now is shared with the forker and its workers until written
        # to; a garbage collection here would write to the header of every object it scans.
        # Frozen for the run (unfrozen after): 4-8 MB less peak PSS on real pages.
        gc.freeze()
        try:
            forker = Forker.start(PRELOAD)
        except OSError:      # no fork now (out of processes or memory): the stage's forkserver tries
            gc.unfreeze()
    try:
        yield forker
    finally:
        if forker is not None:
            forker.close()
            gc.unfreeze()


def run_one(extract: Callable[..., Article], profiles, page: Page, template, listing: Found | None,
            ) -> Article | ScraperError:
    """One page through ``extract``: its Article, or the ScraperError that says why it has none."""
    try:
        return extract(page, profiles, template, listing)
    except ScraperError as exc:
        return exc
    except Exception as exc:   # a bug in the extractor (MemoryError too): this page fails, the run goes on
        return ScraperError(f"{page.url}: extraction failed ({exc!r})")


class ThreadStage:
    """Extraction on one thread of this process: the stage with one core."""

    workers = 1

    def __init__(self, extract, profiles, report):
        self.extract, self.profiles, self.report = extract, profiles, report
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="extract")

    def submit(self, job, page: Page, template=None, listing: Found | None = None) -> None:
        self.pool.submit(lambda: self.report(job, run_one(self.extract, self.profiles, page, template, listing)))

    def close(self, *, wait: bool = True) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=not wait)

    def pids(self) -> list[int]:
        return []


class ProcessStage:
    """Extraction in ``count`` worker processes, one page in each at a time."""

    def __init__(self, count: int, extract, profiles, report, *, time_limit: float = TIME_LIMIT,
                 tasks_per_worker: int = TASKS_PER_WORKER, crashed: Callable[[BaseException], None] = lambda exc: None,
                 forker: Forker | None = None):
        self.workers, self.extract, self.profiles, self.report = count, extract, profiles, report
        self.crashed = crashed
        self.time_limit, self.tasks_per_worker = time_limit, tasks_per_worker
        self.forker = forker
        self.context = multiprocessing.get_context("forkserver")
        if forker is None:
            self.context.set_forkserver_preload(PRELOAD)
        else:
            forker.load()        # the extractor loads there while the run discovers its first pages
        self.waiting: deque = deque()                  # (job, page, template, listing)
        self.lock = threading.Lock()
        self.closing = self.abandon = False
        self.wake_r, self.wake_w = self.context.Pipe(duplex=False)
        self.slots: list[_Worker | None] = [None] * count
        self.thread = threading.Thread(target=self._guarded, name="extract-pool", daemon=True)
        self.thread.start()

    def submit(self, job, page: Page, template=None, listing: Found | None = None) -> None:
        with self.lock:
            if self.closing:
                raise RuntimeError("the extraction stage is closed")
            self.waiting.append((job, page, template, listing))
        self._wake()

    def pids(self) -> list[int]:
        """The live workers' process ids (for tests and measurements)."""
        return [w.process.pid for w in list(self.slots) if w is not None and w.process.is_alive()]

    def holding(self) -> dict:
        """{job: the process id of the worker extracting its page now}."""
        return {w.job[0]: w.process.pid for w in list(self.slots) if w is not None and w.job is not None}

    def close(self, *, wait: bool = True) -> None:
        """With ``wait``, finish every page submitted; without, drop the waiting ones and kill the
        busy workers. Either way every worker has exited when this returns."""
        with self.lock:
            self.closing = True
            if not wait:
                self.waiting.clear()
                self.abandon = True
        self._wake()
        self.thread.join(None if wait else CLOSE_WAIT)
        if self.thread.is_alive():
            # Its thread is stuck starting a worker: a fork server that does not answer. The
            # workers it has are killed from here; the thread (a daemon) ends with the process.
            for worker in list(self.slots):
                if worker is not None:
                    with contextlib.suppress(Exception):
                        worker.process.kill()

    def _start(self, tasks: int):
        """A new worker process and the caller's end of its pipe: forked by the forker when the
        stage has one, else by multiprocessing's fork server."""
        args = (self.extract, self.profiles, tasks)
        if self.forker is not None:
            try:
                return self.forker.spawn(serve, args)
            except OSError:      # the forker died (killed?): multiprocessing's fork server from now on
                if self.abandon:     # not for a stage being given up
                    raise
                self.forker = None
                self.context.set_forkserver_preload(PRELOAD)
        pipe, child = self.context.Pipe()
        process = self.context.Process(target=serve, args=(child, *args), name="scraper-extract", daemon=True)
        process.start()
        child.close()
        return process, pipe

    def _wake(self) -> None:
        try:
            self.wake_w.send_bytes(b"")
        except OSError:      # the stage's thread is gone (closed): nothing to wake
            pass

    # -- the stage's thread ---------------------------------------------------------------------

    def _guarded(self) -> None:
        try:
            self._loop()
        except BaseException as exc:    # a bug here must reach the caller, not die in a thread
            self.crashed(exc)
        finally:
            for worker in self.slots:
                if worker is not None and worker.job is not None:
                    worker.kill()      # its page is given up: the queue keeps it for the next run
                if worker is not None:
                    worker.stop()
            self.wake_r.close()
            self.wake_w.close()

    def _loop(self) -> None:
        failed_starts = 0
        while True:
            with self.lock:
                if self.abandon:
                    return
                if self.closing and not self.waiting and all(w is None or w.job is None for w in self.slots):
                    return
                wanted = bool(self.waiting)
            # Outside the lock: the first start waits for the fork server to import the extractor.
            if wanted and any(w is None for w in self.slots):   # all at once: every core warm
                for i, worker in enumerate(self.slots):
                    if worker is None:
                        self.slots[i] = _Worker(self._start, self.tasks_per_worker)
            given = []
            with self.lock:
                for worker in self.slots:
                    if self.waiting and worker is not None and worker.ready and worker.job is None:
                        given.append((worker, self.waiting.popleft()))
            for worker, job in given:     # a page's time counts from here: its worker is up
                worker.give(job)
            live = [w for w in self.slots if w is not None]
            now = time.monotonic()
            timeout = min((w.started + self.time_limit - now for w in live if w.job is not None), default=None)
            wait_for([self.wake_r, *(w.pipe for w in live), *(w.process.sentinel for w in live)],
                     timeout=None if timeout is None else max(0.0, timeout))
            while self.wake_r.poll():
                self.wake_r.recv_bytes()
            for i, worker in enumerate(self.slots):
                if worker is None:
                    continue
                if worker.job is None:      # starting, or idle: it says it is ready, or it died
                    if worker.started_up():
                        failed_starts = 0
                    elif not worker.process.is_alive():
                        worker.stop()
                        self.slots[i] = None
                        failed_starts += 1
                        if failed_starts > 3 * self.workers:
                            raise ScraperError("the extraction workers die as they start "
                                               f"(the last one: exit code {worker.process.exitcode})")
                    continue
                outcome = worker.collect(self.time_limit)
                if outcome is None:
                    continue
                job = worker.job[0]
                worker.job = None
                if worker.spent:    # dead, killed, or its share of pages done: a fresh fork next time
                    worker.stop()
                    self.slots[i] = None
                self.report(job, outcome)


class _Worker:
    """One worker process, its pipe, and the page it holds."""

    def __init__(self, start: Callable[[int], tuple[Any, Connection]], tasks: int):
        self.process, self.pipe = start(tasks)
        self.job = None
        self.started = 0.0
        self.left = tasks
        self.dead = self.ready = False

    def started_up(self) -> bool:
        """Whether it is ready for pages (it says so once, when it has started)."""
        if not self.ready and self.process.is_alive():
            try:
                self.ready = self.pipe.poll() and self.pipe.recv() == READY
            except (EOFError, OSError):
                self.ready = False
        return self.ready

    @property
    def spent(self) -> bool:
        return self.dead or self.left <= 0

    def give(self, job) -> None:
        self.job, self.started, self.left = job, time.monotonic(), self.left - 1
        _, page, template, listing = job
        try:
            self.pipe.send((page, template, listing))
        except (OSError, ValueError):     # it died between two pages: collect() says so
            pass

    def collect(self, time_limit: float) -> Article | ScraperError | None:
        """The page's outcome if it has one now: the worker's answer, its death, or the time limit."""
        url = self.job[1].url
        try:
            if self.pipe.poll():
                return self.pipe.recv()
        except (EOFError, OSError):
            pass
        else:
            if self.process.is_alive():
                if time.monotonic() - self.started < time_limit:
                    return None
                self.kill()
                return ExtractionAborted(url, f"extraction took more than {time_limit:g} s: given up "
                                              "for this run, tried again on the next")
        self.kill()
        code = self.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return ExtractionAborted(url, f"the extraction worker died ({how}): tried again on the next run")

    def kill(self) -> None:
        self.dead = True
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)

    def stop(self) -> None:
        """Let an idle worker go (its pipe closed, it exits); one that will not is killed."""
        self.pipe.close()
        self.process.join(2 if self.ready else 0.1)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.process.close()


def serve(pipe: Connection, extract, profiles, tasks: int) -> None:
    """A worker process: pages in, Articles (or ScraperErrors) out, until ``tasks`` or the pipe ends."""
    ignore_stop_signals()     # Ctrl-C, SIGTERM: the caller's to handle; it ends us
    try:
        pipe.send(READY)
        for _ in range(tasks):
            try:
                page, template, listing = pipe.recv()
            except EOFError:              # the caller closed the pipe, or is gone
                return
            outcome = run_one(extract, profiles, page, template, listing)
            del page
            # What the page's trees held goes back to the system between pages (malloc_trim): ~20 MB
            # less per worker at rest, for a fraction of a millisecond.
            release_free_memory()
            if isinstance(outcome, BaseException):
                try:    # an error whose class cannot be rebuilt from its pickle would fail in the caller
                    pickle.loads(pickle.dumps(outcome))
                except Exception:
                    outcome = ScraperError(str(outcome))
            pipe.send(outcome)
    except OSError:                       # the caller is gone mid-answer: nobody to tell
        return
