"""The PostgreSQL end of the archive's door: ``--db postgresql://user@host/db``, sibling of sqlite.py.

``PostgresDatabase`` gives the Archive the methods ``SQLiteDatabase`` gives it (query, rows,
transaction, columns...), over psycopg 3 with a connection pool (psycopg_pool), so threads read
and write at once and many processes, on many machines, share one archive. What is PostgreSQL's:

* The store's SQL is written once, for both engines: ``?`` and ``:name`` placeholders become
  psycopg's ``%s`` and ``%(name)s`` here (``pg_sql``), outside quoted literals and names.
* Each thread inside ``transaction()`` holds one pooled connection, and the archive's reads on that
  thread go through it (they see the transaction's writes, as on SQLite's one connection); other
  reads take a connection for one statement. ``rows()`` streams from a server-side cursor in a
  REPEATABLE READ, READ ONLY transaction: one snapshot however long the caller takes.
* Concurrent writers are the database's business: unique keys with ``INSERT ... ON CONFLICT``,
  ``SELECT ... FOR NO KEY UPDATE`` (``for_update``) on a row about to be rewritten, ``FOR UPDATE SKIP LOCKED``
  to hand out queued URLs (runstate.claim); a write that loses a race (a unique key taken meanwhile,
  a deadlock) is a WriteConflict its caller may do again.
* ``lock_timeout`` is the busy timeout: a lock held longer is DatabaseBusy, as on SQLite.
* The run lock of `scraper archive` is an advisory lock held by a connection of its own
  (``AdvisoryRunLock``): the server drops it when that connection ends, kill -9 included.

Errors leave as StoreErrors naming the database without its password (``shown``).
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import socket
import threading
from typing import Any, Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from ..clock import Clock, utc_now
from ..errors import (ArchiveLocked, DatabaseBusy, DiskFull, NoSuchArchive, QueryError, QueryTimeout,
                      StoreError, WriteConflict)
from .pg_migrations import applied, migrate

Params = Any
POOL_SIZE = 4               # connections a process keeps at most: the threads of one command
CONNECT_TIMEOUT = 10        # seconds to reach the server before giving up with one line
# The hidden column every engine has on `queue` (SQLite's rowid, a column here): not listed by columns().
HIDDEN_COLUMNS = {"queue": ("rowid",)}
# pg_try_advisory_lock key of the run lock: one `scraper archive` run per database.
RUN_LOCK_KEY = 0x5C_2A_9E_02


def shown(url: str) -> str:
    """The URL without its password (in the address or as a parameter), for messages."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", "@", 1)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# -- SQL written for both engines ---------------------------------------------------------------

