"""`scraper copy SRC DST`: an archive moved between engines (SQLite file <-> PostgreSQL), row for row.

Every table that holds data is copied with every column and its ids (so the links between them,
articles.page_id, revisions.article_id, fetch_log.run_id..., hold as they were) in one transaction
on the destination: a copy stopped by an error, a full disk or Ctrl-C leaves the destination as it
was. The destination must hold no data: a copy never merges two archives (ids would collide and
two rows could claim one URL), so it refuses at once and changes nothing. What is not copied is
what each engine keeps for itself: its migrations' record (both archives are at their engine's
latest schema once opened) and the search index, which the destination rebuilds from the copied
articles (its triggers queued every one; ``copy`` indexes them before it returns).
"""
from __future__ import annotations

import os
from typing import Callable, Iterator

from ..errors import StoreError
from .archive import Archive

# In an order that meets the keys: articles before what points to them (articles.page_id points
# the other way and is checked at commit).
TABLES = ("articles", "pages", "url_aliases", "revisions", "fetch_log", "runs", "queue", "listings",
          "robots_txt", "site_templates")
# The columns each engine hides: SQLite's implicit rowid of the queue (the order URLs were queued).
HIDDEN = {"queue": ("rowid",)}
ORDER = {"url_aliases": "url", "queue": "rowid", "listings": "site, url", "robots_txt": "url",
         "site_templates": "site"}
BATCH = {"pages": 50}                 # raw pages are large: fewer at a time
DEFAULT_BATCH = 500


class DestinationNotEmpty(StoreError):
    """The destination archive already holds data: nothing was copied."""


def _same(a: str, b: str) -> bool:
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def columns(archive: Archive, table: str) -> list[str]:
    return [*HIDDEN.get(table, ()), *archive.columns(table)]


def table_rows(archive: Archive, table: str) -> Iterator[dict]:
    """Every row of a data table, every column (the hidden rowid of the queue first), in key order."""
    names = ", ".join(f'"{name}"' if name != "rowid" else name for name in columns(archive, table))
    return archive.rows(f"SELECT {names} FROM {table} ORDER BY {ORDER.get(table, 'id')}")


def counts(archive: Archive) -> dict[str, int]:
    return {table: archive.scalar(f"SELECT count(*) FROM {table}") for table in TABLES}


def copy(source: Archive, destination: Archive, *,
         progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Copy every data table of ``source`` into the empty ``destination``; {table: rows copied}."""
    if _same(source.target, destination.target):
        raise DestinationNotEmpty(f"{destination.target} is the source itself: nothing was copied")
    held = {table: n for table, n in counts(destination).items() if n}
    if held:
        what = ", ".join(f"{n} {table}" for table, n in held.items())
        raise DestinationNotEmpty(f"the destination already holds data ({what}): copy into an empty "
                                  "archive (a new file, or a new database); nothing was copied")
    for table in TABLES:
        if columns(source, table) != columns(destination, table):
            raise StoreError(f"the {table} tables differ between the two archives ({columns(source, table)} "
                             f"against {columns(destination, table)}): open both with this version first")
    copied: dict[str, int] = {}
    with destination.transaction() as tx:
        destination.database.defer_foreign_keys(tx)
        for table in TABLES:
            names = columns(source, table)
            sql = (f"INSERT INTO {table} ({', '.join(names)}) "
                   f"VALUES ({', '.join('?' for _ in names)})")
            size = BATCH.get(table, DEFAULT_BATCH)
            batch: list[list] = []
            copied[table] = 0
            for row in table_rows(source, table):
                batch.append([row[name] for name in names])
                if len(batch) == size:
                    tx.executemany(sql, batch)
                    copied[table] += len(batch)
                    batch = []
                    if progress:
                        progress(table, copied[table])
            if batch:
                tx.executemany(sql, batch)
                copied[table] += len(batch)
            if progress:
                progress(table, copied[table])
        destination.database.after_copy(tx, TABLES)
    return copied
