"""The listing cache across `scraper archive` runs: conditional GETs for listings, robots.txt kept 24 h.

A real local news site on 127.0.0.1 (robots.txt with a Sitemap: line, a home page naming an Atom
feed, an RSS feed, a static sitemap index over a news sitemap and an old sitemap, articles) that
sends ETag and Last-Modified, answers 304 when either validator matches, and records every request
(path, the validators sent, the status, the body bytes sent). The clock of a run is injected
(``RunOptions.clock``), so "25 hours later" needs no sleeping.
"""
from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import formatdate
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import EXIT_OK, cli
from scraper.crawl.run import RunOptions, run_archive
from tests.synthetic import SiteHandler, prose, serve

ROOT = Path(__file__).resolve().parent.parent
LISTINGS = ("/", "/rss.xml", "/atom.xml", "/sitemap.xml", "/sitemap-news.xml", "/sitemap-old.xml")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc)


def article(n: int) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in prose(n))
    return (f'<html lang="ar"><head><meta charset="utf-8"><title>خبر رقم {n}</title>'
            f'<meta property="article:published_time" content="2020-01-01T10:00:00+04:00"></head>'
            f'<body><article><h1>خبر رقم {n}</h1>{body}</article></body></html>').encode()


class Site:
    """The local site. ``pages`` path -> body; ``log`` one dict per request, in order."""

    def __init__(self, tmp_path: Path):
        self.pages: dict[str, bytes] = {}
        self.changed: dict[str, int] = {}           # path -> version, for Last-Modified
        self.status: dict[str, int] = {}            # path -> forced error status
        self.cut: set[str] = set()                  # paths whose body stops halfway (connection closed)
        self.hold: dict[str, threading.Event] = {}  # paths whose body stops halfway until the event
        self.log: list[dict] = []
        self.rss, self.news = [1, 2, 3, 4, 5], [6, 7, 8, 9]
        site = self

        class Handler(SiteHandler):
            def do_GET(self):
                entry = {"path": self.path, "inm": self.headers.get("If-None-Match"),
                         "ims": self.headers.get("If-Modified-Since"), "status": 200, "bytes": 0}
                site.log.append(entry)
                if self.path in site.status or self.path not in site.pages:
                    entry["status"] = site.status.get(self.path, 404)
                    self.send(entry["status"], b"no", "text/plain")
                    return
                body = site.pages[self.path]
                etag = '"' + hashlib.sha1(body).hexdigest()[:12] + '"'
                modified = formatdate(T0.timestamp() + site.changed.get(self.path, 0), usegmt=True)
                if entry["inm"] == etag or (entry["inm"] is None and entry["ims"] == modified):
                    entry["status"] = 304
                    self.send(304, b"", "text/plain", ETag=etag, Last_Modified=modified)
                    return
                if self.path in site.cut or self.path in site.hold:
                    self._half(body, etag, modified, site.hold.get(self.path))
                    entry["bytes"] = len(body) // 2
                    return
                entry["bytes"] = len(body)
                self.send(200, body, "application/xml" if self.path.endswith(".xml") else "text/html",
                          ETag=etag, Last_Modified=modified)

            def _half(self, body, etag, modified, event):
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", modified)
                self.end_headers()
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                if event is not None:
                    event.wait(20)
                    try:
                        self.wfile.write(body[len(body) // 2:])
                    except OSError:
                        pass        # the client was killed meanwhile
                self.close_connection = True

        self.server = serve(Handler)
        self.server.handle_error = lambda *args: None
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.db = str(tmp_path / "archive.db")
        self.config = tmp_path / "sites.toml"
        self.write_config(r"/news/\d+$")
        for n in range(1, 60):
            self.pages[f"/news/{n}"] = article(n)
        self.build()

    def write_config(self, article_path: str) -> None:
        self.config.write_text(
            f'[sites.local]\nstart = ["{self.base}/"]\nfeeds = ["{self.base}/rss.xml"]\n'
            f"article = '^http://127\\.0\\.0\\.1:{self.server.server_port}{article_path}'\ndelay = 0\n",
            encoding="utf-8")

    def put(self, path: str, body: bytes) -> None:
        if self.pages.get(path) != body:
            self.changed[path] = self.changed.get(path, 0) + 60
        self.pages[path] = body

    def url(self, n: int) -> str:
        return f"{self.base}/news/{n}"

    def build(self) -> None:
        b, ns = self.base, 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        self.put("/robots.txt", f"User-agent: *\nDisallow: /news/9\nSitemap: {b}/sitemap.xml\n".encode())
        self.put("/", ('<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml">'
                       '</head><body><a href="/news/10">10</a><a href="/news/11">11</a>'
                       '<a href="/story/50">50</a></body></html>').encode())
        items = "".join(f"<item><title>{n}</title><link>{self.url(n)}</link></item>" for n in self.rss)
        self.put("/rss.xml", f"<rss version='2.0'><channel>{items}</channel></rss>".encode())
        self.put("/atom.xml", (f'<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>12</title>'
                               f'<link href="{self.url(12)}"/></entry></feed>').encode())
        self.put("/sitemap.xml", (f"<sitemapindex {ns}><sitemap><loc>{b}/sitemap-news.xml</loc></sitemap>"
                                  f"<sitemap><loc>{b}/sitemap-old.xml</loc></sitemap></sitemapindex>").encode())
        urls = lambda numbers: "".join(f"<url><loc>{self.url(n)}</loc></url>" for n in numbers)  # noqa: E731
        self.put("/sitemap-news.xml", f"<urlset {ns}>{urls(self.news)}</urlset>".encode())
        self.put("/sitemap-old.xml", f"<urlset {ns}>{urls(range(13, 20))}"
                                     f"<url><loc>{b}/story/51</loc></url></urlset>".encode())
        self.put("/story/50", article(50))
        self.put("/story/51", article(51))

    def requests(self, *paths: str) -> list[dict]:
        return [e for e in self.log if not paths or e["path"] in paths]

    def rows(self, sql: str, params=()) -> list[dict]:
        with sqlite3.connect(self.db) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute(sql, params)]

    def archived(self) -> set[str]:
        return {r["url"] for r in self.rows("SELECT url FROM articles")}

    def close(self) -> None:
        for event in self.hold.values():
            event.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path)
    yield s
    s.close()


