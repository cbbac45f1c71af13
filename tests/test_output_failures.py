"""Files that fill up or break while a command writes them (a new user's review): a WARC on a full
disk, a log file on a full disk, a WARC that already ends in a partial record, credentials in a WARC,
and the `runs` row of a run stopped by an error or Ctrl-C.

A full disk is RLIMIT_FSIZE in the child (SIGXFSZ ignored, so a write past the limit fails with
EFBIG as one past a full disk fails with ENOSPC), set just above the file's size before the run:
the archive, a new small file, stays under it. Real subprocesses, real servers on 127.0.0.1."""
from __future__ import annotations

import base64
import io
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from scraper.use.warc_ends import ends_whole
from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, cli
from tests.test_crash import LocalSite
from tests.test_warc_run import ARTICLES, Site

ROOT = Path(__file__).resolve().parent.parent


def filled_warc(path: Path, size: int = 3_000_000) -> Path:
    """A whole WARC file of one resource record of ``size`` bytes."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=path.name.endswith(".gz"))
        writer.write_record(writer.create_warc_record("http://example.com/filler", "resource",
                                                      payload=io.BytesIO(b"x" * size), length=size))
    return path


def run_with_file_limit(args: list[str], limit: int) -> subprocess.CompletedProcess:
    def child():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, preexec_fn=child, capture_output=True,
                          text=True, timeout=120)


def records(path: Path) -> list[str]:
    """The WARC's record types; raises on a damaged record (digests checked)."""
    with open(path, "rb") as stream:
        return [r.rec_type for r in ArchiveIterator(stream, check_digests=True)]


def test_fetch_into_a_full_warc_keeps_the_article_and_cuts_the_warc_back(tmp_path):
    site = Site()
    try:
        warc = filled_warc(tmp_path / "f.warc")
        size = warc.stat().st_size
        url = f"{site.base}/news/1/story"
        done = run_with_file_limit(["fetch", "--refresh", url, "--warc", str(warc), "--db", str(tmp_path / "a.db")],
                                   size + 2000)   # room for part of the exchange, not all of it
    finally:
        site.close()
    assert done.returncode == EXIT_FAILED, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert warc.stat().st_size == size and records(warc) == ["resource"]   # cut back to its last record
    db = sqlite3.connect(tmp_path / "a.db")
    assert db.execute("SELECT count(*) FROM articles WHERE url = ?", [url]).fetchone() == (1,)
    assert db.execute("SELECT count(*) FROM fetch_log WHERE url = ?", [url]).fetchone()[0] >= 1


def test_archive_into_a_full_warc_closes_its_run_row(tmp_path):
    site = Site()
    try:
        warc = filled_warc(tmp_path / "run.warc")
        size = warc.stat().st_size
        done = run_with_file_limit(["archive", "--config", str(site.sites_toml(tmp_path)), "--warc", str(warc),
                                    "--db", str(tmp_path / "a.db")], size + 3000)
    finally:
        site.close()
    assert done.returncode == EXIT_FAILED and "Traceback" not in done.stderr, done.stderr
    records(warc)   # whole: every record readable
    ended, code = sqlite3.connect(tmp_path / "a.db").execute("SELECT ended_at, exit_code FROM runs").fetchone()
    assert ended is not None and code == EXIT_FAILED


def test_archive_with_a_full_log_goes_on_without_it(tmp_path):
    site = Site()
    try:
        log = tmp_path / "run.log"
        log.write_text("earlier line\n" * 250_000, encoding="utf-8")
        size = log.stat().st_size
        done = run_with_file_limit(["archive", "--config", str(site.sites_toml(tmp_path)), "--log-file", str(log),
                                    "--db", str(tmp_path / "a.db")], size + 150)   # two lines, not all
    finally:
        site.close()
    assert done.returncode == EXIT_OK and "Traceback" not in done.stderr, done.stderr
    assert sum("log file" in line for line in done.stderr.splitlines()) == 1, done.stderr
    assert log.read_bytes().endswith(b"\n")   # no half line
    db = sqlite3.connect(tmp_path / "a.db")
    assert db.execute("SELECT count(*) FROM articles").fetchone() == (ARTICLES,)
    assert db.execute("SELECT exit_code FROM runs").fetchone() == (EXIT_OK,)


