"""`scraper copy`: an archive from SQLite to PostgreSQL and back loses nothing, every table that holds
data equal row for row, raw pages included; a destination that holds data is refused untouched."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from cli import EXIT_OK, EXIT_USAGE, cli
from scraper.models import Found, Page, RobotsCopy
from scraper.store import Archive, listings, runstate, site_templates, transfer
from scraper.store.search import search
from tests.synthetic import article, ids

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def page(n: int, body: str, at: datetime = T0) -> Page:
    url = f"https://news.example.ae/a/{n}"
    raw = f"<html><body><p>{body}</p></body></html>".encode()
    return Page(url=url, final_url=url, status=200, headers={"Content-Type": "text/html; charset=utf-8",
                                                              "ETag": f'"e{n}"'},
                body=raw, html=raw.decode(), encoding="utf-8", fetched_at=at)


def fill(archive: Archive) -> None:
    """Something in every table that holds data: articles with raw pages and revisions, aliases,
    the fetch log, runs, the queue in every state (one claimed), listings, robots.txt, a template."""
    for n in range(1, 31):
        text = f"خبر رقم {n} عن الحكومة والاقتصاد في دبي" + (" وبالحكومة" if n % 3 == 0 else "")
        archive.save(article(n, f"عنوان {n}", text, f"2024-0{1 + n % 9}-1{n % 10}T10:00:00+04:00"
                             if n % 7 else None, site="gulf" if n % 2 else "levant"), page(n, text))
    for n in (2, 5):
        archive.save(article(n, f"عنوان {n} معدل", "نص جديد مصحح"), page(n, "نص جديد", T0 + timedelta(hours=1)))
    archive.log_fetch("https://news.example.ae/a/99", outcome="failed", status=503, error="HTTP 503",
                      bytes=10, elapsed=0.25, at=T0)
    run = runstate.start_run(archive, ["gulf", "levant"], pid=42, at=T0)
    runstate.finish_run(archive, run, {"saved": 30, "failed": 1}, 1, ["one failed: صفحة"], at=T0 + timedelta(minutes=3))
    found = [Found(f"https://news.example.ae/q/{n}", "feed", "https://news.example.ae/rss", f"عنوان {n}",
                   "2024-05-01") for n in range(10)]
    runstate.enqueue(archive, "gulf", found, at=T0)
    runstate.mark_done(archive, found[0].url, "gulf", at=T0)
    runstate.mark_failed(archive, found[1].url, "HTTP 503", retryable=True, at=T0)
    runstate.mark_failed(archive, found[2].url, "HTTP 404", retryable=False, at=T0)
    runstate.claim(archive, ["gulf"], 2, worker="w1", at=T0)
    memory = listings.ListingMemory("gulf", clock=lambda: T0)
    memory.rules = "r1"
    memory.read("https://news.example.ae/rss", "feed", page(1, "x"), children=["https://news.example.ae/rss2"])
    memory.failed("https://news.example.ae/sitemap.xml", "sitemap", RuntimeError("cut short"))
    listings.save(archive, memory.results.values())
    listings.save_robots(archive, [RobotsCopy("https://news.example.ae/robots.txt", 200, "User-agent: *\nDisallow: /x",
                                              T0, '"r"', None, T0, None)])
    site_templates.store(archive, "gulf", json.dumps({"blocks": []}), 3, 30)


def dump(archive: Archive) -> dict[str, list[dict]]:
    return {table: list(transfer.table_rows(archive, table)) for table in transfer.TABLES}


def test_round_trip_sqlite_postgresql_sqlite_loses_nothing(tmp_path, pg_url):
    first = tmp_path / "first.db"
    with Archive.open(first) as a:
        fill(a)
        original = dump(a)
    assert all(original[table] for table in transfer.TABLES), [t for t in transfer.TABLES if not original[t]]
    runner = CliRunner()
    result = runner.invoke(cli, ["copy", str(first), pg_url])
    assert result.exit_code == EXIT_OK, result.output
    back = tmp_path / "back.db"
    result = runner.invoke(cli, ["copy", pg_url, str(back)])
    assert result.exit_code == EXIT_OK, result.output
    with Archive.open(pg_url) as middle, Archive.open(back) as last, Archive.open(first) as a:
        assert dump(middle) == original
        assert dump(last) == original
        for query, exact in (("حكومة", False), ("الحكومة", True), ('"خبر رقم"', False), ("دبي NOT مصحح", False),
                             ("عنوان*", True), ("NEAR(خبر دبي, 8)", False)):
            hits = [ids(search(x, query, limit=50, exact=exact)) for x in (a, middle, last)]
            assert hits[0] == hits[1] == hits[2] and hits[0], query
        # The copies go on as archives: new ids after the copied ones, the queue in its order.
        assert middle.save(article(31, "جديد", "نص")).article_id == 31
        assert [q.url for q in runstate.due(middle, ["gulf"], at=T0 + timedelta(days=2))] == \
               [q.url for q in runstate.due(a, ["gulf"], at=T0 + timedelta(days=2))]
        runstate.enqueue(middle, "gulf", [Found("https://news.example.ae/q/new", "feed", "", None, None)])


def test_a_destination_that_holds_data_is_refused_and_left_as_it_was(tmp_path, pg_url):
    source = tmp_path / "s.db"
    with Archive.open(source) as a:
        fill(a)
    with Archive.open(pg_url) as b:
        b.save(article(1, "موجود", "نص"))
        before = dump(b)
    result = CliRunner().invoke(cli, ["copy", str(source), pg_url])
    assert result.exit_code == EXIT_USAGE and "already holds data (1 articles" in result.output
    with Archive.open(pg_url) as b:
        assert dump(b) == before
    result = CliRunner().invoke(cli, ["copy", str(source), str(source)])
    assert result.exit_code == EXIT_USAGE and "source itself" in result.output
    result = CliRunner().invoke(cli, ["copy", str(tmp_path / "missing.db"), str(tmp_path / "new.db")])
    assert result.exit_code == EXIT_USAGE and not (tmp_path / "new.db").exists()


def test_a_copy_that_fails_half_way_writes_nothing(tmp_path, pg_url):
    source = tmp_path / "s.db"
    with Archive.open(source) as a:
        fill(a)
        # A value PostgreSQL refuses (SQLite keeps whatever it is given): the copy stops at it.
        with a.transaction() as tx:
            tx.execute("UPDATE fetch_log SET status = 'not a number'")
    result = CliRunner().invoke(cli, ["copy", str(source), pg_url])
    assert result.exit_code == 3 and len(result.output.strip().splitlines()) == 1
    with Archive.open(pg_url) as b:
        assert all(n == 0 for n in transfer.counts(b).values())
