"""Re-extraction from the stored raw pages: what changed, which fields, nothing fetched, index follows."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from cli import cli
from pathlib import Path

from scraper.extract import extract_page
from scraper.models import Page
from scraper.use.reextract import reextract
from scraper.store.search import search
from scraper.store import Archive


def page(n: int, title: str, paragraphs: list[str], published: str | None = None) -> Page:
    meta = f'<meta property="article:published_time" content="{published}">' if published else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = (f'<html lang="ar"><head><title>{title}</title>{meta}</head><body><article><h1>{title}</h1>'
            f"{body}</article></body></html>")
    url = f"https://news.example.ae/a/{n}"
    return Page(url=url, final_url=url, status=200, headers={"Content-Type": "text/html; charset=utf-8"},
                body=html.encode(), html=html, encoding="utf-8",
                fetched_at=datetime(2024, 2, 1, 8, 0, tzinfo=timezone.utc))


LONG = "فقرة طويلة بما يكفي لتكون جزءا من نص المقال الحقيقي الذي نحفظه في الأرشيف"


@pytest.fixture
def archive(db_target):
    """Three articles whose records were made by older rules (a wrong title, a missing date and
    text), one up to date, and one whose page no longer gives an article (on each engine)."""
    with Archive.open(db_target) as opened:
        p1 = page(1, "القمة العربية في الرياض", [LONG, "الإمارات تشارك في القمة"], "2024-01-05T10:00:00+04:00")
        opened.save(extract_page(p1).replace(title="خبر عاجل | الموقع"), p1)
        p2 = page(2, "أسعار النفط", [LONG, "ارتفعت أسعار النفط اليوم"], "2024-01-06T09:00:00+04:00")
        stale = extract_page(p2)
        opened.save(stale.replace(published=None, text=LONG, content_hash="old-rules"), p2)
        p3 = page(3, "الطقس", [LONG, "أمطار على الساحل"])
        opened.save(extract_page(p3), p3)
        p4 = page(4, "صفحة", [LONG])
        opened.save(extract_page(p4), p4)
        with opened.transaction() as tx:
            tx.execute("UPDATE pages SET body = ? WHERE article_id = 4",
                       [__import__("zlib").compress(b"<html><body></body></html>")])
        yield opened


def test_dry_run_reports_and_writes_nothing(archive):
    before = [dict(r) for r in archive.query("SELECT * FROM articles ORDER BY id")]
    report = reextract(archive, dry_run=True)
    assert (report.checked, report.changed, report.failed) == (4, 2, 1)
    assert report.fields["title"] == 1 and report.fields["published"] == 1 and report.fields["text"] == 1
    assert report.errors[0][0] == 4 and "no article" in report.errors[0][1]
    assert [dict(r) for r in archive.query("SELECT * FROM articles ORDER BY id")] == before


def test_reextract_updates_records_and_the_search_index(archive):
    assert search(archive, "ارتفعت") == []
    report = reextract(archive)
    assert report.changed == 2
    first = archive.get("https://news.example.ae/a/1")
    second = archive.get("https://news.example.ae/a/2")
    assert first["title"] == "القمة العربية في الرياض"
    assert second["published"] == "2024-01-06T09:00:00+04:00" and "ارتفعت" in second["text"]
    assert second["content_hash"] != "old-rules"
    assert [hit.id for hit in search(archive, "ارتفعت")] == [second["id"]]
    # No revision: the article did not change, our rules did. Running again changes nothing.
    assert archive.scalar("SELECT count(*) FROM revisions") == 0
    assert reextract(archive).changed == 0


def test_site_filter(archive):
    assert reextract(archive, site="elsewhere").checked == 0
    assert reextract(archive, site="news.example.ae", dry_run=True).checked == 4


def test_listing_date_fills_what_the_page_lacks(archive):
    # The archiver took the date of article 3 from its feed; re-extraction must not drop it.
    with archive.transaction() as tx:
        tx.execute("INSERT INTO queue (url, site, discovered_at, state, feed_published) "
                   "VALUES ('https://news.example.ae/a/3', 'news.example.ae', '2024-02-01', 'done', "
                   "'2024-01-07T06:00:00+00:00')")
        tx.execute("UPDATE articles SET published = '2024-01-07T06:00:00+00:00' WHERE id = 3")
    reextract(archive)
    record = archive.get("https://news.example.ae/a/3")
    assert record["published"] == "2024-01-07T06:00:00+00:00"
    assert record["provenance"]["published"] == "listing"     # and the record says where it came from


def test_cli(archive):
    runner = CliRunner()
    result = runner.invoke(cli, ["reextract", "--dry-run", "--db", archive.target])
    assert result.exit_code == 1                       # one page no longer gives an article
    assert "4 records checked, 2 would change, 1 failed" in result.stdout
    assert "title: 1" in result.stdout and "article 4" in result.stderr
    result = runner.invoke(cli, ["reextract", "--json", "--db", archive.target])
    assert json.loads(result.stdout)["changed"] == 2
    result = runner.invoke(cli, ["reextract", "--json", "--db", archive.target])
    assert json.loads(result.stdout)["changed"] == 0


ALITTIHAD = Path(__file__).parent / "fixtures" / "pages" / "alittihad_article.html"


def test_every_derived_field_is_rewritten_provenance_included(tmp_path):
    """A record made before the site had a profile, re-extracted once it has one, is the record a
    fresh save of the same page makes today: extractor and provenance agree (issue 13's bug)."""
    url = "https://www.alittihad.ae/news/x/3835123/y"
    body = ALITTIHAD.read_bytes()
    stored = Page(url=url, final_url=url, status=200, headers={"Content-Type": "text/html; charset=utf-8"},
                  body=body, html=body.decode("utf-8"), encoding="utf-8",
                  fetched_at=datetime(2024, 2, 1, 8, 0, tzinfo=timezone.utc))
    with Archive.open(tmp_path / "old.db") as old, Archive.open(tmp_path / "new.db") as new:
        old.save(extract_page(stored, {}), stored)       # no profiles: the generic path made it
        before = old.get(url)
        assert before["extractor"] == "generic" and before["provenance"]["text"] == "generic:trafilatura"
        report = reextract(old)
        assert report.changed == 1 and report.fields["provenance"] == 1 and report.fields["extractor"] == 1
        after = old.get(url)
        assert after["extractor"] == "profile:alittihad"
        assert after["provenance"]["text"].startswith("profile:")
        new.save(extract_page(stored), stored)
        fresh = new.get(url)
        times = {"id", "first_seen", "updated_at"}
        assert {k: v for k, v in after.items() if k not in times} == {k: v for k, v in fresh.items() if k not in times}
