"""What every command shares: exit codes, the --db option, library errors as one line and an exit code."""
from __future__ import annotations

import contextlib
import functools
import io
import os
import sys
from pathlib import Path

import click

from .. import exit_codes
from ..errors import (BadURL, ConfigError, OutputFailed, OutputRefused, ScraperError, StoreError,
                      UnknownSite)

# The exit codes (scraper/exit_codes.py), under the names the commands use.
EXIT_OK = exit_codes.OK
EXIT_SOME_FAILED = exit_codes.SOME_FAILED
EXIT_USAGE = exit_codes.USAGE
EXIT_FAILED = exit_codes.FAILED
EXIT_LOCKED = exit_codes.LOCKED
EXIT_INTERRUPTED = exit_codes.INTERRUPTED
EXIT_TERMINATED = exit_codes.TERMINATED
EXIT_HANGUP = exit_codes.HANGUP


class UsageLine(click.ClickException):
    """A usage error said in one line (`Error: ...`, exit 2), without click's Usage and Try lines:
    for a wrong value the user sees at once (an archive that does not exist), as fetch says it."""
    exit_code = EXIT_USAGE


def db_option(f):
    return click.option(
        "--db", "db_path", default="archive.db", show_default=True, envvar="SCRAPER_DB",
        type=click.Path(dir_okay=False),
        help="The archive: an SQLite file, or postgresql://user@host/database (also $SCRAPER_DB).",
    )(f)


def exit_code_of(exc: BaseException) -> int:
    """The exit code ``handle_errors`` gives an exception that ends a command."""
    if isinstance(exc, KeyboardInterrupt):
        return exit_codes.of_interrupt(exc)      # 130, or 143 for SIGTERM (stopping.py)
    if isinstance(exc, BrokenPipeError):
        return EXIT_OK           # the reader of our output went away (closed_pipe)
    if isinstance(exc, OutputFailed):
        return EXIT_FAILED
    if isinstance(exc, (BadURL, OutputRefused, UnknownSite)):
        return EXIT_USAGE
    if isinstance(exc, (StoreError, ConfigError)):
        return EXIT_FAILED
    return EXIT_SOME_FAILED


# What a Ctrl-C leaves, said per command: the writing ones keep what they saved; copy writes in one
# transaction, so nothing; the others write nothing at all.
INTERRUPTED_SAYS = {
    "fetch": "Interrupted: what was already saved is kept.",
    "archive": "Interrupted: what was already saved is kept.",
    "import_warc": "Interrupted: what was already saved is kept.",
    "reextract": "Interrupted: the records already rewritten are kept.",
    "copy_archive": "Interrupted: nothing was copied (the copy is one transaction; the destination is as it was).",
}


def stopped_says(interrupted: str, exc: KeyboardInterrupt) -> str:
    """The Ctrl-C line of a command, naming the stop signal instead when one ended it:
    "Stopped by SIGTERM: what was already saved is kept."."""
    name = getattr(exc, "name", None)
    return interrupted if name is None else interrupted.replace("Interrupted", f"Stopped by {name}", 1)


def handle_errors(f):
    """Turn library exceptions into one line on stderr and a defined exit code, never a traceback."""
    interrupted = INTERRUPTED_SAYS.get(f.__name__, "Interrupted.")

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except KeyboardInterrupt as exc:
            click.echo(stopped_says(interrupted, exc), err=True)
            sys.exit(exit_codes.of_interrupt(exc))
        except BrokenPipeError:
            closed_pipe()
        except ScraperError as exc:
            click.echo(f"Error: {exc}", err=True)
            # A URL that is not one, a file that must not be written: 2; an unusable database or
            # sites file (nothing could start): 3; anything else of ours: 1.
            sys.exit(exit_code_of(exc))
    return wrapper


DAY = click.DateTime(formats=["%Y-%m-%d"])


class Duration(click.ParamType):
    """Every option that takes a time (archive --max-time, --recheck-after; search --max-time): 30s,
    8m, 1h30m, 2d, 0, or a number of seconds (30, 2.5), as a timedelta."""
    name = "duration"

    def convert(self, value, param, ctx):
        from datetime import timedelta

        from scraper.crawl.run import parse_duration

        if isinstance(value, timedelta):
            return value
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            try:
                return parse_duration(str(value))
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        if not 0 <= seconds < 10 ** 9:   # NaN, inf and negative numbers are no time limit
            self.fail(f"{value!r} is not a duration such as 30s, 8m, 1h or a number of seconds", param, ctx)
        return timedelta(seconds=seconds)


DURATION = Duration()


def shown(span) -> str:
    """A timedelta as the options write it: 8m, 1h, 30s, 2.5s."""
    seconds = span.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


def open_existing(db_path, *, write=False):
    """Commands that read the archive must not create an empty one from a mistyped --db. Unless
    ``write``, an archive this user cannot write is read as it is (and the command says so)."""
    from scraper.errors import NoSuchArchive
    from scraper.store import Archive

    try:
        archive = Archive.open(db_path, create=False, reading=not write)
    except NoSuchArchive as exc:
        raise UsageLine(str(exc)) from None
    if archive.read_only:
        click.echo(f"note: {db_path} is read-only to this user: read as it is, nothing written", err=True)
    return archive


def existing_or_none(db_path):
    """The archive at ``db_path`` if there is one (for commands that use it only when it exists)."""
    try:
        return open_existing(db_path)
    except UsageLine:
        return None


def closed_pipe():
    """The reader of our output went away (`scraper search ... | head -1`): not a failure. Stop
    quietly with exit 0, as `git log | head` does. Standard output and error are pointed at
    /dev/null first, so that nothing still buffered fails again when Python flushes them at exit
    (the "Exception ignored ... BrokenPipeError" line)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
    sys.exit(EXIT_OK)


@contextlib.contextmanager
def utf8_text(raw):
    """A UTF-8 text stream over the binary stream ``raw`` (standard output's, a file's), whatever
    the locale says; ``raw`` is left open for its owner to close."""
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="")
    try:
        yield out
        out.flush()
    finally:
        with contextlib.suppress(OSError, ValueError):
            out.detach()


def archive_files(db_path):
    """The archive file and the files SQLite and the run lock keep beside it: never an output."""
    from scraper.store.archive import is_database_url

    if is_database_url(db_path):
        return []
    return [db_path] + [f"{db_path}{suffix}" for suffix in ("-wal", "-shm", "-journal", ".lock")]


def sites_file(config, db_path):
    """--config FILE, else sites.toml beside the database file, or in the current folder for a
    PostgreSQL archive (absent: the built-in sites only)."""
    from scraper.store.archive import is_database_url

    if config:
        if not os.path.exists(config):
            raise click.UsageError(f"{config}: no such sites file")
        return Path(config)
    if is_database_url(db_path):
        return Path(os.path.abspath("sites.toml"))
    return Path(os.path.abspath(db_path)).parent / "sites.toml"
