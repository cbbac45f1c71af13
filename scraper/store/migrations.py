"""The archive's schema: an ordered list of named migrations, applied by ``Archive.open`` and
recorded in `_migrations`, each one's SQL written out here and frozen.

Adding a migration is appending one function at the end of this file:

    @migration("006_notes")
    def _notes(db):
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)")

Names are never renamed or reordered once released: the name is what the database remembers.
A released migration is never edited, and it calls no other module's code: it must do to an old
archive tomorrow exactly what it did on the day it was released, whatever the modules that own
its tables (search.py, listings.py, site_templates.py) have become, so that every archive ends
with the schema a new one has (tests/test_migrations.py holds them to it). A change of schema is
a new migration. A migration runs inside a transaction (with its record in `_migrations`), so it
must not commit itself: plain ``db.execute`` DDL/DML only, no ``PRAGMA journal_mode``/``VACUUM``.
"""
from __future__ import annotations

import sqlite3
from typing import Callable, Sequence

from ..clock import Clock, iso_utc, utc_now
from .sqlite import write_transaction

Migration = Callable[[sqlite3.Connection], None]

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


def applied(conn: sqlite3.Connection) -> dict[str, str]:
    """{name: applied_at} of the migrations this database has (read only, takes no write lock)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [MIGRATIONS_TABLE]).fetchone():
        return {}
    return dict(conn.execute(f"SELECT name, applied_at FROM {MIGRATIONS_TABLE} ORDER BY id").fetchall())


def missing(conn: sqlite3.Connection) -> list[str]:
    """The migrations this database has not had (read only: for an archive opened read-only)."""
    done = applied(conn)
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(conn: sqlite3.Connection, migrations: Sequence[tuple[str, Migration]] | None = None, *,
            clock: Clock = utc_now) -> list[str]:
    """Apply the missing ``migrations`` (all of them by default) in order, each in its own
    transaction; return their names.

    Opening an up-to-date archive only reads, so it never waits for a running writer. Two
    processes migrating a new file at once are safe: each migration re-checks under the write lock.
    """
    todo = list(MIGRATIONS if migrations is None else migrations)
    done = applied(conn)
    if all(name in done for name, _ in todo):
        return []
    done_now: list[str] = []
    for name, fn in todo:
        with write_transaction(conn):
            conn.execute(f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
                         " id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, applied_at TEXT NOT NULL)")
            if conn.execute(f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE name = ?", [name]).fetchone():
                continue
            fn(conn)
            conn.execute(f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                         [name, iso_utc(clock())])
        done_now.append(name)
    return done_now


@migration("001_initial")
def _initial(db: sqlite3.Connection) -> None:
    # Written as SQL rather than table.create(): a migration must keep producing the same schema
    # whatever library version runs it. The FKs are circular (articles.page_id <-> pages),
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
def _archive_queue(db: sqlite3.Connection) -> None:
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
def _archive_runs(db: sqlite3.Connection) -> None:
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
def _search_fts(db: sqlite3.Connection) -> None:
    # The FTS5 index of normalised title/text, its queue and plain-SQL triggers (why this way:
    # scraper/store/search.py, which keeps them); every existing article queued for indexing.
    db.execute("""CREATE VIRTUAL TABLE articles_fts USING FTS5 (
        title, text, content=[articles], tokenize="unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
    )""")
    db.execute("""CREATE TABLE _search_pending (
        article_id INTEGER PRIMARY KEY,
        indexed INTEGER NOT NULL,        -- 1: the index holds old_title/old_text for this id
        old_title TEXT, old_text TEXT
    )""")
    # INSERT OR REPLACE deletes the row it replaces without firing delete triggers (unless
    # recursive_triggers is on), so capture what such an insert would replace, beforehand.
    db.execute("""CREATE TRIGGER articles_search_bi BEFORE INSERT ON articles BEGIN
        INSERT OR IGNORE INTO _search_pending (article_id, indexed, old_title, old_text)
            SELECT id, 1, title, text FROM articles WHERE id = new.id OR url = new.url;
    END""")
    db.execute("""CREATE TRIGGER articles_search_ai AFTER INSERT ON articles BEGIN
        INSERT OR IGNORE INTO _search_pending (article_id, indexed) VALUES (new.id, 0);
    END""")
    db.execute("""CREATE TRIGGER articles_search_au AFTER UPDATE OF id, title, text ON articles
    WHEN old.id IS NOT new.id OR old.title IS NOT new.title OR old.text IS NOT new.text BEGIN
        INSERT OR IGNORE INTO _search_pending (article_id, indexed, old_title, old_text)
            VALUES (old.id, 1, old.title, old.text);
        INSERT OR IGNORE INTO _search_pending (article_id, indexed) VALUES (new.id, 0);
    END""")
    db.execute("""CREATE TRIGGER articles_search_ad AFTER DELETE ON articles BEGIN
        INSERT OR IGNORE INTO _search_pending (article_id, indexed, old_title, old_text)
            VALUES (old.id, 1, old.title, old.text);
    END""")
    db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('delete-all')")
    db.execute("DELETE FROM _search_pending")
    db.execute("INSERT INTO _search_pending (article_id, indexed) SELECT id, 0 FROM articles")


@migration("templates_001_site_templates")
def _site_templates(db: sqlite3.Connection) -> None:
    # One learned template per site (scraper/store/site_templates.py keeps them).
    db.execute("""CREATE TABLE site_templates (
        site TEXT PRIMARY KEY,           -- articles.site
        learned_at TEXT NOT NULL,        -- UTC ISO 8601
        pages INTEGER NOT NULL,          -- pages it was learned from (the most recent ones)
        articles INTEGER NOT NULL,       -- the site's archived articles then (when to learn again)
        template TEXT NOT NULL           -- SiteTemplate.to_json()
    )""")


@migration("004_article_provenance")
def _article_provenance(db: sqlite3.Connection) -> None:
    # Where each field of the record came from ({"published": "news-sitemap https://...", ...}), so
    # a researcher can tell a date read from the page from one a feed supplied.
    db.execute("ALTER TABLE articles ADD COLUMN provenance TEXT")


@migration("005_listing_cache")
def _listing_cache(db: sqlite3.Connection) -> None:
    # The validators of each feed, sitemap and start page, and robots.txt copies, kept between
    # runs for conditional GETs (scraper/store/listings.py keeps them and says why).
    db.execute("""CREATE TABLE listings (
        site TEXT NOT NULL,
        url TEXT NOT NULL,
        kind TEXT,                       -- start-page | feed | sitemap
        etag TEXT, last_modified TEXT,   -- of the last complete read: sent as If-None-Match / -Modified-Since
        rules TEXT,                      -- digest of the article regex, domains and robots.txt it was read with
        children TEXT,                   -- JSON list: the feeds a start page named, the sitemaps an index named
        read_at TEXT,                    -- the last complete read (UTC ISO)
        checked_at TEXT,                 -- the last request, and what came of it:
        status INTEGER, outcome TEXT,    --   read | partial | not_modified | failed
        error TEXT,
        PRIMARY KEY (site, url)
    )""")
    db.execute("""CREATE TABLE robots_txt (
        url TEXT PRIMARY KEY,            -- scheme://host/robots.txt
        status INTEGER NOT NULL,         -- 2xx: body holds the rules; 4xx: missing, everything allowed
        body TEXT,
        etag TEXT, last_modified TEXT,
        fetched_at TEXT NOT NULL,        -- fetched or confirmed by a 304: reused for 24 h from here
        checked_at TEXT,                 -- the last request
        error TEXT                       -- why that request failed (the copy stood in)
    )""")


@migration("search_002_stems")
def _search_stems(db: sqlite3.Connection) -> None:
    # A second FTS5 index, of Arabic stems, beside the exact one (scraper/store/search.py says
    # why); both emptied and every article queued again, so the next search indexes the existing
    # rows. The stemmer that fills it is recorded in _search_state by that search, not here: which
    # stemmer is installed is not the schema's business.
    db.execute("""CREATE VIRTUAL TABLE articles_stems USING FTS5 (
        title, text, content='articles', tokenize="unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
    )""")
    db.execute("CREATE TABLE _search_state (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO articles_fts (articles_fts) VALUES ('delete-all')")
    db.execute("INSERT INTO articles_stems (articles_stems) VALUES ('delete-all')")
    db.execute("DELETE FROM _search_pending")
    db.execute("INSERT INTO _search_pending (article_id, indexed) SELECT id, 0 FROM articles")


@migration("006_queue_claims")
def _queue_claims(db: sqlite3.Connection) -> None:
    # Which worker was handed a queued URL and until when (scraper/store/runstate.py's claim): no
    # other worker gets it while the lease runs; a worker that dies leaves it to the next at its end.
    db.execute("ALTER TABLE queue ADD COLUMN claimed_by TEXT")
    db.execute("ALTER TABLE queue ADD COLUMN claimed_until TEXT")    # UTC ISO


@migration("007_work_tallies")
def _work_tallies(db: sqlite3.Connection) -> None:
    # What distributed workers report of one batch of work (an archive run, a WARC import, a
    # re-extraction) to the command that handed it out: counters they add to, and one-line notes
    # (failures, problems) in the order written. Kept until that command has read them.
    db.execute("""CREATE TABLE work_tallies (
        batch TEXT NOT NULL, name TEXT NOT NULL, n INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (batch, name))""")
    db.execute("""CREATE TABLE work_notes (
        id INTEGER PRIMARY KEY, batch TEXT NOT NULL, kind TEXT NOT NULL, note TEXT NOT NULL)""")
    db.execute("CREATE INDEX idx_work_notes_batch ON work_notes(batch, id)")


@migration("008_runs_deferred")
def _runs_deferred(db: sqlite3.Connection) -> None:
    # The URLs a run left queued for the next one (its time limit, --max, a host not due before its
    # end), counted in the queue as the run ends; they were counted as `skipped` before, with the
    # URLs robots.txt kept from it, and only those the run had handed to its fetchers.
    db.execute("ALTER TABLE runs ADD COLUMN deferred INTEGER")
