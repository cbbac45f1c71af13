"""The cron run's deadlines and its independence of sites, against real servers on 127.0.0.1.

Each test is a fault issue 10 or 11 reproduced: a slow feed on one site that held every other
site's fetching, a Crawl-delay of 1e308 (OverflowError) or 100000 (a run asleep with the lock
held), a run without a time limit, one bad link or absurd date in a feed that crashed `archive`
and `discover` on every run, an unreachable robots.txt reported as "disallowed", a user's sites
file that still archived the built-in site.
"""
from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from click.testing import CliRunner

from cli import cli
from scraper.crawl.run import RUN_FETCH_OPTIONS, RunOptions, run_archive, select_sites
from scraper.profiles import load_profiles
from tests.synthetic import SiteHandler, prose, serve


def page(n: int) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in prose(n))
    return (f'<html lang="ar"><head><meta charset="utf-8"><title>خبر {n}</title></head><body><article>'
            f"<h1>خبر رقم {n}</h1>{body}</article></body></html>").encode()


class Site:
    """A small news site: robots.txt, an RSS feed of its articles, the articles; every request timed.

    ``slow_feed``: the feed trickles until that event is set (``trickled_until`` then says when);
    ``all_served``: an event set once every article has been answered.
    """

    def __init__(self, articles=range(1, 4), robots="User-agent: *\nDisallow:\n", feed_extra="",
                 slow_feed: threading.Event | None = None, host: str = "127.0.0.1",
                 all_served: threading.Event | None = None, latency: float = 0.0):
        self.seen: list[tuple[float, str]] = []
        self.slow_feed, self.robots, self.all_served = slow_feed, robots, all_served
        self.trickled_until: float | None = None
        self.articles, self.feed_extra = list(articles), feed_extra
        self.latency = latency      # seconds each article takes to answer
        me = self

        class Handler(SiteHandler):
            def do_GET(self):
                me.seen.append((time.monotonic(), self.path))
                if self.path == "/robots.txt":
                    return self.send(200, me.robots.encode(), "text/plain")
                if self.path == "/feed.xml":
                    if me.slow_feed is not None:
                        return me._trickle(self)
                    return self.send(200, me.feed(), "application/rss+xml")
                if self.path.startswith("/news/"):
                    time.sleep(me.latency)
                    self.send(200, page(int(self.path.split("/")[2])), "text/html; charset=utf-8")
                    if me.all_served is not None and len({p for _, p in me.seen if p.startswith("/news/")}) \
                            == len(me.articles):
                        me.all_served.set()
                    return
                self.send(404, b"no", "text/plain")

        self.server = serve(Handler, host)
        if latency:     # answers still sleeping when the run (and the test) ends find the client gone:
            self.server.handle_error = lambda request, address: None   # no traceback in the next test's output
        self.base = f"http://{host}:{self.server.server_port}"

    def feed(self) -> bytes:
        items = "".join(f"<item><title>t{n}</title><link>{self.base}/news/{n}/x</link></item>"
                        for n in self.articles)
        return f"<rss version='2.0'><channel>{items}{self.feed_extra}</channel></rss>".encode()

    def _trickle(self, handler) -> None:
        """Status line and headers one byte every 0.1 s, until ``slow_feed`` is set; then the
        connection is closed, the headers unfinished."""
        handler.close_connection = True
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nX-Pad: " + b"z" * 10_000:
            if self.slow_feed.wait(0.1):
                self.trickled_until = time.monotonic()
                return
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return

    def toml(self, name: str, delay: float = 0) -> str:
        return (f'[sites.{name}]\nfeeds = ["{self.base}/feed.xml"]\n'
                f"article = '/news/\\d+/'\ndelay = {delay!r}\n")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sites():
    made = []

    def make(**kw) -> Site:
        made.append(Site(**kw))
        return made[-1]
    yield make
    for s in made:
        if s.slow_feed is not None:
            s.slow_feed.set()
        s.close()


def rows(db, sql):
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql)]


def write_config(tmp_path, *tables: str):
    config = tmp_path / "sites.toml"
    config.write_text("\n".join(tables), encoding="utf-8")
    return config


