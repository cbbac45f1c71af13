"""Discovery (feeds, sitemaps, robots.txt, start pages), politeness and the run lock.

Parsing is tested on bytes written here; everything that fetches runs against a real HTTP server
on 127.0.0.1 (the `raw_server` fixture of conftest.py).
"""
from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import time

import pytest

from scraper.crawl.discover import discover_site, page_links
from scraper.errors import ArchiveLocked
from scraper.crawl.feeds import FeedError, parse_feed, parse_sitemap
from scraper.fetch.http import FetchOptions
from scraper.crawl.lock import RunLock
from scraper.crawl.politeness import PoliteClient, Politeness
from scraper.crawl.scheduler import polite_map
from scraper.profiles import Profile
from scraper.crawl.robots import parse_robots

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>الاتحاد</title><link>https://example.com/</link>
<item><title>قمة الخليج تبحث التعاون الاقتصادي</title><link>https://example.com/news/1/summit</link>
<pubDate>Sun, 27 Sep 2015 14:32:00 GMT</pubDate></item>
<item><title>  أمطار   غزيرة على الساحل </title><guid>https://example.com/news/2/rain</guid></item>
</channel></rss>""".encode()

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>Entry</title><link rel="alternate" href="/news/3/x"/><link rel="edit" href="/edit/3"/>
<published>2024-03-28T09:15:00+04:00</published><updated>2024-03-29T10:00:00Z</updated></entry>
</feed>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
<sitemap><loc>https://example.com/sitemap-old.xml</loc><lastmod>2020-01-01</lastmod></sitemap>
<sitemap><loc>https://example.com/sitemap-news.xml.gz</loc><lastmod>2024-03-28T10:00:00+04:00</lastmod></sitemap>
</sitemapindex>"""

NEWS = """<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
<url><image:image><image:loc>https://example.com/i.jpg</image:loc><image:title>صورة</image:title></image:image>
  <loc>https://example.com/news/4/gulf</loc>
  <news:news><news:publication><news:name>الاتحاد</news:name><news:language>ar</news:language></news:publication>
  <news:publication_date>2024-03-28T08:00:00+04:00</news:publication_date>
  <news:title>الإمارات تستضيف المؤتمر</news:title></news:news></url>
<url><loc>https://example.com/about</loc><lastmod>2024-01-01</lastmod></url>
</urlset>""".encode()


def test_rss_items_titles_and_dates():
    found = parse_feed(RSS, "https://example.com/rss.xml")
    assert [f.url for f in found] == ["https://example.com/news/1/summit", "https://example.com/news/2/rain"]
    assert found[0].title == "قمة الخليج تبحث التعاون الاقتصادي"
    assert found[0].published == "2015-09-27T14:32:00+00:00"
    assert found[1].title == "أمطار غزيرة على الساحل" and found[1].published is None
    assert {f.source for f in found} == {"feed"}


def test_atom_alternate_link_resolved_and_published_preferred():
    (entry,) = parse_feed(ATOM, "https://example.com/atom.xml")
    assert entry.url == "https://example.com/news/3/x"
    assert entry.published == "2024-03-28T09:15:00+04:00"


def test_sitemap_index_and_gzipped_news_sitemap():
    pages, children = parse_sitemap(INDEX, "https://example.com/sitemap.xml")
    assert pages == [] and [c.url for c in children][1] == "https://example.com/sitemap-news.xml.gz"
    assert children[1].lastmod.isoformat() == "2024-03-28T10:00:00+04:00"
    pages, children = parse_sitemap(gzip.compress(NEWS), "https://example.com/sitemap-news.xml.gz")
    assert children == []
    news, plain = pages
    assert (news.source, news.title, news.published) == (
        "news-sitemap", "الإمارات تستضيف المؤتمر", "2024-03-28T08:00:00+04:00")
    # A bare lastmod date is no publication time.
    assert (plain.source, plain.title, plain.published) == ("sitemap", None, None)


@pytest.mark.parametrize("doc", [
    # billion laughs
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    b'<rss><channel><item><title>&b;</title><link>https://example.com/news/1/</link></item></channel></rss>',
    # external entity
    b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<urlset><url><loc>&x;</loc></url></urlset>',
])
def test_entities_are_refused(doc):
    with pytest.raises(FeedError, match="entities"):
        parse_feed(doc, "https://example.com/f")


