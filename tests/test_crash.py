"""The archive under crashes and contention, at the command line: kill -9, a held write lock, bad --db.

tests/test_store.py covers these faults at the library level and test_archive.py kills one run
once it has saved a few articles. Here: `python cli.py archive` killed with SIGKILL at random
moments (while it creates the database, discovers, fetches, saves, records the run), ten times;
after each kill the database passes `PRAGMA integrity_check`, holds no article without its text,
and the next run completes the work. Then what the user sees when another process holds the
write lock, when the disk is full (a file-size limit), or when --db names a missing or read-only
directory or a file that is not a database: one line on stderr, exit code 3, nothing lost or
overwritten.
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import EXIT_FAILED, EXIT_OK, cli
from scraper.store import Archive
from tests.synthetic import SiteHandler, prose, serve

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = 30


def article_html(n: int) -> bytes:
    paragraphs = "".join(f"<p>قالت مصادر مطلعة إن {p}</p>" for p in prose(n, 4))
    return (f'<html lang="ar"><head><meta charset="utf-8"><title>الخبر رقم {n}</title></head><body>'
            f"<article><h1>الخبر رقم {n}</h1>{paragraphs}</article></body></html>").encode()


class LocalSite:
    """A small real news site on 127.0.0.1: robots.txt, an RSS feed of every article, the articles."""

    def __init__(self, latency: float = 0.0):
        site = self
        self.latency = latency

        class Handler(SiteHandler):
            def do_GET(self):
                if self.path.startswith("/news/"):
                    time.sleep(site.latency)
                    n = int(self.path.split("/")[2])
                    self.send(200, article_html(n), "text/html; charset=utf-8")
                elif self.path == "/rss.xml":
                    items = "".join(f"<item><title>الخبر رقم {n}</title><link>{site.url(n)}</link></item>"
                                    for n in range(ARTICLES))
                    self.send(200, f"<rss><channel>{items}</channel></rss>".encode(), "application/rss+xml")
                else:
                    self.send(404, b"not here", "text/plain")

        self.server = serve(Handler)
        self.server.handle_error = lambda *args: None   # a client killed mid-answer is expected here
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def url(self, n: int) -> str:
        return f"{self.base}/news/{n}/story"

    def sites_toml(self, directory: Path) -> Path:
        path = directory / "sites.toml"
        path.write_text(f'[sites.local]\nfeeds = ["{self.base}/rss.xml"]\narticle = "/news/"\ndelay = 0\n',
                        encoding="utf-8")
        return path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    served = LocalSite()
    yield served
    served.close()


def check_consistent(db: Path) -> int:
    """The invariants a kill must never break; returns how many articles are archived."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "articles" not in tables:
            return 0     # killed before the first migration committed: nothing to break
        half_written = conn.execute(
            "SELECT count(*) FROM articles a WHERE a.text IS NULL OR length(a.text) < 100 "
            "OR a.page_id IS NULL OR NOT EXISTS (SELECT 1 FROM pages p WHERE p.id = a.page_id) "
            "OR NOT EXISTS (SELECT 1 FROM url_aliases u WHERE u.article_id = a.id)").fetchone()[0]
        assert half_written == 0
        assert conn.execute("SELECT count(*) FROM url_aliases u WHERE NOT EXISTS "
                            "(SELECT 1 FROM articles a WHERE a.id = u.article_id)").fetchone()[0] == 0
        return conn.execute("SELECT count(*) FROM articles").fetchone()[0]


# `python cli.py archive ...` with its imports done before the clock starts: the child imports what
# a run needs, waits for a line on stdin, then runs cli.py as `python cli.py` does. The children of
# the next trials start while this one is checked, so their ~1 s of imports is not waited for.
WARM_CLI = """
import runpy, sys
import cli, scraper.crawl.run, scraper.pipeline, scraper.use.warc
sys.stdin.readline()
sys.argv = ["cli.py", *sys.argv[1:]]
runpy.run_path("cli.py", run_name="__main__")
"""
AHEAD = 2


