"""`scraper fetch` with many URLs (crawl/batch.py): several local hosts on 127.0.0.2-5, each answering
after its own latency. Hosts are fetched side by side but one request at a time per host, the lines
come in the order given, every per-URL behaviour of one-by-one fetching is kept (bad URLs, skipped,
a URL given twice, --warc, the fetch log, exit codes), a batch extracts in worker processes and
gives the records one-by-one fetching gives, and Ctrl-C or SIGTERM mid-batch keeps what was saved,
ends at once whatever the hosts do, and leaves no process."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from cli import cli
from scraper import exit_codes
from tests.synthetic import SiteHandler, prose, serve
from tests.test_extract_workers import _gone, _session
from tests.test_output_failures import filled_warc, run_with_file_limit
from tests.test_stop_signals import _saved as saved

ROOT = Path(__file__).resolve().parent.parent


def page_html(host: int, n: int) -> bytes:
    """An article of host ``host``: its own text, and a block every page of the host shares (which
    the host's learned template strips once it has three articles)."""
    paragraphs = "".join(f"<p>قالت مصادر مطلعة إن {p}</p>" for p in prose(100 * host + n, 4))
    shared = "".join(f"<p>{p}</p>" for p in prose(1000 + host, 2))
    return (f'<html lang="ar"><head><meta charset="utf-8"><title>الخبر {n} من الموقع {host}</title></head>'
            f"<body><article><h1>الخبر {n} من الموقع {host}</h1>{paragraphs}"
            f'<div class="more">{shared}</div></article></body></html>').encode()


class Hosts:
    """Local news hosts 127.0.0.2, 127.0.0.3, ...: /news/N/story is article N after the host's
    latency, /missing a 404. Every request's host, path, start and end are kept."""

    def __init__(self, latencies: list[float]):
        self.latencies = list(latencies)
        self.requests: list[tuple[int, str, float, float]] = []
        self.lock = threading.Lock()
        hosts = self

        class Handler(SiteHandler):
            def do_GET(self):
                host = int(self.server.server_address[0].rsplit(".", 1)[1]) - 2
                began = time.monotonic()
                time.sleep(hosts.latencies[host])
                if self.path.startswith("/news/"):
                    self.send(200, page_html(host, int(self.path.split("/")[2])), "text/html; charset=utf-8")
                else:
                    self.send(404, b"not here", "text/plain")
                with hosts.lock:
                    hosts.requests.append((host, self.path, began, time.monotonic()))

        self.servers = [serve(Handler, f"127.0.0.{h + 2}") for h in range(len(latencies))]
        for server in self.servers:
            server.handle_error = lambda *args: None    # a client that hung up is expected here

    def url(self, host: int, n: int) -> str:
        return f"http://127.0.0.{host + 2}:{self.servers[host].server_port}/news/{n}/story"

    def missing(self, host: int) -> str:
        return f"http://127.0.0.{host + 2}:{self.servers[host].server_port}/missing"

    def close(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture
def hosts():
    made = []

    def make(latencies):
        made.append(Hosts(latencies))
        return made[-1]
    yield make
    for served in made:
        served.close()


def lines(stderr: str) -> list[tuple[str, str]]:
    """(status, URL) of each per-URL line, in order (the summary and shrank lines left out)."""
    found = []
    for line in stderr.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] in ("saved", "updated", "unchanged", "not_modified", "skipped", "failed"):
            found.append((words[0], words[1]))
    return found


def records(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        return {row[0]: row[1:] for row in conn.execute(
            "SELECT url, final_url, site, title, published, text, word_count, content_hash, extractor FROM articles")}


def overlap(a: tuple, b: tuple) -> bool:
    return a[2] < b[3] and b[2] < a[3]


def test_hosts_side_by_side_one_request_per_host_lines_in_the_order_given(hosts, tmp_path):
    served = hosts([0.6, 0.1, 0.3])
    db, warc = str(tmp_path / "a.db"), tmp_path / "crawl.warc.gz"
    runner = CliRunner()
    archived = served.url(2, 0)
    assert runner.invoke(cli, ["fetch", archived, "--db", db]).exit_code == 0
    served.requests.clear()
    given = ([served.url(0, n) for n in range(4)] + ["http://[::1"] + [served.url(1, n) for n in range(4)]
             + [served.missing(1), str(tmp_path / "no-such.html"), archived]
             + [served.url(2, n) for n in range(1, 4)] + [served.url(1, 0)])
    (tmp_path / "urls.txt").write_text("\n".join(given) + "\n", encoding="utf-8")
    result = runner.invoke(cli, ["fetch", "-i", str(tmp_path / "urls.txt"), "--db", db, "--warc", str(warc)])
    assert result.exit_code == exit_codes.SOME_FAILED, result.output
    shown = lines(result.stderr)
    # In the order given, each line as one-by-one fetching says it (the slow host's first).
    assert [url for _, url in shown] == given
    assert [status for status, _ in shown] == (["saved"] * 4 + ["failed"] + ["saved"] * 4 + ["failed", "failed",
                                               "skipped"] + ["saved"] * 3 + ["skipped"])
    assert result.stderr.strip().splitlines()[-1] == "11 saved, 3 failed, 2 skipped"
    # Hosts side by side, one request at a time each, in the order given.
    done = served.requests
    assert len(done) == 4 + 5 + 3           # nothing archived or given twice is asked for again
    asked = [url for url in given[:-1] if url.startswith("http://127.") and url != archived]
    for host in range(3):
        mine = sorted((r for r in done if r[0] == host), key=lambda r: r[2])
        assert not any(overlap(a, b) for a, b in zip(mine, mine[1:]))
        assert [r[1] for r in mine] == ["/" + url.split("/", 3)[3] for url in asked if f"127.0.0.{host + 2}:" in url]
    assert any(overlap(a, b) for a in done for b in done if a[0] != b[0])
    assert max(r[3] for r in done) - min(r[2] for r in done) < 0.8 * sum(r[3] - r[2] for r in done)
    # Every page fetched is in the WARC, whole; the log has a row per line.
    with open(warc, "rb") as stream:
        responses = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream)
                     if r.rec_type == "response"]
    assert sorted(responses) == sorted(url for status, url in shown if status == "saved")
    with sqlite3.connect(db) as conn:
        logged = conn.execute("SELECT outcome, count(*) FROM fetch_log GROUP BY outcome").fetchall()
    assert dict(logged) == {"saved": 12, "failed": 3, "skipped": 2}   # the first fetch too


