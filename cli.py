"""The `scraper` command line: a thin client of the `scraper` package.

Each command opens what it needs, calls library functions, prints, and maps the library's
exceptions to one-line errors and exit codes (documented in README.md).
"""
from __future__ import annotations

import functools
import sys

import click

from scraper import __version__
from scraper.errors import ScraperError, StoreError

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_FAILED = 3          # the run could not start, or most URLs failed
EXIT_LOCKED = 75         # EX_TEMPFAIL: another run holds the lock; cron will try again
EXIT_INTERRUPTED = 130   # Ctrl-C


def db_option(f):
    return click.option(
        "--db", "db_path", default="archive.db", show_default=True, envvar="SCRAPER_DB",
        type=click.Path(dir_okay=False), help="SQLite archive (also $SCRAPER_DB).",
    )(f)


def handle_errors(f):
    """Turn library exceptions into one line on stderr and a defined exit code, never a traceback."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo("Interrupted: what was already saved is kept.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except ScraperError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_FAILED if isinstance(exc, StoreError) else EXIT_SOME_FAILED)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scraper")
def cli():
    """Fetch news article pages, extract clean records, archive them in SQLite."""


if __name__ == "__main__":
    cli()
