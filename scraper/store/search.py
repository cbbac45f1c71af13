"""Full-text search of the archive: an FTS5 index of normalised title and text, and the queries on it.

How the index is kept (and why this way):

* ``articles_fts`` is an FTS5 table with ``content=[articles]``, the form sqlite-utils'
  ``enable_fts`` creates, so ``datasette archive.db`` shows a search box on ``articles`` and
  ``sqlite-utils search archive.db articles ...`` works, with no plugin and no extra config.
* What it indexes is not the raw text but ``textnorm.normalize(title/text)``: «الإمارات» is indexed
  as «الامارات», «دَاعِش» as «داعش». FTS5 still reads the original text from ``articles`` for
  ``snippet()``, which works because normalisation never moves token boundaries.
* Normalisation is Python, which SQLite triggers cannot call without a registered function, and
  Datasette (or the sqlite3 shell, or sqlite-utils) would not have it: a write from any of them would
  fail with "no such function". So the triggers on ``articles`` are plain SQL and only *queue* the
  change in ``_search_pending`` (article id, and the old title/text the index holds for it);
  ``refresh()`` drains the queue in Python: removes the old entry (FTS5 needs the exact indexed
  values to delete, which is normalize(old text) again) and indexes the new one. Every search
  refreshes first, so results are always current, whoever wrote the rows and through which tool.
* The queue keeps only the first pending change of an article (INSERT OR IGNORE): its old values
  are what the index holds, whatever happened after.

Queries are normalised the same way (operators AND/OR/NOT/NEAR and quoted phrases kept).

Arabic stems (search_002_stems): a second FTS5 table, ``articles_stems``, indexes the same two
columns with every Arabic word replaced by its light stem (scraper/store/stems.py), so «حكومة» finds
«والحكومة», «للحكومة», «حكومات». It is a table of its own rather than two more columns of
``articles_fts`` because an external-content FTS5 table reads every one of its columns from the
content table by name: two more columns would have to exist in ``articles`` (and so in Datasette's
view, in exports, in ``SELECT *``). Its content is ``articles`` too, so snippet() cuts the original
text, which works because stemming, like normalisation, keeps token positions. ``articles_fts``
is left as it was: Datasette's search box and ``sqlite-utils search`` find it first (the stems
table names its content in a form their detection does not look for), and their users, who type
plain spellings and cannot stem them, find written forms there; ``search(exact=True)`` does the
same. Both tables are fed by the one queue. The stemmer's ``SIGNATURE`` is kept in
``_search_state``: a different stemmer would delete other stems than it indexed, so refresh()
re-indexes everything when it changes.
"""
from __future__ import annotations

from datetime import date

from ..errors import QueryError, QueryTimeout
from . import pgsearch
from .archive import Archive, Transaction, article_filter
from .ftsquery import (BadQuery, Hit, QuerySyntax, SearchTimeout, check_nesting, parse_day, prepare_query,
                       quoting_hint)
from .stems import SIGNATURE, stem_text
from .textnorm import normalize

__all__ = ["BadQuery", "SearchTimeout", "Hit", "prepare_query", "refresh", "rebuild", "pending_count", "search", "TOKENIZE"]

FTS_TABLE = "articles_fts"
PENDING_TABLE = "_search_pending"
STEM_TABLE = "articles_stems"
STATE_TABLE = "_search_state"
# Marks (M*) count as word characters: the default (L* N* Co) splits «دَاعِش» at every haraka, so
# the original text would tokenize differently from its normalised copy. remove_diacritics 2 lets a
# Datasette user's Latin query fold like ours does.
TOKENIZE = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
TITLE_WEIGHT = 4.0  # bm25: a word in the title counts as much as four in the body
_REFRESH_BATCH = 500  # articles indexed per write transaction: a concurrent writer never waits long


def queue_everything(tx: Transaction) -> None:
    """Empty the indexes and queue every article, recording the stemmer that will index them (inside
    the caller's transaction); the next refresh() indexes them all again. A change of textnorm's
    mapping needs a new migration doing the same."""
    for table in (FTS_TABLE, STEM_TABLE):
        tx.execute(f"INSERT INTO {table} ({table}) VALUES ('delete-all')")
    tx.execute(f"DELETE FROM {PENDING_TABLE}")
    tx.execute(f"INSERT INTO {PENDING_TABLE} (article_id, indexed) SELECT id, 0 FROM articles")
    tx.execute(f"INSERT OR REPLACE INTO {STATE_TABLE} (key, value) VALUES ('stemmer', ?)", [SIGNATURE])


def _stemmer_changed(reader: Archive | Transaction) -> bool:
    """Whether the stems index was built by another stemmer than ours (or by none yet)."""
    return reader.scalar(f"SELECT value FROM {STATE_TABLE} WHERE key = 'stemmer'") != SIGNATURE


def _index_values(title: str | None, text: str | None) -> tuple[tuple, tuple]:
    """(exact, stems): what each index holds for a title and text."""
    title, text = normalize(title), normalize(text)
    return (title, text), (stem_text(title), stem_text(text))