def warm_archive_run(db: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WARM_CLI, "archive", "--db", str(db), "--site", "local",
                             "--quiet", "--workers", "2"], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_at_random_moments_never_breaks_the_archive_and_the_next_run_finishes(site, tmp_path):
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    moments = []
    began = time.monotonic()
    dbs = []
    for trial in range(10):
        work = tmp_path / f"trial{trial}"
        work.mkdir()
        site.sites_toml(work)
        dbs.append(work / "archive.db")
    children = [warm_archive_run(db) for db in dbs[:AHEAD]]
    try:
        for trial, db in enumerate(dbs):
            proc = children[trial]
            site.latency = 0.05     # 30 articles one at a time: the run cannot end before the kill
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            if trial + AHEAD < len(dbs):
                children.append(warm_archive_run(dbs[trial + AHEAD]))
            deadline = time.monotonic() + 20
            while not db.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            # From the creation of the file (migrations, the first trials) to the end of a run (~1 s).
            moment = rng.uniform(0.0, 0.06) if trial < 2 else rng.uniform(0.06, 1.0)
            time.sleep(moment)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            saved = check_consistent(db) if db.exists() else 0
            moments.append((round(moment, 3), saved, proc.returncode))
            site.latency = 0.0
            result = CliRunner().invoke(cli, ["archive", "--db", str(db), "--site", "local", "--quiet"])
            assert result.exit_code == EXIT_OK, (seed, trial, result.output)
            assert check_consistent(db) == ARTICLES, (seed, trial)
            with sqlite3.connect(db) as conn:
                urls = [row[0] for row in conn.execute("SELECT url FROM articles")]
                assert sorted(urls) == sorted(site.url(n) for n in range(ARTICLES)), (seed, trial)
                assert conn.execute("SELECT count(*) FROM queue WHERE state != 'done'").fetchone()[0] == 0
                last = conn.execute("SELECT exit_code, ended_at FROM runs ORDER BY id DESC LIMIT 1").fetchone()
                assert last[0] == 0 and last[1] is not None
    finally:
        for child in children:
            child.kill()
            child.wait()
    # The kills must have landed at different stages, not all before or all after the work.
    print(f"seed {seed}: (moment, articles saved when killed, exit) {moments}")
    assert any(saved == 0 for _, saved, _ in moments) or any(0 < saved < ARTICLES for _, saved, _ in moments)
    assert all(code == -signal.SIGKILL for _, _, code in moments), moments
    assert time.monotonic() - began < 90


# --- another process holds the write lock ---------------------------------------------------------

HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO fetch_log (url, at, outcome) VALUES ('x', 'now', 'skipped')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("ROLLBACK")
"""


@pytest.fixture
def short_busy_timeout(monkeypatch):
    """The CLI's commands open the archive with the default 30 s busy timeout; 1 s keeps this quick.

    Everything else is real: a second process holds SQLite's write lock, the CLI's own code waits.
    """
    real_open = Archive.open.__func__
    monkeypatch.setattr(Archive, "open", classmethod(
        lambda cls, path, *, busy_timeout=1.0, **options: real_open(cls, path, busy_timeout=busy_timeout, **options)))


def hold_lock(db: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), str(seconds)], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"locked\n"
    return proc


def test_a_held_write_lock_is_waited_for_then_a_one_line_error_and_exit_3(site, tmp_path, short_busy_timeout):
    db = tmp_path / "archive.db"
    site.sites_toml(tmp_path)
    Archive.open(db).close()
    page = tmp_path / "page.html"
    page.write_bytes(article_html(1))

    holder = hold_lock(db, 0.4)          # released within the wait: the command simply waits
    try:
        began = time.monotonic()
        result = CliRunner().invoke(cli, ["fetch", str(page), "--url", site.url(1), "--db", str(db)])
        assert result.exit_code == EXIT_OK, result.output
        assert time.monotonic() - began >= 0.2
    finally:
        holder.wait()

    for args in (["fetch", site.url(2), "--db", str(db)], ["archive", "--db", str(db), "--site", "local"]):
        holder = hold_lock(db, 30)
        try:
            began = time.monotonic()
            result = CliRunner().invoke(cli, args)
            waited = time.monotonic() - began
        finally:
            holder.kill()
            holder.wait()
        assert result.exit_code == EXIT_FAILED, (args, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "locked" in errors[0] and "Traceback" not in result.output, result.output
        assert 0.9 < waited < 10, waited
    with Archive.open(db) as archive:
        assert archive.scalar("PRAGMA integrity_check") == "ok"
        assert [r["url"] for r in archive.query("SELECT url FROM articles")] == [site.url(1)]
        assert archive.scalar("SELECT count(*) FROM fetch_log WHERE url = 'x'") == 0


# --- --db names something unusable ----------------------------------------------------------------

def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


WRITERS = [["fetch", "http://127.0.0.1:9/news/1"],
           ["archive", "--site", "local"]]


def local_site_file(directory: Path) -> None:
    (directory / "sites.toml").write_text('[sites.local]\nfeeds = ["http://127.0.0.1:9/rss.xml"]\n'
                                          'article = "/news/"\n', encoding="utf-8")


@pytest.mark.parametrize("command", WRITERS)
def test_a_missing_directory_is_a_one_line_error_and_exit_3(tmp_path, command):
    missing = tmp_path / "no" / "such" / "archive.db"
    config = ["--config", str(tmp_path / "sites.toml")] if command[0] == "archive" else []
    local_site_file(tmp_path)
    result = CliRunner().invoke(cli, [*command, *config, "--db", str(missing)])
    assert result.exit_code == EXIT_FAILED and "does not exist" in one_error_line(result)
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", [["fetch", "http://127.0.0.1:9/news/1"], ["archive", "--site", "local"],
                                     ["show", "http://127.0.0.1:9/news/1"]])
def test_a_file_that_is_not_a_database_is_a_one_line_error_exit_3_and_left_untouched(tmp_path, command):
    local_site_file(tmp_path)
    notes = tmp_path / "notes.db"
    data = "ملاحظات مهمة، وليست قاعدة بيانات\n".encode() * 500
    notes.write_bytes(data)
    os.utime(notes, (1_000_000_000, 1_000_000_000))
    result = CliRunner().invoke(cli, [*command, "--db", str(notes)])
    assert result.exit_code == EXIT_FAILED and "not an SQLite database" in one_error_line(result)
    assert notes.read_bytes() == data and notes.stat().st_mtime == 1_000_000_000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("notes")) == ["notes.db"] + (
        ["notes.db.lock"] if command[0] == "archive" else [])


READ_ONLY = """
import os, sys
import cli
import scraper.crawl.run, scraper.pipeline, scraper.store.archive, scraper.fetch.http, scraper.extract.article  # before dropping root
if os.geteuid() == 0:   # root ignores permission bits: act as nobody, as a cron user would be
    os.setgid(65534)
    os.setuid(65534)
