"""Standard streams that go away: a cron job piping or closing the output must never lose articles.

Real `python cli.py` processes against a local news site, a quarter of whose articles fail (each
failure is a line on stderr), with stderr on a pipe whose reader leaves after the first line (as
`2>&1 >/dev/null | head -1` does) or is gone before the first byte, and with stderr, stdout or
stdin closed at start (`2>&-`, `>&-`, `<&-`: the descriptor is not open at all, unlike
/dev/null). Each run archives every good article, closes its row in `runs`, and exits with the
code the row records. A Ctrl-C while cli.py loads its modules is one line and exit 130.
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from scraper import exit_codes
from tests.synthetic import SiteHandler, prose, serve

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = 40
BAD = {n for n in range(ARTICLES) if n % 4 == 0}    # 404: given up at once, a line on stderr each


class FailingSite:
    """A local news site with a sitemap of every article; the articles in BAD answer 404."""

    def __init__(self):
        site = self

        class Handler(SiteHandler):
            def do_GET(self):
                if self.path.startswith("/news/"):
                    n = int(self.path.split("/")[2])
                    if n in BAD:
                        return self.send(404, b"gone", "text/plain")
                    paragraphs = "".join(f"<p>{p}</p>" for p in prose(n, 4))
                    self.send(200, (f'<html lang="ar"><head><meta charset="utf-8"><title>الخبر {n}</title></head>'
                                    f"<body><article><h1>الخبر رقم {n}</h1>{paragraphs}</article></body></html>"
                                    ).encode(), "text/html; charset=utf-8")
                elif self.path == "/sitemap.xml":
                    urls = "".join(f"<url><loc>{site.url(n)}</loc></url>" for n in range(ARTICLES))
                    self.send(200, f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
                              .encode(), "application/xml")
                else:
                    self.send(404, b"not here", "text/plain")

        self.server = serve(Handler)
        self.server.handle_error = lambda *args: None
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def url(self, n: int) -> str:
        return f"{self.base}/news/{n}/story"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def site():
    served = FailingSite()
    yield served
    served.close()


@pytest.fixture
def run_args(site, tmp_path):
    sites = tmp_path / "sites.toml"
    sites.write_text(f'[sites.broken]\nsitemaps = ["{site.base}/sitemap.xml"]\narticle = "/news/"\ndelay = 0\n',
                     encoding="utf-8")
    return ["cli.py", "archive", "--config", str(sites), "--site", "broken", "--db", str(tmp_path / "b.db"),
            "--extract-workers", "0"]


def db_of(args: list[str]) -> Path:
    return Path(args[args.index("--db") + 1])


def check_run(db: Path, returncode: int) -> None:
    """Every good article archived, nothing left pending, one closed run whose exit code is the
    process's own (1: some URLs failed)."""
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == ARTICLES - len(BAD)
        assert conn.execute("SELECT count(*) FROM queue WHERE state = 'pending'").fetchone()[0] == 0
        runs = conn.execute("SELECT exit_code, ended_at, problems FROM runs").fetchall()
    assert len(runs) == 1 and runs[0][1] is not None, runs
    assert runs[0][0] == exit_codes.SOME_FAILED, runs
    assert returncode == runs[0][0], (returncode, runs)


def shell(command: str, args: list[str], **kwargs) -> subprocess.CompletedProcess:
    """``python ARGS`` started by sh with the redirections in ``command`` (`2>&-`, ...)."""
    return subprocess.run(["sh", "-c", f'exec "$@" {command}', "sh", sys.executable, *args], cwd=ROOT,
                          timeout=120, **kwargs)


def test_stderr_reader_leaving_after_the_first_line_loses_nothing(run_args):
    """`scraper archive ... 2>&1 >/dev/null | head -1`."""
    process = subprocess.Popen([sys.executable, *run_args], cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    first = process.stderr.readline()
    process.stderr.close()
    assert first.strip()
    check_run(db_of(run_args), process.wait(timeout=120))


def test_stderr_reader_gone_before_the_first_byte_loses_nothing(run_args):
    read, write = os.pipe()
    os.close(read)
    try:
        done = subprocess.run([sys.executable, *run_args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=write,
                              timeout=120)
    finally:
        os.close(write)
    check_run(db_of(run_args), done.returncode)


@pytest.mark.parametrize("redirection", ["2>&-", "2>/dev/full"])
def test_stderr_closed_at_start_or_full(run_args, redirection):
    done = shell(redirection, run_args, stdout=subprocess.PIPE)
    check_run(db_of(run_args), done.returncode)
    assert done.stdout == b""


def test_stdout_closed_at_start(run_args):
    done = shell(">&-", run_args, stderr=subprocess.PIPE)
    check_run(db_of(run_args), done.returncode)
    assert b"Traceback" not in done.stderr, done.stderr
    assert b"gave_up" in done.stderr      # what goes to stderr still does


def test_other_commands_with_closed_streams(run_args):
    archived = shell(">&- 2>&-", run_args)
    check_run(db_of(run_args), archived.returncode)
    db = str(db_of(run_args))
    for command, redirection in ((["stats", "--db", db], ">&-"), (["stats", "--db", db], "2>&-"),
                                 (["search", "الخبر", "--db", db], ">&- 2>&-")):
        done = shell(redirection, ["cli.py", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert done.returncode == exit_codes.OK and b"Traceback" not in done.stderr, (command, done)
    # Standard input closed: `-i -` reads nothing, as from /dev/null (no URL given: a usage error).
    done = shell("<&-", ["cli.py", "fetch", "-i", "-", "--db", db], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert done.returncode == exit_codes.USAGE and b"Traceback" not in done.stderr, done


# Ctrl-C while cli.py imports its modules, at a known moment: an import hook sends SIGINT to the
# process as `scraper.commands.archiving` is looked for, then loads cli as the `scraper` console
# script does (`from cli import cli`).
INTERRUPTED_IMPORT = """
import os, signal, sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "scraper.commands.archiving":
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)          # the signal arrives here
        return None

import time
sys.meta_path.insert(0, Interrupt())
from cli import cli
sys.exit(cli())
"""


def test_ctrl_c_while_loading_is_one_line_and_exit_130(tmp_path):
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT, "stats", "--db", str(tmp_path / "x.db")],
                          cwd=ROOT, capture_output=True, timeout=60)
    assert done.returncode == exit_codes.INTERRUPTED, done
    assert b"Traceback" not in done.stderr and done.stderr.strip().startswith(b"Interrupted"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
