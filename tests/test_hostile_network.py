"""Hostile servers, end to end: every fault is one line, one defined fetch-log row, and no damage.

tests/test_fetch.py checks what ``fetch`` raises for each fault; this file checks what the user
and the archive see. ``scraper fetch`` on a list of bad URLs between good ones (CliRunner): one
line per URL on stderr, exit 1, a fetch_log row with the reason, the good pages still saved.
The retryable faults (timeouts, resets, truncated bodies) go through the same pipeline function
with no retries, so the test does not sit out backoffs. The cron archiver's queue: gone (410) and
refused (401, 403) are given up at once, 429/503 wait (Retry-After in seconds or as a date) and
are given up after the set number of tries, and a Retry-After hours away does not hold the run:
that host's URLs are left for a later run. Every server is real, on 127.0.0.1.
"""
from __future__ import annotations

import gzip
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import EXIT_FAILED, cli
from scraper.crawl.run import RunOptions, run_archive
from scraper.fetch.http import FetchOptions
from scraper.pipeline import FAILED, SAVED, record_one
from scraper.store import Archive
from tests.synthetic import prose

NOW = datetime.now(timezone.utc)
ROOT = Path(__file__).resolve().parent.parent

def article(n: int) -> bytes:
    paragraphs = "".join(f"<p>أعلنت الجهات المختصة أن {p}</p>" for p in prose(n))
    return (f'<html lang="ar"><head><meta charset="utf-8"><title>خبر رقم {n}</title></head>'
            f"<body><article><h1>خبر رقم {n}</h1>{paragraphs}</article></body></html>").encode()


def respond(h, status: int, body: bytes = b"", ctype: str | None = "text/html; charset=utf-8", **headers):
    """A whole HTTP/1.0 answer written by hand (so every header is exactly as the test says)."""
    lines = [f"HTTP/1.0 {status} X"] + ([f"Content-Type: {ctype}"] if ctype else [])
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if "Content_Length" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    h.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    h.wfile.flush()


def reset(h, after: bytes = b"") -> None:
    """Send ``after`` then close with RST (SO_LINGER 0): a connection reset mid-answer."""
    if after:
        h.wfile.write(after)
        h.wfile.flush()
    h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    h.connection.close()


def bomb() -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join(z.compress(zeros) for _ in range(64)) + z.flush()   # 64 MB of zeros in ~64 KB