def cli_run(site: Site, *args: str):
    result = CliRunner().invoke(cli, ["archive", "--db", site.db, "--site", "local", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def lib_run(site: Site, at: datetime):
    return run_archive(site.db, RunOptions(sites=("local",), config=site.config, clock=lambda: at))


FIRST_RUN_ARTICLES = {1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}   # 9: robots.txt says no


def test_second_run_sends_the_validators_and_reads_nothing_unchanged(site):
    assert cli_run(site, "--quiet").exit_code == EXIT_OK
    assert site.archived() == {site.url(n) for n in FIRST_RUN_ARTICLES}
    first = site.requests(*LISTINGS, "/robots.txt")
    assert sorted(e["path"] for e in first) == sorted((*LISTINGS, "/robots.txt"))   # each once
    assert all(e["inm"] is None and e["ims"] is None and e["status"] == 200 for e in first)
    first_bytes = sum(e["bytes"] for e in first)
    site.log.clear()

    assert cli_run(site, "--quiet").exit_code == EXIT_OK
    second = site.requests()
    # robots.txt is not asked within its 24 hours; every listing is asked once, conditionally, and
    # answers 304, the static index's children included; no article is fetched again.
    assert sorted(e["path"] for e in second) == sorted(LISTINGS)
    assert all(e["inm"] and e["ims"] and e["status"] == 304 for e in second), second
    assert sum(e["bytes"] for e in second) == 0 < first_bytes
    states = {r["url"].removeprefix(site.base): r for r in site.rows("SELECT * FROM listings")}
    assert set(states) == set(LISTINGS)
    assert {r["outcome"] for r in states.values()} == {"not_modified"}
    assert all(r["etag"] and r["last_modified"] and r["read_at"] <= r["checked_at"] for r in states.values())
    last = site.rows("SELECT discovered, saved, failed, exit_code FROM runs ORDER BY id DESC LIMIT 1")[0]
    assert last == {"discovered": 0, "saved": 0, "failed": 0, "exit_code": 0}
    logged = site.rows("SELECT status FROM fetch_log WHERE run_id = 2")
    assert [r["status"] for r in logged] == [304] * len(LISTINGS)


def test_a_changed_feed_and_a_changed_child_sitemap_are_read_and_their_new_articles_archived(site):
    cli_run(site, "--quiet")
    site.rss.append(20)          # a new item in the feed
    site.news.append(21)         # and in the news sitemap, under an index that does not change
    site.build()
    site.log.clear()
    assert cli_run(site, "--quiet").exit_code == EXIT_OK
    answers = {e["path"]: e["status"] for e in site.requests(*LISTINGS)}
    assert answers == {"/": 304, "/rss.xml": 200, "/atom.xml": 304, "/sitemap.xml": 304,
                       "/sitemap-news.xml": 200, "/sitemap-old.xml": 304}
    assert all(e["inm"] for e in site.requests(*LISTINGS))
    assert sorted(e["path"] for e in site.requests() if e["path"].startswith("/news/")) == [
        "/news/20", "/news/21"]
    assert {site.url(20), site.url(21)} <= site.archived()
    (rss,) = site.rows("SELECT * FROM listings WHERE url = ?", [site.base + "/rss.xml"])
    assert rss["outcome"] == "read" and rss["etag"] == f'"{hashlib.sha1(site.pages["/rss.xml"]).hexdigest()[:12]}"'


def test_robots_txt_is_fetched_once_in_24_hours_then_revalidated(site):
    lib_run(site, T0)
    lib_run(site, T0 + timedelta(hours=23))
    robots = site.requests("/robots.txt")
    assert len(robots) == 1 and robots[0]["inm"] is None
    # Past 24 hours: asked again, conditionally; the 304 keeps the copy for another 24 hours. The
    # listings, last read in full a day ago, are read in full again (the daily full read).
    site.log.clear()
    report = lib_run(site, T0 + timedelta(hours=25))
    assert report.exit_code == EXIT_OK
    (robots,) = site.requests("/robots.txt")
    assert robots["inm"] and robots["status"] == 304
    assert all(e["inm"] is None and e["status"] == 200 for e in site.requests(*LISTINGS))
    (copy,) = site.rows("SELECT * FROM robots_txt")
    assert copy["fetched_at"] == (T0 + timedelta(hours=25)).isoformat()
    assert "Disallow: /news/9" in copy["body"] and copy["status"] == 200
    site.log.clear()
    lib_run(site, T0 + timedelta(hours=48))
    assert site.requests("/robots.txt") == []
    assert site.url(9) not in site.archived()


def test_unreachable_robots_txt_falls_back_on_the_copy_then_disallows(site):
    lib_run(site, T0)
    site.status["/robots.txt"] = 503
    site.rss.append(22)
    site.build()
    # Expired but under 30 days old: the copy stands in (RFC 9309 2.4), its rules still apply.
    report = lib_run(site, T0 + timedelta(days=3))
    assert report.exit_code == EXIT_OK, report.problems
    assert site.requests("/robots.txt")[-1]["status"] == 503
    assert site.url(22) in site.archived() and site.url(9) not in site.archived()
    (copy,) = site.rows("SELECT * FROM robots_txt")
    assert copy["fetched_at"] == T0.isoformat() and "503" in copy["error"]
    # Too old to trust: everything on the host is disallowed, as without a copy.
    site.rss.append(23)
    site.build()
    site.log.clear()
    report = lib_run(site, T0 + timedelta(days=31))
    assert any("unreachable (HTTP 503)" in p for p in report.problems)
    assert [e["path"] for e in site.requests()] == ["/robots.txt"] * len(site.requests())
    assert site.url(23) not in site.archived()


@pytest.mark.parametrize("fault", ["cut", "malformed"])
def test_a_listing_not_read_to_the_end_keeps_no_validators(site, fault):
    good = site.pages["/rss.xml"]
    if fault == "cut":
        site.cut.add("/rss.xml")                     # connection closed halfway through the body
    else:
        site.put("/rss.xml", good[: len(good) // 2])  # a 200 whose XML stops halfway
    cli_run(site, "--quiet")
    (rss,) = site.rows("SELECT * FROM listings WHERE url = ?", [site.base + "/rss.xml"])
    assert rss["outcome"] == ("failed" if fault == "cut" else "partial")
    assert (rss["etag"], rss["last_modified"], rss["read_at"]) == (None, None, None)
    assert site.url(5) not in site.archived()         # listed only in the part never read
    # `scraper sites` shows the operator which listing failed, and why.
    listed = CliRunner().invoke(cli, ["sites", "--db", site.db, "--config", str(site.config)]).output
    assert f"1 {'failed' if fault == 'cut' else 'partly read'}" in listed
    assert f"    {site.base}/rss.xml: " in listed
    site.cut.clear()
    site.put("/rss.xml", good)
    site.log.clear()
    cli_run(site, "--quiet")
    (again,) = site.requests("/rss.xml")
    assert (again["inm"], again["status"]) == (None, 200)   # asked unconditionally, read in full
    assert site.url(5) in site.archived()
    assert all(e["status"] == 304 for e in site.requests(*LISTINGS) if e["path"] != "/rss.xml")


def test_a_run_killed_mid_listing_does_not_make_the_next_run_skip_it(site):
    assert cli_run(site, "--quiet").exit_code == EXIT_OK
    before = site.rows("SELECT * FROM listings ORDER BY url")
    site.rss.append(24)
    site.build()
    site.hold["/rss.xml"] = threading.Event()       # the changed feed stops halfway...
    site.log.clear()
    proc = subprocess.Popen([sys.executable, "cli.py", "archive", "--db", site.db, "--site", "local",
                             "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not site.requests("/rss.xml") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert site.requests("/rss.xml"), "the run never asked for the feed"
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)             # ... and the run is killed while reading it
        proc.wait()
    finally:
        proc.kill()
        site.hold.pop("/rss.xml").set()
    assert site.rows("SELECT * FROM listings ORDER BY url") == before   # nothing of that run kept
    site.log.clear()
    assert cli_run(site, "--quiet").exit_code == EXIT_OK
    (feed,) = site.requests("/rss.xml")
    assert feed["inm"] and feed["status"] == 200       # the old validators: the new feed is read
    assert site.url(24) in site.archived()


def test_changed_site_rules_read_every_listing_again(site):
    cli_run(site, "--quiet")
    assert site.base + "/story/51" not in site.archived()
    site.write_config(r"/(news|story)/\d+$")           # the operator widens the article regex
    site.log.clear()
    cli_run(site, "--quiet")
    assert all(e["inm"] is None and e["status"] == 200 for e in site.requests(*LISTINGS))
    assert {site.base + "/story/50", site.base + "/story/51"} <= site.archived()


def test_discover_reads_everything_and_leaves_the_cache_alone(site):
    cli_run(site, "--quiet")
    before = (site.rows("SELECT * FROM listings ORDER BY url"), site.rows("SELECT * FROM robots_txt"))
    site.log.clear()
    result = CliRunner().invoke(cli, ["discover", "local", "--all", "--db", site.db])
    assert result.exit_code == EXIT_OK, result.output
    assert {line.split("\t")[0] for line in result.stdout.splitlines()} == {
        site.url(n) for n in FIRST_RUN_ARTICLES}
    # A preview of what the site lists now: robots.txt and every listing asked unconditionally.
    assert sorted(e["path"] for e in site.requests()) == sorted((*LISTINGS, "/robots.txt"))
    assert all(e["inm"] is None and e["ims"] is None and e["status"] == 200 for e in site.requests())
    assert (site.rows("SELECT * FROM listings ORDER BY url"), site.rows("SELECT * FROM robots_txt")) == before