def test_one_slow_feed_does_not_hold_the_other_sites(sites, tmp_path):
    """Issue 11: a feed sending its headers one byte a second held the whole run (0 articles in 240 s)."""
    # Two hosts (127.0.0.2 is loopback too): politeness takes turns per host, whatever the port.
    # Site A's feed trickles until site B's last article has been answered, then breaks off; had
    # the run waited for it, it would have been cut at its deadline (6 s) with B not yet asked.
    fast_done = threading.Event()
    slow, fast = sites(slow_feed=fast_done), sites(articles=range(1, 6), host="127.0.0.2", all_served=fast_done)
    config = write_config(tmp_path, slow.toml("slow"), fast.toml("fast"))
    options = RunOptions(config=config, fetch=replace(RUN_FETCH_OPTIONS, total_timeout=6.0, retries=0))
    began = time.monotonic()
    report = run_archive(tmp_path / "a.db", options)
    fetched = [t for t, path in fast.seen if path.startswith("/news/")]
    assert len(fetched) == 5 and report.counts["saved"] == 5
    # Site B's articles were all fetched while site A's feed was still trickling in.
    assert slow.trickled_until is not None and max(fetched) < slow.trickled_until
    assert time.monotonic() - began < 20
    (run,) = rows(tmp_path / "a.db", "SELECT * FROM runs")
    assert run["ended_at"] and run["exit_code"] == 1 and "slow" in run["problems"]


def test_max_time_ends_the_run_cleanly_and_the_next_run_goes_on(sites, tmp_path):
    site = sites(articles=range(1, 31))
    config = write_config(tmp_path, site.toml("local", delay=0.5))
    db = tmp_path / "a.db"
    began = time.monotonic()
    result = CliRunner().invoke(cli, ["archive", "--db", str(db), "--config", str(config), "--max-time", "3s"])
    took = time.monotonic() - began
    assert result.exit_code == 0, result.output
    assert 2.5 < took < 8 and "time limit" in result.output
    (run,) = rows(db, "SELECT * FROM runs")
    saved = run["saved"]
    assert run["ended_at"] and run["exit_code"] == 0 and 2 <= saved < 30
    pending = rows(db, "SELECT url FROM queue WHERE state = 'pending'")
    assert len(pending) == 30 - saved and not rows(db, "SELECT * FROM queue WHERE tries > 0")
    # The next run (no limit) takes what was left, without fetching any article twice; without the
    # half-second delay, which made the first run stop half-way and would only make this one wait.
    config = write_config(tmp_path, site.toml("local", delay=0))
    assert CliRunner().invoke(cli, ["archive", "--db", str(db), "--config", str(config),
                                    "--max-time", "0"]).exit_code == 0
    articles = [path for _, path in site.seen if path.startswith("/news/")]
    assert len(articles) == len(set(articles)) == 30


def test_the_time_limit_says_how_many_urls_the_queue_holds_for_the_next_run(sites, tmp_path):
    """A new user's trial: 300 URLs, a run cut off after a few pages said `188 URLs left queued`
    and `188 skipped` while the queue held 288 pending: it counted only the URLs handed to the
    fetchers (a window of 200), and called URLs never reached "skipped"."""
    site = sites(articles=range(1, 301), latency=0.3)
    config = write_config(tmp_path, site.toml("slow"))
    db, log = tmp_path / "m.db", tmp_path / "m.log"
    result = CliRunner().invoke(cli, ["archive", "--db", str(db), "--config", str(config), "--max-time", "2s",
                                      "--log-file", str(log)])
    assert result.exit_code == 0, result.output
    (run,) = rows(db, "SELECT * FROM runs")
    (pending,) = rows(db, "SELECT count(*) AS n FROM queue WHERE state = 'pending'")
    left = pending["n"]
    assert run["discovered"] == 300 and left == 300 - run["saved"] > 200      # more than one window
    assert f"was reached: {left} URLs left queued for the next run" in result.output
    assert "skipped" not in result.output and run["skipped"] == 0 and run["deferred"] == left
    assert f" {left} deferred, " in log.read_text(encoding="utf-8").splitlines()[-1]


def test_delays_are_capped_and_what_is_no_number_of_seconds_is_ignored():
    from scraper.crawl.politeness import MAX_DELAY, Politeness

    politeness = Politeness(1.0)
    assert politeness.set_delay("a.example", 1e308, None) == MAX_DELAY
    assert politeness.set_delay("a.example", float("inf")) == MAX_DELAY
    assert politeness.set_delay("a.example", float("nan"), -5, 2.5) == 2.5
    assert politeness.set_delay("a.example", float("nan")) == 1.0


