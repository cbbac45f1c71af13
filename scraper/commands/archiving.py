"""The cron side: archive (find and archive new articles), discover (preview a site), sites (list them)."""
from __future__ import annotations

import sys
import time
from collections import Counter

import click

from ..crawl.run import Reporter
from ..errors import OutputRefused
from .common import DURATION, EXIT_FAILED, EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_OK, EXIT_SOME_FAILED, \
    EXIT_TERMINATED, archive_files, db_option, exit_code_of, existing_or_none, handle_errors, shown, sites_file
from .workers import check_workers_at, stalled_after_option, workers_at_option

# How the log's last line names a run that a stop signal ended (commands/stopping.py).
STOPPED_BY = {EXIT_TERMINATED: "stopped by SIGTERM", EXIT_HANGUP: "stopped by SIGHUP"}


class ArchiveReporter(Reporter):
    """How `scraper archive` shows a run: a bar on a terminal, failures on stderr, a log file that
    ends with one line saying how the run ended (``finish``), whatever ended it."""

    def __init__(self, quiet, log_file, protect=()):
        from scraper.outfiles import check_target

        self.quiet, self.bar = quiet, None
        self.log, self.log_name = None, log_file
        self.began = time.monotonic()
        self.run_id, self.sites = None, []
        self.tally: Counter = Counter()     # outcomes as they come: what a Ctrl-C leaves to count
        self.handed_out = 0
        if log_file:
            check_target(log_file, protect=protect, append=True)   # never the archive, a FIFO...
            try:
                self.log = open(log_file, "ab", buffering=0)   # each line appended whole
            except OSError as exc:
                raise OutputRefused(f"cannot write the log file {log_file}: {exc.strerror}") from None

    def _write_log(self, line):
        """A log line, whole or not at all. A log that cannot be written (a full disk) is said once
        on stderr and left: log lines are not worth losing the run's articles for."""
        if self.log:
            from scraper.clock import iso_utc, utc_now
            from scraper.outfiles import append_whole
            try:
                append_whole(self.log, f"{iso_utc(utc_now())} {line}\n".encode("utf-8"))
            except OSError as exc:
                self.log.close()
                self.log = None
                click.echo(f"warning: cannot write the log file {self.log_name} ({exc.strerror or exc}): "
                           f"the run goes on without it", err=True)

    def started(self, run_id, sites):
        self.run_id, self.sites = run_id, sites

    def planned(self, more):
        """``more`` URLs handed to the fetchers (called again as each site's queue is read)."""
        self.handed_out += more
        self._write_log(f"fetching {more} more URLs")
        if self.quiet or not more or not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=more, label="archiving", file=sys.stderr)
            self.bar.__enter__()
        else:
            self.bar.length += more

    def outcome(self, url, status, detail=None):
        self.tally[status] += 1
        self._write_log(f"{status} {url} {detail or ''}".rstrip())
        if self.bar:
            self.bar.update(1)
        if status in ("failed", "gave_up"):
            click.echo(f"{status}: {detail or url}", err=True)
        elif status == "updated" and detail and not self.quiet:   # a new version that lost text
            click.echo(f"shrank: {url}: {detail}", err=True)

    def problem(self, message):
        self._write_log(f"problem {message}")
        click.echo(f"problem: {message}", err=True)

    def finish(self, exit_code, report=None):
        """The log's last line: the run's sites, saved, updated, failed, deferred, duration, exit code.
        ``report`` is None when the run did not end by itself (Ctrl-C, an error): the counts are
        then the outcomes seen, and deferred the URLs handed out that had none yet (or were deferred)."""
        counts = report.counts if report is not None else self.tally
        failed = counts.get("failed", 0) + counts.get("gave_up", 0)
        deferred = report.left if report is not None else \
            self.tally["deferred"] + max(0, self.handed_out - sum(self.tally.values()))
        how = ("interrupted" if exit_code == EXIT_INTERRUPTED else
               STOPPED_BY.get(exit_code) or ("the time limit was reached"
                                               if report is not None and report.timed_out else ""))
        run = f"run {self.run_id}" if self.run_id is not None else "run (not started)"
        self._write_log(f"end of {run}: {len(self.sites)} sites, {counts.get('saved', 0)} saved, "
                        f"{counts.get('updated', 0)} updated, {failed} failed, {deferred} deferred, "
                        f"{time.monotonic() - self.began:.1f} s, exit {exit_code}" + (f" ({how})" if how else ""))

    def close(self):
        if self.bar:
            self.bar.__exit__(None, None, None)
        if self.log:
            self.log.close()


