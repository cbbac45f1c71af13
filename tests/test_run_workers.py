"""The cron run's stages: fetching threads whose host's turn ends when the answer is in, an
extraction stage behind them, and a bounded number of pages between the two."""
from __future__ import annotations

import time

import pytest

from scraper.crawl.run import RunOptions, run_archive
from scraper.pipeline import page_to_article
from tests.synthetic import SiteHandler, serve
from tests.test_archive import article_html

SLOW = 0.6   # seconds each page's extraction takes in slow_extract


def slow_extract(page, profiles, template, listing):
    """Extraction that takes SLOW seconds a page (the real one, after a wait)."""
    time.sleep(SLOW)
    return page_to_article(page, profiles, template, listing)


def slowish_extract(page, profiles, template, listing):
    """Extraction slower than fetching from 127.0.0.1, by a little."""
    time.sleep(0.15)
    return page_to_article(page, profiles, template, listing)


class FeedSite:
    """One host on 127.0.0.1: a feed of ``count`` articles, no robots.txt; every request timed."""

    def __init__(self, count: int):
        self.asked: list[tuple[str, float]] = []
        self.latency = 0.0      # seconds each article answer waits
        site = self

        class Handler(SiteHandler):
            def do_GET(self):
                site.asked.append((self.path, time.monotonic()))
                if self.path == "/rss.xml":
                    items = "".join(f"<item><link>{site.url(n)}</link></item>" for n in range(1, count + 1))
                    return self.send(200, f"<rss><channel>{items}</channel></rss>".encode(), "application/rss+xml")
                if self.path.startswith("/news/"):
                    time.sleep(site.latency)
                    return self.send(200, article_html(int(self.path.split("/")[2])), "text/html; charset=utf-8")
                self.send(404, b"no", "text/plain")

        self.server = serve(Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def url(self, n: int) -> str:
        return f"{self.base}/news/{n}/story"

    def article_times(self) -> list[float]:
        return [at for path, at in self.asked if path.startswith("/news/")]


@pytest.fixture
def feed_site(tmp_path):
    def make(count: int, delay: float = 0.0) -> tuple[FeedSite, RunOptions]:
        site = FeedSite(count)
        config = tmp_path / "sites.toml"
        config.write_text(f'[sites.local]\nfeeds = ["{site.base}/rss.xml"]\narticle = "/news/"\n'
                          f"delay = {delay}\n", encoding="utf-8")
        made.append(site)
        return site, RunOptions(sites=("local",), config=config, max_time=None)
    made: list[FeedSite] = []
    yield make
    for site in made:
        site.server.shutdown()
        site.server.server_close()


def test_a_hosts_turn_ends_when_its_answer_is_in_not_when_its_page_is_extracted(feed_site, tmp_path):
    site, options = feed_site(4)
    options.extract = slow_extract
    report = run_archive(tmp_path / "a.db", options)
    assert report.counts["saved"] == 4
    times = site.article_times()
    # One host, one request at a time, no delay: each request went out as soon as the answer
    # before it was in, while the pages were still being extracted (SLOW seconds each).
    assert len(times) == 4 and times[-1] - times[0] < SLOW


def test_pages_between_fetching_and_storing_are_bounded(feed_site, tmp_path):
    """Extraction slower than fetching: the fetchers wait for room instead of piling pages up."""
    from scraper.crawl.run import PAGES_WAITING, Reporter

    class Stored(Reporter):
        times: list[float] = []

        def outcome(self, url, status, detail=None):
            self.times.append(time.monotonic())

    site, options = feed_site(30)
    options.extract, options.workers = slowish_extract, 4
    stored = Stored()
    report = run_archive(tmp_path / "a.db", options, stored)
    assert report.counts["saved"] == 30
    bound = options.workers + run_archive_extractors() + PAGES_WAITING
    for asked_at in site.article_times():
        fetched = sum(t <= asked_at for t in site.article_times())
        done = sum(t <= asked_at for t in stored.times)
        assert fetched - done <= bound


def run_archive_extractors() -> int:
    import os
    return len(os.sched_getaffinity(0))


def test_a_url_queued_before_its_hosts_robots_txt_is_known_is_fetched(feed_site, tmp_path):
    """A run killed before it kept the host's robots.txt leaves URLs queued: the next run's fetch
    thread holds the host's turn when it learns robots.txt must be read first, and that request
    must not wait for the turn (it waited for itself until the time limit)."""
    from datetime import timedelta

    from scraper.models import Found
    from scraper.store import runstate
    from scraper.store.archive import Archive

    site, options = feed_site(3)
    with Archive.open(tmp_path / "a.db") as archive:
        runstate.enqueue(archive, "local", [Found(site.url(n), "feed", f"{site.base}/rss.xml") for n in (1, 2, 3)])
    options.max_time = timedelta(seconds=20)
    report = run_archive(tmp_path / "a.db", options)
    assert not report.timed_out and report.counts["saved"] == 3