@pytest.mark.parametrize("robots, delay", [
    ("User-agent: *\nCrawl-delay: 1e308\n", 0), ("User-agent: *\nCrawl-delay: 100000\n", 0),
    ("User-agent: *\nDisallow:\n", 1e308),
])
def test_a_huge_crawl_delay_neither_overflows_nor_holds_the_run(sites, tmp_path, robots, delay):
    """Issue 11: Crawl-delay 1e308 (or delay = 1e308) was an OverflowError; 100000 slept until killed."""
    site = sites(articles=range(1, 6), robots=robots)
    config = write_config(tmp_path, site.toml("local", delay=delay))
    db = tmp_path / "a.db"
    for _ in range(2):      # robots.txt, then (kept 24 h) the feed: one request per run and capped delay
        began = time.monotonic()
        result = CliRunner().invoke(cli, ["archive", "--db", str(db), "--config", str(config), "--max-time", "3s"])
        assert time.monotonic() - began < 12, result.output
        assert "Traceback" not in result.output and result.exit_code == 0, result.output
        assert "time limit" in result.output
    assert all(run["ended_at"] and run["exit_code"] == 0 for run in rows(db, "SELECT * FROM runs"))
    assert [p for _, p in site.seen] == ["/robots.txt", "/feed.xml"]
    assert len(rows(db, "SELECT * FROM queue WHERE state = 'pending' AND tries = 0")) == 5


BAD_ITEMS = ("<item><title>bad</title><link>http://[::1</link></item>"
             "<item><title>long</title><link>http://" + "a" * 70 + ".example/news/9/x</link></item>"
             "<item><title>port</title><link>http://127.0.0.1:99999/news/8/x</link></item>"
             "<item><title>date</title><link>{base}/news/7/x</link>"
             "<pubDate>Mon, 01 Jan 9999999999 00:00:00 +0000</pubDate></item>")