@click.command()
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable; default: every site).")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file with [sites.NAME] tables (default: sites.toml beside the database).")
@click.option("--max", "max_new", type=click.IntRange(min=0), help="Fetch at most N new articles.")
@click.option("--recheck-after", type=DURATION, default="6h", show_default=True,
              help="Check recent articles again once older than this (6h, 30m, 0 = now).")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Hosts fetched at the same time (one request at a time per host).")
@click.option("--extract-workers", type=click.IntRange(0, 64), default=None,
              help="Processes extracting pages (default: one per core; 0 or 1: in this process).")
@click.option("--max-time", type=DURATION, default="8m", show_default=True,
              help="Stop the run after this long (30m, 1h, 0 = no limit); what is left stays queued.")
@click.option("--quiet", "-q", is_flag=True, help="No output at all unless something failed.")
@click.option("--log-file", type=click.Path(), help="Append every outcome to FILE.")
@click.option("--warc", type=click.Path(),
              help="Also write every exchange to this WARC file (.warc.gz: gzipped).")
@click.option("--user-agent", help="User-Agent header (default names this tool and its version); "
                                   "add a contact address for the sites' operators.")
@workers_at_option
@stalled_after_option
@db_option
@handle_errors
def archive(sites, config, max_new, recheck_after, workers, extract_workers, max_time, quiet, log_file, warc,
            user_agent, workers_at, stalled_after, db_path):
    """Find the sites' new articles and archive them politely; for cron.

    Discovers article URLs (robots.txt, start pages, feeds, sitemaps), fetches those not yet
    archived, checks recent articles again for edits, and retries failed URLs on later runs.
    Exit 0 all well, 1 some URLs failed, 3 most failed or the run could not start,
    75 another run holds the lock (it touched nothing; cron will simply try again).
    A run stops at --max-time (default 8m, for a crontab line every ten minutes): what it did
    not reach stays queued for the next run, and the exit code says how the rest went.

    Example:

        scraper archive --quiet --log-file archive.log

        */10 * * * * cd /srv/news && scraper archive --quiet --db archive.db

        scraper archive --site alittihad --max 50 --recheck-after 30m

        scraper archive --db postgresql://newsroom@db/news --workers-at postgresql://newsroom@db/news
    """
    from contextlib import nullcontext

    import dataclasses

    from scraper.crawl.run import RUN_FETCH_OPTIONS, RunOptions, run_archive
    from scraper.errors import ArchiveLocked, ConfigError
    from scraper.use.warc import WarcWriter

    check_workers_at(workers_at, db_path, "archive", stalled_after)
    recheck, limit = recheck_after, max_time
    reporter = ArchiveReporter(quiet, log_file, protect=archive_files(db_path))
    report, code = None, EXIT_FAILED
    try:
        with (WarcWriter(warc, protect=archive_files(db_path)) if warc else nullcontext()) as writer:
            fetch_options = RUN_FETCH_OPTIONS if not user_agent else \
                dataclasses.replace(RUN_FETCH_OPTIONS, user_agent=user_agent)
            options = RunOptions(sites=tuple(sites), config=sites_file(config, db_path),
                                 max_new=max_new, recheck_after=recheck, workers=workers,
                                 extract_workers=extract_workers,
                                 max_time=limit or None,
                                 fetch=fetch_options, on_page=writer.write_page if writer else None)
            if workers_at:
                from scraper.workers.coordinate import run_archive_on_workers

                report = run_archive_on_workers(db_path, workers_at, options, reporter, stalled_after=stalled_after)
            else:
                report = run_archive(db_path, options, reporter)
            code = report.exit_code
    except ArchiveLocked as exc:
        code = EXIT_LOCKED
        if not quiet:
            click.echo(f"Locked: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except ConfigError as exc:
        code = exit_code_of(exc)   # 2 for a site name that is none, 3 for a bad sites file
        click.echo(f"Error: {exc}", err=True)
        sys.exit(code)
    except BaseException as exc:    # Ctrl-C, an unusable archive: the exit code handle_errors gives
        code = exit_code_of(exc)
        raise
    finally:
        reporter.finish(code, report)
        reporter.close()
    if not quiet or report.exit_code:
        # The URLs left queued are said in words, after the counts: "deferred" is the runs column's name.
        counts = ", ".join(f"{n} {name}" for name, n in report.counts.items() if n and name != "deferred")
        left = f"{report.left} URLs left queued for the next run"
        stopped = (f"; the time limit ({shown(max_time)}) was reached: {left}" if report.timed_out
                   else f"; {left}" if report.left else "")
        # Problems and nothing done at all (no network, every host unreachable) is not "nothing new".
        nothing = "nothing could be reached" if report.exit_code == EXIT_FAILED and report.problems \
            else "nothing new"
        click.echo(f"run {report.run_id}: {counts or nothing}{stopped}", err=True)
    sys.exit(report.exit_code)


@click.command()
@click.argument("site")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file (default: sites.toml beside the database).")
@click.option("--all", "show_all", is_flag=True, help="Also list URLs already archived.")
@db_option
@handle_errors
def discover(site, config, show_all, db_path):
    """Print the article URLs a run would fetch for SITE, and where each was listed.

    Reads robots.txt, start pages, feeds and sitemaps; fetches no article and writes nothing.
    One line per URL: the URL, a tab, then each "source listing-URL" separated by tabs.

    Example:

        scraper discover alittihad | cut -f1 | head
    """
    from scraper.crawl.run import RunOptions, discover as discover_urls, select_sites
    from scraper.errors import ConfigError
    from scraper.store.scratch import FoundSet

    try:
        (profile,) = select_sites(RunOptions(sites=(site,), config=sites_file(config, db_path)))
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exit_code_of(exc))   # 2 for a site name that is none, 3 for a bad sites file
    # The URLs wait on disk, each once with every listing that named it: a sitemap of millions
    # costs no more memory than one of thousands.
    with FoundSet() as found:
        result = discover_urls(profile, sink=found.add)
        archive = None if show_all else existing_or_none(db_path)
        try:
            for url, listings in found:
                if archive is not None and archive.find(url) is not None:
                    continue
                click.echo("\t".join([url, *listings]))
        finally:
            if archive is not None:
                archive.close()
        found_any = len(found) > 0
    for message in result.problems:
        click.echo(f"problem: {message}", err=True)
    if result.disallowed:
        click.echo(f"{result.disallowed} URLs left out: robots.txt disallows them", err=True)
    # As `archive`: problems and nothing found (robots.txt or every listing unreachable) is 3.
    sys.exit(EXIT_FAILED if result.problems and not found_any else
             EXIT_SOME_FAILED if result.problems else EXIT_OK)