_PIECE = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|::|:(?P<name>[A-Za-z_]\w*)|\?|%""")


@functools.lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """The statement with psycopg's placeholders: ``?`` -> ``%s``, ``:name`` -> ``%(name)s``, every
    ``%`` doubled; no placeholder is looked for in quoted literals, quoted names and ``::`` casts."""
    def piece(match: re.Match) -> str:
        text = match.group()
        if match.group("name"):
            return f"%({match.group('name')})s"
        if text[0] in "'\"":
            return text.replace("%", "%%")      # psycopg reads % everywhere, quotes or not
        return {"?": "%s", "%": "%%"}.get(text, text)

    if re.search(r"\bINSERT\s+OR\s+\w+", sql, re.I):
        raise ValueError("INSERT OR IGNORE/REPLACE is SQLite's: write INSERT ... ON CONFLICT")
    return _PIECE.sub(piece, sql)


# -- errors at the boundary ---------------------------------------------------------------------

def store_error(exc: psycopg.Error, where: str, busy_timeout: float) -> StoreError:
    """The StoreError that says what went wrong with the database and what to do."""
    state = getattr(exc, "sqlstate", None) or ""
    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if state == "3D000" or ("database" in message and "does not exist" in message):
        name = urlsplit(where).path.lstrip("/") or "the database"
        return NoSuchArchive(f"{where}: no such database (create it first: createdb {name}, "
                             f"or CREATE DATABASE {name}; then scraper copy or scraper archive fill it)")
    if state == "53100":
        return DiskFull(f"{where}: the database server's disk is full; nothing was half-written")
    if state == "55P03":
        return DatabaseBusy(f"{where}: another process kept rows locked for more than {busy_timeout:g} s; "
                            "try again later")
    if state == "57014":
        return QueryTimeout(f"{where}: the statement ran past its time limit and was stopped", message)
    if state in ("40001", "40P01", "23505"):
        return WriteConflict(f"{where}: a concurrent write won ({message})")
    if state in ("25006", "42501"):
        return StoreError(f"cannot write the archive {where}: {message} (a read-only role or server?)")
    if state.startswith(("28", "08")) or (not state and isinstance(exc, psycopg.OperationalError)):
        return StoreError(f"cannot reach the archive {where}: {message}")
    if state.startswith(("42", "22")):
        # The statement itself was refused (a malformed search, a missing table): the caller
        # that built it may say more, as on SQLite.
        return QueryError(f"{where}: {message}", message)
    return StoreError(f"{where}: {message}")


class _Numeric(psycopg.adapt.Loader):
    """numeric (what sum() of integers gives) as SQLite gives it: an int when whole, else a float."""

    def load(self, data: Any) -> int | float:
        text = bytes(data).decode()
        return int(text) if text.lstrip("-").isdigit() else float(text)


def _configure(conn: psycopg.Connection) -> None:
    conn.adapters.register_loader("numeric", _Numeric)


class PostgresTransaction:
    """One transaction on one pooled connection (what ``Archive.transaction()`` yields)."""

    def __init__(self, conn: psycopg.Connection):
        self._conn = conn

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        return self._conn.execute(pg_sql(sql), params).fetchall()

    def scalar(self, sql: str, params: Params = ()) -> Any:
        row = self._conn.execute(pg_sql(sql), params).fetchone()
        return None if row is None else next(iter(row.values()))

    def execute(self, sql: str, params: Params = ()) -> int:
        return self._conn.execute(pg_sql(sql), params).rowcount

    def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT into a table keyed by ``id``; return the new row's id."""
        return self._conn.execute(pg_sql(sql) + " RETURNING id", params).fetchone()["id"]

    def executemany(self, sql: str, seq: Iterable[Params]) -> None:
        seq = list(seq)
        if seq:
            with self._conn.cursor() as cursor:
                cursor.executemany(pg_sql(sql), seq)


