"""The archive on PostgreSQL: the same schema as on SQLite, many writer processes at once (nothing
lost, nothing doubled; on both engines), the server's failures as one line, writes from other
tools found by search. Everything against a real server (conftest.py's pg_server)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from click.testing import CliRunner

from cli import EXIT_FAILED, EXIT_USAGE, cli
from scraper.errors import NoSuchArchive, StoreError
from scraper.store import Archive, migrations, pg_migrations, transfer
from scraper.store.postgres import pg_sql, shown
from scraper.store.search import pending_count, refresh, search
from scraper.store.textnorm import normalize
from tests.engines import Other, postgresql_only
from tests.synthetic import article, ids

REPO = Path(__file__).resolve().parents[1]


def test_both_engines_end_with_the_same_tables_and_columns(tmp_path, pg_url):
    """A migration appended to one engine's list and not the other's fails here."""
    with Archive.open(tmp_path / "a.db") as lite, Archive.open(pg_url) as pg:
        for table in transfer.TABLES:
            assert lite.columns(table) == pg.columns(table), table
        # pg_001_initial stands for SQLite's first eight; every later migration has one on each side.
        assert len(migrations.MIGRATIONS) - 8 == len(pg_migrations.MIGRATIONS) - 1


def test_placeholders_become_psycopgs_outside_quotes():
    assert pg_sql("SELECT a FROM t WHERE b = ? AND c = :name AND d LIKE '%x?%' AND e::text = \"q:n\"") == \
        "SELECT a FROM t WHERE b = %s AND c = %(name)s AND d LIKE '%%x?%%' AND e::text = \"q:n\""
    with pytest.raises(ValueError):
        pg_sql("INSERT OR IGNORE INTO t VALUES (1)")
    assert shown("postgresql://u:secret@h:5/db?password=x&sslmode=require") == "postgresql://u@h:5/db?sslmode=require"


# -- many processes at once ------------------------------------------------------------------------

WRITER = """
import json, sys
from scraper.models import Found
from scraper.store import Archive, runstate
from scraper.store.search import refresh
from tests.synthetic import article

target, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with Archive.open(target, busy_timeout=60) as archive:
    urls = [f"https://news.example.ae/a/{i}" for i in range(n)]
    mine = urls[k * 7 % n:] + urls[:k * 7 % n]              # every process queues them all, its own order
    for start in range(0, n, 10):
        runstate.enqueue(archive, "gulf", [Found(u, "feed", "", None, None) for u in mine[start:start + 10]])
    got = []
    while batch := runstate.claim(archive, ["gulf"], 3, worker=f"w{k}"):
        for item in batch:
            i = int(item.url.rsplit("/", 1)[1])
            archive.save(article(i, f"title {i}", f"نص الخبر {i}"))
            runstate.mark_done(archive, item.url, "gulf")
            got.append(item.url)
    for i in range(20):                                      # the same 20 articles, each process its version
        archive.save(article(1000 + i, "shared", f"نسخة{k} من الخبر {i}"))
    refresh(archive)
    print(json.dumps(got))
