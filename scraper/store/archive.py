"""The archive's one door (``Archive``), and the articles behind it: Article (+ raw Page) -> rows.

One article is one row however it was linked (every URL it was reached by is in `url_aliases`);
a changed article keeps its previous version in `revisions`; the raw bytes of every distinct
version are kept compressed in `pages`. Each save is one transaction, so a crash, a full disk
or a kill -9 leaves either the whole article or nothing. Nothing outside scraper/store/ holds a
connection: every statement goes through an Archive, which stands on one database object, an
archive file (store/sqlite.py) or a ``postgresql://`` database (store/postgres.py); each maps its
driver's errors to StoreErrors and applies its migrations on open.

The SQL written here and in the other store modules runs on both engines: ``?`` and ``:name``
placeholders (postgres.py turns them into psycopg's), upserts as ``INSERT ... ON CONFLICT``,
``count(*) FILTER (WHERE ...)``, double-quoted names. What differs is asked of the database object
(``for_update``, ``columns``, ``tables``) or lives in its module (search's indexes: search.py for
SQLite's FTS5, pgsearch.py for PostgreSQL).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Protocol, Sequence

from ..clock import Clock, iso_utc, utc_now
from ..errors import NotArchived, WriteConflict
from ..models import Article, FetchAttempt, Page
from ..urls import canonicalize
from .migrations import migrate, missing
from .rows import article_identity, decoded, page_from_row, row_values, url_variants
from ..errors import StoreError
from .sqlite import Params, SQLiteDatabase, can_write

# What a fetch attempt can come to ("retried": an earlier attempt of a fetch that was tried again).
FETCH_OUTCOMES = frozenset(
    {"saved", "updated", "unchanged", "not_modified", "skipped", "failed", "retried", "redirected",
     "discovery"})
# The fields of a version kept in `revisions` (and listed by history()).
SNAPSHOT_FIELDS = ("title", "published", "modified", "author", "section", "tags", "summary",
                   "text", "content_hash", "fetched_at", "page_id")
_RAW_BATCH = 16  # raw pages read per query by iter_raw_pages: bounded memory, no long-held cursor
# A save that lost a race with another process (PostgreSQL: the same new URL inserted at once, a
# deadlock) is done again from the start: it then finds the other's row. More than this is a bug.
_SAVE_TRIES = 5
# zlib's level for the raw pages. On the corpus news pages (310 KB on average) level 6, zlib's
# default, took 5.2 ms a page, the largest cost of an archive run's own process; level 4 takes
# 2.9 ms for 5 % more bytes (level 1: 1.8 ms, 19 % more). Any level reads back the same.
PAGE_LEVEL = 4


def is_database_url(target: str | os.PathLike) -> bool:
    """Whether ``--db`` names a PostgreSQL database (``postgresql://`` or ``postgres://``) rather than a file."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


@dataclass(frozen=True)
class SaveResult:
    outcome: Literal["saved", "updated", "unchanged"]
    article_id: int
    previous_chars: int | None = None   # "updated": the length of the text it replaced (kept in revisions)


class Transaction(Protocol):
    """One write transaction of the archive: ``with archive.transaction() as tx: tx.execute(...)``.

    Inside it the archive's writes are atomic and every driver error becomes a StoreError as it
    leaves; the transaction commits when the block ends and rolls back if it raises.
    """

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]: ...

    def scalar(self, sql: str, params: Params = ()) -> Any: ...

    def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""

    def insert(self, sql: str, params: Params = ()) -> int:
        """Run one INSERT into a table keyed by ``id``; return the new row's id."""

    def executemany(self, sql: str, seq: Iterable[Params]) -> None: ...


