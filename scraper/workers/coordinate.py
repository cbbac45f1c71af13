"""The command's side of distributed work: hand a batch out to the workers, wait, report.

`scraper archive --workers-at URL` (``run_archive_on_workers``) keeps everything a run means: it
takes the run lock, writes the `runs` row, learns the sites' templates when due, hands out one
discovery job per site (which hands out the site's fetching, one job per host: tasks.py), waits
for every job of the run, and closes the run row with the counts the workers added and the exit
code a local run would give. `import-warc` and `reextract` hand out
one job per file or per range of articles the same way.

While it waits it reads the workers' notes (failures, problems) for the caller's reporter, and it
hands out again the jobs of a worker that fell silent (kill -9, a lost machine: no heartbeat for
``stalled_after`` seconds, engine.STALLED_AFTER unless told), first releasing the URLs such a job
had claimed. A job nobody takes (no worker running) is cancelled at the run's deadline, and the
run says so.
"""
from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .. import exit_codes
from ..clock import utc_now
from ..errors import ConfigError
from ..store import runstate, tallies
from ..store.archive import Archive, is_database_url
from . import engine

WAIT_POLL = 0.5        # seconds between looks at the jobs and the notes
GRACE = 120.0          # past the deadline, jobs in flight get this long to finish their request


def needs_postgres(db: str, command: str) -> None:
    if not is_database_url(str(db)):
        raise ConfigError(f"{command} --workers-at needs the archive in PostgreSQL (--db postgresql://...): "
                          f"workers on other machines cannot write the file {db}")


def read_config(path: Path | None) -> str | None:
    """The sites file's text, sent to the workers with each job (they are on other machines)."""
    if path is None or not Path(path).exists():
        return None
    return Path(path).read_text(encoding="utf-8")


@dataclass
class Waited:
    """How the jobs of a batch ended."""

    failed: int = 0                 # jobs that raised (their notes say why)
    cancelled: int = 0              # jobs no worker took before the deadline
    handed_again: int = 0           # jobs of silent workers handed out again
    notes: list = field(default_factory=list)


async def _hand_out(app, plan: Iterable[tuple[str, dict, str | None]]) -> None:
    """Defer (task name, its arguments, its lock) in order."""
    for name, kwargs, lock in plan:
        task = app.tasks[f"scraper:{name}"]
        await task.configure(lock=lock).defer_async(**kwargs)


async def _batch_jobs(app, batch: str) -> dict[int, str]:
    """The status of each job of ``batch`` still in the jobs table, whoever handed it out: the
    command hands out a site's discovery, the discovery job the site's fetching (tasks.py)."""
    return {job.id: job.status for queue in (engine.ARCHIVE_QUEUE, engine.CPU_QUEUE)
            for job in await app.job_manager.list_jobs_async(queue=queue)
            if job.task_kwargs.get("work", {}).get("batch") == batch}


async def _wait(app, archive: Archive, batch: str, *, deadline: float | None,
                on_note: Callable[[tallies.Note], None], stalled_after: float | None) -> Waited:
    """Until no job of ``batch`` waits or runs; hand out again those whose worker stopped answering."""
    waited, last_note, failed = Waited(), 0, set()
    stalled_after = stalled_after or engine.STALLED_AFTER
    while True:
        for note in tallies.notes_after(archive, batch, last_note):
            last_note = note.id
            on_note(note)
        # Successful jobs are deleted by the workers; what is left is waiting, running or over.
        status = await _batch_jobs(app, batch)
        failed |= {i for i, state in status.items() if state == "failed"}
        waited.failed = len(failed)
        mine = {i for i, state in status.items() if state in ("todo", "doing")}
        if not mine:
            return waited
        for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after):
            if job.id in mine:
                # The claims of the URLs it was fetching go first, so the next worker takes them.
                runstate.release(archive, f"job-{job.id}")
                await app.job_manager.retry_job(job)
                waited.handed_again += 1
        if deadline is not None and time.monotonic() > deadline + GRACE:
            for job_id in mine:
                if status[job_id] == "todo":
                    await app.job_manager.cancel_job_by_id_async(job_id)
                    waited.cancelled += 1
            if all(status[i] != "doing" for i in mine):
                return waited
        await asyncio.sleep(WAIT_POLL)


