"""The record path (scraper/pipeline.py): its pure half runs in another process and gives the same
article; the listing fills what a page lacks whichever command records the page; every attempt is logged."""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from cli import cli
from scraper.models import FetchAttempt, Found, Page
from scraper.pipeline import FAILED, SAVED, page_to_article, record_page, template_for
from scraper.profiles import load_profiles
from scraper.store import Archive, runstate

ALITTIHAD = Path(__file__).parent / "fixtures" / "pages" / "alittihad_article.html"
URL = "https://www.alittihad.ae/news/x/3835123/y"
UNDATED = ('<html lang="ar"><head><title>خبر بلا تاريخ</title></head><body><article><h1>خبر بلا تاريخ</h1>'
           "<p>قال مسؤول في وزارة الاقتصاد إن النمو تجاوز التوقعات خلال الربع الأخير من العام الماضي.</p>"
           "<p>وأضاف أن الصادرات غير النفطية ارتفعت بنسبة كبيرة مقارنة بالعام السابق.</p>"
           "</article></body></html>")


def page(url: str, html: str | bytes) -> Page:
    body = html if isinstance(html, bytes) else html.encode()
    return Page(url=url, final_url=url, status=200, headers={"Content-Type": "text/html; charset=utf-8"},
                body=body, html=body.decode("utf-8"), encoding="utf-8",
                fetched_at=datetime(2024, 2, 1, 8, 0, tzinfo=timezone.utc))


def test_page_to_article_runs_in_a_worker_process_with_the_same_result():
    """What the cron run's workers call can move to a process pool: its arguments and result pickle."""
    stored = page(URL, ALITTIHAD.read_bytes())
    profiles = load_profiles(None)
    listing = Found(URL, "feed", "https://www.alittihad.ae/rss", "عنوان من الخلاصة", "2015-09-27T14:32:00+00:00")
    here = page_to_article(stored, profiles, None, listing)
    with ProcessPoolExecutor(max_workers=1) as pool:
        there = pool.submit(page_to_article, stored, profiles, None, listing).result(timeout=60)
    assert there == here and dict(there.provenance) == dict(here.provenance)
    assert here.extractor == "profile:alittihad"


def test_the_listing_fills_only_what_the_page_lacks_and_says_so():
    listing = Found("https://news.example.ae/a/1", "news-sitemap", "https://news.example.ae/sitemap.xml",
                    "عنوان آخر", "2024-01-07T06:00:00+00:00")
    article = page_to_article(page(listing.url, UNDATED), {}, None, listing)
    assert article.title == "خبر بلا تاريخ"                             # the page has a title: kept
    assert article.published == "2024-01-07T06:00:00+00:00"            # it has no date: the listing's
    assert article.provenance["published"] == "news-sitemap https://news.example.ae/sitemap.xml"
    assert page_to_article(page(listing.url, UNDATED), {}, None, None).published is None


def test_record_page_uses_the_listing_the_archive_keeps_and_logs_the_attempts(tmp_path):
    url = "https://news.example.ae/a/1"
    with Archive.open(tmp_path / "a.db") as archive:
        runstate.enqueue(archive, "news", [Found(url, "feed", "https://news.example.ae/rss", None,
                                                 "2024-01-07T06:00:00+00:00")])
        attempt = FetchAttempt(url, 200, None, len(UNDATED), 0.1)
        outcome = record_page(archive, page(url, UNDATED), profiles={}, attempts=[attempt])
        assert outcome.status == SAVED
        record = archive.get(url)
        assert record["published"] == "2024-01-07T06:00:00+00:00"
        assert record["provenance"]["published"] == "feed https://news.example.ae/rss"
        failed = record_page(archive, page("https://news.example.ae/a/2", "<html><body></body></html>"),
                             profiles={}, attempts=[FetchAttempt("https://news.example.ae/a/2", 200)])
        assert failed.status == FAILED and failed.error
        log = list(archive.query("SELECT url, outcome, error FROM fetch_log ORDER BY id"))
    assert [(row["url"], row["outcome"]) for row in log] == [(url, "saved"), ("https://news.example.ae/a/2", "failed")]
    assert log[1]["error"] == failed.error


def test_scraper_fetch_of_a_queued_url_takes_the_feeds_date(tmp_path):
    """`scraper fetch` records a page the way the cron run does: a queued URL's feed date fills in."""
    saved = tmp_path / "page.html"
    saved.write_text(UNDATED, encoding="utf-8")
    db = tmp_path / "a.db"
    url = "https://news.example.ae/a/9"
    with Archive.open(db) as archive:
        runstate.enqueue(archive, "news", [Found(url, "feed", "https://news.example.ae/rss", None,
                                                 "2024-01-07T06:00:00+00:00")])
    result = CliRunner().invoke(cli, ["fetch", str(saved), "--url", url, "--db", str(db)])
    assert result.exit_code == 0, result.output
    with Archive.open(db) as archive:
        assert archive.get(url)["published"] == "2024-01-07T06:00:00+00:00"
        assert template_for(archive, "news.example.ae", learn=False) is None
