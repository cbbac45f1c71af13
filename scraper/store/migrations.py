"""The archive's schema, as an ordered list of named migrations applied on open and recorded in `_migrations`.

Adding a migration is appending one function at the end of this file:

    @migration("002_runs")
    def _runs(db):
        db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, started_at TEXT, ...)")

Names are never renamed or reordered once released: the name is what the database remembers.
A migration runs inside a transaction (with its record in `_migrations`), so it must not commit
itself: plain ``db.execute`` DDL/DML only, no ``enable_wal()``/``VACUUM``.
"""
from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Callable, Iterator

from sqlite_utils import Database

Migration = Callable[[Database], None]

# (name, function) in the order they must be applied.
MIGRATIONS: list[tuple[str, Migration]] = []

MIGRATIONS_TABLE = "_migrations"


def migration(name: str) -> Callable[[Migration], Migration]:
    """Decorator: register ``fn`` as the next migration, under ``name``."""
    def register(fn: Migration) -> Migration:
        if any(existing == name for existing, _ in MIGRATIONS):
            raise ValueError(f"migration {name!r} is already registered")
        MIGRATIONS.append((name, fn))
        return fn
    return register


@contextlib.contextmanager
def write_transaction(db: Database) -> Iterator[Database]:
    """One write transaction, started with BEGIN IMMEDIATE.

    IMMEDIATE takes the write lock up front, so a concurrent writer makes us wait (busy timeout)
    instead of failing at once: in WAL mode a deferred transaction that read first and writes
    later gets SQLITE_BUSY_SNAPSHOT without any wait. The store uses it for every write too.
    """
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        # The error may already have ended the transaction (e.g. SQLITE_FULL rolls back itself).
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        try:
            db.conn.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise


def applied(db: Database) -> dict[str, str]:
    """{name: applied_at} of the migrations this database has (read only, takes no write lock)."""
    if MIGRATIONS_TABLE not in db.table_names():
        return {}
    return {row["name"]: row["applied_at"]
            for row in db.query(f"SELECT name, applied_at FROM {MIGRATIONS_TABLE} ORDER BY id")}


def pending(db: Database) -> list[str]:
    done = applied(db)
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(db: Database) -> list[str]:
    """Apply the missing migrations in order, each in its own transaction; return their names.

    Opening an up-to-date archive only reads, so it never waits for a running writer. Two
    processes migrating a new file at once are safe: each migration re-checks under the write lock.
    """
    if not pending(db):
        return []
    done_now: list[str] = []
    for name, fn in MIGRATIONS:
        with write_transaction(db):
            db.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
                       " id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, applied_at TEXT NOT NULL)")
            if db.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name = ?", [name]).fetchone():
                continue
            fn(db)
            db.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                       [name, datetime.now(timezone.utc).isoformat(timespec="seconds")])
        done_now.append(name)
    return done_now


@migration("001_initial")
def _initial(db: Database) -> None:
    # Written as SQL rather than table.create(): a migration must keep producing the same schema
    # whatever sqlite-utils version runs it. The FKs are circular (articles.page_id <-> pages),
    # which SQLite allows because they are checked on writes, not at CREATE time.
    statements = [
        """CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT UNIQUE NOT NULL,        -- the key URL (canonical when on the same site)
            final_url TEXT, canonical_url TEXT, site TEXT, title TEXT,
            published TEXT, modified TEXT, author TEXT, section TEXT,
            tags TEXT,                       -- JSON list
            summary TEXT, text TEXT, language TEXT, image TEXT,
            word_count INTEGER, content_hash TEXT, extractor TEXT,
            fetched_at TEXT, http_status INTEGER,
            first_seen TEXT, updated_at TEXT,
            etag TEXT, last_modified TEXT,
            page_id INTEGER REFERENCES pages(id)
        )""",
        "CREATE INDEX idx_articles_site ON articles(site)",
        "CREATE INDEX idx_articles_published ON articles(published)",
        "CREATE INDEX idx_articles_content_hash ON articles(content_hash)",
        """CREATE TABLE url_aliases (
            url TEXT PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id)
        )""",
        "CREATE INDEX idx_url_aliases_article_id ON url_aliases(article_id)",
        """CREATE TABLE pages (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            url TEXT, final_url TEXT, fetched_at TEXT, status INTEGER,
            headers TEXT,                    -- JSON object
            encoding TEXT,
            sha256 TEXT NOT NULL,            -- of the raw (uncompressed) body
            size INTEGER,                    -- raw body length
            body BLOB                        -- zlib-compressed raw body
        )""",
        "CREATE INDEX idx_pages_article_sha256 ON pages(article_id, sha256)",
        """CREATE TABLE fetch_log (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL, at TEXT NOT NULL, status INTEGER,
            outcome TEXT NOT NULL,           -- saved|updated|unchanged|not_modified|skipped|failed
            error TEXT, bytes INTEGER, elapsed REAL,
            etag TEXT, last_modified TEXT,
            run_id INTEGER                   -- runs.id once that table exists
        )""",
        "CREATE INDEX idx_fetch_log_url ON fetch_log(url)",
        "CREATE INDEX idx_fetch_log_at ON fetch_log(at)",
        """CREATE TABLE revisions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id),
            replaced_at TEXT NOT NULL,
            title TEXT, published TEXT, modified TEXT, author TEXT, section TEXT,
            tags TEXT, summary TEXT, text TEXT, content_hash TEXT, fetched_at TEXT,
            page_id INTEGER REFERENCES pages(id)
        )""",
        "CREATE INDEX idx_revisions_article_id ON revisions(article_id)",
    ]
    for sql in statements:
        db.execute(sql)


