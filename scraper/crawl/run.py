"""One cron run of `scraper archive`: lock, discover, queue, fetch politely, save, record the run.

The flow only; each step is another module's: the lock (lock.py), discovery (discover.py), the
queue and the runs table (runstate.py), turn-taking per host (politeness.py), the fetching
(scheduler.py), and the record path (pipeline.py): worker threads fetch, and a host's turn ends
as soon as its answer is in; ``page_to_article`` runs on the extraction stage (extractors.py:
worker processes, one per core); only this (the caller's) thread writes to the archive, with
``article_to_row``. Pages between fetching and storing
are bounded (``max_open``), so memory stays flat whichever of fetching and extraction is faster.

Sites go their own ways: what earlier runs left queued starts fetching at once; each site is
discovered in its own thread, and its URLs are queued in batches as its listings stream past and
handed to the fetchers in windows, so fetching site B goes on while site A's slow feed is still
being read, and a sitemap of millions of URLs costs a window's memory. Every thread reports to
this one through one queue of events. The run has a deadline (``max_time``): no request starts
after it and none runs past it; what is left stays queued for the next run, and the run row is
closed as at any other end.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import queue as stdlib_queue
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable

from .. import exit_codes
from ..clock import Clock, utc_now
from ..store import listings, runstate, search
from . import extractors
from .discover import Discovery, discover_site
from ..errors import BadURL, ConfigError, OutOfTime, RobotsDisallowed, ScraperError, UnknownSite
from ..fetch.deadline import cut_requests
from ..fetch.http import FetchOptions
from ..fetch.memory import fix_mmap_threshold, limit_arenas
from .lock import run_lock
from ..models import Article, FetchAttempt, Found, Page
from .politeness import DEFAULT_WORKERS, PoliteClient, Politeness, throttle_of
from .scheduler import Crashed, Deferred, HostScheduler
from ..profiles import Profile, load_profiles
from ..pipeline import article_to_row, page_to_article, template_for
from ..store.archive import Archive

RECENT = timedelta(days=2)               # articles this fresh are checked again for edits
RECHECK_AFTER = timedelta(hours=6)
# A cron line every ten minutes (the README's) must find the lock free: the run ends by then,
# with a margin for the search index and the last writes.
MAX_TIME = timedelta(minutes=8)
WINDOW = 200            # a site's URLs handed to the fetchers at a time; more when half are done
BATCHES_IN_FLIGHT = 4   # discovery batches waiting for this thread: memory stays flat
# Sites discovered at once, when --workers is fewer. A discovery thread mostly waits out its host's
# delay (robots.txt, then each listing, a delay apart), not the network: with fewer threads than
# sites, the last sites' fetching started two delays late per wave of sites before them (20 sites,
# 8 threads, 3 s delay: 6 s, 8 % of a 500-page polite run's time with every host busy).
DISCOVERERS = 32
# Pages fetched and not yet stored, beyond those being fetched: enough to keep every extractor
# busy while the fetchers wait on the network, few enough that memory does not grow.
PAGES_WAITING = 4
OVERTIME = 5.0          # seconds past the deadline the run still waits for pages in flight
# Within one run a failing URL gets one quick retry; the queue spaces out the rest over runs.
RUN_FETCH_OPTIONS = FetchOptions(retries=1, backoff=0.5, retry_after_cap=30.0)


@dataclass
class RunOptions:
    sites: tuple[str, ...] = ()          # names; empty = every site that says how to find articles
    config: Path | None = None           # the user's sites.toml (absent file = built-ins only)
    max_new: int | None = None           # new articles fetched per run at most
    recheck_after: timedelta = RECHECK_AFTER
    recent: timedelta = RECENT
    workers: int = DEFAULT_WORKERS
    fetch: FetchOptions = RUN_FETCH_OPTIONS
    max_tries: int = runstate.MAX_TRIES
    max_time: timedelta | None = MAX_TIME   # the run's deadline; None (or 0) = no limit
    on_page: Callable[[Page], None] | None = None   # every page fetched, listings too (a WARC writer)
    # Page -> Article with (page, profiles, template, listing), as pipeline.page_to_article:
    # a module-level function, which the extraction stage may run in another process. It is
    # given the page's decoded html and headers, not its bytes (``body`` is empty).
    extract: Callable[..., Article] = page_to_article
    # Processes extracting pages: None = one per usable core; 0 or 1 = a thread of this process.
    extract_workers: int | None = None
    extract_time_limit: float = extractors.TIME_LIMIT   # seconds a page may take in a worker process
    clock: Clock = utc_now               # every moment the run records or compares (tests move it)


class Reporter:
    """What a run tells its caller as it goes (the CLI draws a progress bar and prints errors)."""

    def started(self, run_id: int, sites: list[str]) -> None: ...   # the run's row is written
    def planned(self, more: int) -> None: ...      # called as URLs are handed out: ``more`` each time
    def outcome(self, url: str, status: str, detail: str | None = None) -> None: ...
    def problem(self, message: str) -> None: ...


@dataclass
class RunReport:
    run_id: int
    counts: dict[str, int]
    problems: list[str]
    exit_code: int
    left: int = 0              # URLs left queued for the next run (runstate.left_queued), rechecks too
    timed_out: bool = False    # the run reached its --max-time


@dataclass
class _Result:
    """What a worker made of one URL: a page and its article, a 304, or an error."""

    task: runstate.QueuedURL
    page: Page | None = None
    article: Article | None = None
    error: ScraperError | None = None
    attempts: list[FetchAttempt] = field(default_factory=list)


def parse_duration(text: str) -> timedelta:
    """``6h``, ``30m``, ``90s``, ``2d``, ``1h30m`` or ``0``; raise ValueError for anything else."""
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    value = text.strip().lower()
    if value == "0":
        return timedelta(0)
    parts = re.findall(r"(\d+(?:\.\d+)?)([dhms])", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"{text!r} is not a duration such as 6h, 30m, 90s, 2d or 0")
    return timedelta(seconds=sum(float(n) * units[u] for n, u in parts))


def archived(profiles: dict[str, Profile], sites_file: str | os.PathLike | None = None
             ) -> dict[str, tuple[bool, str]]:
    """{site: (whether `scraper archive` runs it by default, why)} for `scraper sites` and the run.

    A user's sites file says which sites to archive: with one, the built-in profiles only give
    their extraction rules to pages of their sites (a cron user who configured other sites must
    not get alittihad's failures); without one, the built-in sites are archived. ``sites_file``:
    the file the profiles were read from, which counts even when it lists no site (an empty file
    is a choice of no sites, not the absence of a choice).
    """
    files = sorted({p.origin for p in profiles.values() if p.origin != "built-in"} |
                   ({str(sites_file)} if sites_file is not None else set()))
    plan = {}
    for name, profile in profiles.items():
        if not (profile.start or profile.feeds or profile.sitemaps):
            plan[name] = (False, "no start pages, feeds or sitemaps: its rules serve `fetch` and `extract` only")
        elif profile.origin != "built-in":
            plan[name] = (True, f"listed in {profile.origin}")
        elif files:
            plan[name] = (False, f"built-in: not archived because {files[0]} lists the sites to archive "
                                 "(add [sites." + name + "] there to archive it); its rules still apply to its pages")
        else:
            plan[name] = (True, "built-in, archived while there is no sites file")
    return plan


def select_sites(options: RunOptions, profiles: dict[str, Profile] | None = None) -> list[Profile]:
    """The profiles to run: those named, else those ``archived`` says a run archives."""
    if profiles is None:
        profiles = load_sites(options)
    if options.sites:
        unknown = [name for name in options.sites if name not in profiles]
        if unknown:
            raise UnknownSite(f"unknown site(s): {', '.join(unknown)} (see `scraper sites`)")
        return [profiles[name] for name in options.sites]
    chosen = [profiles[name] for name, (runs, _) in archived(profiles, _existing(options.config)).items() if runs]
    if not chosen:
        raise ConfigError("no site to archive: add [sites.NAME] tables with start, feeds or sitemaps "
                          "to the sites file")
    return chosen


def load_sites(options: RunOptions) -> dict[str, Profile]:
    """Built-in profiles plus the user's sites file, if it exists."""
    return load_profiles(_existing(options.config))


def _existing(config: str | os.PathLike | None) -> str | os.PathLike | None:
    return config if config and Path(config).exists() else None


def run_archive(db_path: str | os.PathLike, options: RunOptions = RunOptions(),
                reporter: Reporter = Reporter()) -> RunReport:
    """Archive the sites' new articles; raise ArchiveLocked at once if another run holds the lock."""
    # Before the fetch threads start: each would otherwise keep a malloc arena of its own at its
    # high-water mark (one run of issue 15: 335 MB with glibc's default, 245 MB with 2 arenas).
    limit_arenas(2)
    fix_mmap_threshold()
    # The extraction workers' fork server, forked now, while this process has one thread and
    # has opened neither the lock nor the archive (forker.py): None when the stage will not use
    # processes or this process cannot fork safely, and multiprocessing's forkserver then.
    with extractors.forker_for(options.extract_workers) as forker, run_lock(db_path):
        profiles = load_sites(options)
        sites = select_sites(options, profiles)
        with Archive.open(db_path, clock=options.clock) as archive:
            report = _Run(archive, sites, profiles, options, reporter, forker).run()
            if not report.timed_out:
                # Index the new and changed articles now, so cron pays for it; past the time limit
                # the next search does it (every write is queued for the index).
                search.refresh(archive)
            return report


def discover(profile: Profile, options: RunOptions = RunOptions(),
             sink: Callable[[list[Found]], None] | None = None) -> Discovery:
    """Discovery alone (for `scraper discover`): no lock, no database, no article fetched. The
    URLs go to ``sink`` in batches as they are found (else to the Discovery's ``found``)."""
    client = PoliteClient(options.fetch, Politeness(profile.delay), clock=options.clock)
    return discover_site(profile, client, sink=sink)


class _Run:
    """The run's own thread: it owns the database and answers the events the other threads send."""

    def __init__(self, archive: Archive, sites: list[Profile], profiles: dict[str, Profile],
                 options: RunOptions, reporter: Reporter, forker: extractors.Forker | None = None):
        self.archive, self.sites, self.profiles = archive, sites, profiles
        self.forker = forker
        self.options, self.reporter = options, reporter
        limit = options.max_time.total_seconds() if options.max_time else 0
        self.deadline = time.monotonic() + limit if limit > 0 else None
        self.politeness = Politeness()
        # Every exchange with an answer goes to on_page (--warc): robots.txt and listings too.
        self.client = PoliteClient(options.fetch, self.politeness, clock=options.clock, deadline=self.deadline,
                                   on_page=options.on_page)
        # robots.txt copies kept by earlier runs (RFC 9309 section 2.4: reused for up to 24 hours).
        self.client.robots.use_copies(listings.robots_copies(archive))
        self.counts = {name: 0 for name in runstate.COUNTS}
        self.problems: list[str] = []
        self.run_id = 0
        self.events: stdlib_queue.Queue = stdlib_queue.Queue()
        self.slots = threading.Semaphore(BATCHES_IN_FLIGHT)
        # Per site: the last queue row handed out, how many of its URLs are out, discovery done.
        self.cursor = {site.name: 0 for site in sites}
        self.out = {site.name: 0 for site in sites}
        self.exhausted: set[str] = set()
        self.discovered: set[str] = set()
        self.discovering = len(sites)
        self.new_left = options.max_new            # None: no limit
        self.attempted = self.rechecks_left = self.listings_read = 0
        self.cut_short = False      # the time limit left work (URLs, listings) for the next run
        # Each site's learned template, (re)learned here when due: workers only read it.
        self.templates = {site.name: template_for(archive, site.name) for site in sites}

    def run(self) -> RunReport:
        names, began = [s.name for s in self.sites], self.archive.now()
        try:
            self.run_id = runstate.start_run(self.archive, names, os.getpid(), at=began)
            self.reporter.started(self.run_id, names)
            return self._run()
        except BaseException as exc:
            if not self.run_id and isinstance(exc, KeyboardInterrupt):
                # Stopped (Ctrl-C, SIGTERM) after the row was written, before its id came back:
                # found by what it was written with, so it is closed like any other. (An error
                # in start_run wrote no row; the lookup must not hide the error that stopped us.)
                with contextlib.suppress(Exception):
                    self.run_id = runstate.unfinished_run(self.archive, os.getpid(), began) or 0
            if self.run_id:
                self.reporter.started(self.run_id, names)    # the log names the run it closes
                self._close_stopped(exc)
            raise

    def _patience(self) -> float | None:
        """Seconds to wait for the next event: forever without a deadline, else until OVERTIME
        past it (in-flight pages normally come in well within that)."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline + OVERTIME - time.monotonic())

    def _close_stopped(self, exc: BaseException) -> None:
        """A run stopped by Ctrl-C, a stop signal or an error still closes its row (an open row
        means killed): exit 130 for Ctrl-C, 143 for SIGTERM (129 SIGHUP), 3 for an error, which is
        the row's last problem."""
        with contextlib.suppress(Exception):   # the database itself may be what failed
            self._count_left()
        runstate.close_stopped(self.archive, self.run_id, lambda: self.counts, self.problems, exc)

    def _run(self) -> RunReport:
        self.extraction = extractors.stage(
            self.options.extract_workers, self.options.extract, self.profiles,
            lambda result, outcome: self.events.put(("extracted", result.task, (result, outcome))),
            time_limit=self.options.extract_time_limit,
            crashed=lambda exc: self.events.put(("broken", "extraction", exc)), forker=self.forker)
        self.fetcher = HostScheduler(self._work, self.politeness, lambda task, result: self.events.put(
            ("fetched", task, result)), url_of=lambda t: t.url, workers=self.options.workers,
            throttled=lambda r: throttle_of(r.error), max_wait=self.options.fetch.retry_after_cap,
            deadline=self.deadline, max_open=self.options.workers + self.extraction.workers + PAGES_WAITING)
        finders = ThreadPoolExecutor(max_workers=max(1, min(len(self.sites), max(self.options.workers, DISCOVERERS))),
                                     thread_name_prefix="discover")
        try:
            # What earlier runs left queued, and the recent articles due a recheck: fetched at once.
            rechecks = runstate.to_recheck(self.archive, {s.name: s.domains for s in self.sites},
                                           recent=self.options.recent, after=self.options.recheck_after)
            self._hand_out(rechecks)
            for site in self.sites:
                self._refill(site.name)
            # Read here, in the run's thread: discovery threads only read these snapshots.
            memories = {site.name: listings.ListingMemory(site.name, listings.load(self.archive, site.name),
                                                          clock=self.options.clock) for site in self.sites}
            for site in self.sites:
                finders.submit(self._discover, site, memories[site.name])
            while self.discovering or sum(self.out.values()):
                try:
                    event = self.events.get(timeout=self._patience())
                except stdlib_queue.Empty:
                    # OVERTIME past the deadline with pages still out (an extraction stage that
                    # cannot get a worker: a fork server that does not answer): the run ends,
                    # and they stay queued for the next run.
                    self.cut_short = True
                    break
                self._answer(event)
        except BaseException:
            self.politeness.close()        # threads waiting for a host's turn give up: the process can end
            cut_requests()                 # and those waiting on a server that does not answer
            raise
        finally:
            self.fetcher.cancel()          # on an error or Ctrl-C: start nothing more
            finders.shutdown(wait=False, cancel_futures=True)
            # Every page this thread waited for is in (or the run is ending on an error or
            # Ctrl-C, and what is still in a worker stays queued): the workers end here.
            self.extraction.close(wait=False)
        self.fetcher.close()
        finders.shutdown()
        listings.save_robots(self.archive, self.client.robots.new_copies())   # hosts met while fetching
        timed_out = self.cut_short or (self.deadline is not None and time.monotonic() >= self.deadline)
        code = self._exit_code()
        left = self._count_left()
        runstate.finish_run(self.archive, self.run_id, self.counts, code, self.problems)
        return RunReport(self.run_id, self.counts, self.problems, code, left, timed_out)

    def _count_left(self) -> int:
        """What the next run has to do, into the counts: the sites' queued URLs that are due, and
        the rechecks this run did not reach (archived articles, which the queue does not hold)."""
        self.counts["deferred"] = runstate.left_queued(self.archive, [s.name for s in self.sites]) + self.rechecks_left
        return self.counts["deferred"]

    # -- the other threads ----------------------------------------------------------------------

    def _discover(self, site: Profile, memory: listings.ListingMemory) -> None:
        """In a discovery thread: read the site's listings, sending what is found as it comes."""
        def sink(items):
            self.slots.acquire()        # released by the run's thread once the batch is queued
            self.events.put(("found", site.name, items))
        try:
            found = discover_site(site, self.client, memory=memory, sink=sink, deadline=self.deadline)
        except BaseException as exc:   # a bug must reach the run, not die in a thread
            self.events.put(("crashed", site.name, exc))
            return
        self.events.put(("discovered", site.name, found))

    def _work(self, task: runstate.QueuedURL) -> _Result:
        """In a fetch thread: robots.txt, fetch (conditionally for a recheck); no database here.
        The host's turn ends when this returns: extraction runs after, on the extraction stage."""
        result = _Result(task)
        try:
            self.client.check(task.url)
            # capture=False: the article's page is written by _record, in this run's thread.
            result.page = self.client.get(task.url, check_robots=False, hold_turn=False, capture=False,
                                          etag=task.etag, last_modified=task.last_modified,
                                          attempts=result.attempts)
        except ScraperError as exc:
            result.error = exc
        return result

    # -- this thread ----------------------------------------------------------------------------

    def _answer(self, event: tuple) -> None:
        kind, site, payload = event
        if kind == "fetched":
            task, result = site, payload
            if isinstance(result, Crashed):
                raise result.error
            if isinstance(result, _Result) and result.error is None and not result.page.not_modified:
                # All profiles, the user's sites file included: its extraction rules apply too.
                # The extractor reads the decoded html: the bytes stay here for the archive, and
                # the page crosses to a worker process at half its size.
                self.extraction.submit(result, dataclasses.replace(result.page, body=b""),
                                       self.templates.get(task.site), task.listing)
                return
            self.out[task.site] -= 1
            self._fetched(task, result)
            if not isinstance(result, Deferred):   # a Deferred task never started
                self.fetcher.settle()
            self._refill(task.site)
        elif kind == "extracted":
            task, (result, outcome) = site, payload
            if isinstance(outcome, Article):
                result.article = outcome
            else:
                result.error = outcome
            self.out[task.site] -= 1
            self._fetched(task, result)
            self.fetcher.settle()      # stored: room for another page
            self._refill(task.site)
        elif kind == "found":
            try:
                fresh = [item for item in payload if self.archive.find(item.url) is None]
                self.counts["discovered"] += runstate.enqueue(self.archive, site, fresh)
            finally:
                self.slots.release()
            self._refill(site)
        elif kind == "discovered":
            self.discovering -= 1
            self.discovered.add(site)
            self._discovered(site, payload)
            self._refill(site)
        elif kind == "broken":   # a bug in the extraction stage itself
            raise payload
        else:   # "crashed"
            self.discovering -= 1
            raise payload

    def _discovered(self, site: str, found: Discovery) -> None:
        self._log_attempts(found.attempts, final=None)
        for message in found.problems:
            self._problem(message)
        self.listings_read += found.listings_read
        self.cut_short = self.cut_short or found.unread > 0
        # Only now that their articles are queued: a run killed before this line re-reads them.
        listings.save(self.archive, found.listings.values())
        listings.save_robots(self.archive, self.client.robots.new_copies())

    def _refill(self, site: str) -> None:
        """Hand the fetchers more of the site's queue when fewer than half a window are out."""
        if site in self.exhausted or self.out[site] >= WINDOW // 2:
            return
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return
        tasks = []
        while len(tasks) < WINDOW - self.out[site] and self.new_left != 0:
            window = runstate.due_after(self.archive, site, self.cursor[site], WINDOW)
            if not window:
                if site in self.discovered:   # nothing more will be queued for it in this run
                    self.exhausted.add(site)
                break
            for row_id, task in window:
                self.cursor[site] = row_id
                if self.archive.find(task.url) is not None:   # saved by a run killed before marking it
                    runstate.mark_done(self.archive, task.url, task.site)
                elif self.new_left != 0:
                    tasks.append(task)
                    self.new_left = None if self.new_left is None else self.new_left - 1
        self._hand_out(tasks)

    def _hand_out(self, tasks: list[runstate.QueuedURL]) -> None:
        if tasks:
            for task in tasks:
                self.out[task.site] += 1
            self.reporter.planned(len(tasks))
            self.fetcher.add(tasks)

    def _fetched(self, task: runstate.QueuedURL, result) -> None:
        if isinstance(result, Deferred) or isinstance(getattr(result, "error", None), OutOfTime):
            # Still queued as it was: a later run fetches it (a far Retry-After, the time limit).
            # Not counted here: the queue says at the end how many the next run has (_count_left).
            self.rechecks_left += task.recheck
            self.cut_short = self.cut_short or not isinstance(result, Deferred) or result.by_deadline
            why = result.error if isinstance(result, _Result) else f"{task.url}: {result}"
            self.reporter.outcome(task.url, "deferred", str(why))
            return
        if isinstance(result, BaseException):   # a bug in a worker: report it, keep going
            result = _Result(task, error=ScraperError(f"{task.url}: {result!r}"))
        if isinstance(result.error, RobotsDisallowed):
            # Left queued: robots.txt may allow it later (or answer, when it was unreachable).
            self.counts["skipped"] += 1
            self.reporter.outcome(task.url, "skipped", str(result.error))
            return
        self.attempted += 1
        self._record(result)

    def _record(self, result: _Result) -> None:
        task = result.task
        if self.options.on_page and result.page is not None and not result.page.not_modified:
            self.options.on_page(result.page)   # a capture, even of a page with no article
        if result.error is not None:
            state = "failed"
            if not task.recheck:
                state = runstate.mark_failed(self.archive, task.url, str(result.error),
                                             retryable=getattr(result.error, "retryable", False),
                                             at_once=getattr(result.error, "retry_at_once", False),
                                             max_tries=self.options.max_tries)
                state = "gave_up" if state == runstate.GAVE_UP else "failed"
            self.counts[state] += 1
            self._log_attempts(result.attempts, final="failed", error=str(result.error))
            self.reporter.outcome(task.url, state, str(result.error))
            return
        detail = None
        if result.article is None:   # 304 Not Modified
            status = "unchanged"
            self._log_attempts(result.attempts, final="not_modified")
        else:
            saved = article_to_row(self.archive, result.article, result.page, attempts=result.attempts,
                                   run_id=self.run_id)
            status = saved.status
            if saved.shrank:
                detail = f"{saved.shrank}; the previous version is kept in revisions"
        runstate.mark_done(self.archive, task.url, task.site)
        self.counts[status] = self.counts.get(status, 0) + 1
        self.reporter.outcome(task.url, status, detail)

    def _log_attempts(self, attempts: list[FetchAttempt], *, final: str | None, error: str | None = None) -> None:
        self.archive.log_attempts(attempts, final=final, error=error, run_id=self.run_id)

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        self.reporter.problem(message)

    def _exit_code(self) -> int:
        failed = self.counts["failed"] + self.counts["gave_up"]
        if self.listings_read == 0 and not self.attempted and self.problems:
            return exit_codes.FAILED      # no source answered and nothing was left to fetch: the run did nothing
        if self.attempted and failed * 2 > self.attempted:
            return exit_codes.FAILED      # most URLs failed
        return exit_codes.SOME_FAILED if failed or self.problems else exit_codes.OK