def test_a_batch_extracts_in_worker_processes_and_gives_the_records_of_one_by_one(hosts, tmp_path):
    served = hosts([0.15, 0.05, 0.1, 0.0])
    given = [served.url(h, n) for n in range(6) for h in range(4)]       # 24: worker processes by default
    (tmp_path / "urls.txt").write_text("\n".join(given) + "\n", encoding="utf-8")
    run = subprocess.Popen([sys.executable, "cli.py", "fetch", "-i", str(tmp_path / "urls.txt"),
                            "--db", str(tmp_path / "batch.db")], cwd=ROOT, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    most = 0
    while run.poll() is None:
        most = max(most, len(_session(run.pid)))
        time.sleep(0.02)
    _, stderr = run.communicate()
    assert run.returncode == 0 and stderr.strip().splitlines()[-1] == "24 saved", stderr
    assert most >= 3                 # the command, its fork server and extraction workers
    assert [url for _, url in lines(stderr)] == given
    # One URL a command: the path before batches, each site's template learned as it goes.
    for url in given:
        assert CliRunner().invoke(cli, ["fetch", url, "--db", str(tmp_path / "one.db")]).exit_code == 0
    batch, one = records(tmp_path / "batch.db"), records(tmp_path / "one.db")
    assert batch == one and len(batch) == 24
    with sqlite3.connect(tmp_path / "one.db") as conn:     # templates were learned and used
        assert conn.execute("SELECT count(*) FROM site_templates").fetchone()[0] == 4


@pytest.mark.parametrize("stop, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_mid_batch_keeps_what_was_saved_at_once_and_no_process_is_left(hosts, tmp_path,
                                                                                         stop, code):
    served = hosts([0.3, 0.3, 30.0])        # the last host answers after 30 s: the stop waits for none
    given = [served.url(h, n) for n in range(10) for h in range(3)]
    (tmp_path / "urls.txt").write_text("\n".join(given) + "\n", encoding="utf-8")
    db = tmp_path / "a.db"
    args = [sys.executable, "cli.py", "fetch", "-i", str(tmp_path / "urls.txt"), "--db", str(db)]
    run = subprocess.Popen(args, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not (saved(db) >= 2 and len(_session(run.pid)) >= 3):
            assert time.monotonic() < deadline and run.poll() is None, "the batch never got there"
            time.sleep(0.05)
        os.killpg(run.pid, stop)           # a terminal's Ctrl-C, cron's `timeout`: the whole group
        began = time.monotonic()
        _, stderr = run.communicate(timeout=20)
        took = time.monotonic() - began
    finally:
        run.kill()
    assert run.returncode == code and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].endswith("what was already saved is kept.")
    assert took < 10                       # not the slow host's 30 s
    assert _gone(run.pid) == []
    kept = saved(db)
    assert 2 <= kept < len(given)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # The same command again: what was saved is skipped, the rest archived.
    served.latencies[:] = [0.0, 0.0, 0.0]
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    statuses = [status for status, _ in lines(again.stderr)]
    assert statuses.count("skipped") == kept and statuses.count("saved") == len(given) - kept
    assert saved(db) == len(given)


def test_a_batch_into_a_full_warc_stops_with_one_line_and_keeps_what_was_stored(hosts, tmp_path):
    """The WARC is written from the command's thread, after each page is stored: a full disk stops
    the batch with one line and exit 3, the WARC ends on its last whole record, and every page in
    it is archived."""
    served = hosts([0.05, 0.05, 0.05])
    warc = filled_warc(tmp_path / "f.warc")
    size = warc.stat().st_size
    db = tmp_path / "a.db"
    given = [served.url(h, n) for n in range(10) for h in range(3)]
    done = run_with_file_limit(["fetch", *given, "--warc", str(warc), "--db", str(db)], size + 20_000)
    assert done.returncode == exit_codes.FAILED and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("Error: cannot write the WARC file")
    with open(warc, "rb") as stream:
        written = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(stream, check_digests=True)
                   if r.rec_type == "response"]
    assert written and set(written) <= set(records(db))
    assert 1 <= saved(db) < len(given)