def refresh(archive: Archive) -> int:
    """Index what the triggers queued; return how many articles were (re)indexed or removed.
    Nothing on an archive opened read-only: what is queued stays unsearched until a writer's search."""
    if archive.engine == "postgresql":
        return pgsearch.refresh(archive)
    if archive.read_only:
        return 0
    done = 0
    if _stemmer_changed(archive):  # another stemmer built this index: its stems cannot be deleted
        with archive.transaction() as tx:
            if _stemmer_changed(tx):  # re-checked under the write lock: one process re-queues
                queue_everything(tx)
    # Look before taking the write lock: a search while a cron run writes must not queue behind it.
    if archive.scalar(f"SELECT 1 FROM {PENDING_TABLE} LIMIT 1") is None:
        return done
    while True:
        with archive.transaction() as tx:
            rows = tx.query(
                f"SELECT p.article_id, p.indexed, p.old_title, p.old_text, a.id, a.title, a.text "
                f"FROM {PENDING_TABLE} p LEFT JOIN articles a ON a.id = p.article_id "
                f"ORDER BY p.article_id LIMIT {_REFRESH_BATCH}")
            if not rows:
                return done
            old = [(row["article_id"], *_index_values(row["old_title"], row["old_text"]))
                   for row in rows if row["indexed"]]
            new = [(row["id"], *_index_values(row["title"], row["text"])) for row in rows if row["id"] is not None]
            for table, which in ((FTS_TABLE, 0), (STEM_TABLE, 1)):
                tx.executemany(f"INSERT INTO {table} ({table}, rowid, title, text) VALUES ('delete', ?, ?, ?)",
                               [(rowid, *values[which]) for rowid, *values in old])
                tx.executemany(f"INSERT INTO {table} (rowid, title, text) VALUES (?, ?, ?)",
                               [(rowid, *values[which]) for rowid, *values in new])
            tx.executemany(f"DELETE FROM {PENDING_TABLE} WHERE article_id = ?",
                           [(row["article_id"],) for row in rows])
        done += len(rows)


def rebuild(archive: Archive) -> int:
    """Index every article again (after ``sqlite-utils rebuild-fts`` filled the index with the raw
    text, for instance); return the number of articles."""
    if archive.engine == "postgresql":
        return pgsearch.rebuild(archive)
    with archive.transaction() as tx:
        queue_everything(tx)
    return refresh(archive)


def pending_count(archive: Archive) -> int:
    """Articles written since the last search and not indexed yet (the next search indexes them)."""
    if archive.engine == "postgresql":
        return pgsearch.pending_count(archive)
    return archive.scalar(f"SELECT count(*) FROM {PENDING_TABLE}")


# -- queries -------------------------------------------------------------------------------------

def search(archive: Archive, query: str, *, site: str | None = None, since: str | date | None = None,
           until: str | date | None = None, limit: int = 20, rank: bool = False,
           quote: bool = False, exact: bool = False,
           highlight: tuple[str, str] = ("[", "]"), max_time: float | None = None) -> list[Hit]:
    """Articles matching ``query``, newest first (by ``published``) or, with ``rank``, best first.

    Arabic words match every form with the same stem («حكومة»: «والحكومة», «حكومات»...);
    ``exact`` matches only the written (normalised) forms, as Datasette's search box does.

    ``since``/``until`` are inclusive days compared with the published date as the page wrote it
    (its own time zone); articles without a date are left out by them, and listed last otherwise.
    ``max_time`` (seconds) stops the search there with SearchTimeout (indexing pending articles
    first is not counted).
    """
    if archive.engine == "postgresql":
        return pgsearch.search(archive, query, site=site, since=since, until=until, limit=limit, rank=rank,
                               quote=quote, exact_forms=exact, highlight=highlight, max_time=max_time)
    fts_query = prepare_query(query, quote=quote, stem=not exact)
    table = FTS_TABLE if exact else STEM_TABLE
    if not fts_query:
        raise BadQuery("empty search query: give at least one word")
    try:
        check_nesting(fts_query)   # PostgreSQL's search refuses the same queries (pgsearch.parse)
    except QuerySyntax as exc:
        raise quoting_hint(query, str(exc)) from None
    first, last = parse_day(since, "since"), parse_day(until, "until")
    refresh(archive)
    selected, params = article_filter(site, first, last, table="a")
    where = [f"{table} MATCH :q", *selected]
    params.update(q=fts_query, limit=limit)
    # bm25 costs a computation per match: only when ranking by it.
    score = f"bm25({table}, {TITLE_WEIGHT}, 1.0)" if rank else "NULL"
    order = "score" if rank else "a.published IS NULL, a.published DESC, a.id DESC"
    sql = (f"SELECT a.id, a.url, a.site, a.title, a.published, {score} AS score "
           f"FROM {table} JOIN articles a ON a.id = {table}.rowid "
           f"WHERE {' AND '.join(where)} ORDER BY {order} LIMIT :limit")
    # Snippets are cut only for the rows shown: in the main query SQLite would compute one for
    # every match before sorting.
    snippet_sql = (f"SELECT snippet({table}, 1, ?, ?, '…', 24) FROM {table} "
                   f"WHERE {table} MATCH ? AND rowid = ?")
    try:
        with archive.time_limit(max_time):
            rows = archive.query(sql, params)
            return [Hit(id=row["id"], url=row["url"], site=row["site"], title=row["title"],
                        published=row["published"],
                        snippet=archive.scalar(snippet_sql, [*highlight, fts_query, row["id"]]) or "",
                        score=round(row["score"], 4) if rank else None)
                    for row in rows]
    except QueryTimeout:
        raise SearchTimeout(max_time) from None
    except QueryError as exc:
        if _is_query_error(exc.detail):
            raise quoting_hint(query, exc.detail) from None
        raise


def _is_query_error(message: str) -> bool:
    """Whether SQLite refused the statement for its MATCH expression (what the user typed)."""
    return any(m in message for m in ("fts5", "syntax error", "unterminated string",
                                      "no such column", "unknown special query"))