class Archive:
    """The archive's one door: ``Archive.open(path or postgresql:// URL)``, a context manager.

    Every read and write of every table goes through its methods: the articles' own (save, get,
    history, log_fetch...) and, for the tables other store modules own (queue, runs, listings,
    search, templates), ``query``/``scalar``/``rows`` to read and ``transaction()`` to write. One
    Archive may be shared by threads; reads inside a thread's transaction see its writes; every
    driver error comes out as a StoreError (sqlite.py and postgres.py say which).
    """

    def __init__(self, db: Any, clock: Clock = utc_now):
        self._db = db
        self.clock = clock
        self.engine: str = db.engine          # "sqlite" | "postgresql"
        self.target: str = db.target          # what --db takes to open this archive again
        self.busy_timeout: float = db.busy_timeout

    @property
    def name(self) -> str:
        """The archive as messages name it (a database URL without its password)."""
        return getattr(self._db, "shown", self.target)

    @property
    def read_only(self) -> bool:
        """Opened for reading only (``Archive.open(reading=True)`` on a file this user cannot write)."""
        return getattr(self._db, "read_only", False)

    @property
    def path(self) -> Path | None:
        """The archive file (None for a PostgreSQL archive)."""
        return getattr(self._db, "path", None)

    @classmethod
    def open(cls, target: str | os.PathLike, *, busy_timeout: float = 30.0, clock: Clock = utc_now,
             create: bool = True, reading: bool = False, connections: int | None = None) -> "Archive":
        """Open the archive at ``target`` (a file path, created if missing; or a ``postgresql://``
        URL of an existing database) and apply the missing migrations.

        ``connections``: at most this many to a PostgreSQL archive at once (its pool; default 4,
        enough for one command's threads; a worker process runs more jobs at once).

        ``create=False`` raises NoSuchArchive instead of creating a file, or the tables in a database
        that holds none yet (commands that only read).
        ``clock`` gives every moment the archive records (first_seen, the fetch log, the queue...).
        ``reading=True``: for a command that only reads, an archive file this user cannot write
        (a read-only folder, someone else's file) is opened read-only (``read_only``; sqlite.py's
        connect_read_only) instead of failing on the first write; writes then raise StoreError.
        """
        if is_database_url(target):
            from .postgres import PostgresDatabase   # only a PostgreSQL archive loads psycopg

            db = PostgresDatabase(str(target), busy_timeout, clock=clock, create=create,
                                  **({"connections": connections} if connections else {}))
        else:
            read_only = reading and Path(target).is_file() and not can_write(Path(target))
            db = SQLiteDatabase(target, busy_timeout, create=create, read_only=read_only)
            try:
                if not read_only:
                    db.apply(migrate, clock=clock)
                elif lacking := db.apply(missing):
                    raise StoreError(f"{target} is read-only and was written by an older version (it lacks "
                                     f"migration {lacking[0]}): open it once with write access to upgrade it")
            except BaseException:
                db.close()
                raise
        return cls(db, clock)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def now(self) -> datetime:
        return self.clock()

    # -- the door for the other store modules' tables --------------------------------------------

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Every row of a read, as dicts (no write lock: a read never waits for a running writer)."""
        return self._db.query(sql, params)

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row of a read (None when there is no row)."""
        found = self._db.query(sql, params)
        return next(iter(found[0].values())) if found else None

    def rows(self, sql: str, params: Params = ()) -> Iterator[dict[str, Any]]:
        """The rows of a read one at a time, from one snapshot however long the caller takes (an
        export stays consistent while a cron run writes), in constant memory. On SQLite the
        archive stays locked for this thread until the iterator is exhausted or closed."""
        return self._db.rows(sql, params)

    def transaction(self) -> contextlib.AbstractContextManager[Transaction]:
        """``with archive.transaction() as tx:`` one write transaction."""
        return self._db.transaction()

    def time_limit(self, seconds: float | None) -> contextlib.AbstractContextManager[None]:
        """``with archive.time_limit(30):`` this thread's reads stop at 30 s with QueryTimeout."""
        return self._db.time_limit(seconds)

    @property
    def for_update(self) -> str:
        """What to append to a SELECT inside a transaction to lock its rows until the end (empty
        on SQLite, whose transactions hold the one write lock from their start)."""
        return self._db.for_update

    @property
    def skip_locked(self) -> str:
        """What to append to a SELECT inside a transaction to take only rows no other transaction
        holds, and lock them (PostgreSQL's FOR UPDATE SKIP LOCKED; empty on SQLite, one writer)."""
        return self._db.skip_locked

    def columns(self, table: str) -> list[str]:
        """The table's columns, in their order (later migrations' columns included)."""
        return self._db.columns(table)

    def tables(self) -> set[str]:
        return self._db.tables()

    def migrations(self) -> dict[str, str]:
        """{name: applied_at} of the migrations this archive has had, in order."""
        return self._db.migrations()

    @property
    def database(self) -> Any:
        """The database object under the door (store/sqlite.py's or store/postgres.py's), for the
        store modules that hold what differs between engines (search indexes, copies)."""
        return self._db

    # -- writing -----------------------------------------------------------------------------

    def save(self, article: Article, page: Page | None = None, *, run_id: int | None = None) -> SaveResult:
        """Store an article (and the raw page it came from) in one transaction.

        Same content hash as stored: "unchanged" (only fetched_at and the validators refreshed).
        Different: "updated", the previous version kept in `revisions`. New: "saved".
        ``run_id`` is accepted for symmetry with log_fetch; runs are recorded in the fetch log.
        Many processes may save at once (PostgreSQL): the article's row is locked while it is
        compared and rewritten, and a save that lost a race is done again, so no version is lost
        and no article doubled.
        """
        if page is not None and page.not_modified:
            raise ValueError("a 304 answer has no body to store: log_fetch(outcome='not_modified')")
        for attempt in range(_SAVE_TRIES):
            try:
                return self._save(article, page)
            except WriteConflict:
                if attempt == _SAVE_TRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _save(self, article: Article, page: Page | None) -> SaveResult:
        key, aliases = article_identity(article, page)
        now = iso_utc(self.clock())
        record = {"url": key, **row_values(article, page)}
        fetched = {"fetched_at": iso_utc(page.fetched_at) if page else now}
        if page is not None:
            fetched.update(http_status=page.status, etag=page.etag, last_modified=page.last_modified)
        previous = None
        with self.transaction() as tx:
            article_id = _lookup(tx, aliases)
            if article_id is None:
                article_id = _insert(tx, "articles", {**record, **fetched, "first_seen": now, "updated_at": now})
                outcome, changes, page_id = "saved", {}, None
            else:
                current = _article(tx, article_id, lock=self.for_update)
                page_id = current["page_id"]
                if current["content_hash"] == record["content_hash"]:
                    outcome, changes = "unchanged", fetched
                else:
                    _keep_revision(tx, article_id, current, fetched["fetched_at"])
                    previous = len(current["text"] or "")
                    record.pop("url")   # the row keeps its first key URL: links to it keep working
                    outcome, changes, page_id = "updated", {**record, **fetched, "updated_at": now}, None
            tx.executemany("INSERT INTO url_aliases (url, article_id) VALUES (?, ?) ON CONFLICT (url) DO NOTHING",
                           [(url, article_id) for url in aliases])
            # An unchanged article keeps the page its record came from, unless it has none yet.
            if page is not None and (outcome != "unchanged" or page_id is None):
                page_id = self._store_page(tx, article_id, page)
            _update(tx, "articles", article_id, {**changes, "page_id": page_id})
        return SaveResult(outcome, article_id, previous)

    def _store_page(self, tx: Transaction, article_id: int, page: Page) -> int:
        """The id of this article's page with these exact bytes, stored now if it is new."""
        digest = hashlib.sha256(page.body).hexdigest()
        known = tx.scalar("SELECT id FROM pages WHERE article_id = ? AND sha256 = ?", [article_id, digest])
        if known is not None:
            return known
        return _insert(tx, "pages", {
            "article_id": article_id, "url": page.url, "final_url": page.final_url,
            "fetched_at": iso_utc(page.fetched_at), "status": page.status,
            "headers": json.dumps(dict(page.headers), ensure_ascii=False),
            "encoding": page.encoding, "sha256": digest, "size": len(page.body),
            "body": zlib.compress(page.body, PAGE_LEVEL),
        })

    def log_fetch(self, url: str, *, outcome: str, status: int | None = None, error: str | None = None,
                  bytes: int = 0, elapsed: float = 0.0, etag: str | None = None,
                  last_modified: str | None = None, run_id: int | None = None,
                  at: datetime | str | None = None) -> None:
        """One line in the fetch log: every attempt, whatever came of it."""
        if outcome not in FETCH_OUTCOMES:
            raise ValueError(f"unknown fetch outcome {outcome!r} (one of {', '.join(sorted(FETCH_OUTCOMES))})")
        when = iso_utc(self.clock()) if at is None else at if isinstance(at, str) else iso_utc(at)
        with self.transaction() as tx:
            _insert(tx, "fetch_log", {
                "url": url, "at": when, "status": status, "outcome": outcome, "error": error,
                "bytes": bytes, "elapsed": elapsed, "etag": etag, "last_modified": last_modified,
                "run_id": run_id})

    def log_attempts(self, attempts: Sequence[FetchAttempt], *, final: str | None, error: str | None = None,
                     run_id: int | None = None) -> None:
        """Log the HTTP attempts of one fetch (what fetch() passes to ``on_attempt``).

        The last attempt carries the fetch's ``final`` outcome (and ``error``); earlier ones were
        redirect hops (3xx) or retries. ``final=None`` marks discovery fetches (feeds, sitemaps,
        start pages, robots.txt), logged as ``discovery`` or ``failed``.
        """
        for i, attempt in enumerate(attempts):
            last = i == len(attempts) - 1
            status = attempt.status or 0
            if final is None:
                outcome = "failed" if attempt.error or status >= 400 else "discovery"
            elif last:
                outcome = final
            else:
                outcome = "redirected" if 300 <= status < 400 else "retried"
            self.log_fetch(
                attempt.url, outcome=outcome, status=attempt.status,
                error=(error if last and error else attempt.error), bytes=attempt.bytes,
                elapsed=attempt.elapsed, etag=attempt.etag, last_modified=attempt.last_modified,
                run_id=run_id)

    def rewrite(self, article_id: int, article: Article, page: Page, *, dry_run: bool = False,
                keep_revision: bool = False) -> list[str]:
        """Rewrite in place every field of the record derived from its page (all but the key URL and
        the fetch's own columns); return the names of those that changed.

        For re-extraction after a rule change: the page is the stored one, so no time but updated_at
        moves, and no revision is kept (revisions are versions of the article, not of our rules)
        unless ``keep_revision`` (the caller's rule found the new record lost text: the old one
        stays readable in `revisions`).
        """
        values = row_values(article, page)
        with contextlib.nullcontext(self) if dry_run else self.transaction() as tx:
            current = _article(tx, article_id, lock="" if dry_run else self.for_update)
            changes = {name: value for name, value in values.items() if current.get(name) != value}
            if changes and not dry_run:
                now = iso_utc(self.clock())
                if keep_revision:
                    _keep_revision(tx, article_id, current, now)
                _update(tx, "articles", article_id, {**changes, "updated_at": now})
        return list(changes)

    # -- reading -----------------------------------------------------------------------------

    def find(self, url: str) -> int | None:
        """The id of the article reached by ``url`` in any of its known forms, or None."""
        return _lookup(self, [canonicalize(url)])

    def has(self, url: str) -> bool:
        return self.find(url) is not None

    def _require(self, url: str) -> int:
        article_id = self.find(url)
        if article_id is None:
            raise NotArchived(f"{url} is not in the archive (archive it first: scraper fetch URL)")
        return article_id

    def has_newer(self, url: str, moment: datetime) -> bool:
        """Whether the article reached by ``url`` is archived from a fetch later than ``moment``."""
        article_id = self.find(url)
        fetched = article_id and self.scalar("SELECT fetched_at FROM articles WHERE id = ?", [article_id])
        return bool(fetched) and datetime.fromisoformat(fetched) > moment

    def key_url(self, article_id: int) -> str:
        """The article's key URL (the one its row is known by)."""
        url = self.scalar("SELECT url FROM articles WHERE id = ?", [article_id])
        if url is None:
            raise NotArchived(f"article {article_id} is not in the archive")
        return url

    def get(self, url: str) -> dict[str, Any]:
        """The stored record of the article reached by ``url``, tags as a list."""
        article_id = self._require(url)
        return decoded(_article(self, article_id))

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) to send with a conditional GET for this article."""
        record = self.get(url)
        return record["etag"], record["last_modified"]

    def history(self, url: str) -> list[dict[str, Any]]:
        """Every version, oldest first: the revisions (with replaced_at), then the current one."""
        article_id = self._require(url)
        fields = ", ".join(SNAPSHOT_FIELDS)
        # One statement, one snapshot: a save between two reads cannot show a version twice.
        rows = self.query(
            f"SELECT {fields}, replaced_at, 0 AS _current, id AS _order FROM revisions WHERE article_id = ? "
            f"UNION ALL SELECT {fields}, NULL AS replaced_at, 1 AS _current, 0 AS _order FROM articles "
            "WHERE id = ? ORDER BY _current, _order", [article_id, article_id])
        return [decoded({k: v for k, v in row.items() if k not in ("_current", "_order")}) for row in rows]

    def records(self, *, site: str | None = None, since: date | None = None,
                until: date | None = None) -> Iterator[dict[str, Any]]:
        """Every column of the articles' rows as stored, by id, streamed from one snapshot (see
        ``rows``): those of ``site``, published on or after ``since`` and on or before ``until``
        (inclusive days as the page wrote them; an undated article is left out by either)."""
        where, params = article_filter(site, since, until)
        names = ", ".join(f'"{name}"' for name in self.columns("articles"))
        yield from self.rows(f"SELECT {names} FROM articles{' WHERE ' + ' AND '.join(where) if where else ''} "
                             "ORDER BY id", params)

    def raw_page(self, article_id: int) -> Page:
        """The raw page the article's current record came from (else its latest), decoded again."""
        found = self.query(
            "SELECT * FROM pages WHERE id = (SELECT COALESCE(a.page_id, "
            "(SELECT max(id) FROM pages WHERE article_id = a.id)) FROM articles a WHERE a.id = ?)",
            [article_id])
        if not found:
            raise NotArchived(f"article {article_id} has no stored raw page")
        return page_from_row(found[0])

    def iter_raw_pages(self, site: str | None = None, ids: tuple[int, int] | None = None
                       ) -> Iterator[tuple[int, Page]]:
        """(article_id, Page) for every article with a raw page, by id, to re-extract without fetching;
        ``ids`` (first, last): only the articles whose id is in that range (a worker's share).

        Read in small keyset batches rather than one open cursor, so memory stays bounded and the
        caller may save re-extracted articles while iterating.
        """
        last_id = ids[0] - 1 if ids else 0
        site_clause = "AND a.site = :site" if site is not None else ""
        range_clause = "AND a.id <= :until" if ids else ""
        while True:
            batch = self.query(
                "SELECT a.id AS _article_id, p.* FROM articles a JOIN pages p ON p.id = "
                "COALESCE(a.page_id, (SELECT max(id) FROM pages WHERE article_id = a.id)) "
                f"WHERE a.id > :last {site_clause} {range_clause} ORDER BY a.id LIMIT {_RAW_BATCH}",
                {"last": last_id, "site": site, "until": ids[1] if ids else None})
            if not batch:
                return
            for row in batch:
                yield row["_article_id"], page_from_row(row)
            last_id = batch[-1]["_article_id"]


