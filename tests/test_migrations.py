"""Migrations: an archive left at any earlier migration level, or written by the previous release's own
code, opens, upgrades and ends with exactly the schema a new archive has; opening imports no table
owner's logic (the migrations hold their SQL, frozen)."""
from __future__ import annotations

import gzip
import io
import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from scraper.pipeline import template_for
from scraper.store import Archive, migrations
from scraper.store.search import TOKENIZE, search
from scraper.store.stats import collect
from scraper.use.export import export
from scraper.use.reextract import reextract
from tests.synthetic import article

REPO = Path(__file__).resolve().parents[1]
RELEASE = Path(__file__).parent / "fixtures" / "archives" / "7d01ff6.db.gz"   # make_release_archive.py


def schema(path) -> list[tuple]:
    """Every table, index, trigger and virtual table, as SQLite keeps its definition."""
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()


@pytest.fixture(scope="module")
def new_schema(tmp_path_factory):
    path = tmp_path_factory.mktemp("new") / "new.db"
    Archive.open(path).close()
    return schema(path)


LEVELS = [name for name, _ in migrations.MIGRATIONS]


@pytest.mark.parametrize("level", range(len(LEVELS)), ids=["empty"] + LEVELS[:-1])
def test_an_archive_at_every_earlier_level_ends_with_the_new_schema(tmp_path, level, new_schema):
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert migrations.migrate(conn, migrations.MIGRATIONS[:level]) == LEVELS[:level]
        if level:   # an article written at that level, which every later migration must carry along
            conn.execute("INSERT INTO articles (url, site, title, text, tags) VALUES "
                         "('https://x.ae/1', 'x.ae', 'بيان الحكومة', 'قالت والحكومة إن الخطة جاهزة', '[]')")
    with Archive.open(path) as archive:
        assert list(archive.migrations()) == LEVELS
        assert [hit.url for hit in search(archive, "حكومة")] == (["https://x.ae/1"] if level else [])
    assert schema(path) == new_schema


def test_an_archive_written_by_the_previous_release_opens_and_upgrades(tmp_path, new_schema):
    path = tmp_path / "release.db"
    path.write_bytes(gzip.decompress(RELEASE.read_bytes()))
    with Archive.open(path) as archive:
        assert list(archive.migrations()) == LEVELS
        records = archive.query("SELECT url, site FROM articles ORDER BY id")
        assert len(records) == 8 and {r["site"] for r in records} == {"local", "khaleej.example"}
        undated = archive.get(records[2]["url"])                # its date came from the feed
        assert undated["published"] == "2024-03-28T03:00:00+00:00"
        assert undated["provenance"]["published"].startswith("feed http://127.0.0.1:")
        assert len(archive.history(records[0]["url"])) == 1
        assert {hit.site for hit in search(archive, "حكومة")} == {"local", "khaleej.example"}
        assert template_for(archive, "khaleej.example", learn=False) is not None
        data = collect(archive)
        assert data["totals"]["articles"] == 8 and data["totals"]["runs"] == 1
        out = io.StringIO()
        assert export(archive, out, "jsonl") == 8
        assert json.loads(out.getvalue().splitlines()[0])["provenance"]
        report = reextract(archive, dry_run=True)
        assert (report.checked, report.failed) == (8, 0)
        assert archive.save(article(99, "جديد", "نص جديد")).outcome == "saved"
    assert schema(path) == new_schema


def test_the_search_index_is_built_with_the_tokenizer_search_describes(tmp_path):
    """The migrations froze the tokenizer's text; search.py explains it. They must be the same one."""
    with Archive.open(tmp_path / "a.db") as archive:
        for table in ("articles_fts", "articles_stems"):
            assert TOKENIZE in archive.scalar("SELECT sql FROM sqlite_master WHERE name = ?", [table])


def test_opening_an_archive_imports_no_table_owner(tmp_path):
    """The migrations are SQL written out: opening an archive loads no other store module (the
    extractor is loaded by the package's face, `from scraper import extract`, whatever is imported)."""
    code = (f"import sys\nfrom scraper.store.archive import Archive\nArchive.open({str(tmp_path / 'a.db')!r}).close()\n"
            "print(sorted(m for m in sys.modules if m.startswith('scraper.')))\n")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    modules = set(eval(loaded.stdout))
    store = {m for m in modules if m.startswith("scraper.store.")}
    assert store == {"scraper.store.archive", "scraper.store.migrations", "scraper.store.rows",
                     "scraper.store.sqlite"}, store