@migration("002_archive_queue")
def _archive_queue(db: Database) -> None:
    # The cron archiver's to-do list (scraper/store/runstate.py): every article URL discovered and not yet
    # archived, how often it failed and when to try again. Rows stay as `done` once archived, so
    # the listing's title and date are kept and rechecks know when the page was last looked at.
    db.execute("""CREATE TABLE queue (
        url TEXT PRIMARY KEY,            -- canonical
        site TEXT NOT NULL,
        source TEXT, source_url TEXT,    -- where it was first listed (feed, sitemap, start-page)
        discovered_at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending',   -- pending|done|gave_up
        tries INTEGER NOT NULL DEFAULT 0,
        next_try TEXT,                   -- UTC ISO; NULL = as soon as possible
        last_error TEXT,
        feed_title TEXT, feed_published TEXT,
        checked_at TEXT                  -- last fetch or conditional check that succeeded
    )""")
    db.execute("CREATE INDEX idx_queue_state_next ON queue(state, next_try)")


@migration("003_archive_runs")
def _archive_runs(db: Database) -> None:
    # One row per `scraper archive` run; ended_at stays NULL for a run that was killed.
    db.execute("""CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL, ended_at TEXT,
        sites TEXT,                      -- JSON list of site names
        pid INTEGER,
        discovered INTEGER, saved INTEGER, updated INTEGER, unchanged INTEGER,
        failed INTEGER, gave_up INTEGER, skipped INTEGER,
        exit_code INTEGER,
        problems TEXT                    -- JSON list of one-line messages
    )""")


@migration("search_001_fts")
def _search_fts(db: Database) -> None:
    # The FTS5 index of normalised title/text, its queue and plain-SQL triggers: owned and
    # explained by scraper/store/search.py. Imported here, not at the top: search imports the store.
    from .search import create_index
    create_index(db)


@migration("templates_001_site_templates")
def _site_templates(db: Database) -> None:
    # One learned template per site: owned and explained by scraper/store/site_templates.py.
    from .site_templates import create_table
    create_table(db)


@migration("004_article_provenance")
def _article_provenance(db: Database) -> None:
    # Where each field of the record came from ({"published": "news-sitemap https://...", ...}), so
    # a researcher can tell a date read from the page from one a feed supplied.
    db.execute("ALTER TABLE articles ADD COLUMN provenance TEXT")


@migration("005_listing_cache")
def _listing_cache(db: Database) -> None:
    # The validators of each feed, sitemap and start page, and robots.txt copies, kept between
    # runs for conditional GETs: owned and explained by scraper/store/listings.py.
    from .listings import create_tables
    create_tables(db)


@migration("search_002_stems")
def _search_stems(db: Database) -> None:
    # A second FTS5 index, of Arabic stems, beside the exact one; every article queued again so
    # the next search indexes the existing rows: owned and explained by scraper/store/search.py.
    from .search import create_stem_index
    create_stem_index(db)