def test_malformed_and_gzip_bomb_are_feed_errors(monkeypatch):
    with pytest.raises(FeedError, match="not well-formed"):
        parse_sitemap(b"<urlset><url><loc>x</url>", "https://example.com/s.xml")
    import scraper.crawl.feeds as feeds
    monkeypatch.setattr(feeds, "MAX_XML_BYTES", 10_000)
    bomb = gzip.compress(b"<urlset>" + b" " * 1_000_000 + b"</urlset>")
    with pytest.raises(FeedError, match="decompressed"):
        parse_sitemap(bomb, "https://example.com/s.xml.gz")


def test_robots_longest_match_wildcards_and_crawl_delay():
    robots = parse_robots("User-agent: *\nDisallow: /news/\nAllow: /news/open/\nDisallow: /*.pdf$\n"
                          "Crawl-delay: 2.5\nSitemap: /sitemap.xml\n", "https://example.com/robots.txt")
    ua = "scraper/0.1"
    assert robots.allowed("https://example.com/news/open/1", ua)        # stdlib says no
    assert not robots.allowed("https://example.com/news/closed/1", ua)
    assert not robots.allowed("https://example.com/a/b.pdf", ua)        # stdlib says yes
    assert robots.crawl_delay(ua) == 2.5
    assert robots.sitemaps == ["https://example.com/sitemap.xml"]


def _client(**politeness):
    return PoliteClient(FetchOptions(retries=0, timeout=5), Politeness(0.0, **politeness))


def _answer(status, body=b"", ctype="text/plain"):
    def route(handler):
        handler.send_response(status)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    return route


@pytest.mark.parametrize("status, allowed", [(404, True), (410, True), (500, False), (503, False)])
def test_robots_missing_allows_unreachable_disallows(raw_server, status, allowed):
    raw_server.route("/robots.txt", _answer(status))
    client = _client()
    assert client.allowed(raw_server.url("/news/1")) is allowed
    assert client.allowed(raw_server.url("/news/2")) is allowed
    assert raw_server.requests.count("/robots.txt") == 1       # cached for the run


def test_page_links_base_and_alternate_feeds():
    html = """<html><head><base href="https://example.com/ar/">
      <link rel="alternate" type="application/rss+xml" href="/rss.xml">
      <link rel="alternate" hreflang="en" href="/en/"><link rel="stylesheet" href="/s.css"></head>
      <body><a href="news/1/x">1</a><a href="#top">top</a><a href="mailto:a@b">m</a></body></html>"""
    links, feeds = page_links(html, "https://example.com/")
    assert links == ["https://example.com/ar/news/1/x"]
    assert feeds == ["https://example.com/rss.xml"]


def test_discover_site_from_every_source(raw_server):
    base = raw_server.url("")
    art = lambda n: f"{base}/news/{n}/story"   # noqa: E731
    raw_server.route("/robots.txt", _answer(200, f"User-agent: *\nDisallow: /news/9/\nCrawl-delay: 0.01\n"
                                                 f"Sitemap: {base}/sitemap.xml\n".encode()))
    home = ('<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml"></head><body>'
            '<a href="/news/1/story?utm_source=x#c">1</a><a href="/section/world">s</a>'
            '<a href="/news/9/story">robots says no</a><a href="https://elsewhere.org/news/5/x">off site</a>'
            '</body></html>').encode()
    raw_server.route("/", _answer(200, home, "text/html; charset=utf-8"))
    raw_server.route("/rss.xml", _answer(200, f'<rss><channel><item><title>واحد</title><link>{art(1)}</link>'
                                              f'</item><item><title>Two</title><link>{art(2)}</link></item>'
                                              f'</channel></rss>'.encode(), "application/rss+xml"))
    raw_server.route("/atom.xml", _answer(200, f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>3</title>'
                                               f'<link href="{art(3)}"/></entry></feed>'.encode(), "application/atom+xml"))
    raw_server.route("/sitemap.xml", _answer(200, (
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>{base}/news.xml.gz</loc>'
        f'</sitemap></sitemapindex>').encode(), "application/xml"))
    raw_server.route("/news.xml.gz", _answer(200, gzip.compress(NEWS.replace(
        b"https://example.com", base.encode())), "application/gzip"))
    raw_server.route("/broken.xml", _answer(500))
    profile = Profile(name="local", domains=("127.0.0.1",), start=(base + "/",),
                      feeds=(base + "/rss.xml", base + "/broken.xml"), article_url=r"/news/\d+/",
                      delay=0.0)
    client = _client()
    result = discover_site(profile, client)
    assert client.politeness.delay(base) == 0.01       # robots.txt Crawl-delay beats the site's 0
    assert sorted(result.found) == sorted([art(1), art(2), art(3), art(4).replace("4/story", "4/gulf")])
    one = result.found[art(1)]
    assert one.source == "start-page" and one.title == "واحد"      # the feed filled the title
    assert any(a.startswith("feed ") for a in one.also)
    assert result.found[base + "/news/4/gulf"].published == "2024-03-28T08:00:00+04:00"
    assert result.disallowed == 1
    assert any("broken.xml" in p and "500" in p for p in result.problems)
    assert any(a.url.endswith("/news.xml.gz") for a in result.attempts)


