"""What a worker does with each job: discover a site, take a host's turn at fetching a site's
URLs, import a WARC file, re-extract a range of articles. Each writes the archive through the same
code as a local command and reports to the command that handed it out through store/tallies.py.

Politeness is global because every job that sends requests to a host holds the host's job lock
(``host_lock``): Procrastinate runs no two jobs with one lock at once, on any machine, and runs
them in the order they were handed out. A site's discovery holds its first host's lock; once it
has queued the site's new URLs it hands out the site's fetching, one job per host its due URLs
(and rechecks) are on, each under that host's lock: a site whose articles live on several hosts
is fetched from all of them at once, and two sites on one host take turns. Inside a job the
requests go one at a time with the site's delay (crawl/politeness.py, as in a local run), and a
job ends only once that delay has passed since its last request, so the next job of the host,
wherever it runs, may start at once. robots.txt is read by the discovery job and kept in the
archive; the fetching jobs start from that copy (and fetch it, politely, only when it is missing
or stale).

A host's turn claims its site's queued URLs on that host a few at a time (store/runstate.claim)
under the job's name: a worker killed mid-request leaves them claimed, and the command releases
them when it hands the job out again, so they are fetched by the next worker; a URL saved just
before the kill is found archived and only marked done, so no article is stored twice.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import procrastinate

from ..clock import utc_now
from ..errors import OutOfTime, RobotsDisallowed, ScraperError
from ..profiles import Profile, load_profiles
from ..store import listings, runstate, tallies
from ..store.archive import Archive
blueprint = procrastinate.Blueprint()

# The two queues (engine.py serves each with a worker of its own): waiting on hosts, or on a core.
ARCHIVE_QUEUE = "scraper-archive"
CPU_QUEUE = "scraper-cpu"

LEASE = timedelta(minutes=10)     # a claimed URL's lease; a dead worker's is released before that
PER_CLAIM = 4                     # URLs a site's turn claims at a time (one transaction)

_lock = threading.Lock()
_archives: dict[str, Archive] = {}
_profiles: dict[str, dict[str, Profile]] = {}
# Connections per archive in this process (set by engine.serve): jobs write briefly, between waits.
connections = 4


def host_lock(host: str) -> str:
    """The job lock of a host's turn (the key politeness keeps turns under: www. or not, any port)."""
    return "host:" + host


def site_lock(profile: Profile) -> str:
    """The job lock of a site's discovery: its first host's."""
    from ..crawl.politeness import host_of

    return host_lock(host_of(profile.domains[0] if profile.domains else profile.name))


def archive_at(target: str) -> Archive:
    """One open Archive per database per worker process, shared by its job threads (its pool)."""
    with _lock:
        if target not in _archives:
            _archives[target] = Archive.open(target, connections=connections)
        return _archives[target]


def profiles_of(config: str | None) -> dict[str, Profile]:
    """The profiles the command loaded: the built-ins plus its sites file, sent as text."""
    key = hashlib.sha256((config or "").encode()).hexdigest()
    with _lock:
        if key not in _profiles:
            if config is None:
                _profiles[key] = load_profiles(None)
            else:
                with tempfile.TemporaryDirectory() as folder:
                    path = os.path.join(folder, "sites.toml")
                    with open(path, "w", encoding="utf-8") as out:
                        out.write(config)
                    _profiles[key] = load_profiles(path)
        return _profiles[key]


def _reporting(batch_of):
    """Run the job body; a bug in it becomes a note the command prints, then the job fails."""
    def wrap(body):
        def job(*args, **kwargs):
            try:
                return body(*args, **kwargs)
            except BaseException as exc:
                try:
                    tallies.note(archive_at(kwargs["work"]["db"]), batch_of(kwargs), "crashed",
                                 f"{body.__name__}: {exc!r}")
                finally:
                    raise
        job.__name__ = body.__name__
        return job
    return wrap


# -- an archive run ------------------------------------------------------------------------------

