"""Files the user names for output (export -o, --warc, --log-file): what may be written, and writing
a whole file under a temporary name so that an interrupted write leaves no half file.

The rules, the same for every command (issue 11: `export -o a.db` replaced the archive with JSON
lines, `-o` on a FIFO replaced the FIFO, as root even /dev/full):

- never the archive, whatever the name it is given by (another path, a symlink, a hard link) nor
  its side files (-wal, -shm, -journal, the run lock), which SQLite would read as its own;
- only a regular file: a FIFO, a device or a directory is refused, never replaced;
- a missing folder is one clear line (OutputRefused), not a traceback;
- an existing file is replaced only when the user says so (``force``); a file appended to (a WARC
  file, a log) must already be of its kind, so a mistyped name cannot grow the archive or a page.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from .errors import OutputFailed, OutputRefused

def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def check_target(path: str | os.PathLike, *, protect: Iterable[str | os.PathLike] = (), force: bool = False,
                 append: bool = False, magic: tuple[bytes, ...] = ()) -> Path:
    """The file ``path`` names, resolved through symlinks, if it may be written; else OutputRefused.

    ``protect``: files that must never be written (the archive and its side files), compared by
    what they are (device and inode) and by their resolved names, so that neither another path nor
    a link reaches them. ``append``: the file is added to, so an existing one needs no ``force``;
    ``magic``: then an existing non-empty file must start with one of these prefixes.
    """
    shown = os.fspath(path)
    real = Path(os.path.realpath(path))
    for guarded in protect:
        if os.path.realpath(guarded) == str(real):
            raise OutputRefused(f"{shown} is the archive (or one of its files): refusing to write over it")
        with contextlib.suppress(OSError):
            if os.path.exists(real) and _same(os.stat(real), os.stat(guarded)):
                raise OutputRefused(f"{shown} is the archive (or one of its files): refusing to write over it")
    if not real.parent.is_dir():
        raise OutputRefused(f"cannot write {shown}: the folder {real.parent} does not exist")
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise OutputRefused(f"cannot write {shown}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise OutputRefused(f"{shown} is {_kind(info.st_mode)}: give the name of a regular file")
    if append:
        if magic and info.st_size:
            head = _head(real, max(len(m) for m in magic))
            if not head.startswith(magic):
                raise OutputRefused(f"{shown} exists and is not a file of that kind: refusing to add to it")
        return real
    if not force:
        raise OutputRefused(f"{shown} exists: give --force to replace it")
    return real


def append_whole(raw: IO[bytes], data: bytes) -> None:
    """Append ``data`` to the unbuffered file ``raw`` (opened "ab", buffering=0) whole or not at
    all: a write that fails midway (a full disk, a file-size limit) is cut back to where it
    began, so the file still ends on a whole record or line. The OSError is raised again for the
    caller to word."""
    start = os.lseek(raw.fileno(), 0, os.SEEK_END)
    try:
        view = memoryview(data)
        while view:
            view = view[raw.write(view):]
    except OSError:
        with contextlib.suppress(OSError):
            os.ftruncate(raw.fileno(), start)
        raise


def _head(path: Path, n: int) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError as exc:
        raise OutputRefused(f"cannot read {path}: {exc.strerror}") from None


def check_stream(stream: IO, *, protect: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse to write to an already-open file (standard output) that is the archive: a shell's
    `>> a.db` would otherwise add the export to the end of the archive file."""
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError):   # io.UnsupportedOperation: a stream with no file under it
        return
    for guarded in protect:
        with contextlib.suppress(OSError):
            if _same(info, os.stat(guarded)):
                raise OutputRefused("standard output is the archive: refusing to write over it")


@contextlib.contextmanager
def replaced_whole(path: str | os.PathLike, *, protect: Iterable[str | os.PathLike] = (),
                   force: bool = False) -> Iterator[IO[bytes]]:
    """``with replaced_whole(path) as f: f.write(...)``: the bytes go to a new file in the same
    folder, which takes the name only when the block ends without an error (fsync'ed first), so a
    reader never sees half a file and an interrupted write leaves none behind. The rules of
    ``check_target`` are checked before the first byte and again just before the rename."""
    protect = list(protect)
    real = check_target(path, protect=protect, force=force)
    try:
        fd, temporary = tempfile.mkstemp(dir=real.parent, prefix=f".{real.name}.", suffix=".part")
    except OSError as exc:   # a folder this user cannot write
        raise OutputRefused(f"cannot write {os.fspath(path)}: {exc.strerror}") from None
    try:
        # mkstemp makes the file private (0600); the result gets what a plain open would give it.
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        check_target(path, protect=protect, force=force)   # nothing took the name meanwhile
        os.replace(temporary, real)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            # A full disk, a file-size limit, an I/O error: one line; the old file is as it was.
            raise OutputFailed(f"could not write {os.fspath(path)}: {exc.strerror or exc}; nothing was "
                               f"left half-written") from None
        raise