class PostgresDatabase:
    """An archive in a PostgreSQL database (it must exist; the tables are created on first open)."""

    engine = "postgresql"
    # NO KEY: the row is rewritten but keeps its id, so a foreign key check on it (the search
    # index's, a page's) need not wait for the writer, and a refresh of the index never deadlocks
    # with a save.
    for_update = " FOR NO KEY UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    path = None

    def __init__(self, url: str, busy_timeout: float, *, clock: Clock = utc_now, create: bool = True,
                 connections: int = POOL_SIZE):
        self.target = url
        self.shown = shown(url)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        # One connection first, for the migrations: a missing server or database is one clear
        # line at once, not a pool retrying in the background until its timeout.
        with self._errors():
            # The URL's own options (`?options=-csearch_path%3Dnews`: the archive in a schema of
            # its own) stay; a keyword argument would replace them, not add to them.
            own = conninfo_to_dict(url).get("options", "")
            settings = {"autocommit": True, "row_factory": dict_row, "connect_timeout": CONNECT_TIMEOUT,
                        "application_name": f"scraper pid {os.getpid()}",
                        "options": f"{own} -c lock_timeout={int(busy_timeout * 1000)}".lstrip()}
            with psycopg.connect(url, **settings) as conn:
                _configure(conn)
                if not create and not applied(conn):
                    raise NoSuchArchive(f"{self.shown} holds no archive yet (scraper archive, fetch or copy "
                                        "make one there)")
                migrate(conn, clock=clock)
        self._pool = ConnectionPool(url, min_size=1, max_size=connections, kwargs=settings, configure=_configure,
                                    timeout=max(busy_timeout, 1.0), open=False, name=self.shown)
        with self._errors():
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)

    def close(self) -> None:
        self._pool.close()

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise store_error(exc, self.shown, self.busy_timeout) from exc

    def guard(self) -> contextlib.AbstractContextManager[None]:
        return self._errors()

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        """This thread's transaction's connection, else one from the pool for the caller's statements."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
        else:
            with self._pool.connection() as conn:
                yield conn

    @contextlib.contextmanager
    def time_limit(self, seconds: float | None) -> Iterator[None]:
        """Statements of this thread in this block stop at ``seconds`` (statement_timeout: QueryTimeout)."""
        self._local.timeout = max(1, int(seconds * 1000)) if seconds else None
        try:
            yield
        finally:
            self._local.timeout = None

    def apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        with self._errors(), self._connection() as conn:
            return fn(conn, *args, **kwargs)

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        timeout = getattr(self._local, "timeout", None)
        with self._errors(), self._connection() as conn:
            if timeout is None or getattr(self._local, "conn", None) is not None:
                return conn.execute(pg_sql(sql), params).fetchall()
            with conn.transaction():
                conn.execute(f"SET LOCAL statement_timeout = {timeout}")
                return conn.execute(pg_sql(sql), params).fetchall()

    def rows(self, sql: str, params: Params = ()) -> Iterator[dict[str, Any]]:
        with self._errors():
            current = getattr(self._local, "conn", None)
            if current is not None:
                with current.cursor(name="scraper_rows") as cursor:
                    cursor.execute(pg_sql(sql), params)
                    yield from cursor
                return
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                with conn.cursor(name="scraper_rows") as cursor:
                    cursor.itersize = 200
                    cursor.execute(pg_sql(sql), params)
                    yield from cursor

    @contextlib.contextmanager
    def transaction(self) -> Iterator[PostgresTransaction]:
        if getattr(self._local, "conn", None) is not None:
            raise StoreError("a transaction inside a transaction: the archive's writes do not nest")
        with self._errors(), self._pool.connection() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield PostgresTransaction(conn)
            finally:
                self._local.conn = None

    def columns(self, table: str) -> list[str]:
        hidden = HIDDEN_COLUMNS.get(table, ())
        return [row["name"] for row in self.query(
            "SELECT attname AS name FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 "
            "AND NOT attisdropped ORDER BY attnum", [table]) if row["name"] not in hidden]

    def tables(self) -> set[str]:
        return {row["name"] for row in self.query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")}

    def migrations(self) -> dict[str, str]:
        return self.apply(applied)

    def defer_foreign_keys(self, tx: PostgresTransaction) -> None:
        tx.execute("SET CONSTRAINTS ALL DEFERRED")

    def after_copy(self, tx: PostgresTransaction, tables: Iterable[str]) -> None:
        """Move each identity column's sequence past the ids a copy wrote."""
        for table in tables:
            for row in tx.query("SELECT column_name AS name FROM information_schema.columns WHERE "
                                "table_schema = current_schema() AND table_name = ? AND is_identity = 'YES'", [table]):
                column = row["name"]
                tx.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max({column}), 0) + 1, "
                           f"false) FROM {table}", [table, column])


class AdvisoryRunLock:
    """``with AdvisoryRunLock(url):`` the run lock of a PostgreSQL archive, or ArchiveLocked at once.

    A session advisory lock on a connection of its own (not the pool's: the lock belongs to the
    connection that took it); the server releases it when the connection ends, however the
    process died. TCP keepalives make a lost machine's lock go within about a minute.
    """

    def __init__(self, url: str):
        self.url = url
        self._conn: psycopg.Connection | None = None

    def acquire(self) -> "AdvisoryRunLock":
        where = shown(self.url)
        who = f"scraper archive pid {os.getpid()} on {socket.gethostname()}"[:63]
        try:
            conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row, connect_timeout=CONNECT_TIMEOUT,
                                   application_name=who, keepalives=1, keepalives_idle=20,
                                   keepalives_interval=5, keepalives_count=4)
        except psycopg.Error as exc:
            raise store_error(exc, where, 0) from exc
        try:
            taken = conn.execute("SELECT pg_try_advisory_lock(%s) AS taken", [RUN_LOCK_KEY]).fetchone()["taken"]
            if not taken:
                holder = conn.execute(
                    "SELECT a.application_name AS who FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.database = "
                    "(SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND (l.classid::bigint << 32 | l.objid::bigint) = %s", [RUN_LOCK_KEY]).fetchone()
                conn.close()
                by = f" ({holder['who']})" if holder and holder["who"] else ""
                raise ArchiveLocked(f"another archive run{by} holds the run lock of {where}; this run did "
                                    "nothing (cron will try again)")
        except psycopg.Error as exc:
            conn.close()
            raise store_error(exc, where, 0) from exc
        self._conn = conn
        return self

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute("SELECT pg_advisory_unlock(%s)", [RUN_LOCK_KEY])
            self._conn.close()
            self._conn = None

    def __enter__(self) -> "AdvisoryRunLock":
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()
