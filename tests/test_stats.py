"""Stats: per site articles, date range, revisions, queue failures, last run; totals; the CLI."""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from cli import cli
from scraper.store import runstate
from scraper.models import Article
from scraper.store.stats import collect
from scraper.store import Archive


def article(n, site, published, text="نص"):
    return Article(url=f"https://{site}.example/a/{n}", site=site, title=f"t{n}", text=text,
                   published=published, content_hash=hashlib.sha256(f"{n}{text}".encode()).hexdigest())


@pytest.fixture
def archive(db_target):
    with Archive.open(db_target) as a:
        a.save(article(1, "gulf", "2024-01-05T10:00:00+04:00"))
        a.save(article(2, "gulf", "2023-03-01"))
        a.save(article(3, "gulf", None))
        a.save(article(3, "gulf", None, text="نص معدل"))          # a revision
        a.save(article(4, "levant", "2024-06-01T08:00:00+03:00"))
        with a.transaction() as db:
            for url, state, tries, error, next_try in [
                    ("https://gulf.example/new", "pending", 0, None, None),
                    ("https://gulf.example/bad", "pending", 2, "HTTP 503", "2024-02-01T00:00:00+00:00"),
                    ("https://gulf.example/gone", "gave_up", 5, "HTTP 404", "2024-03-01T00:00:00+00:00")]:
                db.execute("INSERT INTO queue (url, site, discovered_at, state, tries, last_error, next_try) "
                           "VALUES (?, 'gulf', '2024-01-01', ?, ?, ?, ?)", [url, state, tries, error, next_try])
        a.log_fetch("https://gulf.example/bad", outcome="failed", status=503, error="HTTP 503")
        # `scraper fetch` failures: in the fetch log only; a URL that later worked is not failing.
        a.log_fetch("https://levant.example/x", outcome="failed", error="timeout")
        a.log_fetch("https://www.levant.example/y", outcome="failed", error="timeout")
        a.log_fetch("https://www.levant.example/y", outcome="saved", status=200)
        a.log_fetch("https://elsewhere.example/z", outcome="failed", error="HTTP 404")
        started = datetime(2024, 7, 1, 6, 0, tzinfo=timezone.utc)
        run = runstate.start_run(a, ["gulf"], pid=1, at=started)
        runstate.finish_run(a, run, {"saved": 2, "failed": 1}, 1, ["1 failed"], at=started.replace(minute=5))
        yield a


def test_collect(archive):
    data = collect(archive)
    gulf, levant, _ = data["sites"]
    assert gulf["site"] == "gulf" and gulf["articles"] == 3 and gulf["undated"] == 1
    assert (gulf["first_published"], gulf["last_published"]) == ("2023-03-01", "2024-01-05T10:00:00+04:00")
    assert gulf["revisions"] == 1
    assert (gulf["pending"], gulf["failing"], gulf["gave_up"]) == (1, 1, 1)
    assert gulf["last_error"] == "HTTP 404"
    assert gulf["last_run"] == "2024-07-01T06:05:00+00:00" and gulf["last_run_exit_code"] == 1
    assert levant["articles"] == 1 and levant["last_run"] is None and levant["failing"] == 0
    assert gulf["failed_urls"] == 1 and levant["failed_urls"] == 1
    assert data["sites"][2]["site"] == "elsewhere.example" and data["sites"][2]["failed_urls"] == 1
    totals = data["totals"]
    assert totals["articles"] == 4 and totals["revisions"] == 1 and totals["runs"] == 1
    assert totals["fetch_attempts"] == 5 and totals["failed_attempts"] == 4
    assert totals["last_run"]["exit_code"] == 1


def test_empty_archive(tmp_path):
    with Archive.open(tmp_path / "empty.db") as a:
        data = collect(a)
    assert data["sites"] == [] and data["totals"]["articles"] == 0 and data["totals"]["last_run"] is None


def test_cli(archive):
    runner = CliRunner()
    result = runner.invoke(cli, ["stats", "--db", archive.target])
    assert result.exit_code == 0
    first = result.stdout.splitlines()[0]
    assert first.startswith("gulf: 3 articles (2023-03-01 .. 2024-01-05") and "exit 1" in first
    assert "1 failing, 1 given up" in result.stdout and "total: 4 articles" in result.stdout
    result = runner.invoke(cli, ["stats", "--json", "--db", archive.target])
    assert [s["site"] for s in json.loads(result.stdout)["sites"]] == ["gulf", "levant", "elsewhere.example"]
