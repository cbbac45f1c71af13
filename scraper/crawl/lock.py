"""The run lock: at most one `scraper archive` run per archive, so cron runs never overlap.

For an archive file, a lock file beside it (``archive.db.lock``) held with ``fcntl.flock``. The
kernel drops the lock when the process dies, kill -9 included, so a crashed run never leaves a
stale lock; the file itself is left in place on purpose (deleting it would let two runs lock two
different inodes). For a PostgreSQL archive, which runs on other machines may share, the lock is
the database's own (store/postgres.py's AdvisoryRunLock: an advisory lock that the server drops
with the connection that holds it). Either way ``run_lock(db)`` takes it or raises ArchiveLocked
at once, before the run touches the archive.
"""
from __future__ import annotations

import fcntl
import os
from pathlib import Path

from ..errors import ArchiveLocked, StoreError


def run_lock(db: str | os.PathLike):
    """The run lock of the archive at ``db`` (a path or a postgresql:// URL), not yet taken."""
    from ..store.archive import is_database_url

    if is_database_url(db):
        from ..store.postgres import AdvisoryRunLock

        return AdvisoryRunLock(str(db))
    return RunLock(db)


def lock_path(db_path: str | os.PathLike) -> Path:
    path = Path(db_path)
    return path.with_name(path.name + ".lock")


class RunLock:
    """``with RunLock(db_path):`` holds the lock or raises ArchiveLocked at once (never waits)."""

    def __init__(self, db_path: str | os.PathLike):
        self.path = lock_path(db_path)
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:   # taken before the archive is opened: the same one-line errors
            where = self.path.parent
            why = "does not exist" if not where.is_dir() else f"is read-only ({exc.strerror})"
            raise StoreError(f"cannot create the run lock {self.path}: directory {where} {why}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise ArchiveLocked(
                f"another archive run{holder} holds {self.path}; this run did nothing "
                "(cron will try again)") from None
        # The holder's pid is only for the message a second run prints.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
