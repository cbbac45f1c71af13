"""Tests that run on one engine only, and a second connection to an archive as another tool has it."""
from __future__ import annotations

import sqlite3

import pytest

# The `archive` and `db_target` fixtures (conftest.py) run a test once per engine; these pin one.
sqlite_only = pytest.mark.parametrize("db_target", ["sqlite"], indirect=True)
postgresql_only = pytest.mark.parametrize("db_target", ["postgresql"], indirect=True)


class Other:
    """A connection of another tool (the sqlite3 shell, Datasette, psql) to the archive: autocommit,
    the store's placeholders (``?``) on both engines."""

    def __init__(self, archive):
        self.engine = archive.engine
        if archive.engine == "sqlite":
            self._conn = sqlite3.connect(archive.path, isolation_level=None)
        else:
            import psycopg

            self._conn = psycopg.connect(archive.target, autocommit=True)

    def execute(self, sql, params=()):
        if self.engine == "postgresql":
            from scraper.store.postgres import pg_sql

            sql = pg_sql(sql)
        return self._conn.execute(sql, params)

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
