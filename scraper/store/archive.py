"""The archive's one door (``Archive``), and the articles behind it: Article (+ raw Page) -> rows.

One article is one row however it was linked (every URL it was reached by is in `url_aliases`);
a changed article keeps its previous version in `revisions`; the raw bytes of every distinct
version are kept compressed in `pages`. Each save is one transaction, so a crash, a full disk
or a kill -9 leaves either the whole article or nothing. Nothing outside scraper/store/ holds a
connection: every statement goes through an Archive, which maps sqlite3's errors to StoreErrors
(store/sqlite.py) and applies the migrations on open (store/migrations.py).
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Literal, Sequence

from ..clock import Clock, iso_utc, utc_now
from ..errors import NotArchived
from ..models import Article, FetchAttempt, Page
from ..urls import canonicalize
from .migrations import applied, migrate
from .rows import article_identity, decoded, page_from_row, row_values, url_variants
from .sqlite import Params, as_dicts, connect, store_error, write_transaction

# What a fetch attempt can come to ("retried": an earlier attempt of a fetch that was tried again).
FETCH_OUTCOMES = frozenset(
    {"saved", "updated", "unchanged", "not_modified", "skipped", "failed", "retried", "redirected",
     "discovery"})
# The fields of a version kept in `revisions` (and listed by history()).
SNAPSHOT_FIELDS = ("title", "published", "modified", "author", "section", "tags", "summary",
                   "text", "content_hash", "fetched_at", "page_id")
_RAW_BATCH = 16  # raw pages read per query by iter_raw_pages: bounded memory, no long-held cursor


@dataclass(frozen=True)
class SaveResult:
    outcome: Literal["saved", "updated", "unchanged"]
    article_id: int


class Transaction:
    """One write transaction of the archive: ``with archive.transaction() as tx: tx.execute(...)``.

    Inside it the archive's lock is held and every sqlite3 error becomes a StoreError as it leaves;
    the transaction commits when the block ends and rolls back if it raises.
    """

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
        """Run one INSERT; return the new row's id."""
        return self._conn.execute(sql, params).lastrowid

    def executemany(self, sql: str, seq: Iterable[Params]) -> None:
        self._conn.executemany(sql, seq)


