"""The standard streams of every command: always there, and only standard output can end a command.

- Closed at start (`>&-`, `2>&-`, `<&-`: Python then sets ``sys.stdout`` and the others to None):
  the descriptor is opened on /dev/null, as if redirected there. Else the first file the command
  opens (the archive, a log file) would take descriptor 2, and what was meant for stderr would
  land in it.
- Standard output that cannot be written (`scraper stats > /dev/full`, a full disk under a
  redirection): one line on stderr and exit 3 for every command, `--help` included, never an
  OSError traceback. Every command writes its output through ``sys.stdout`` (click.echo) or its
  ``buffer`` (export), so the guard sits under both: the raw stream turns a failed write into
  ``OutputLost``, which no command catches as its own and the group's ``main`` reports
  (``guarded_main``). A closed pipe is ``closed_pipe``'s: exit 0.
- Standard error that cannot be written (its reader gone: `2>&1 >/dev/null | head -1`; a full
  disk): what it had to say is dropped and the command goes on. Stderr carries progress and
  diagnostics, not the product: a cron run's lines are not worth losing its articles for, and
  the exit code still says how the command went.
"""
from __future__ import annotations

import contextlib
import io
import os
import sys

import click

from .. import exit_codes

STREAMS = (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w"))


class OutputLost(Exception):
    """Standard output could not be written (not a ScraperError: no command handles it as its
    own error, so it reaches the group's main whatever the command was doing)."""


def open_closed_streams() -> None:
    """Standard input, output and error closed at start are opened on /dev/null. Called before
    the command opens anything (importing the modules keeps no file open)."""
    for name, fd, mode in STREAMS:
        if getattr(sys, name) is not None:
            continue
        try:
            os.fstat(fd)
        except OSError:       # closed: /dev/null in its place, so no file opened later takes it
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))
        else:                 # already taken by a file of ours: never write into it
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))


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


class _DroppingRaw(_GuardedRaw):
    """Standard error: a write that fails (any OSError, a closed pipe included) is dropped, and
    descriptor ``fd`` pointed at /dev/null, so that what else writes to it (a worker process,
    Python flushing at exit) cannot fail on it either."""

    def write(self, data) -> int:
        try:
            return os.write(self._fd, data)
        except OSError:
            _to_devnull(self._fd)
            return len(data)


def _to_devnull(fd: int) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError):
        os.dup2(devnull, fd)
    os.close(devnull)


def _guard(name: str, raw_type: type[_GuardedRaw]) -> None:
    """Put ``sys.<name>`` on ``raw_type`` over its descriptor, with the same encoding and
    buffering. Only a real descriptor is guarded (under click's CliRunner the streams are
    buffers in memory)."""
    old = getattr(sys, name)
    try:
        fd = old.fileno()
    except (AttributeError, OSError, ValueError):
        return
    with contextlib.suppress(OSError, ValueError):
        old.flush()
    setattr(sys, name, io.TextIOWrapper(io.BufferedWriter(raw_type(fd)), encoding=old.encoding,
                                        errors=old.errors, line_buffering=old.line_buffering))


def guard_stdout() -> None:
    _guard("stdout", _GuardedRaw)


def guard_stderr() -> None:
    _guard("stderr", _DroppingRaw)


def guarded_main(main, *args, **kwargs):
    """Run click's ``main`` with the streams opened and guarded; what is still buffered is
    flushed before exit, inside the guard."""
    from .common import closed_pipe

    open_closed_streams()
    guard_stderr()
    guard_stdout()
    try:
        try:
            return main(*args, **kwargs)
        finally:
            sys.stdout.flush()
    except OutputLost as exc:
        _to_devnull(sys.stdout.fileno())   # what is still buffered cannot fail again at exit
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exit_codes.FAILED)
    except BrokenPipeError:
        closed_pipe()