def test_a_feed_with_broken_links_and_absurd_dates_breaks_neither_archive_nor_discover(sites, tmp_path):
    """Issue 10/11: one such item crashed `archive` and `discover` on every run, leaving a run without end."""
    site = sites(articles=range(1, 4))
    site.feed_extra = BAD_ITEMS.format(base=site.base)
    config = write_config(tmp_path, site.toml("local"))
    db = tmp_path / "a.db"
    result = CliRunner().invoke(cli, ["archive", "--db", str(db), "--config", str(config)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "not a valid URL" in result.output and "3 links" in result.output
    (run,) = rows(db, "SELECT * FROM runs")
    assert run["ended_at"] and run["saved"] == 4 and run["exit_code"] == 1
    dated = rows(db, "SELECT feed_published FROM queue WHERE url LIKE '%/news/7/x'")
    assert dated == [{"feed_published": None}]      # the absurd date ignored, the article kept
    found = CliRunner().invoke(cli, ["discover", "local", "--config", str(config), "--db", str(tmp_path / "b.db"),
                                     "--all"])
    assert found.exit_code == 1 and "Traceback" not in found.output
    assert len([line for line in found.output.splitlines() if "/news/" in line and "\t" in line]) == 4


def test_an_unreachable_robots_txt_is_named_as_the_cause(tmp_path):
    """Issue 10: with no network every URL was "disallowed by robots.txt", and `sites` kept only that."""
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()     # nothing listens there: connection refused
    config = write_config(tmp_path, f'[sites.gone]\nfeeds = ["http://127.0.0.1:{port}/feed.xml"]\n'
                                    f'start = ["http://127.0.0.1:{port}/"]\narticle = "/news/"\n')
    db = tmp_path / "a.db"
    result = CliRunner().invoke(cli, ["archive", "--db", str(db), "--config", str(config)])
    assert result.exit_code == 3
    assert "robots.txt unreachable" in result.output and "connection refused" in result.output
    assert "disallowed by robots.txt" not in result.output
    listed = CliRunner().invoke(cli, ["sites", "--db", str(db), "--config", str(config)])
    assert "connection refused" in listed.output and "robots.txt unreachable" in listed.output


def test_a_users_sites_file_says_which_sites_are_archived(sites, tmp_path):
    """Issue 10: a cron user's own sites.toml still archived the built-in alittihad site."""
    site = sites()
    config = write_config(tmp_path, site.toml("mine"))
    assert [p.name for p in select_sites(RunOptions(config=config))] == ["mine"]
    assert "alittihad" in [p.name for p in select_sites(RunOptions(config=tmp_path / "absent.toml"))]
    # Named on the command line, a built-in site still runs; its rules apply to its pages anyway.
    assert [p.name for p in select_sites(RunOptions(config=config, sites=("alittihad",)))] == ["alittihad"]
    assert "alittihad" in load_profiles(config)
    db = tmp_path / "a.db"
    assert CliRunner().invoke(cli, ["archive", "--db", str(db), "--config", str(config)]).exit_code == 0
    assert [json.loads(r["sites"]) for r in rows(db, "SELECT sites FROM runs")] == [["mine"]]
    listed = CliRunner().invoke(cli, ["sites", "--db", str(db), "--config", str(config)]).output
    blocks = {block.split(":")[0]: block for block in listed.split("\n") if block and not block.startswith(" ")}
    assert set(blocks) >= {"mine", "alittihad"}
    assert "not archived" in listed.split("alittihad:")[1].split("\n")[1]
    assert "archived by `scraper archive`: listed in" in listed.split("mine:")[1].split("\n")[1]


def test_a_sites_file_with_a_broken_url_or_an_impossible_delay_is_a_config_error(tmp_path):
    for table in ('[sites.x]\nfeeds = ["http://[::1/feed"]\n', '[sites.x]\nstart = ["http://a.example:0/"]\n',
                  '[sites.x]\nstart = ["http://a.example/"]\ndelay = nan\n',
                  '[sites.x]\nstart = ["http://a.example/"]\ndelay = inf\n'):
        config = write_config(tmp_path, table)
        result = CliRunner().invoke(cli, ["archive", "--db", str(tmp_path / "a.db"), "--config", str(config)])
        assert result.exit_code == 3 and "Traceback" not in result.output and "sites.toml" in result.output


def test_the_run_deadline_bounds_a_request_already_under_way(sites, tmp_path):
    """A request started just before the deadline ends at it, and its URL is not counted as a failure."""
    slow = sites(slow_feed=threading.Event())
    config = write_config(tmp_path, slow.toml("slow"))
    options = RunOptions(config=config, max_time=timedelta(seconds=2))
    began = time.monotonic()
    report = run_archive(tmp_path / "a.db", options)
    assert time.monotonic() - began < 6 and report.timed_out
    assert not rows(tmp_path / "a.db", "SELECT * FROM listings WHERE outcome = 'failed'")


def test_a_backtracking_article_regex_answers_at_once(sites, tmp_path):
    """Issue 11: this pattern users really write ran for minutes on one 36-letter link and a `!`."""
    site = sites(articles=[])
    evil = f"{site.base}/news/{'a' * 36}!"
    site.feed_extra = "".join(f"<item><link>{evil}{'a' * n}!</link></item>" for n in range(200))
    pattern = r"^http://127\.0\.0\.1:\d+/news/([a-z0-9]+-?)+(\.html)?$"
    config = write_config(tmp_path, f'[sites.x]\nfeeds = ["{site.base}/feed.xml"]\narticle = \'{pattern}\'\n')
    profile = load_profiles(config)["x"]
    began = time.monotonic()
    assert not profile.is_article(evil) and profile.is_article(f"{site.base}/news/some-story-12.html")
    result = CliRunner().invoke(cli, ["archive", "--db", str(tmp_path / "a.db"), "--config", str(config)])
    assert result.exit_code == 0 and time.monotonic() - began < 10, result.output


@pytest.mark.parametrize("pattern", [r"/news/(?!video)\d+", r"/(\w+)/\1/", r"(?<=/)\d+$", r"/news/(\d+"])
def test_an_article_regex_re2_cannot_run_is_a_config_error(tmp_path, pattern):
    config = write_config(tmp_path, f'[sites.x]\nstart = ["http://127.0.0.1:9/"]\narticle = \'{pattern}\'\n')
    result = CliRunner().invoke(cli, ["archive", "--db", str(tmp_path / "a.db"), "--config", str(config)])
    assert result.exit_code == 3 and "article" in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_stopping_run_lets_every_thread_waiting_for_a_host_go():
    """A host whose turn nobody gives back (its holder stopped with the run) kept a fetch thread
    waiting forever, and the process, which joins its worker threads at exit, never ended."""
    from scraper.crawl.politeness import Politeness
    from scraper.errors import OutOfTime

    politeness = Politeness(0)
    assert politeness.try_acquire("held.example") == 0.0
    stopped = []

    def fetch():
        try:
            with politeness.turn("http://held.example/robots.txt"):
                pass
        except OutOfTime as exc:
            stopped.append(exc)

    waiting = threading.Thread(target=fetch)
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive()
    politeness.close()
    waiting.join(5)
    assert not waiting.is_alive() and len(stopped) == 1
    with pytest.raises(OutOfTime):
        with politeness.turn("http://free.example/"):
            pass