def id_ranges(archive: "Archive", site: str | None, size: int) -> list[tuple[int, int]]:
    """The articles' ids (of ``site``, or all) cut into ranges (first, last) of ``size`` articles,
    for re-extraction shared out among workers."""
    where, params = ("WHERE site = ?", [site]) if site is not None else ("", [])
    ids = [row["id"] for row in archive.query(f"SELECT id FROM articles {where} ORDER BY id", params)]
    return [(ids[i], ids[min(i + size, len(ids)) - 1]) for i in range(0, len(ids), size)]


def article_filter(site: str | None, since: date | None, until: date | None, *,
                   table: str = "articles") -> tuple[list[str], dict[str, Any]]:
    """(WHERE clauses, their parameters) for the articles of ``site`` published on or after ``since``
    and on or before ``until``: inclusive days compared with the date as the page wrote it (its own
    time zone); an undated article is left out by either day."""
    where, params = [], {}
    if site is not None:
        where.append(f"{table}.site = :site")
        params["site"] = site
    if since is not None:
        where.append(f"{table}.published >= :since")          # "2024-05-01T09:00+04:00" >= "2024-05-01"
        params["since"] = since.isoformat()
    if until is not None:
        where.append(f"{table}.published < :before")
        params["before"] = (until + timedelta(days=1)).isoformat()
    return where, params


