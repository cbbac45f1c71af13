"""`scraper archive` end to end against a real local news site on 127.0.0.1.

The site has robots.txt (with a Sitemap: line and a disallowed path), an RSS feed, an Atom feed
named only by <link rel=alternate>, a sitemap index over a news sitemap and a gzipped sitemap,
a home page and two section pages, and 33 articles made from one template with distinct Arabic
text. It answers conditional GETs with 304, and every request it gets is recorded.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import signal
import socket
import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, cli
from scraper.errors import NoSuchArchive
from scraper.store import Archive
from tests.synthetic import SiteHandler, serve

ROOT = Path(__file__).resolve().parent.parent
CITIES = ["أبوظبي", "دبي", "الشارقة", "العين", "عجمان", "الفجيرة", "رأس الخيمة", "أم القيوين",
          "القاهرة", "عمّان", "بيروت", "الرباط", "تونس", "الدوحة", "مسقط", "الكويت", "المنامة"]
TOPICS = ["الاقتصاد", "التعليم", "الصحة", "الطاقة المتجددة", "النقل", "الزراعة", "السياحة",
          "الثقافة", "الرياضة", "التقنية", "المياه"]
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def article_html(n: int, *, edit: str = "", dated: bool = True) -> bytes:
    city, topic = CITIES[n % len(CITIES)], TOPICS[n % len(TOPICS)]
    published = (NOW - timedelta(hours=n)).astimezone(timezone(timedelta(hours=4))).isoformat()
    date_meta = f'<meta property="article:published_time" content="{published}">' if dated else ""
    paragraphs = [
        f"أعلنت الجهات المختصة في {city} اليوم عن خطة جديدة لتطوير قطاع {topic} خلال الأعوام الخمسة "
        f"المقبلة، في خطوة تهدف إلى تحسين الخدمات المقدمة للمواطنين والمقيمين (الخبر رقم {n}).",
        f"وقال مسؤول في {city} إن المشروع رقم {n * 7} يشمل مراحل متعددة تبدأ بدراسة الاحتياجات "
        f"وتنتهي بالتنفيذ الكامل، مع مشاركة القطاع الخاص في التمويل والإدارة.",
        f"ويأتي هذا الإعلان بعد سلسلة من الاجتماعات التي عقدت لمناقشة مستقبل {topic} في المنطقة، "
        f"وتبادل الخبرات مع الدول الشقيقة. {edit}",
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f'<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">'
            f'<title>{topic} في {city}: خطة جديدة رقم {n}</title>{date_meta}</head><body>'
            f'<nav><a href="/">الرئيسية</a></nav><header><h1>{topic} في {city}: خطة جديدة رقم {n}</h1>'
            f'</header><article>{body}</article><footer>جميع الحقوق محفوظة</footer></body></html>').encode()


class NewsSite:
    """A real HTTP/1.1 server on 127.0.0.1 with ETags, 304s, per-path failures and a latency."""

    def __init__(self):
        self.pages: dict[str, tuple[bytes, str]] = {}
        self.status: dict[str, int] = {}          # path -> forced error status
        self.latency = 0.0                          # seconds before each article answer
        self.requests: list[tuple[str, str | None]] = []   # (path, If-None-Match)
        site = self

        class Handler(SiteHandler):
            def do_GET(self):
                site.requests.append((self.path, self.headers.get("If-None-Match")))
                if self.path.startswith("/news/") and site.latency:
                    time.sleep(site.latency)
                status = site.status.get(self.path)
                if status or self.path not in site.pages:
                    self.send(status or 404, b"error", "text/plain")
                    return
                body, ctype = site.pages[self.path]
                etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    self.send(304, b"", ctype, ETag=etag)
                else:
                    self.send(200, body, ctype, ETag=etag)

        self.server = serve(Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.articles: list[int] = []
        self.in_feed = list(range(1, 11))
        for n in range(1, 34):
            self.add_article(n, listed=False)
        self.build()

    def url(self, n: int) -> str:
        return f"{self.base}/news/{n}/story-{n}"

    def add_article(self, n: int, *, listed: bool = True, **kw) -> None:
        self.articles.append(n)
        self.pages[f"/news/{n}/story-{n}"] = (article_html(n, dated=(n != 12), **kw), "text/html; charset=utf-8")
        if listed:
            self.in_feed.append(n)
            self.build()

    def build(self) -> None:
        b, html, xml = self.base, "text/html; charset=utf-8", "application/xml"
        title = lambda n: f"عنوان الخبر {n}"  # noqa: E731
        date = lambda n: (NOW - timedelta(hours=n)).isoformat()  # noqa: E731
        self.pages["/robots.txt"] = (f"User-agent: *\nDisallow: /private/\nSitemap: {b}/sitemap.xml\n".encode(),
                                     "text/plain")
        links = "".join(f'<a href="/news/{n}/story-{n}?utm_source=home#top">{n}</a>' for n in range(1, 6))
        self.pages["/"] = ((f'<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml">'
                            f'</head><body><a href="/section/world">عالم</a>{links}'
                            f'<a href="/private/news/99/x">خاص</a></body></html>').encode(), html)
        for path, numbers in (("/section/world", (27, 28, 29)), ("/section/economy", (30, 31, 32))):
            self.pages[path] = ("".join(f'<a href="{self.url(n)}">{n}</a>' for n in numbers).encode(), html)
        items = "".join(f"<item><title>{title(n)}</title><link>{self.url(n)}</link>"
                        f"<pubDate>{(NOW - timedelta(hours=n)).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
                        f"</item>" for n in self.in_feed)
        self.pages["/rss.xml"] = (f"<rss version='2.0'><channel>{items}</channel></rss>".encode(), "application/rss+xml")
        self.pages["/atom.xml"] = ((f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>33</title>'
                                    f'<link href="{self.url(33)}"/></entry></feed>').encode(), "application/atom+xml")
        self.pages["/sitemap.xml"] = ((f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                       f'<sitemap><loc>{b}/sitemap-news.xml</loc></sitemap>'
                                       f'<sitemap><loc>{b}/sitemap-old.xml.gz</loc></sitemap></sitemapindex>').encode(), xml)
        news = "".join(f'<url><loc>{self.url(n)}</loc><news:news><news:publication_date>{date(n)}'
                       f'</news:publication_date><news:title>{title(n)}</news:title></news:news></url>'
                       for n in range(11, 21))
        self.pages["/sitemap-news.xml"] = (
            (f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
             f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{news}</urlset>').encode(), xml)
        old = "".join(f"<url><loc>{self.url(n)}</loc></url>" for n in range(21, 27))
        self.pages["/sitemap-old.xml.gz"] = (gzip.compress(
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{old}</urlset>'.encode()),
            "application/octet-stream")

    def article_requests(self) -> list[tuple[str, str | None]]:
        return [r for r in self.requests if r[0].startswith("/news/")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(tmp_path, db_target):
    """The local news site, and an archive for it on each engine (``site.db``: what --db takes)."""
    news = NewsSite()
    config = tmp_path / "sites.toml"
    b = news.base
    config.write_text(f"""