@pytest.mark.parametrize("name", ["cut.warc", "cut.warc.gz"])
def test_a_warc_ending_in_a_partial_record_is_refused(tmp_path, name):
    warc = filled_warc(tmp_path / name, 5_000)
    whole = warc.read_bytes()
    page = ROOT / "tests" / "fixtures" / "pages" / "alittihad_article.html"
    args = ["fetch", str(page), "--url", "https://www.alittihad.ae/news/x/1/y", "--warc", str(warc),
            "--db", str(tmp_path / "a.db")]
    assert CliRunner().invoke(cli, args).exit_code == EXIT_OK    # a whole file is appended to
    grown = warc.read_bytes()
    assert len(grown) > len(whole) and records(warc)
    warc.write_bytes(grown[:-40])                                # a write cut short
    result = CliRunner().invoke(cli, [*args[:1], "--refresh", *args[1:]])
    assert result.exit_code == EXIT_USAGE and "partial record" in result.output
    assert warc.read_bytes() == grown[:-40]                      # nothing added after the damage


def test_credentials_never_reach_the_warc(tmp_path):
    site = Site()
    try:
        url = f"http://alice:s3cret@127.0.0.1:{site.server.server_port}/news/1/story"
        result = CliRunner().invoke(cli, ["fetch", url, "--warc", str(tmp_path / "c.warc"),
                                          "--db", str(tmp_path / "a.db")])
    finally:
        site.close()
    assert result.exit_code == EXIT_OK, result.output
    data = (tmp_path / "c.warc").read_bytes()
    assert b"s3cret" not in data and base64.b64encode(b"alice:s3cret") not in data and b"alice" not in data
    assert records(tmp_path / "c.warc") == ["warcinfo", "response", "request"]   # warcio writes the pair in that order


def test_ctrl_c_closes_the_run_row_with_130(tmp_path):
    site = LocalSite(latency=2.0)
    try:
        db = tmp_path / "a.db"
        run = subprocess.Popen([sys.executable, "cli.py", "archive", "--config", str(site.sites_toml(tmp_path)),
                                "--workers", "1", "--db", str(db)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not _has_run(db):
            time.sleep(0.1)
        time.sleep(0.5)   # into the run: fetching a slow article
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        site.close()
    assert run.returncode == EXIT_INTERRUPTED and b"Traceback" not in stderr, stderr
    ended, code = sqlite3.connect(db).execute("SELECT ended_at, exit_code FROM runs").fetchone()
    assert ended is not None and code == EXIT_INTERRUPTED


def _has_run(db: Path) -> bool:
    try:
        return sqlite3.connect(db).execute("SELECT count(*) FROM runs").fetchone()[0] > 0
    except sqlite3.Error:
        return False


@settings(max_examples=40, deadline=None)
@given(bodies=st.lists(st.binary(max_size=300), min_size=1, max_size=4), gzipped=st.booleans(),
       cut=st.integers(min_value=1))
def test_ends_whole_only_on_a_record_boundary(tmp_path_factory, bodies, gzipped, cut):
    """Any cut of a WARC file is whole exactly when it falls between two records (warcio wrote them)."""
    path = tmp_path_factory.mktemp("ends") / ("w.warc.gz" if gzipped else "w.warc")
    boundaries, out = [], io.BytesIO()
    writer = WARCWriter(out, gzip=gzipped)
    for n, body in enumerate(bodies):
        writer.write_record(writer.create_warc_record(f"http://example.com/{n}", "resource",
                                                      payload=io.BytesIO(body), length=len(body)))
        boundaries.append(out.tell())
    data = out.getvalue()
    path.write_bytes(data)
    assert ends_whole(path)
    cut = cut % len(data)
    if cut:
        path.write_bytes(data[:cut])
        assert ends_whole(path) == (cut in boundaries)