def _open(url: str):
    app = engine.make_app(url)
    return app


# -- an archive run ------------------------------------------------------------------------------

def run_archive_on_workers(db: str, workers_at: str, options, reporter, *,
                           stalled_after: float | None = None):
    """`scraper archive --workers-at URL`: the run of crawl/run.py's run_archive, done by workers."""
    from ..crawl.lock import run_lock
    from ..crawl.run import RunReport, load_sites, select_sites
    from ..pipeline import template_for
    from ..store import search
    from .tasks import queued_to_json, site_lock

    needs_postgres(db, "archive")
    if options.on_page is not None:
        raise ConfigError("archive --workers-at cannot write --warc: the pages are fetched on the workers' machines")
    with run_lock(db):
        profiles = load_sites(options)
        sites = select_sites(options, profiles)
        with Archive.open(db, clock=options.clock) as archive:
            run_id = runstate.start_run(archive, [s.name for s in sites], os.getpid())
            batch = f"run-{run_id}"
            # Stopped (Ctrl-C, SIGTERM, an error) while the workers work: the row is closed with
            # the counts they have sent so far. Jobs already handed out still run on the workers,
            # and what they save is in the archive.
            with runstate.closed_on_stop(archive, run_id, lambda: tallies.read(archive, batch)):
                limit = options.max_time.total_seconds() if options.max_time else 0
                deadline = time.monotonic() + limit if limit > 0 else None
                for site in sites:
                    template_for(archive, site.name)    # learned here when due: the workers only read it
                rechecks = runstate.to_recheck(archive, {s.name: s.domains for s in sites},
                                               recent=options.recent, after=options.recheck_after)
                work = {"db": str(db), "batch": batch, "run_id": run_id, "config": read_config(options.config),
                        "deadline": utc_now().timestamp() + limit if limit > 0 else None, "max_new": options.max_new,
                        "max_tries": options.max_tries, "user_agent": options.fetch.user_agent}
                # Discovery under its site's first host; it hands out the site's fetching itself, one
                # job per host, once it knows which hosts the site's queued URLs are on.
                plan = [("discover", {"work": work, "site": site.name, "rechecks": [
                    queued_to_json(t) for t in rechecks if t.site == site.name]}, site_lock(site)) for site in sites]
                problems: list[str] = []

                def on_note(note: tallies.Note) -> None:
                    url, _, detail = note.text.partition("\t")
                    if note.kind in ("failed", "gave_up", "skipped"):
                        reporter.outcome(url, note.kind, detail)
                    elif note.kind == "shrank":
                        reporter.outcome(url, "updated", detail)
                    else:   # problem, crashed
                        problems.append(note.text)
                        reporter.problem(note.text)

                async def go():
                    app = _open(workers_at)
                    async with app.open_async():
                        await engine.ensure_schema(app)
                        await _hand_out(app, plan)
                        reporter.planned(len(rechecks))
                        return await _wait(app, archive, batch, deadline=deadline, on_note=on_note,
                                          stalled_after=stalled_after)

                waited = asyncio.run(go())
                counts = tallies.read(archive, batch)
                if waited.cancelled:
                    message = (f"{waited.cancelled} jobs were not taken by any worker before the run's time limit: "
                               f"is `scraper worker --workers-at ...` running?")
                    problems.append(message)
                    reporter.problem(message)
                report_counts = {name: counts.get(name, 0) for name in runstate.COUNTS}
                # As a local run counts them (crawl/run.py's _count_left): in the queue, as the run ends.
                report_counts["deferred"] = left = runstate.left_queued(archive, [s.name for s in sites]) \
                    + counts.get("rechecks_left", 0)
                failed = report_counts["failed"] + report_counts["gave_up"]
                attempted = counts.get("attempted", 0)
                if counts.get("listings_read", 0) == 0 and not attempted and problems:
                    code = exit_codes.FAILED
                elif attempted and failed * 2 > attempted:
                    code = exit_codes.FAILED
                else:
                    code = exit_codes.SOME_FAILED if failed or problems else exit_codes.OK
                runstate.finish_run(archive, run_id, report_counts, code, problems)
                tallies.forget(archive, batch)
                timed_out = bool(counts.get("unread") or counts.get("left") or waited.cancelled) or (
                    deadline is not None and time.monotonic() >= deadline)
                if not timed_out:
                    search.refresh(archive)
                return RunReport(run_id, report_counts, problems, code, left, timed_out)