def _client(work: dict, profile: Profile):
    from ..crawl.politeness import PoliteClient, Politeness
    from ..crawl.run import RUN_FETCH_OPTIONS

    options = RUN_FETCH_OPTIONS
    if work.get("user_agent"):
        options = dataclasses.replace(options, user_agent=work["user_agent"])
    deadline = None
    if work.get("deadline") is not None:     # the wall clock's seconds (machines share it): ours, monotonic
        deadline = time.monotonic() + (work["deadline"] - utc_now().timestamp())
    return PoliteClient(options, Politeness(profile.delay), deadline=deadline), deadline


def _wait_turn_out(client, hosts: set[str]) -> None:
    """Hold the job (and so the site's lock) until the site's delay since its last request is over."""
    from ..crawl.politeness import MAX_DELAY

    until = time.monotonic() + MAX_DELAY    # a far Retry-After is not waited out here
    for host in hosts:
        while (wait := client.politeness.try_acquire(host)) != 0.0 and time.monotonic() < until:
            time.sleep(min(wait, until - time.monotonic(), 1.0))


@blueprint.task(name="discover", queue=ARCHIVE_QUEUE, pass_context=True)
@_reporting(lambda kw: kw["work"]["batch"])
def discover(context=None, *, work: dict, site: str, rechecks: list[dict]) -> None:
    """Read the site's listings, queue the article URLs not yet archived, keep robots.txt and the
    listings' validators in the archive, and count what was found; then hand out the site's
    fetching, one job per host."""
    from ..crawl.discover import discover_site
    from ..crawl.politeness import host_of

    archive, batch = archive_at(work["db"]), work["batch"]
    profile = profiles_of(work["config"])[site]
    client, deadline = _client(work, profile)
    client.robots.use_copies(listings.robots_copies(archive))
    memory = listings.ListingMemory(site, listings.load(archive, site))

    def sink(items):
        fresh = [item for item in items if archive.find(item.url) is None]
        tallies.add(archive, batch, {"discovered": runstate.enqueue(archive, site, fresh)})

    found = None
    try:
        found = discover_site(profile, client, memory=memory, sink=sink, deadline=deadline)
        archive.log_attempts(found.attempts, final=None, error=None, run_id=work["run_id"])
        for message in found.problems:
            tallies.note(archive, batch, "problem", message)
        tallies.add(archive, batch, {"listings_read": found.listings_read, "unread": found.unread})
        listings.save(archive, found.listings.values())
        listings.save_robots(archive, client.robots.new_copies())
    finally:
        if found is not None:   # a listing on another host: its fetching starts once its delay is over
            _wait_turn_out(client, {host_of(a.url) for a in found.attempts})
        # What earlier runs queued is fetched even when this discovery failed.
        _hand_out_fetching(context.app, work, site, rechecks)


def _hand_out_fetching(app, work: dict, site: str, rechecks: list[dict]) -> None:
    """One job per host the site's due URLs and rechecks are on, each under its host's lock."""
    from ..crawl.politeness import host_of

    by_host: dict[str, list[dict]] = {host: [] for host in runstate.due_hosts(archive_at(work["db"]), site)}
    for task in rechecks:
        by_host.setdefault(host_of(task["url"]), []).append(task)
    task = app.tasks["scraper:fetch_host"]
    for host in sorted(by_host):
        task.configure(lock=host_lock(host)).defer(work=work, site=site, host=host, rechecks=by_host[host])


