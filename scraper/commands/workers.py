"""`scraper worker`: a worker process that takes archive runs', WARC imports' and re-extractions' jobs."""
from __future__ import annotations

import click

from .common import handle_errors


def workers_at_option(f):
    return click.option(
        "--workers-at", "workers_at", envvar="SCRAPER_WORKERS_AT", metavar="URL",
        help="Hand the work to `scraper worker` processes whose jobs live in this PostgreSQL "
             "database (postgresql://user@host/db, often the archive's own; also $SCRAPER_WORKERS_AT).")(f)


def stalled_after_option(f):
    return click.option(
        "--stalled-after", "stalled_after", metavar="SECONDS",
        type=click.FloatRange(min=2.0), default=None,
        help="With --workers-at: a worker that sent no heartbeat for this long is taken for dead and its "
             "job handed to another (default 30). Heartbeats do not wait for the work, so a worker "
             "busy on a long page is never taken for dead.")(f)


def check_workers_at(workers_at, db_path, command, stalled_after=None):
    """One usage line when the work cannot go to workers: the archive is a file on this machine."""
    from scraper.store.archive import is_database_url

    if stalled_after is not None and not workers_at:
        raise click.UsageError(f"{command} --stalled-after applies to workers: give --workers-at too")
    if workers_at and not is_database_url(str(db_path)):
        raise click.UsageError(f"{command} --workers-at needs the archive in PostgreSQL (--db postgresql://...): "
                               f"workers on other machines cannot write the file {db_path}")


@click.command()
@click.option("--workers-at", "workers_at", envvar="SCRAPER_WORKERS_AT", metavar="URL", required=True,
              help="The PostgreSQL database the jobs live in (also $SCRAPER_WORKERS_AT).")
@click.option("--fetchers", type=click.IntRange(1, 256), default=32, show_default=True,
              help="Sites fetched at once by this process (each one request at a time).")
@click.option("--cpus", type=click.IntRange(1, 64), default=1, show_default=True,
              help="WARC files or re-extraction ranges at once (run one worker process per core).")
@click.option("-v", "--verbose", is_flag=True, help="A line on stderr as each job starts and ends.")
@handle_errors
def worker(workers_at, fetchers, cpus, verbose):
    """Take jobs from `scraper archive`, `import-warc` and `reextract` run with --workers-at, until
    stopped (SIGTERM or Ctrl-C). The archive each job names must be reachable from this machine.

    Example:

        scraper worker --workers-at postgresql://newsroom@db.example.org/news
    """
    import asyncio
    import logging

    from scraper.workers.engine import serve

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    if verbose:
        logging.getLogger("procrastinate.worker").setLevel(logging.INFO)
    asyncio.run(serve(workers_at, fetchers=fetchers, cpus=cpus))


COMMANDS = (worker,)
