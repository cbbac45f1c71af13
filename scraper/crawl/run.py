"""One cron run of `scraper archive`: lock, discover, queue, fetch politely, save, record the run.

The flow only; each step is another module's: the lock (lock.py), discovery (discover.py), the
queue and the runs table (runstate.py), turn-taking per host (politeness.py), and the record path
(pipeline.py): worker threads fetch and run ``page_to_article``; only this (the caller's) thread
writes to SQLite, with ``article_to_row``.
"""
from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable

from .. import exit_codes
from ..clock import Clock, utc_now
from ..store import listings, runstate, search
from .discover import Discovery, discover_site
from ..errors import ConfigError, ScraperError
from ..fetch.http import FetchOptions
from .lock import RunLock
from ..models import Article, FetchAttempt, Page
from .politeness import DEFAULT_WORKERS, Deferred, PoliteClient, Politeness, polite_map, throttle_of
from ..profiles import Profile, load_profiles
from ..pipeline import article_to_row, page_to_article, template_for
from ..store.archive import Archive

RECENT = timedelta(days=2)               # articles this fresh are checked again for edits
RECHECK_AFTER = timedelta(hours=6)
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
    on_page: Callable[[Page], None] | None = None   # sees every page fetched (e.g. a WARC writer)
    clock: Clock = utc_now               # every moment the run records or compares (tests move it)


class Reporter:
    """What a run tells its caller as it goes (the CLI draws a progress bar and prints errors)."""

    def planned(self, total: int) -> None: ...
    def outcome(self, url: str, status: str, detail: str | None = None) -> None: ...
    def problem(self, message: str) -> None: ...


@dataclass
class RunReport:
    run_id: int
    counts: dict[str, int]
    problems: list[str]
    exit_code: int


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


def select_sites(options: RunOptions, profiles: dict[str, Profile] | None = None) -> list[Profile]:
    """The profiles to run: those named, else every one that says where its articles are listed."""
    if profiles is None:
        profiles = load_sites(options)
    if options.sites:
        unknown = [name for name in options.sites if name not in profiles]
        if unknown:
            raise ConfigError(f"unknown site(s): {', '.join(unknown)} (see `scraper sites`)")
        return [profiles[name] for name in options.sites]
    chosen = [p for p in profiles.values() if p.start or p.feeds or p.sitemaps]
    if not chosen:
        raise ConfigError("no site to archive: add [sites.NAME] tables to the sites file")
    return chosen


def load_sites(options: RunOptions) -> dict[str, Profile]:
    """Built-in profiles plus the user's sites file, if it exists."""
    return load_profiles(options.config if options.config and Path(options.config).exists() else None)


def run_archive(db_path: str | os.PathLike, options: RunOptions = RunOptions(),
                reporter: Reporter = Reporter()) -> RunReport:
    """Archive the sites' new articles; raise ArchiveLocked at once if another run holds the lock."""
    with RunLock(db_path):
        profiles = load_sites(options)
        sites = select_sites(options, profiles)
        with Archive.open(db_path, clock=options.clock) as archive:
            report = _Run(archive, sites, profiles, options, reporter).run()
            # Index the new and changed articles now, so cron pays for it, not the next search.
            search.refresh(archive)
            return report


def discover(profile: Profile, options: RunOptions = RunOptions()) -> Discovery:
    """Discovery alone (for `scraper discover`): no lock, no database, no article fetched."""
    client = PoliteClient(options.fetch, Politeness(profile.delay), clock=options.clock)
    return discover_site(profile, client)