@blueprint.task(name="fetch_host", queue=ARCHIVE_QUEUE, pass_context=True)
@_reporting(lambda kw: kw["work"]["batch"])
def fetch_host(context=None, *, work: dict, site: str, host: str, rechecks: list[dict]) -> None:
    """A host's turn for a site: the site's rechecks on the host, then its queued URLs on the host
    one at a time until none is due, the run's new-article budget is spent or its deadline comes."""
    archive, batch = archive_at(work["db"]), work["batch"]
    profiles = profiles_of(work["config"])
    profile = profiles[site]
    client, deadline = _client(work, profile)
    client.robots.use_copies(listings.robots_copies(archive))
    worker = f"job-{context.job.id}"
    if context.job.attempts:   # handed out again after its worker died: its last request's end is unknown
        time.sleep(min(profile.delay, 120.0))
    hosts: set[str] = set()
    turn = _Fetching(archive, work, profile, profiles, client, hosts)
    # The host's turn ends when its answer is in: extraction and storing run on a thread of the
    # job's own while the next request waits out the site's delay (one page at a time there, so
    # memory stays flat), as the local run's extraction stage does.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="record") as recorder:
        pending = None

        def step(task: runstate.QueuedURL) -> str:
            nonlocal pending
            fetched = turn.fetch(task, deadline)
            if isinstance(fetched, str):
                return fetched
            if pending is not None:
                pending.result()
            pending = recorder.submit(turn.record, fetched)
            return DONE

        try:
            for task in rechecks:
                if step(queued_from_json(task)) == LEFT:
                    break
            going = True
            while going and (deadline is None or time.monotonic() < deadline):
                claimed = runstate.claim(archive, [site], PER_CLAIM, worker=worker, lease=LEASE, host=host)
                if not claimed:
                    break
                for task in claimed:
                    if work.get("max_new") is not None and tallies.take(archive, batch, "new") > work["max_new"]:
                        going = False     # the run's budget of new articles is spent
                        break
                    if step(task) == LEFT:
                        going = False
                        break
        finally:
            if pending is not None:
                pending.result()
    # What this job claimed and did not mark done or failed (robots.txt refused it, the deadline
    # or the budget came first) stays queued as it was, for the next run.
    runstate.release(archive, worker)
    listings.save_robots(archive, client.robots.new_copies())
    _wait_turn_out(client, hosts | {host})


DONE, KEPT, LEFT = "done", "kept", "left"     # marked done or failed | still queued | the deadline came


class _Fetching:
    """One URL of a site's turn, recorded as the local run records it (crawl/run.py's _Run)."""

    def __init__(self, archive, work, profile, profiles, client, hosts):
        from ..pipeline import template_for

        self.archive, self.work, self.profile, self.profiles = archive, work, profile, profiles
        self.client, self.hosts, self.batch = client, hosts, work["batch"]
        self.template = template_for(archive, profile.name, learn=False)

    def fetch(self, task: runstate.QueuedURL, deadline: float | None) -> "str | _Fetched":
        """Fetch one URL in the host's turn: what to record, or DONE (already archived: marked
        done), KEPT (robots.txt refused it: still queued) or LEFT (the deadline came: queued)."""
        from ..crawl.politeness import host_of

        archive = self.archive
        if not task.recheck and archive.find(task.url) is not None:   # saved by a worker killed before marking it
            runstate.mark_done(archive, task.url, task.site)
            return DONE
        if deadline is not None and time.monotonic() >= deadline:
            tallies.add(archive, self.batch, {"left": 1, "rechecks_left": int(task.recheck)})
            return LEFT
        host = host_of(task.url)
        if host not in self.hosts:
            self.hosts.add(host)
            self.client.politeness.set_delay(host, self.profile.delay, self.client.robots.crawl_delay(task.url))
        fetched = _Fetched(task)
        try:
            fetched.page = self.client.get(task.url, etag=task.etag, last_modified=task.last_modified,
                                           attempts=fetched.attempts)
        except OutOfTime:
            tallies.add(archive, self.batch, {"left": 1, "rechecks_left": int(task.recheck)})
            return LEFT
        except RobotsDisallowed as exc:      # left queued: robots.txt may allow it later
            tallies.add(archive, self.batch, {"skipped": 1})
            tallies.note(archive, self.batch, "skipped", f"{task.url}\t{exc}")
            return KEPT
        except ScraperError as exc:
            fetched.error = exc
        return fetched

    def record(self, fetched: "_Fetched") -> None:
        """Extract and store what was fetched, mark the URL done or failed, count it."""
        from ..pipeline import article_to_row, page_to_article

        archive, task, page, error, counts = self.archive, fetched.task, fetched.page, fetched.error, {}
        article = None
        if error is None and not page.not_modified:
            try:
                article = page_to_article(page, self.profiles, self.template, task.listing)
            except ScraperError as exc:
                error = exc
            except Exception as exc:   # a bug in the extractor: this page fails, the run goes on
                error = ScraperError(f"{task.url}: extraction failed ({exc!r})")
        run_id, attempts = self.work["run_id"], fetched.attempts
        if error is not None:
            state = "failed"
            if not task.recheck:
                state = runstate.mark_failed(archive, task.url, str(error),
                                             retryable=getattr(error, "retryable", False),
                                             max_tries=self.work["max_tries"])
                state = "gave_up" if state == runstate.GAVE_UP else "failed"
            archive.log_attempts(attempts, final="failed", error=str(error), run_id=run_id)
            counts[state] = 1
            tallies.note(archive, self.batch, state, f"{task.url}\t{error}")
        else:
            if article is None:
                status = "unchanged"
                archive.log_attempts(attempts, final="not_modified", run_id=run_id)
            else:
                saved = article_to_row(archive, article, page, attempts=attempts, run_id=run_id)
                status = saved.status
                if saved.shrank:
                    tallies.note(archive, self.batch, "shrank",
                                 f"{task.url}\t{saved.shrank}; the previous version is kept in revisions")
            runstate.mark_done(archive, task.url, task.site)
            counts[status] = 1
        counts["attempted"] = 1
        tallies.add(archive, self.batch, counts)