cli.cli(sys.argv[1:], prog_name="scraper")
"""


@pytest.fixture
def read_only_dir():
    """A world-readable directory holding an archive with one article, made read-only (0555)."""
    top = Path(tempfile.mkdtemp(prefix="crash-ro-"))
    top.chmod(0o755)
    target = top / "ro"
    target.mkdir()
    page = top / "page.html"
    page.write_bytes(article_html(1))
    result = CliRunner().invoke(cli, ["fetch", str(page), "--url", "https://example.com/news/1",
                                      "--db", str(target / "existing.db")])
    assert result.exit_code == EXIT_OK, result.output
    (target / "existing.db").chmod(0o644)
    target.chmod(0o555)
    yield target
    target.chmod(0o755)
    shutil.rmtree(top)


@pytest.mark.parametrize("name", ["new.db", "existing.db"])
@pytest.mark.parametrize("command", ["fetch", "archive"])
def test_a_read_only_directory_is_a_one_line_error_and_exit_3(read_only_dir, name, command):
    page = read_only_dir.parent / "page.html"
    existing = read_only_dir / "existing.db"
    before = existing.read_bytes()
    local_site_file(read_only_dir.parent)    # where the unprivileged child can read it
    config = read_only_dir.parent / "sites.toml"
    args = (["fetch", str(page), "--url", "https://example.com/news/2"] if command == "fetch"
            else ["archive", "--site", "local", "--config", str(config)])
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(READ_ONLY), *args, "--db", str(read_only_dir / name)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == EXIT_FAILED and len(lines) == 1, done.stderr
    assert "read-only" in lines[0] and "Traceback" not in done.stderr
    assert existing.read_bytes() == before
    assert sorted(p.name for p in read_only_dir.iterdir()) == ["existing.db"]


FILE_SIZE_LIMIT = """
import os, resource, signal, sys
import cli
import scraper.crawl.run, scraper.pipeline, scraper.store.archive, scraper.fetch.http, scraper.extract.article
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # else the kernel kills us at the limit
db = sys.argv[sys.argv.index("--db") + 1]
size = max(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 100_000, resource.RLIM_INFINITY))
cli.cli(sys.argv[1:], prog_name="scraper")
"""


def test_a_full_disk_at_the_command_line_is_one_line_exit_3_and_loses_nothing(tmp_path):
    db = tmp_path / "archive.db"
    small = tmp_path / "small.html"
    small.write_bytes(article_html(1))
    assert CliRunner().invoke(cli, ["fetch", str(small), "--url", "https://example.com/news/1",
                                    "--db", str(db)]).exit_code == EXIT_OK
    big = tmp_path / "big.html"   # an article page carrying 2 MB that does not compress
    big.write_bytes(article_html(2).replace(b"</body>", b"<!-- " + os.urandom(1_000_000).hex().encode()
                                            + b" --></body>"))
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(FILE_SIZE_LIMIT), "fetch", str(big),
                           "--url", "https://example.com/news/2", "--db", str(db)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == EXIT_FAILED and len(errors) == 1, done.stderr
    assert "file-size limit" in errors[0] and "Traceback" not in done.stderr
    with Archive.open(db) as archive:
        assert archive.scalar("PRAGMA integrity_check") == "ok"
        assert archive.get("https://example.com/news/1")["text"].count("قالت مصادر") == 4
        assert not archive.has("https://example.com/news/2")
    result = CliRunner().invoke(cli, ["fetch", str(big), "--url", "https://example.com/news/2",
                                      "--db", str(db)])
    assert result.exit_code == EXIT_OK, result.output       # room again: the same page is archived