[sites.local]
start = ["{b}/", "{b}/section/world", "{b}/section/economy"]
feeds = ["{b}/rss.xml"]
article = '^http://127\\.0\\.0\\.1:{news.server.server_port}/news/\\d+/'
timezone = "Asia/Dubai"
delay = 0
""", encoding="utf-8")
    news.db = db_target
    news.config = str(config)   # beside an archive file it is the default --config, not for a database
    yield news
    news.close()


def run(site, *args):
    result = CliRunner().invoke(cli, ["archive", "--db", site.db, "--config", site.config, "--site", "local", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def rows(site, sql, params=()):
    with Archive.open(site.db) as archive:
        return archive.query(sql, params)


def write(site, sql, params=()):
    with Archive.open(site.db) as archive, archive.transaction() as tx:
        tx.execute(sql, params)


def test_first_run_archives_every_article_politely_and_quietly(site, tmp_path):
    log = tmp_path / "archive.log"
    result = run(site, "--quiet", "--log-file", str(log))
    assert (result.exit_code, result.output) == (EXIT_OK, "")
    logged_lines = log.read_text(encoding="utf-8").splitlines()
    assert sum(" saved http://" in line for line in logged_lines) == 33
    stored = {r["url"] for r in rows(site, "SELECT url FROM articles")}
    assert stored == {site.url(n) for n in range(1, 34)}
    paths = [p for p, _ in site.article_requests()]
    assert sorted(paths) == sorted(set(paths)) and len(paths) == 33     # each article fetched once
    assert not any(p.startswith("/private/") for p, _ in site.requests)  # robots.txt honoured
    (run_row,) = rows(site, "SELECT * FROM runs")
    assert (run_row["saved"], run_row["failed"], run_row["exit_code"]) == (33, 0, 0)
    assert run_row["ended_at"] >= run_row["started_at"]
    assert rows(site, "SELECT count(*) AS n FROM queue WHERE state != 'done'")[0]["n"] == 0
    logged = rows(site, "SELECT url, outcome, run_id FROM fetch_log WHERE url LIKE '%/news/%'")
    assert len(logged) == 33 and {r["outcome"] for r in logged} == {"saved"}
    assert {r["run_id"] for r in logged} == {run_row["id"]}
    # Article 12's page has no date: the news sitemap's date fills it.
    (twelve,) = rows(site, "SELECT published, title, provenance FROM articles WHERE url = ?",
                     [site.url(12)])
    assert twelve["published"] == (NOW - timedelta(hours=12)).isoformat()
    # ... and the record says where its date came from.
    assert json.loads(twelve["provenance"])["published"].startswith("news-sitemap http://127.0.0.1")
    assert twelve["title"] == f"{TOPICS[12 % 11]} في {CITIES[12]}: خطة جديدة رقم 12"
    texts = [row["text"] for row in rows(site, "SELECT text FROM articles")]
    assert len(set(texts)) == 33 and all("الخبر رقم" in t for t in texts)


def test_one_clock_dates_everything_a_run_records(site):
    """RunOptions.clock is the only clock of a run: the pages' fetch time, the log, the queue, the
    runs, the listings and robots.txt all read it (a test that moves time moves all of them)."""
    from scraper.crawl.run import RunOptions, run_archive

    moment = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    report = run_archive(site.db, RunOptions(sites=("local",), config=Path(site.config), clock=lambda: moment))
    assert report.counts["saved"] > 10
    with Archive.open(site.db) as archive:
        stamps = {f"{table}.{column}": {row["t"] for row in archive.query(f"SELECT DISTINCT {column} AS t FROM {table}")}
                  for table, column in [("runs", "started_at"), ("runs", "ended_at"), ("queue", "discovered_at"),
                                        ("articles", "fetched_at"), ("articles", "first_seen"), ("pages", "fetched_at"),
                                        ("fetch_log", "at"), ("listings", "checked_at"), ("robots_txt", "fetched_at")]}
    assert stamps == {name: {moment.isoformat()} for name in stamps}


def test_second_run_fetches_no_article_then_rechecks_conditionally(site):
    run(site, "--quiet")
    site.requests.clear()
    result = run(site)
    assert result.exit_code == EXIT_OK
    assert site.article_requests() == []                 # nothing new, nothing due for a recheck
    assert result.output.startswith("run 2:") and "archiving" not in result.output   # no bar: no TTY
    result = run(site, "--recheck-after", "0")
    assert result.exit_code == EXIT_OK, result.output
    checks = site.article_requests()
    assert len(checks) == 33 and all(etag for _, etag in checks)     # all conditional: 304s
    last = rows(site, "SELECT * FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert (last["unchanged"], last["saved"], last["updated"]) == (33, 0, 0)
    assert rows(site, "SELECT count(*) AS n FROM revisions")[0]["n"] == 0
    assert rows(site, "SELECT count(*) AS n FROM fetch_log WHERE outcome = 'not_modified'")[0]["n"] == 33


def test_edited_article_gives_a_revision_and_new_feed_article_is_picked_up(site):
    run(site, "--quiet")
    site.pages["/news/7/story-7"] = (article_html(7, edit="وأضاف المتحدث تصحيحاً مهماً."),
                                      "text/html; charset=utf-8")
    site.add_article(34)
    site.requests.clear()
    result = run(site, "--recheck-after", "0")
    assert result.exit_code == EXIT_OK, result.output
    last = rows(site, "SELECT * FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert (last["saved"], last["updated"], last["unchanged"]) == (1, 1, 32)
    with Archive.open(site.db) as archive:
        versions = archive.history(site.url(7))
        assert [("تصحيحاً" in v["text"]) for v in versions] == [False, True]
        assert archive.has(site.url(34))
    site.requests.clear()
    assert run(site).exit_code == EXIT_OK
    assert site.article_requests() == []


def test_failures_are_retried_later_then_given_up(site):
    site.add_article(35)
    site.add_article(36)
    site.status["/news/35/story-35"] = 503       # temporary: retried on a later run
    site.status["/news/36/story-36"] = 404       # permanent: given up at once
    result = run(site)
    assert result.exit_code == EXIT_SOME_FAILED
    assert "story-35" in result.output and "story-36" in result.output
    q = {r["url"]: r for r in rows(site, "SELECT * FROM queue WHERE state != 'done'")}
    assert q[site.url(35)]["state"] == "pending" and q[site.url(35)]["tries"] == 1
    assert q[site.url(35)]["next_try"] > NOW.isoformat() and "503" in q[site.url(35)]["last_error"]
    assert q[site.url(36)]["state"] == "gave_up"
    failed = rows(site, "SELECT outcome, status, error FROM fetch_log WHERE url = ?", [site.url(35)])
    assert [r["status"] for r in failed] == [503, 503] and failed[-1]["outcome"] == "failed"
    site.requests.clear()
    assert run(site).exit_code == EXIT_OK           # not due yet: not asked again
    assert site.article_requests() == []
    del site.status["/news/35/story-35"]
    write(site, "UPDATE queue SET next_try = '2000-01-01T00:00:00+00:00' WHERE tries > 0")   # its next try has come
    assert run(site).exit_code == EXIT_OK
    assert [p for p, _ in site.article_requests()] == ["/news/35/story-35"]


def test_a_page_with_no_article_yet_is_retried_like_a_network_failure(site):
    """An empty page (a template that cut it, a story published before its text) is tried again on
    later runs with the same backoff and cap as a 503, not given up after one look."""
    site.add_article(37)
    story = site.pages["/news/37/story-37"]
    site.pages["/news/37/story-37"] = (b"<html><body><nav><a href='/'>home</a></nav></body></html>",
                                       "text/html; charset=utf-8")
    result = run(site)
    assert result.exit_code == EXIT_SOME_FAILED and "no article text" in result.output
    (row,) = rows(site, "SELECT * FROM queue WHERE url = ?", [site.url(37)])
    assert (row["state"], row["tries"]) == ("pending", 1) and row["next_try"] > NOW.isoformat()
    site.requests.clear()
    assert run(site).exit_code == EXIT_OK           # not due yet: not asked again
    assert site.article_requests() == []
    site.pages["/news/37/story-37"] = story
    write(site, "UPDATE queue SET next_try = '2000-01-01T00:00:00+00:00' WHERE tries > 0")
    assert run(site).exit_code == EXIT_OK
    assert [p for p, _ in site.article_requests()] == ["/news/37/story-37"]
    with Archive.open(site.db) as archive:
        assert archive.has(site.url(37))


def test_most_failed_or_nothing_reachable_is_exit_3(site, tmp_path):
    with socket.socket() as free:      # a port nobody listens on: connection refused
        free.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{free.getsockname()[1]}"
    config = tmp_path / "dead.toml"
    config.write_text(f'[sites.dead]\nstart = ["{dead}/"]\nfeeds = ["{dead}/rss.xml"]\n'
                      f"article = '/news/'\ndelay = 0\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["archive", "--db", site.db, "--config", str(config), "--site", "dead"])
    assert result.exit_code == EXIT_FAILED and "unreachable" in result.output
    for n in range(1, 34):
        site.status[f"/news/{n}/story-{n}"] = 404
    assert run(site, "--quiet").exit_code == EXIT_FAILED
    unknown = CliRunner().invoke(cli, ["archive", "--db", site.db, "--site", "nope"])
    assert unknown.exit_code == EXIT_USAGE and "nope" in unknown.output   # a usage error (README table)


def _start_run(site, *extra):
    return subprocess.Popen([sys.executable, "cli.py", "archive", "--db", site.db, "--config", site.config,
                             "--site", "local",
                             "--workers", "1", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _saved(site) -> int:
    try:
        with Archive.open(site.db, create=False) as archive:
            return archive.scalar("SELECT count(*) FROM articles")
    except NoSuchArchive:
        return 0


def test_kill_9_mid_run_then_rerun_loses_nothing(site):
    site.latency = 0.05
    proc = _start_run(site)
    try:
        _wait_for(lambda: _saved(site) >= 5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        proc.kill()
    assert 5 <= _saved(site) < 33
    site.latency = 0.0
    result = run(site, "--quiet")
    assert result.exit_code == EXIT_OK, result.output
    if not site.db.startswith("postgresql://"):
        assert rows(site, "PRAGMA integrity_check")[0]["integrity_check"] == "ok"
    urls = [r["url"] for r in rows(site, "SELECT url FROM articles")]
    assert sorted(urls) == sorted(site.url(n) for n in range(1, 34))
    killed, rerun = rows(site, "SELECT * FROM runs ORDER BY id")
    assert killed["ended_at"] is None and rerun["exit_code"] == 0
    assert rows(site, "SELECT count(*) AS n FROM queue WHERE state != 'done'")[0]["n"] == 0


def test_second_run_at_once_exits_75_and_touches_nothing(site):
    site.latency = 0.2       # the first run takes seconds; it is killed once checked
    proc = _start_run(site)
    try:
        _wait_for(lambda: _saved(site) >= 1)
        runs_before = rows(site, "SELECT count(*) AS n FROM runs")[0]["n"]
        began = time.monotonic()
        result = run(site)
        assert result.exit_code == EXIT_LOCKED and "pid" in result.output
        assert time.monotonic() - began < 2
        assert rows(site, "SELECT count(*) AS n FROM runs")[0]["n"] == runs_before
        assert run(site, "--quiet").output == ""
    finally:
        proc.kill()
        proc.wait()


def test_discover_and_sites_commands(site):
    result = CliRunner().invoke(cli, ["discover", "local", "--db", site.db, "--config", site.config])
    assert result.exit_code == EXIT_OK, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert {line[0] for line in lines} == {site.url(n) for n in range(1, 34)}
    sources = {line[0]: " ".join(line[1:]) for line in lines}
    assert "feed " in sources[site.url(3)] and "start-page" in sources[site.url(3)]
    assert "news-sitemap" in sources[site.url(15)] and "atom.xml" in sources[site.url(33)]
    assert site.article_requests() == []                       # discovery fetches no article
    with pytest.raises(NoSuchArchive):                         # and writes nothing
        Archive.open(site.db, create=False)
    run(site, "--quiet")
    listed = CliRunner().invoke(cli, ["sites", "--db", site.db, "--config", site.config])
    assert listed.exit_code == EXIT_OK
    assert "local: 127.0.0.1" in listed.output and "33 articles" in listed.output
    assert "(exit 0)" in listed.output
    assert CliRunner().invoke(cli, ["discover", "local", "--db", site.db, "--config", site.config]).stdout == ""


def test_max_caps_new_articles_and_the_rest_waits_in_the_queue(site):
    assert run(site, "--max", "5", "--quiet").exit_code == EXIT_OK
    assert _saved(site) == 5
    assert rows(site, "SELECT count(*) AS n FROM queue WHERE state = 'pending'")[0]["n"] == 28
    assert run(site, "--quiet").exit_code == EXIT_OK
    assert _saved(site) == 33 and len(site.article_requests()) == 33


def test_every_request_of_a_run_names_the_user_agent_given(tmp_path, httpserver):
    article = ('<html lang="ar"><head><title>خبر</title></head><body><article><h1>خبر اليوم</h1>'
               + "<p>" + "قالت مصادر مطلعة إن المشروع الجديد سيبدأ في المرحلة المقبلة. " * 8 + "</p>"
               + "</article></body></html>")
    httpserver.expect_request("/news/1").respond_with_data(article, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/").respond_with_data('<a href="/news/1">1</a>', content_type="text/html")
    httpserver.expect_request("/robots.txt").respond_with_data("not here", status=404)
    config = tmp_path / "sites.toml"
    config.write_text(f"""[sites.local]
domains = ["localhost"]
start = ["{httpserver.url_for('/')}"]
article = '^http://localhost:\\d+/news/\\d+$'
delay = 0
""", encoding="utf-8")
    agent = "newsdesk-archive/1.0 (ops@example.org)"
    result = CliRunner().invoke(cli, ["archive", "--config", str(config), "--site", "local",
                                      "--user-agent", agent, "--db", str(tmp_path / "a.db")])
    assert result.exit_code == EXIT_OK, result.output
    paths = {req.path for req, _ in httpserver.log}
    assert {"/robots.txt", "/", "/news/1"} <= paths
    assert {req.headers.get("User-Agent") for req, _ in httpserver.log} == {agent}