"""


def test_concurrent_writers_lose_nothing_and_double_nothing(db_target):
    """Four processes queue the same URLs, claim them, save what they claimed, save their own
    version of the same 20 articles and index them, all at once."""
    Archive.open(db_target).close()          # the schema first: the race is the writers', not the migrations'
    n, workers = 60, 4
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db_target, str(k), str(n)], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(workers)]
    outputs = [p.communicate(timeout=240) for p in procs]
    assert [p.returncode for p in procs] == [0] * workers, [err[-2000:] for _, err in outputs]
    claimed = [json.loads(out) for out, _ in outputs]
    every = [url for got in claimed for url in got]
    assert sorted(every) == sorted(f"https://news.example.ae/a/{i}" for i in range(n))   # each URL claimed once
    with Archive.open(db_target) as archive:
        assert archive.scalar("SELECT count(*) FROM articles WHERE title LIKE 'title %'") == n
        assert archive.query("SELECT state, count(*) AS n, count(claimed_by) AS claimed FROM queue GROUP BY state") == \
            [{"state": "done", "n": n, "claimed": 0}]
        shared = archive.query("SELECT id, text FROM articles WHERE title = 'shared' ORDER BY id")
        assert len(shared) == 20
        for row in shared:
            versions = archive.history(archive.key_url(row["id"]))
            # four saves of four texts: the first saved, three updates, every version kept once
            assert len(versions) == 4 and len({v["content_hash"] for v in versions}) == 4
            assert Counter(v["text"].split()[0] for v in versions) == Counter(f"نسخة{k}" for k in range(workers))
        assert pending_count(archive) == 0
        for row in shared:                   # the index holds each article's last text, not an earlier one
            assert row["id"] in ids(search(archive, f'"{normalize(row["text"])}"', exact=True))
        assert archive.scalar("SELECT count(*) FROM articles") == n + 20


def test_a_text_written_while_its_article_is_being_indexed_is_the_one_searched(pg_url):
    """The indexer runs while a writer's transaction that changed an article already queued is open:
    the text searched in the end is the committed one. (The window the concurrent writers above
    once hit, one run in a few, lies inside one statement of the indexer and cannot be forced from
    here: that test is the one that catches it.)"""
    url = article(1, "", "").url
    with Archive.open(pg_url) as writer, Archive.open(pg_url) as indexer:
        writer.save(article(1, "t", "النسخة الاولى من الخبر"))
        refresh(writer)
        writer.save(article(1, "t", "النسخة الثانية من الخبر"))       # queued again, not yet indexed
        article_id = writer.scalar("SELECT id FROM articles WHERE url = ?", [url])
        worker = threading.Thread(target=refresh, args=(indexer,))
        with writer.transaction() as tx:
            tx.execute("UPDATE articles SET text = ? WHERE id = ?", ["النسخة الثالثة من الخبر", article_id])
            worker.start()
            worker.join(1.5)            # the indexer runs (or waits) while the new text is uncommitted
        worker.join(60)
        assert not worker.is_alive()
        refresh(indexer)
        assert pending_count(indexer) == 0
        for text, found in (("النسخة الثالثة من الخبر", True), ("النسخة الثانية من الخبر", False)):
            assert (article_id in ids(search(indexer, f'"{normalize(text)}"', exact=True))) is found, text


# -- the server's failures, one line each ------------------------------------------------------------

def test_unreachable_server_missing_database_and_passwords_in_messages(tmp_path, pg_server):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        closed = f"postgresql://someone:hunter2@127.0.0.1:{free.getsockname()[1]}/news"
    runner = CliRunner()
    for command in (["search", "x"], ["stats"], ["fetch", str(tmp_path / "p.html"), "--url", "https://x.ae/1"]):
        result = runner.invoke(cli, [*command, "--db", closed])
        assert result.exit_code == EXIT_FAILED, result.output
        assert len(result.output.strip().splitlines()) == 1 and "cannot reach" in result.output
        assert "hunter2" not in result.output
    missing = pg_server.url("scraper_no_such_database")
    result = runner.invoke(cli, ["stats", "--db", missing])
    assert result.exit_code == EXIT_USAGE and "createdb scraper_no_such_database" in result.output
    with pytest.raises(NoSuchArchive):
        Archive.open(missing)


@postgresql_only
def test_reading_commands_do_not_make_an_archive_of_an_empty_database(db_target):
    result = CliRunner().invoke(cli, ["search", "x", "--db", db_target])
    assert result.exit_code == EXIT_USAGE and "holds no archive yet" in result.output
    with psycopg.connect(db_target) as conn:
        assert conn.execute("SELECT to_regclass('articles')").fetchone()[0] is None


@postgresql_only
def test_a_row_lock_held_past_the_busy_timeout_is_database_busy(db_target):
    with Archive.open(db_target) as archive:
        archive.save(article(1, "t", "نص"))
    with psycopg.connect(db_target) as other:             # another process holds the article's row
        other.execute("SELECT * FROM articles WHERE id = 1 FOR UPDATE")
        with Archive.open(db_target, busy_timeout=0.5) as archive:
            with pytest.raises(StoreError, match="locked for more than 0.5 s"):
                archive.save(article(1, "t", "نص آخر"))
        other.rollback()


def test_the_urls_own_options_hold_two_archives_in_two_schemas_of_one_database(pg_url):
    # libpq's options in the URL (a search_path: an archive in a schema of its own) hold alongside
    # the store's own (lock_timeout, from the busy timeout).
    parts = urlsplit(pg_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "options"] + [("options", "-c search_path=second_archive")]
    second = urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA second_archive")
    try:
        with Archive.open(pg_url) as first, Archive.open(second, busy_timeout=0.5) as other:
            first.save(article(1, "أول", "نص الأول"))
            other.save(article(2, "ثان", "نص الثاني"))
            assert [r["url"] for r in first.query("SELECT url FROM articles")] == [article(1, "", "").url]
            assert [r["url"] for r in other.query("SELECT url FROM articles")] == [article(2, "", "").url]
            assert other.scalar("SELECT current_schema()") == "second_archive"
            assert other.scalar("SELECT current_setting('lock_timeout')") == "500ms"
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA second_archive CASCADE")


# -- search: writes from any tool, the stemmer, the same hits --------------------------------------------

@postgresql_only
def test_writes_from_psql_are_found_by_the_next_search(archive):
    archive.save(article(1, "سياسة", "الرئيس يزور المدينة"))
    archive.save(article(2, "اقتصاد", "البنك المركزي"))
    refresh(archive)
    with Other(archive) as other:            # psql, an admin tool: no Python, no normalisation
        other.execute("UPDATE articles SET text = 'الرئيس يفتتح المستشفى' WHERE id = 1")
        other.execute("DELETE FROM url_aliases WHERE article_id = 2")
        other.execute("DELETE FROM articles WHERE id = 2")
        other.execute("INSERT INTO articles (id, url, title, text) VALUES (3, 'https://x.ae/3', 'جديد', 'ملعب')")
    assert ids(search(archive, "يزور")) == []
    assert ids(search(archive, "المستشفي")) == [1]
    assert ids(search(archive, "البنك")) == []
    assert ids(search(archive, "ملعب")) == [3]


@postgresql_only
def test_another_stemmer_rebuilds_the_index(archive):
    archive.save(article(1, "a", "والحكومة"))
    archive.save(article(2, "b", "كتابها"))
    refresh(archive)
    with archive.transaction() as tx:        # as if another stemmer version had built this index
        tx.execute("UPDATE _search_state SET value = 'arabic rules-0 other-1.0' WHERE key = 'stemmer'")
        tx.execute("UPDATE article_search SET stems = CAST('''x''' AS tsvector)")
    assert refresh(archive) == 2
    assert ids(search(archive, "حكومة")) == [1] and ids(search(archive, "كتاب")) == [2]
    assert refresh(archive) == 0


QUERIES = ["حكومة", "الحكومة", '"الحكومة المصرية"', "وزير OR مدرسة", "حكومة NOT مصر", "title:تقرير",
           "الحكو*", "NEAR(الحكومة وزير, 3)", "NEAR(حكومة وزير مدرسة, 6)", "^قالت", "-title:حكومة", "كتاب AND (مدرسة OR وزير)",
           '{title text}:"وزير التعليم"', "2015", "cafe"]


def test_the_same_hits_and_snippets_on_both_engines(tmp_path, pg_url):
    import random

    rng = random.Random(3)
    words = ("الحكومة والحكومة حكومات الحكومية المصرية مصر وزير الوزير وزارة مدرسة المدارس كتاب كتابها كاتب "
             "قالت التعليم تقرير ٢٠١٥ Café").split()
    with Archive.open(tmp_path / "a.db") as lite, Archive.open(pg_url) as pg:
        for n in range(1, 121):
            title = " ".join(rng.choice(words) for _ in range(rng.randint(1, 4)))
            text = " ".join(rng.choice(words) for _ in range(rng.randint(3, 60)))
            published = None if n % 9 == 0 else f"20{10 + n % 15}-0{1 + n % 9}-1{n % 10}"
            for archive in (lite, pg):
                archive.save(article(n, title, text, published, site="gulf" if n % 3 else "levant"))
        for query in QUERIES:
            for options in ({}, {"exact": True}, {"site": "levant", "since": "2015-01-01"}, {"limit": 5}):
                chosen = {"limit": 200} | options
                a, b = search(lite, query, **chosen), search(pg, query, **chosen)
                assert [(h.id, h.snippet) for h in a] == [(h.id, h.snippet) for h in b], (query, options)
            ranked_a, ranked_b = search(lite, query, rank=True, limit=200), search(pg, query, rank=True, limit=200)
            assert sorted(ids(ranked_a)) == sorted(ids(ranked_b)), query


def test_cli_on_both(archive, tmp_path):
    """Every command that takes --db, on each engine (the others' own tests run on both too)."""
    page = tmp_path / "page.html"
    page.write_text("<html lang='ar'><head><title>خبر</title></head><body><article><h1>خبر اليوم</h1><p>"
                    + "قالت مصادر مطلعة إن المشروع الجديد سيبدأ في المرحلة المقبلة. " * 8 + "</p></article></body></html>",
                    encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(cli, ["fetch", str(page), "--url", "https://news.example.ae/a/2", "--db", archive.target])
    assert result.exit_code == 0, result.output
    archive.save(article(1, "الإمارات تستضيف القمة", "قالت مصادر إن الإمارات تستضيف", "2024-02-01"))
    for command in (["search", "الامارات"], ["stats"], ["export"], ["show", "https://news.example.ae/a/1"],
                    ["show", "https://news.example.ae/a/2", "--history"], ["sites"], ["reextract", "--dry-run"],
                    ["extract", str(page), "--url", "https://news.example.ae/a/2", "--templates", archive.target]):
        result = runner.invoke(cli, [*command] + ([] if command[0] == "extract" else ["--db", archive.target]))
        assert result.exit_code == 0, (command, result.output)
    assert "المشروع الجديد" in runner.invoke(cli, ["show", "https://news.example.ae/a/2", "--db", archive.target]).output


def test_a_search_stops_at_its_time_limit_on_both(archive):
    """A search past --max-time stops with one line and exit 3, on either engine (issue 11)."""
    from tests.synthetic import prose

    for n in range(1, 401):
        archive.save(article(n, f"خبر {n}", " ".join(prose(n, paragraphs=4, words=60))))
    refresh(archive)
    heavy = " OR ".join(f"{word[:3]}*" for word in ("الحكومة", "المشروع", "المدينة", "القطاع", "الخطة",
                                                    "التنمية", "الاقتصاد", "التعليم", "الصحة", "النقل") * 3)
    assert search(archive, heavy, rank=True, exact=True, limit=5)          # it has hits, given the time
    from scraper.store.search import SearchTimeout

    with pytest.raises(SearchTimeout, match="time limit"):
        search(archive, heavy, rank=True, exact=True, max_time=0.0005)
    result = CliRunner().invoke(cli, ["search", heavy, "--rank", "--exact", "--max-time", "0.0005",
                                      "--db", archive.target])
    assert result.exit_code == EXIT_FAILED and len(result.output.strip().splitlines()) == 1
    assert "time limit" in result.output
    assert search(archive, "خبر", limit=3)                   # the archive answers the next search as before


def test_long_and_deep_queries_answer_alike_on_both(archive):
    """A thousand words, ORs or NOTs are an answer on either engine (PostgreSQL's query tree was as deep
    as the query was long, past Python's recursion limit); nesting past MAX_NESTING is one line and exit 2
    on both, so neither engine's own limit decides (FTS5 overflows somewhere between 30 and 97 levels)."""
    from scraper.store.ftsquery import MAX_NESTING

    archive.save(article(1, "خبر اليوم", "قالت مصادر إن الوزير زار المدرسة"))
    archive.save(article(2, "تقرير", "قالت مصادر إن الحكومة وافقت على الخطة"))
    refresh(archive)
    many = ["قالت"] * 1000
    assert sorted(ids(search(archive, " ".join(many)))) == [1, 2]
    assert sorted(ids(search(archive, " OR ".join(["غائب"] * 999 + ["الوزير"])))) == [1]
    assert ids(search(archive, " NOT ".join(["قالت"] + ["الحكومة", "غائب"] * 500))) == [1]
    assert sorted(ids(search(archive, " ".join(many), quote=True))) == [1, 2]
    deepest = "(" * MAX_NESTING + "الخطة" + ")" * MAX_NESTING
    assert ids(search(archive, deepest)) == [2]
    for query in ("(" + deepest + ")", "(" * 1000 + "الخطة" + ")" * 1000):
        result = CliRunner().invoke(cli, ["search", query, "--db", archive.target])
        assert result.exit_code == EXIT_USAGE and len(result.output.strip().splitlines()) == 1, result.output


def test_a_claim_for_one_host_takes_that_hosts_urls_only(archive):
    """A host's turn on workers claims its site's URLs on that host: www. or not, any port; not
    another host that merely starts alike, nor one that LIKE's wildcards would let in."""
    from scraper.models import Found
    from scraper.store import runstate

    urls = ["http://a_b.example/1", "https://www.a_b.example:8080/2", "http://axb.example/3",
            "http://a_b.example.org/4", "http://sub.a_b.example/5", "https://a_b.example/6"]
    runstate.enqueue(archive, "spread", [Found(url, "sitemap", "x") for url in urls])
    assert runstate.due_hosts(archive, "spread") == {"a_b.example", "axb.example", "a_b.example.org",
                                                     "sub.a_b.example"}
    claimed = runstate.claim(archive, ["spread"], 10, worker="w", host="a_b.example")
    assert [task.url for task in claimed] == ["http://a_b.example/1", "https://www.a_b.example:8080/2",
                                              "https://a_b.example/6"]
    assert runstate.claim(archive, ["spread"], 10, worker="w", host="a_b.example") == []     # leased now
    assert [t.url for t in runstate.claim(archive, ["spread"], 10, worker="w", host="axb.example")] == \
        ["http://axb.example/3"]