def _lookup(reader: Archive | Transaction, urls: list[str]) -> int | None:
    """The article any of ``urls`` (or their www/scheme variants) leads to; earlier URLs win."""
    candidates = list(dict.fromkeys(v for url in urls for v in url_variants(url)))
    marks = ", ".join("?" * len(candidates))
    found = {row["url"]: row["article_id"] for row in reader.query(
        f"SELECT url, article_id FROM url_aliases WHERE url IN ({marks})", candidates)}
    return next((found[url] for url in candidates if url in found), None)


def _article(reader: Archive | Transaction, article_id: int, *, lock: str = "") -> dict[str, Any]:
    """The article's row as stored (tags and provenance as JSON text); ``lock`` is the archive's
    ``for_update`` when the row is about to be rewritten in the same transaction."""
    found = reader.query(f"SELECT * FROM articles WHERE id = ?{lock}", [article_id])
    if not found:
        raise NotArchived(f"article {article_id} is not in the archive")
    return found[0]


def _keep_revision(tx: Transaction, article_id: int, current: dict[str, Any], replaced_at: str) -> None:
    """The article's current version into `revisions`, before it is replaced."""
    _insert(tx, "revisions", {"article_id": article_id, "replaced_at": replaced_at,
                              **{name: current[name] for name in SNAPSHOT_FIELDS}})


def _insert(tx: Transaction, table: str, values: dict[str, Any]) -> int:
    names = list(values)
    return tx.insert(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     [values[name] for name in names])


def _update(tx: Transaction, table: str, row_id: int, values: dict[str, Any]) -> None:
    if values:
        tx.execute(f"UPDATE {table} SET {', '.join(f'{name} = ?' for name in values)} WHERE id = ?",
                   [*values.values(), row_id])