def test_politeness_one_at_a_time_per_host_with_delay_and_concurrency_across_hosts():
    spans: dict[str, list[tuple[float, float]]] = {}
    lock = threading.Lock()

    def work(url):
        began = time.monotonic()
        time.sleep(0.03)
        with lock:
            spans.setdefault(url.split("/")[2], []).append((began, time.monotonic()))
        return url

    urls = [f"http://h{h}.test/{i}" for h in range(4) for i in range(4)]
    politeness = Politeness(0.05)
    started = time.monotonic()
    done = [task for task, _ in polite_map(urls, work, politeness, url_of=str, workers=8)]
    elapsed = time.monotonic() - started
    assert sorted(done) == sorted(urls)
    for host, host_spans in spans.items():
        host_spans.sort()
        for (_, end), (begin, _) in zip(host_spans, host_spans[1:]):
            assert begin - end >= 0.05 - 0.005, host        # serial, with the delay between
    # 4 hosts in parallel: about 4 * 0.03 + 3 * 0.05 per host, far less than 16 requests in a row.
    assert elapsed < 16 * 0.08 * 0.6


def test_throttled_host_slows_down_then_recovers():
    now = [100.0]
    politeness = Politeness(0.5, clock=lambda: now[0])
    assert politeness.try_acquire("a.test") == 0.0
    politeness.release("a.test", throttled=0.0)          # a 429 without Retry-After
    assert politeness.delay("a.test") == 1.5
    assert politeness.try_acquire("a.test") == pytest.approx(1.5)
    now[0] += 2
    politeness.try_acquire("a.test")
    politeness.release("a.test", throttled=30.0)          # Retry-After: 30
    assert politeness.try_acquire("a.test") == pytest.approx(30.0)
    assert politeness.delay("a.test") == 2.5
    now[0] += 31
    for _ in range(3):                                    # good answers bring the pace back
        assert politeness.try_acquire("a.test") == 0.0
        politeness.release("a.test")
        now[0] += 10
    assert politeness.delay("a.test") == 0.5


def test_lock_is_exclusive_and_released_by_kill(tmp_path):
    db = tmp_path / "archive.db"
    with RunLock(db):
        with pytest.raises(ArchiveLocked, match="pid"):
            RunLock(db).acquire()
    RunLock(db).acquire().release()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from scraper.crawl.lock import RunLock; RunLock(sys.argv[1]).acquire(); "
        "print('locked', flush=True); time.sleep(60)"), str(db)],
        stdout=subprocess.PIPE, cwd=os.path.dirname(os.path.dirname(__file__)))
    try:
        assert holder.stdout.readline().strip() == b"locked"
        with pytest.raises(ArchiveLocked):
            RunLock(db).acquire()
    finally:
        holder.kill()
        holder.wait()
    RunLock(db).acquire().release()     # kill -9 released it


def test_polite_map_slows_a_host_that_answers_429():
    starts: list[float] = []

    def work(url):
        starts.append(time.monotonic())
        return 429 if len(starts) == 1 else 200

    list(polite_map(["http://a.test/1", "http://a.test/2"], work, Politeness(0.0), url_of=str,
                    throttled=lambda status: 0.0 if status == 429 else None))
    assert starts[1] - starts[0] >= 1.0          # FIRST_PENALTY, though the site's delay is 0


def test_page_links_of_a_bare_fragment():
    # A start page may be a bare list of links (no <html>, no <body>): its links still count.
    links, feeds = page_links('<a href="/news/1">1</a><a href="/news/2">2</a>', "http://localhost:5000/")
    assert links == ["http://localhost:5000/news/1", "http://localhost:5000/news/2"] and feeds == []
