"""The SQLite end of the archive's door: opening the file, write transactions, and sqlite3's errors
as StoreErrors with a next step in the message (the only place that maps them).

``Archive`` (archive.py) is the door every other module goes through; ``SQLiteDatabase`` here is
what it stands on for an archive file, so that what is SQLite's (pragmas, BEGIN IMMEDIATE, one
connection under one lock, error codes, file checks) reads in one place. Its sibling for a
``postgresql://`` archive is postgres.py, behind the same methods.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from ..errors import DatabaseBusy, DiskFull, NoSuchArchive, NotADatabase, QueryError, QueryTimeout, StoreError

SQLITE_HEADER = b"SQLite format 3\x00"
Params = Sequence[Any] | dict[str, Any]


class SQLiteTransaction:
    """One write transaction on the archive file (what ``Archive.transaction()`` yields)."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return list(as_dicts(self._conn.execute(sql, params)))

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        return self._conn.execute(sql, params).rowcount

    def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT into a table keyed by ``id``; return the new row's id."""
        return self._conn.execute(sql, params).lastrowid

    def executemany(self, sql: str, seq: Iterable[Params]) -> None:
        self._conn.executemany(sql, seq)


class SQLiteDatabase:
    """An archive file: one connection, shared by the threads under one lock (SQLite has one
    writer at a time anyway), every sqlite3 error turned into a StoreError as it leaves."""

    engine = "sqlite"
    # What a statement appends to lock the rows it reads for the rest of the transaction: nothing,
    # since BEGIN IMMEDIATE already holds the file's one write lock.
    for_update = ""
    skip_locked = ""

    def __init__(self, path: str | os.PathLike, busy_timeout: float, *, create: bool = True,
                 read_only: bool = False):
        self.path = Path(path)
        self.target = str(path)
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        if not create and not self.path.exists():
            raise NoSuchArchive(f"{path}: no such archive (give --db PATH or set SCRAPER_DB)")
        self._conn = connect_read_only(self.path, busy_timeout) if read_only else connect(self.path, busy_timeout)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        """Serialise access and turn sqlite3 errors into StoreErrors (the only place that does)."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise store_error(exc, self.path, self.busy_timeout) from exc

    def apply(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(connection, ...)`` under the guard: the migrations, which work on the connection."""
        with self.guard():
            return fn(self._conn, *args, **kwargs)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        with self.guard():
            return list(as_dicts(self._conn.execute(sql, params)))

    @contextlib.contextmanager
    def time_limit(self, seconds: float | None) -> Iterator[None]:
        """Statements of this block stop at ``seconds`` (QueryTimeout): SQLite asks a progress
        handler every few thousand steps whether to go on."""
        if not seconds:
            yield
            return
        import time

        deadline = time.monotonic() + seconds
        with self._lock:
            self._conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 5000)
            try:
                yield
            finally:
                self._conn.set_progress_handler(None, 0)

    def rows(self, sql: str, params: Params = ()) -> Iterator[dict[str, Any]]:
        # One cursor, one snapshot: the lock is held until the caller is done with it.
        with self.guard():
            yield from as_dicts(self._conn.execute(sql, params))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[SQLiteTransaction]:
        with self.guard(), write_transaction(self._conn):
            yield SQLiteTransaction(self._conn)

    def columns(self, table: str) -> list[str]:
        return [row["name"] for row in self.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table])]

    def tables(self) -> set[str]:
        return {row["name"] for row in self.query("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def migrations(self) -> dict[str, str]:
        if "_migrations" not in self.tables():
            return {}
        return {row["name"]: row["applied_at"] for row in self.query("SELECT name, applied_at FROM _migrations ORDER BY id")}

    def defer_foreign_keys(self, tx: SQLiteTransaction) -> None:
        """Check foreign keys at commit, not per statement (a copy writes articles before their pages)."""
        tx.execute("PRAGMA defer_foreign_keys = ON")

    def after_copy(self, tx: SQLiteTransaction, tables: Iterable[str]) -> None:
        """Nothing to do: SQLite's next id is the largest one plus one."""


def connect(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open (creating if missing) the archive file: WAL mode, busy timeout, foreign keys.

    Raise StoreError (never sqlite3.Error) when the file or its folder cannot serve as an archive.
    """
    check_location(path)
    conn = None
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout, check_same_thread=False)
        # Readers never wait for the writer, and the writer never waits for them.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # In WAL mode NORMAL never corrupts and survives kill -9; only a power cut can undo the
        # last commits, which the next run fetches again. FULL would fsync every article.
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        raise store_error(exc, path, busy_timeout) from exc
    return conn


def can_write(path: Path) -> bool:
    """Whether this user can write the archive file: the file, and either its folder or the -wal
    and -shm files beside it (a WAL archive is written through them; SQLite creates them in the
    folder when they are missing)."""
    if not os.access(path, os.W_OK):
        return False
    if os.access(path.absolute().parent, os.W_OK | os.X_OK):
        return True
    return all(os.access(f"{path}{suffix}", os.W_OK) for suffix in ("-wal", "-shm"))


def connect_read_only(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open an archive file this user cannot write, for reading only; create nothing beside it.

    With a -shm file there (a writer has the archive open, or left it), ``mode=ro`` shares it and
    reads what that writer committed, as any reader does. Without one, ``mode=ro`` would create
    -wal and -shm files owned by this user, which the archive's owner could then not open for
    writing (its next run would fail: tried); ``immutable=1`` creates nothing and reads the file as
    it is, which is what a folder nobody can write (a backup, a read-only mount) holds anyway.
    """
    check_location(path)
    uri = path.absolute().as_uri()
    tries = (["mode=ro"] if Path(f"{path}-shm").exists() else []) + ["immutable=1"]
    error: sqlite3.Error | None = None
    for query in tries:
        conn = None
        try:
            conn = sqlite3.connect(f"{uri}?{query}", uri=True, timeout=busy_timeout, check_same_thread=False)
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()   # the -shm is read here
            return conn
        except sqlite3.Error as exc:   # a -shm this user cannot read: read the file as it is
            if conn is not None:
                conn.close()
            error = exc
    assert error is not None
    raise store_error(error, path, busy_timeout) from error


@contextlib.contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, started with BEGIN IMMEDIATE.

    IMMEDIATE takes the write lock up front, so a concurrent writer makes us wait (busy timeout)
    instead of failing at once: in WAL mode a deferred transaction that read first and writes
    later gets SQLITE_BUSY_SNAPSHOT without any wait. Every write of the archive goes through it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        # The error may already have ended the transaction (e.g. SQLITE_FULL rolls back itself).
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise


def as_dicts(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    """The cursor's rows as dicts by column name, one at a time."""
    names = [column[0] for column in cursor.description or ()]
    for row in cursor:
        yield dict(zip(names, row))


# -- errors at the boundary ------------------------------------------------------------------

def check_location(path: Path) -> None:
    """Refuse, before SQLite touches anything, what it would fail on or could damage."""
    if path.is_dir():
        raise StoreError(f"{path} is a directory, not an archive file")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise StoreError(f"cannot create the archive {path}: directory {parent} does not exist")
    if path.exists() and not path.is_file():
        # Opening a FIFO to read its header would wait for a writer forever; a device is no archive.
        raise StoreError(f"{path} is not a regular file, not an archive file (choose another --db)")
    if path.exists():
        try:
            with open(path, "rb") as f:
                head = f.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot read the archive {path}: {exc.strerror}") from exc
        # An empty file is a valid empty database to SQLite; anything else must be one already.
        if head and head != SQLITE_HEADER:
            raise NotADatabase(f"{path} is not an SQLite database; it was left untouched (choose another --db)")
    elif not os.access(parent, os.W_OK):
        raise StoreError(f"cannot create the archive {path}: directory {parent} is read-only")


def store_error(exc: sqlite3.Error, path: Path, busy_timeout: float) -> StoreError:
    """The StoreError that says what went wrong with the archive file and what to do."""
    name = getattr(exc, "sqlite_errorname", "") or ""  # Python 3.11+; the message otherwise
    message = str(exc)
    if name == "SQLITE_FULL" or "database or disk is full" in message:
        return DiskFull(f"{path}: the disk is full; nothing was half-written (free some space and retry)")
    if name == "SQLITE_IOERR_WRITE" or message == "disk I/O error":
        # SQLite reports a write refused by a file-size limit (EFBIG) as a plain I/O error.
        why = _space_problem(path)
        if why:
            return DiskFull(f"{path}: could not write ({why}); nothing was half-written")
    if name.startswith("SQLITE_BUSY") or "database is locked" in message:
        return DatabaseBusy(f"{path}: another process kept the archive locked for more than "
                            f"{busy_timeout:g} s; try again later")
    if name == "SQLITE_NOTADB" or "file is not a database" in message:
        return NotADatabase(f"{path} is not an SQLite database; it was left untouched (choose another --db)")
    if name.startswith(("SQLITE_CANTOPEN", "SQLITE_READONLY")) or "readonly" in message:
        return StoreError(f"cannot write the archive {path}: {message} "
                          "(is the file or its directory read-only?)")
    if name == "SQLITE_INTERRUPT" or message == "interrupted":
        return QueryTimeout(f"{path}: the statement ran past its time limit and was stopped", message)
    if name == "SQLITE_ERROR" or (not name and isinstance(exc, sqlite3.OperationalError)):
        # The statement itself was refused (a malformed full-text query, a missing table): the
        # caller that built it may say more (search turns it into a hint on quoting).
        return QueryError(f"{path}: {message}", message)
    return StoreError(f"{path}: {message}")


def _space_problem(path: Path) -> str | None:
    """Why a write could have failed for lack of room (file-size limit or full disk), else None."""
    files = [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-journal")]
    largest = max((f.stat().st_size for f in files if f.exists()), default=0)
    try:
        import resource
        limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        # A write that crossed the limit stops within a page of it; 1 MB leaves room for big pages.
        if limit != resource.RLIM_INFINITY and largest + (1 << 20) >= limit:
            return f"the file-size limit of {limit} bytes was reached"
    except ImportError:  # not on Unix
        pass
    stat = os.statvfs(path.absolute().parent) if hasattr(os, "statvfs") else None
    if stat is not None and stat.f_bavail * stat.f_frsize < (1 << 20):
        return "no space left on the device"
    return None