class Archive:
    """The archive's one door: ``Archive.open(path)``, a context manager.

    Every read and write of every table goes through its methods: the articles' own (save, get,
    history, log_fetch...) and, for the tables other store modules own (queue, runs, listings,
    search, templates), ``query``/``scalar``/``rows`` to read and ``transaction()`` to write. Each
    takes the archive's lock, so one Archive may be shared by threads and transactions never
    interleave, and each turns sqlite3's errors into StoreErrors (store/sqlite.py says which).
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, busy_timeout: float, clock: Clock = utc_now):
        self._conn = conn
        self.path = path
        self.busy_timeout = busy_timeout
        self.clock = clock
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | os.PathLike, *, busy_timeout: float = 30.0, clock: Clock = utc_now) -> "Archive":
        """Open (creating if missing) the archive: WAL mode, busy timeout, foreign keys, migrations.

        ``clock`` gives every moment the archive records (first_seen, the fetch log, the queue...).
        """
        path = Path(path)
        conn = connect(path, busy_timeout)
        try:
            migrate(conn, clock=clock)
        except sqlite3.Error as exc:
            conn.close()
            raise store_error(exc, path, busy_timeout) from exc
        except BaseException:
            conn.close()
            raise
        return cls(conn, path, busy_timeout, clock)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def now(self) -> datetime:
        return self.clock()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Serialise access and turn sqlite3 errors into StoreErrors (the only place that does)."""
        with self._lock:
            try:
                yield
            except sqlite3.Error as exc:
                raise store_error(exc, self.path, self.busy_timeout) from exc

    # -- the door for the other store modules' tables --------------------------------------------

    def query(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        """Every row of a read, as dicts (no write lock: a read never waits for a running writer)."""
        with self._guard():
            return list(as_dicts(self._conn.execute(sql, params)))

    def scalar(self, sql: str, params: Params = ()) -> Any:
        """The first column of the first row of a read (None when there is no row)."""
        with self._guard():
            row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def rows(self, sql: str, params: Params = ()) -> Iterator[dict[str, Any]]:
        """The rows of a read one at a time, from one snapshot however long the caller takes (an
        export stays consistent while a cron run writes), in constant memory. The archive stays
        locked for this thread until the iterator is exhausted or closed."""
        with self._guard():
            yield from as_dicts(self._conn.execute(sql, params))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """``with archive.transaction() as tx:`` one write transaction (BEGIN IMMEDIATE)."""
        with self._guard(), write_transaction(self._conn):
            yield Transaction(self._conn)

    def columns(self, table: str) -> list[str]:
        """The table's columns, in their order (later migrations' columns included)."""
        return [row["name"] for row in self.query("SELECT name FROM pragma_table_info(?) ORDER BY cid", [table])]

    def migrations(self) -> dict[str, str]:
        """{name: applied_at} of the migrations this archive has had, in order."""
        with self._guard():
            return applied(self._conn)

    # -- writing -----------------------------------------------------------------------------

    def save(self, article: Article, page: Page | None = None, *, run_id: int | None = None) -> SaveResult:
        """Store an article (and the raw page it came from) in one transaction.

        Same content hash as stored: "unchanged" (only fetched_at and the validators refreshed).
        Different: "updated", the previous version kept in `revisions`. New: "saved".
        ``run_id`` is accepted for symmetry with log_fetch; runs are recorded in the fetch log.
        """
        if page is not None and page.not_modified:
            raise ValueError("a 304 answer has no body to store: log_fetch(outcome='not_modified')")
        key, aliases = article_identity(article, page)
        now = iso_utc(self.clock())
        record = {"url": key, **row_values(article, page)}
        fetched = {"fetched_at": iso_utc(page.fetched_at) if page else now}
        if page is not None:
            fetched.update(http_status=page.status, etag=page.etag, last_modified=page.last_modified)
        with self.transaction() as tx:
            article_id = self._lookup(aliases)
            if article_id is None:
                article_id = _insert(tx, "articles", {**record, **fetched, "first_seen": now, "updated_at": now})
                outcome, changes, page_id = "saved", {}, None
            else:
                current = self._article(article_id)
                page_id = current["page_id"]
                if current["content_hash"] == record["content_hash"]:
                    outcome, changes = "unchanged", fetched
                else:
                    _insert(tx, "revisions", {"article_id": article_id, "replaced_at": fetched["fetched_at"],
                                              **{name: current[name] for name in SNAPSHOT_FIELDS}})
                    record.pop("url")   # the row keeps its first key URL: links to it keep working
                    outcome, changes, page_id = "updated", {**record, **fetched, "updated_at": now}, None
            tx.executemany("INSERT OR IGNORE INTO url_aliases (url, article_id) VALUES (?, ?)",
                           [(url, article_id) for url in aliases])
            # An unchanged article keeps the page its record came from, unless it has none yet.
            if page is not None and (outcome != "unchanged" or page_id is None):
                page_id = self._store_page(tx, article_id, page)
            _update(tx, "articles", article_id, {**changes, "page_id": page_id})
        return SaveResult(outcome, article_id)

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
            "body": zlib.compress(page.body, 6),
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

    def rewrite(self, article_id: int, article: Article, page: Page, *, dry_run: bool = False) -> list[str]:
        """Rewrite in place every field of the record derived from its page (all but the key URL and
        the fetch's own columns); return the names of those that changed.

        For re-extraction after a rule change: the page is the stored one, so no revision is kept
        (revisions are versions of the article, not of our rules) and no time but updated_at moves.
        """
        values = row_values(article, page)
        with contextlib.nullcontext(None) if dry_run else self.transaction() as tx:
            current = self._article(article_id)
            changes = {name: value for name, value in values.items() if current.get(name) != value}
            if changes and tx is not None:
                _update(tx, "articles", article_id, {**changes, "updated_at": iso_utc(self.clock())})
        return list(changes)

    # -- reading -----------------------------------------------------------------------------

    def _lookup(self, urls: list[str]) -> int | None:
        """The article any of ``urls`` (or their www/scheme variants) leads to; earlier URLs win."""
        candidates = list(dict.fromkeys(v for url in urls for v in url_variants(url)))
        marks = ", ".join("?" * len(candidates))
        found = dict(self._conn.execute(
            f"SELECT url, article_id FROM url_aliases WHERE url IN ({marks})", candidates).fetchall())
        return next((found[url] for url in candidates if url in found), None)

    def find(self, url: str) -> int | None:
        """The id of the article reached by ``url`` in any of its known forms, or None."""
        with self._guard():
            return self._lookup([canonicalize(url)])

    def has(self, url: str) -> bool:
        return self.find(url) is not None

    def _require(self, url: str) -> int:
        article_id = self.find(url)
        if article_id is None:
            raise NotArchived(f"{url} is not in the archive (archive it first: scraper fetch URL)")
        return article_id

    def has_newer(self, url: str, moment: datetime) -> bool:
        """Whether the article reached by ``url`` is archived from a fetch later than ``moment``."""
        with self._guard():
            article_id = self._lookup([canonicalize(url)])
            fetched = article_id and self.scalar("SELECT fetched_at FROM articles WHERE id = ?", [article_id])
        return bool(fetched) and datetime.fromisoformat(fetched) > moment

    def key_url(self, article_id: int) -> str:
        """The article's key URL (the one its row is known by)."""
        url = self.scalar("SELECT url FROM articles WHERE id = ?", [article_id])
        if url is None:
            raise NotArchived(f"article {article_id} is not in the archive")
        return url

    def _article(self, article_id: int) -> dict[str, Any]:
        """The article's row as stored (tags and provenance as JSON text)."""
        found = self.query("SELECT * FROM articles WHERE id = ?", [article_id])
        if not found:
            raise NotArchived(f"article {article_id} is not in the archive")
        return found[0]

    def get(self, url: str) -> dict[str, Any]:
        """The stored record of the article reached by ``url``, tags as a list."""
        article_id = self._require(url)
        return decoded(self._article(article_id))

    def validators(self, url: str) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) to send with a conditional GET for this article."""
        record = self.get(url)
        return record["etag"], record["last_modified"]

    def history(self, url: str) -> list[dict[str, Any]]:
        """Every version, oldest first: the revisions (with replaced_at), then the current one."""
        article_id = self._require(url)
        fields = ", ".join(SNAPSHOT_FIELDS)
        with self._guard():
            versions = [decoded(row) for row in self.query(
                f"SELECT {fields}, replaced_at FROM revisions WHERE article_id = ? ORDER BY id",
                [article_id])]
            current = self.query(f"SELECT {fields}, NULL AS replaced_at FROM articles WHERE id = ?",
                                 [article_id])[0]
        return versions + [decoded(current)]

    def records(self, *, site: str | None = None, since: date | None = None,
                until: date | None = None) -> Iterator[dict[str, Any]]:
        """Every column of the articles' rows as stored, by id, streamed from one snapshot (see
        ``rows``): those of ``site``, published on or after ``since`` and on or before ``until``
        (inclusive days as the page wrote them; an undated article is left out by either)."""
        where, params = [], {}
        if site is not None:
            where.append("site = :site")
            params["site"] = site
        if since is not None:
            where.append("published >= :since")          # "2024-05-01T09:00+04:00" >= "2024-05-01"
            params["since"] = since.isoformat()
        if until is not None:
            where.append("published < :before")
            params["before"] = (until + timedelta(days=1)).isoformat()
        names = ", ".join(f"[{name}]" for name in self.columns("articles"))
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

    def iter_raw_pages(self, site: str | None = None) -> Iterator[tuple[int, Page]]:
        """(article_id, Page) for every article with a raw page, by id, to re-extract without fetching.

        Read in small keyset batches rather than one open cursor, so memory stays bounded and the
        caller may save re-extracted articles while iterating.
        """
        last_id = 0
        site_clause = "AND a.site = :site" if site is not None else ""
        while True:
            batch = self.query(
                "SELECT a.id AS _article_id, p.* FROM articles a JOIN pages p ON p.id = "
                "COALESCE(a.page_id, (SELECT max(id) FROM pages WHERE article_id = a.id)) "
                f"WHERE a.id > :last {site_clause} ORDER BY a.id LIMIT {_RAW_BATCH}",
                {"last": last_id, "site": site})
            if not batch:
                return
            for row in batch:
                yield row["_article_id"], page_from_row(row)
            last_id = batch[-1]["_article_id"]


def _insert(tx: Transaction, table: str, values: dict[str, Any]) -> int:
    names = list(values)
    return tx.insert(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     [values[name] for name in names])


def _update(tx: Transaction, table: str, row_id: int, values: dict[str, Any]) -> None:
    if values:
        tx.execute(f"UPDATE {table} SET {', '.join(f'{name} = ?' for name in values)} WHERE id = ?",
                   [*values.values(), row_id])