@click.command()
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file (default: sites.toml beside the database).")
@db_option
@handle_errors
def sites(config, db_path):
    """List the known sites: where they are found, what the archive holds, their last run, and
    how their feeds, sitemaps and start pages answered (each failing one with its error).

    Example:

        scraper sites --config sites.toml
    """
    from scraper.crawl.run import archived
    from scraper.store import listings, runstate
    from scraper.profiles import load_profiles

    path = sites_file(config, db_path)
    profiles = load_profiles(path if path.exists() else None)
    summary, health = {}, {}
    archive = existing_or_none(db_path)
    if archive is not None:
        with archive:
            summary = runstate.site_summary(archive, {n: p.domains for n, p in profiles.items()})
            health = listings.health(archive)
    plan = archived(profiles, path if path.exists() else None)
    for name, profile in sorted(profiles.items()):
        sources = f"{len(profile.start)} start, {len(profile.feeds)} feeds, {len(profile.sitemaps)} sitemaps"
        click.echo(f"{name}: {', '.join(profile.domains)} ({sources})")
        runs, why = plan[name]
        click.echo(f"  {'archived' if runs else 'not archived'} by `scraper archive`: {why}")
        info = summary.get(name)
        if info is None:
            continue
        queue = info["queue"]
        run = info["last_run"]
        last = (f"last run {run['started_at']} (exit {run['exit_code']})" if run and run["ended_at"]
                else f"last run {run['started_at']} (did not finish)" if run else "never run")
        click.echo(f"  {info['articles']} articles; {queue.get('pending', 0)} queued, "
                   f"{queue.get('gave_up', 0)} given up; {last}")
        if name in health:
            outcomes = health[name]["outcomes"]
            words = {"read": "read", "not_modified": "not modified", "partial": "partly read", "failed": "failed"}
            click.echo("  listings at the last run: " + ", ".join(
                f"{n} {words.get(outcome, outcome)}" for outcome, n in sorted(outcomes.items())))
            for url, error in health[name]["failing"]:
                click.echo(f"    {url}: {error}")


COMMANDS = (archive, discover, sites)