@dataclasses.dataclass
class _Fetched:
    """A URL fetched in its host's turn, waiting to be extracted and stored."""

    task: runstate.QueuedURL
    page: Any = None
    error: ScraperError | None = None
    attempts: list = dataclasses.field(default_factory=list)


def queued_to_json(task: runstate.QueuedURL) -> dict:
    return dataclasses.asdict(task)


def queued_from_json(data: dict) -> runstate.QueuedURL:
    from ..models import Found

    listing = data.get("listing")
    if listing is not None:
        listing = Found(**listing)
    return runstate.QueuedURL(**{**data, "listing": listing})


# -- WARC files and re-extraction: CPU-bound ------------------------------------------------------

@blueprint.task(name="import_warc", queue=CPU_QUEUE)
@_reporting(lambda kw: kw["work"]["batch"])
def import_warc(work: dict, path: str) -> None:
    """Archive the pages of one WARC file; add its counts to the batch."""
    from ..use.warc import import_warc as run_import

    archive, batch = archive_at(work["db"]), work["batch"]
    report = run_import(archive, [path], profiles=profiles_of(work["config"]))
    counts: dict[str, Any] = {"records": report.records, "pages": report.pages}
    counts.update({f"outcome:{k}": n for k, n in report.outcomes.items()})
    counts.update({f"skipped:{k}": n for k, n in report.skipped.items()})
    tallies.add(archive, batch, counts)
    for error in report.problems + report.errors:     # a malformed record is an error line too
        tallies.note(archive, batch, "error", error)


@blueprint.task(name="reextract", queue=CPU_QUEUE)
@_reporting(lambda kw: kw["work"]["batch"])
def reextract(work: dict, site: str | None, first: int, last: int, dry_run: bool) -> None:
    """Re-extract the articles with ids first..last; add the counts and notes to the batch."""
    from ..use.reextract import reextract as run_reextract

    archive, batch = archive_at(work["db"]), work["batch"]
    report = run_reextract(archive, site=site, dry_run=dry_run, profiles=profiles_of(work["config"]),
                           ids=(first, last))
    counts = {"checked": report.checked, "changed": report.changed, "failed": report.failed}
    counts.update({f"field:{name}": n for name, n in report.fields.items()})
    tallies.add(archive, batch, counts)
    for article_id, message in report.errors:
        tallies.note(archive, batch, "error", f"{article_id}\t{message}")
    for article_id, url, change in report.shrank:
        tallies.note(archive, batch, "shrank", f"{article_id}\t{url}\t{change}")
