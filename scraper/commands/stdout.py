"""Standard output that cannot be written (`scraper stats > /dev/full`, a full disk under a
redirection): one line on stderr and exit 3 for every command, `--help` included, never an
OSError traceback.

Every command writes its output through ``sys.stdout`` (click.echo) or its ``buffer`` (export), so
the guard sits under both: the raw stream turns a failed write into ``OutputLost``, which no
command catches as its own and the group's ``main`` reports (``guarded_main``).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys

import click

from .. import exit_codes


class OutputLost(Exception):
    """Standard output could not be written (not a ScraperError: no command handles it as its
    own error, so it reaches the group's main whatever the command was doing)."""


class _GuardedRaw(io.RawIOBase):
    """File descriptor ``fd`` for writing; a write that fails (other than a closed pipe, which
    closed_pipe handles as before) raises OutputLost."""

    def __init__(self, fd: int):
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data) -> int:
        try:
            return os.write(self._fd, data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputLost(f"cannot write the output: {exc.strerror or exc}") from None

    def close(self) -> None:   # the descriptor is the process's, not ours to close
        super().close()


def guard_stdout() -> None:
    """Put ``sys.stdout`` on a guarded descriptor, with the same encoding and buffering. Only a
    real descriptor is guarded (under click's CliRunner stdout is a buffer in memory)."""
    old = sys.stdout
    try:
        fd = old.fileno()
    except (AttributeError, OSError, ValueError):
        return
    with contextlib.suppress(OSError, ValueError):
        old.flush()
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(_GuardedRaw(fd)), encoding=old.encoding,
                                  errors=old.errors, line_buffering=old.line_buffering)


def _silence_stdout() -> None:
    """Point descriptor 1 at /dev/null, so what is still buffered cannot fail again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):
        os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def guarded_main(main, *args, **kwargs):
    """Run click's ``main`` with stdout guarded; what is still buffered is flushed before exit,
    inside the guard."""
    from .common import closed_pipe

    guard_stdout()
    try:
        try:
            return main(*args, **kwargs)
        finally:
            sys.stdout.flush()
    except OutputLost as exc:
        _silence_stdout()
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exit_codes.FAILED)
    except BrokenPipeError:
        closed_pipe()