class _Run:
    def __init__(self, archive: Archive, sites: list[Profile], profiles: dict[str, Profile],
                 options: RunOptions, reporter: Reporter):
        self.archive, self.sites, self.profiles = archive, sites, profiles
        self.options, self.reporter = options, reporter
        self.politeness = Politeness()
        self.client = PoliteClient(options.fetch, self.politeness, clock=options.clock)
        # robots.txt copies kept by earlier runs (RFC 9309 section 2.4: reused for up to 24 hours).
        self.client.robots.use_copies(listings.robots_copies(archive))
        self.counts = {name: 0 for name in runstate.COUNTS}
        self.problems: list[str] = []
        self.run_id = 0
        self._unreachable = False   # no listing answered and nothing was queued: the run did nothing
        # Each site's learned template, (re)learned here when due: workers only read it.
        self.templates = {site.name: template_for(archive, site.name) for site in sites}

    def run(self) -> RunReport:
        self.run_id = runstate.start_run(self.archive, [s.name for s in self.sites], os.getpid())
        attempted = self._fetch_all(self._discover_all())
        listings.save_robots(self.archive, self.client.robots.new_copies())   # hosts met while fetching
        code = self._exit_code(attempted)
        runstate.finish_run(self.archive, self.run_id, self.counts, code, self.problems)
        return RunReport(self.run_id, self.counts, self.problems, code)

    def _problem(self, message: str) -> None:
        self.problems.append(message)
        self.reporter.problem(message)

    def _discover_all(self) -> int:
        """Discover every site (concurrently; each host at its own pace) and queue what is new."""
        sources_ok = 0
        # Read here, in the run's thread: discovery threads only read these snapshots.
        memories = {site.name: listings.ListingMemory(site.name, listings.load(self.archive, site.name),
                                                      clock=self.options.clock) for site in self.sites}
        with ThreadPoolExecutor(max_workers=max(1, min(self.options.workers, len(self.sites)))) as pool:
            for profile, found in zip(self.sites, pool.map(
                    lambda p: discover_site(p, self.client, memory=memories[p.name]), self.sites)):
                self._log_attempts(found.attempts, final=None)
                for message in found.problems:
                    self._problem(message)
                sources_ok += found.listings_read
                fresh = [item for url, item in found.found.items() if self.archive.find(url) is None]
                self.counts["discovered"] += runstate.enqueue(self.archive, profile.name, fresh)
                # Only now that their articles are queued: a run killed before this line re-reads them.
                listings.save(self.archive, found.listings.values())
        listings.save_robots(self.archive, self.client.robots.new_copies())
        return sources_ok

    def _fetch_all(self, sources_ok: int) -> int:
        names = [s.name for s in self.sites]
        tasks: list[runstate.QueuedURL] = []
        for task in runstate.due(self.archive, names, limit=None):
            if self.archive.find(task.url) is not None:   # saved by a run killed before marking it
                runstate.mark_done(self.archive, task.url, task.site)
            elif self.options.max_new is None or len(tasks) < self.options.max_new:
                tasks.append(task)
        tasks += runstate.to_recheck(self.archive, {s.name: s.domains for s in self.sites},
                                     recent=self.options.recent, after=self.options.recheck_after)
        allowed = []
        for task in tasks:
            if self.client.allowed(task.url):
                allowed.append(task)
            else:
                self.counts["skipped"] += 1
                self.reporter.outcome(task.url, "skipped", "disallowed by robots.txt")
        self._unreachable = sources_ok == 0 and not allowed
        self.reporter.planned(len(allowed))
        for task, result in polite_map(allowed, self._work, self.politeness, url_of=lambda t: t.url,
                                       workers=self.options.workers,
                                       throttled=lambda r: throttle_of(r.error),
                                       max_wait=self.options.fetch.retry_after_cap):
            if isinstance(result, Deferred):   # still queued as it was: a later run fetches it
                self.counts["skipped"] += 1
                self.reporter.outcome(task.url, "skipped", f"{task.url}: {result}")
                continue
            if isinstance(result, BaseException):   # a bug in a worker: report it, keep going
                result = _Result(task, error=ScraperError(f"{task.url}: {result!r}"))
            self._record(result)
        return len(allowed)

    def _work(self, task: runstate.QueuedURL) -> _Result:
        """In a worker thread: fetch (conditionally for a recheck) and extract; no database here."""
        result = _Result(task)
        try:
            result.page = self.client.get(task.url, check_robots=False, hold_turn=False,
                                          etag=task.etag, last_modified=task.last_modified,
                                          attempts=result.attempts)
            if not result.page.not_modified:
                # All profiles, the user's sites file included: its extraction rules apply too.
                result.article = page_to_article(result.page, self.profiles,
                                                 self.templates.get(task.site), task.listing)
        except ScraperError as exc:
            result.error = exc
        return result

    def _record(self, result: _Result) -> None:
        task = result.task
        if self.options.on_page and result.page is not None and not result.page.not_modified:
            self.options.on_page(result.page)   # a capture, even of a page with no article
        if result.error is not None:
            state = "failed"
            if not task.recheck:
                state = runstate.mark_failed(self.archive, task.url, str(result.error),
                                             retryable=getattr(result.error, "retryable", False),
                                             max_tries=self.options.max_tries)
                state = "gave_up" if state == runstate.GAVE_UP else "failed"
            self.counts[state] += 1
            self._log_attempts(result.attempts, final="failed", error=str(result.error))
            self.reporter.outcome(task.url, state, str(result.error))
            return
        if result.article is None:   # 304 Not Modified
            status = "unchanged"
            self._log_attempts(result.attempts, final="not_modified")
        else:
            status = article_to_row(self.archive, result.article, result.page, attempts=result.attempts,
                                    run_id=self.run_id).status
        runstate.mark_done(self.archive, task.url, task.site)
        self.counts[status] = self.counts.get(status, 0) + 1
        self.reporter.outcome(task.url, status)

    def _log_attempts(self, attempts: list[FetchAttempt], *, final: str | None, error: str | None = None) -> None:
        self.archive.log_attempts(attempts, final=final, error=error, run_id=self.run_id)

    def _exit_code(self, attempted: int) -> int:
        failed = self.counts["failed"] + self.counts["gave_up"]
        if self._unreachable and self.problems:
            return exit_codes.FAILED      # no source answered and nothing was left to fetch: the run did nothing
        if attempted and failed * 2 > attempted:
            return exit_codes.FAILED      # most URLs failed
        return exit_codes.SOME_FAILED if failed or self.problems else exit_codes.OK