# -- WARC files ----------------------------------------------------------------------------------

def import_warc_on_workers(db: str, workers_at: str, paths: list[str], config: Path | None,
                           on_note: Callable[[tallies.Note], None] = lambda note: None, *,
                           stalled_after: float | None = None):
    """`scraper import-warc --workers-at URL FILES`: one job per file; the files' ImportReport."""
    import uuid
    from collections import Counter

    from ..use.warc import ImportReport

    needs_postgres(db, "import-warc")
    batch = f"warc-{uuid.uuid4().hex[:12]}"
    work = {"db": str(db), "batch": batch, "config": read_config(config)}
    # Absolute paths: each worker opens the file itself (a shared folder, the same path everywhere).
    plan = [("import_warc", {"work": work, "path": os.path.abspath(p)}, None) for p in paths]
    with Archive.open(db) as archive:
        async def go():
            app = _open(workers_at)
            async with app.open_async():
                await engine.ensure_schema(app)
                await _hand_out(app, plan)
                return await _wait(app, archive, batch, deadline=None, on_note=on_note,
                                   stalled_after=stalled_after)

        waited = asyncio.run(go())
        counts = tallies.read(archive, batch)
        report = ImportReport(records=counts.get("records", 0), pages=counts.get("pages", 0),
                              outcomes=Counter({k.split(":", 1)[1]: n for k, n in counts.items()
                                                if k.startswith("outcome:")}),
                              skipped=Counter({k.split(":", 1)[1]: n for k, n in counts.items()
                                               if k.startswith("skipped:")}))
        report.errors = [note.text for note in tallies.notes_after(archive, batch) if note.kind in ("error", "crashed")]
        tallies.forget(archive, batch)
    return report, waited


# -- re-extraction -------------------------------------------------------------------------------

RANGE = 500       # articles per re-extraction job


def reextract_on_workers(db: str, workers_at: str, *, site: str | None, dry_run: bool, config: Path | None,
                         per_job: int = RANGE, stalled_after: float | None = None):
    """`scraper reextract --workers-at URL`: one job per ``per_job`` articles; the ReextractReport of all."""
    import uuid
    from collections import Counter

    from ..store.archive import id_ranges
    from ..use.reextract import ReextractReport

    needs_postgres(db, "reextract")
    batch = f"reextract-{uuid.uuid4().hex[:12]}"
    work = {"db": str(db), "batch": batch, "config": read_config(config)}
    with Archive.open(db, create=False) as archive:
        plan = [("reextract", {"work": work, "site": site, "first": first, "last": last, "dry_run": dry_run}, None)
                for first, last in id_ranges(archive, site, per_job)]

        async def go():
            app = _open(workers_at)
            async with app.open_async():
                await engine.ensure_schema(app)
                await _hand_out(app, plan)
                return await _wait(app, archive, batch, deadline=None, on_note=lambda note: None,
                                   stalled_after=stalled_after)

        waited = asyncio.run(go())
        counts = tallies.read(archive, batch)
        report = ReextractReport(checked=counts.get("checked", 0), changed=counts.get("changed", 0),
                                 failed=counts.get("failed", 0),
                                 fields=Counter({k.split(":", 1)[1]: n for k, n in counts.items()
                                                 if k.startswith("field:")}))
        for note in tallies.notes_after(archive, batch):
            if note.kind == "error":
                article_id, _, message = note.text.partition("\t")
                report.errors.append((int(article_id), message))
            elif note.kind == "shrank":
                article_id, url, change = note.text.split("\t", 2)
                report.shrank.append((int(article_id), url, change))
            else:    # a job that crashed: its articles were not all checked
                report.failed += 1
                report.errors.append((0, note.text))
        report.errors.sort()
        report.shrank.sort()
        tallies.forget(archive, batch)
    return report, waited
