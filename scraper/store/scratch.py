"""What one `scraper discover` finds, kept on disk while it is found: every URL once, with each
listing that named it, in the order first found, whatever the number (a sitemap of millions).

A dict of a million Found records costs about half a gigabyte; this table costs SQLite's page
cache (2 MB) and a temporary file that is gone when the set is closed. Not the archive: nothing
here outlives the command.
"""
from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Iterable, Iterator

from ..models import Found

_FETCH = 1000           # rows read back at a time


class FoundSet:
    """``add`` batches of Found as discovery sends them; iterate for (url, listings) once each."""

    def __init__(self):
        self._folder = tempfile.TemporaryDirectory(prefix="scraper-found-")
        self._db = sqlite3.connect(Path(self._folder.name) / "found.db", isolation_level=None)
        self._db.execute("PRAGMA journal_mode = OFF")      # scratch: nothing to recover after a crash
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE found (n INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE, "
                         "listings TEXT NOT NULL)")

    def add(self, items: Iterable[Found]) -> None:
        rows = [(item.url, "\t".join([f"{item.source} {item.source_url}", *item.also])) for item in items]
        with self._db:
            self._db.execute("BEGIN")
            # A URL met again: its new listings are added after the ones it already had.
            self._db.executemany("INSERT INTO found (url, listings) VALUES (?, ?) ON CONFLICT (url) "
                                 "DO UPDATE SET listings = listings || char(9) || excluded.listings", rows)

    def __iter__(self) -> Iterator[tuple[str, list[str]]]:
        after = 0
        while True:
            rows = self._db.execute("SELECT n, url, listings FROM found WHERE n > ? ORDER BY n LIMIT ?",
                                    [after, _FETCH]).fetchall()
            if not rows:
                return
            for after, url, listings in rows:
                yield url, listings.split("\t")

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM found").fetchone()[0]

    def close(self) -> None:
        self._db.close()
        self._folder.cleanup()

    def __enter__(self) -> "FoundSet":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