@pytest.fixture
def black_hole():
    """A port that accepts no connection: its listen queue is full, so SYNs go unanswered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    address = server.getsockname()
    fillers = []
    for _ in range(20):   # fill the queue until a connection attempt hangs
        try:
            fillers.append(socket.create_connection(address, timeout=0.2))
        except (socket.timeout, TimeoutError):
            break
    else:
        pytest.skip("this kernel accepts every connection: no way to make one hang here")
    yield f"http://127.0.0.1:{address[1]}/news/1"
    for c in fillers:
        c.close()
    server.close()


def log_rows(db: str, url: str) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM fetch_log WHERE url = ? ORDER BY id", [url])]


def table(db: str, sql: str, params=()) -> list[dict]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, params)]


# --- scraper fetch: the permanent faults, through the CLI -----------------------------------------

def test_scraper_fetch_reports_each_bad_url_in_one_line_and_saves_the_good_ones(raw_server, tmp_path):
    secret = tmp_path / "secret.html"
    secret.write_text("<html><body><p>SECRET-LOCAL-FILE " * 20 + "</p></body></html>", "utf-8")
    retry_once = []

    def busy_then_ok(h):
        retry_once.append(1)
        if len(retry_once) == 1:
            respond(h, 503, b"busy", Retry_After="1")
        else:
            respond(h, 200, article(3))

    later = format_datetime(NOW + timedelta(hours=1), usegmt=True)
    r = raw_server.route
    for n in range(8):
        r(f"/chain/{n}", lambda h, n=n: respond(h, 302, Location=f"/chain/{n + 1}"))
    faults = {   # url -> what its line and its fetch-log error must say
        r("/401", lambda h: respond(h, 401, b"login", WWW_Authenticate='Basic realm="x"')): "HTTP 401",
        r("/403", lambda h: respond(h, 403, b"no")): "HTTP 403",
        r("/404", lambda h: respond(h, 404, b"none")): "HTTP 404",
        r("/410", lambda h: respond(h, 410, b"gone")): "HTTP 410",
        r("/429", lambda h: respond(h, 429, b"slow down", Retry_After=later)): "HTTP 429",
        r("/empty", lambda h: respond(h, 200, b"")): "empty page",
        r("/pdf", lambda h: respond(h, 200, b"%PDF-1.7\n" + bytes(range(256)) * 8)): "binary",
        r("/png", lambda h: respond(h, 200, b"\x89PNG\r\n\x1a\n" + bytes(500), "image/png")): "image/png",
        r("/loop", lambda h: respond(h, 301, Location="/loop2")): "redirect loop",
        r("/chain/0", lambda h: respond(h, 302, Location="/chain/1")): "more than 5 redirects",
        r("/ftp", lambda h: respond(h, 302, Location="ftp://127.0.0.1/a")): "redirected to ftp://",
        r("/file", lambda h: respond(h, 302, Location=secret.as_uri())): "redirected to file://",
        r("/bomb", lambda h: respond(h, 200, bomb(), Content_Encoding="gzip")): "cap",
        r("/mystery", lambda h: respond(h, 200, b"\x0b\x02", Content_Encoding="br")): "Content-Encoding",
    }
    r("/loop2", lambda h: respond(h, 302, Location="/loop"))
    good = [r("/good/1", lambda h: respond(h, 200, article(1))),
            r("/good/2", lambda h: respond(h, 200, article(2))),
            r("/busy", busy_then_ok)]
    urls = [good[0], *faults, good[1], good[2]]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls) + "\n", "utf-8")
    db = str(tmp_path / "archive.db")

    began = time.monotonic()
    result = CliRunner().invoke(cli, ["fetch", "-i", str(listing), "--db", db, "--timeout", "5"])
    assert time.monotonic() - began < 30
    assert result.exit_code == EXIT_FAILED, result.output   # most URLs failed (14 of 17)
    lines = result.stderr.splitlines()
    assert len(lines) == len(urls) + 1          # one per URL, then the summary
    assert lines[-1] == f"3 saved, {len(faults)} failed" or set(lines[-1].split(", ")) == {
        "3 saved", f"{len(faults)} failed"}
    by_url = {}
    for line in lines[:-1]:
        status, url = line.split()[:2]
        by_url[url] = (status, line)
    for url, reason in faults.items():
        status, line = by_url[url]
        assert status == FAILED and reason in line, line
        # The failure is logged on the last attempt (a redirect's last hop), its error naming the URL asked.
        final = table(db, "SELECT * FROM fetch_log WHERE outcome = 'failed' AND (url = ? OR error LIKE ?)",
                      [url, url + ": %"])
        assert len(final) == 1 and reason in final[0]["error"], (url, final)
        assert log_rows(db, url), url
    assert all(by_url[u][0] == SAVED for u in good)

    stored = table(db, "SELECT url, text FROM articles ORDER BY id")
    assert [row["url"] for row in stored] == good
    assert all("SECRET-LOCAL-FILE" not in row["text"] for row in stored)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        everything = " ".join(str(v) for row in conn.execute("SELECT * FROM fetch_log") for v in row)
        assert "SECRET-LOCAL-FILE" not in everything
        assert conn.execute("SELECT count(*) FROM pages").fetchone()[0] == 3
    # 503 with Retry-After: 1 was waited out and asked again; the 429 a day away was not waited for.
    busy = log_rows(db, good[2])
    assert [(row["outcome"], row["status"]) for row in busy] == [("retried", 503), ("saved", 200)]
    assert raw_server.requests.count("/429") == 1 and raw_server.requests.count("/410") == 1
    # the gzip bomb stopped at the cap: what the log says was read is not gigabytes
    bomb_row = log_rows(db, [u for u in faults if u.endswith("/bomb")][0])[-1]
    assert 0 < bomb_row["bytes"] <= 10 * 1024 * 1024 + 65536


# --- the retryable faults, through the same pipeline (no retries, no backoff) ----------------------

def test_timeouts_resets_and_broken_bodies_are_logged_and_damage_nothing(raw_server, black_hole, tmp_path):
    stop = threading.Event()

    def trickle(h):   # one byte a second, for ever: only the total budget stops it
        h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<p>")
        h.wfile.flush()
        while not stop.wait(1.0):
            h.wfile.write(b"x")
            h.wfile.flush()

    def silent(h):
        stop.wait(5)

    page = article(7)
    truncated = gzip.compress(page)[:-30]
    r = raw_server.route
    faults = {
        black_hole: "no connection within",
        r("/silent", silent): "no data from the server",
        r("/trickle", trickle): "in total",
        r("/reset-head", lambda h: reset(h)): "reset",
        r("/reset-body", lambda h: reset(h, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
                                       + str(len(page)).encode() + b"\r\n\r\n" + page[:500])): "",
        r("/short", lambda h: respond(h, 200, page[:300], Content_Length=len(page))):
            "before the end of the body",
        r("/long", lambda h: respond(h, 200, page, Content_Length=len(page) // 2)): None,
        r("/gzip-cut", lambda h: respond(h, 200, truncated, Content_Encoding="gzip")): "truncated",
        r("/gzip-junk", lambda h: respond(h, 200, b"\x1f\x8b\x08\x00junk" * 3, Content_Encoding="gzip")):
            "decompress",
    }
    good = r("/good", lambda h: respond(h, 200, article(8)))
    # Each read may wait 1.5 s (the trickle sends a byte a second); the page, 3 s in all.
    options = FetchOptions(timeout=1.5, total_timeout=3.0, retries=0)
    db = tmp_path / "archive.db"
    def timed(url, archive):
        began = time.monotonic()
        return record_one(url, archive, options), time.monotonic() - began

    try:
        with Archive.open(db) as archive:
            assert record_one(good, archive, options).status == SAVED
            # All at once, as the cron run's workers fetch: each fault waits out its own timeout
            # (up to 3 s), not the sum of the others'.
            with ThreadPoolExecutor(len(faults)) as pool:
                done = dict(zip(faults, pool.map(lambda url: timed(url, archive), faults)))
    finally:
        stop.set()
    for url, (_, took) in done.items():
        assert took < 5, url
    outcomes = {url: outcome for url, (outcome, _) in done.items()}
    for url, reason in faults.items():
        done = outcomes[url]
        rows = log_rows(str(db), url)
        if reason is None:
            # A Content-Length shorter than the body: the client reads what was announced, which is
            # a cut page; it is either an article or a failure, and logged as such either way.
            assert done.status in (SAVED, FAILED) and rows[-1]["outcome"] == done.status
            continue
        assert done.status == FAILED, (url, done)
        assert "\n" not in done.error and reason in done.error, (url, done.error)
        assert len(rows) == 1 and rows[0]["outcome"] == "failed" and rows[0]["error"] == done.error
    with Archive.open(db) as archive:
        assert archive.scalar("PRAGMA integrity_check") == "ok"
        assert archive.get(good)["text"].count("أعلنت") == 3
        ids = [row["id"] for row in archive.query("SELECT id FROM articles")]
        for article_id in ids:   # every stored article has its text and its raw page
            assert archive.raw_page(article_id).body
        assert not any(archive.has(url) for url, reason in faults.items() if reason is not None)


# --- the cron archiver's queue: what is retried, what is given up -----------------------------------

def write_site(raw_server, tmp_path, urls: dict[str, str]) -> dict:
    """A feed listing ``urls`` (title -> URL) and a sites.toml naming it, beside the database."""
    items = "".join(f"<item><title>{name}</title><link>{url}</link></item>" for name, url in urls.items())
    raw_server.route("/rss.xml", lambda h: respond(h, 200, f"<rss><channel>{items}</channel></rss>".encode(),
                                                   "application/rss+xml"))
    (tmp_path / "sites.toml").write_text(
        f'[sites.faulty]\nfeeds = ["{raw_server.url("/rss.xml")}"]\n'
        f"article = '/news/'\ndelay = 0\n", encoding="utf-8")
    return {"urls": urls, "db": str(tmp_path / "archive.db"), "config": tmp_path / "sites.toml"}


def queue(site) -> dict[str, dict]:
    return {row["url"]: row for row in table(site["db"], "SELECT * FROM queue")}


def make_due(site) -> None:
    with sqlite3.connect(site["db"]) as conn:
        conn.execute("UPDATE queue SET next_try = '2000-01-01T00:00:00+00:00' WHERE state = 'pending'")


def test_gone_and_refused_are_given_up_at_once_busy_hosts_are_retried_then_given_up(raw_server, tmp_path):
    r = raw_server.route
    site = write_site(raw_server, tmp_path, {
        "good": r("/news/1", lambda h: respond(h, 200, article(1))),
        "gone": r("/news/410", lambda h: respond(h, 410, b"gone")),
        "unauthorized": r("/news/401", lambda h: respond(h, 401, b"login")),
        "forbidden": r("/news/403", lambda h: respond(h, 403, b"no")),
        "not_found": r("/news/404", lambda h: respond(h, 404, b"none")),
        "slow_down": r("/news/429", lambda h: respond(h, 429, b"later", Retry_After="1")),
        "unavailable": r("/news/503", lambda h: respond(h, 503, b"down", Retry_After="0")),
    })
    urls, calls = site["urls"], raw_server.requests.count
    result = CliRunner().invoke(cli, ["archive", "--db", site["db"], "--site", "faulty"])
    assert result.exit_code == 3, result.output            # most URLs failed
    failed_lines = [line for line in result.stderr.splitlines() if line.startswith(("failed:", "gave_up:"))]
    assert len(failed_lines) == 6, result.stderr
    q = queue(site)
    assert q[urls["good"]]["state"] == "done"
    for name in ("gone", "unauthorized", "forbidden", "not_found"):
        assert (q[urls[name]]["state"], q[urls[name]]["tries"]) == ("gave_up", 1), name
    for name in ("slow_down", "unavailable"):
        assert (q[urls[name]]["state"], q[urls[name]]["tries"]) == ("pending", 1), name
        assert q[urls[name]]["next_try"] > NOW.isoformat()
    assert calls("/news/410") == calls("/news/401") == calls("/news/403") == 1
    assert calls("/news/429") == 2 and calls("/news/503") == 2   # one retry within the run
    gone = log_rows(site["db"], urls["gone"])
    assert [(row["outcome"], row["status"]) for row in gone] == [("failed", 410)]
    assert "HTTP 410" in gone[0]["error"]

    # Later runs: the given-up URLs are never asked again; the busy ones are, until max_tries.
    options = RunOptions(sites=("faulty",), config=site["config"], max_tries=3,
                         fetch=FetchOptions(retries=0, timeout=2, total_timeout=5))
    for _ in range(2):
        make_due(site)
        run_archive(site["db"], options)
    q = queue(site)
    assert q[urls["slow_down"]]["state"] == q[urls["unavailable"]]["state"] == "gave_up"
    assert calls("/news/410") == calls("/news/404") == calls("/news/1") == 1
    assert calls("/news/503") == 4 and calls("/news/429") == 4
    make_due(site)
    run_archive(site["db"], options)
    assert calls("/news/503") == 4 and calls("/news/429") == 4      # given up means given up
    rows = table(site["db"], "SELECT outcome, count(*) AS n FROM fetch_log WHERE url = ? GROUP BY outcome",
                 [urls["unavailable"]])
    assert {row["outcome"]: row["n"] for row in rows} == {"retried": 1, "failed": 3}


def test_a_retry_after_hours_away_does_not_hold_the_run(raw_server, tmp_path):
    later = format_datetime(NOW + timedelta(hours=2), usegmt=True)
    answers = {"busy": True}

    def maybe_busy(n):
        def handler(h):
            if answers["busy"] and n == 0:
                respond(h, 429, b"come back later", Retry_After=later)
            else:
                respond(h, 200, article(n))
        return handler

    # The busy URL sorts first, so the host says "two hours" before its other articles are asked.
    site = write_site(raw_server, tmp_path, {
        f"n{n}": raw_server.route(f"/news/{n}", maybe_busy(n)) for n in range(4)})
    cmd = [sys.executable, "cli.py", "archive", "--db", site["db"], "--site", "faulty", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("the run waited out a two-hour Retry-After")
    assert code in (0, 1, 3)
    q = queue(site)
    assert set(q) == set(site["urls"].values())                   # nothing lost
    assert {row["state"] for row in q.values()} <= {"done", "pending"}
    answers["busy"] = False
    make_due(site)
    assert subprocess.run(cmd, cwd=ROOT, timeout=60).returncode == 0
    assert {row["state"] for row in queue(site).values()} == {"done"}
