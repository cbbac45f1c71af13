"""A closed pipe is not a failure (issue 10 §4): `scraper search ... | head -1` and the like exit 0
quietly, with no traceback and no "Exception ignored" line, as `git log | head` does.

Real subprocesses and real pipes: the pipe's reader is either gone before the command writes (its
first write fails: deterministic) or reads one line and goes away, as `head -1` does.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli import EXIT_OK
from scraper.models import Article
from scraper.store import Archive

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = 300   # each printed record is over 1 KB: far more than a pipe's buffer holds
URL = "https://news.example.ae/a/{}"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipe") / "a.db"
    with Archive.open(path) as archive:
        for n in range(ARTICLES):
            text = f"قالت مصادر مطلعة إن الخبر رقم {n} " * 40
            archive.save(Article(url=URL.format(n), site="gulf", title=f"الخبر رقم {n}", text=text,
                                 content_hash=hashlib.sha256(text.encode()).hexdigest()))
    return path


def scraper(*args: str) -> list[str]:
    return [sys.executable, "cli.py", *args]


def into_a_closed_pipe(command: list[str], stream: str = "stdout") -> subprocess.CompletedProcess:
    """Run ``command`` with its ``stream`` on a pipe whose reader has already gone."""
    read, write = os.pipe()
    os.close(read)
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    streams[stream] = write
    try:
        return subprocess.run(command, cwd=ROOT, timeout=120, **streams)
    finally:
        os.close(write)


def quiet(text: bytes | None) -> bool:
    return not text or (b"Traceback" not in text and b"Exception ignored" not in text and b"Error" not in text)


def reading_commands(db: Path) -> list[list[str]]:
    given = ["--db", str(db)]
    return [
        ["search", "الخبر", "--limit", str(ARTICLES), *given],
        ["search", "الخبر", "--limit", str(ARTICLES), "--json", *given],
        ["search", "الخبر", "--limit", str(ARTICLES), "--csv", *given],
        ["export", *given],
        ["export", "-o", "-", "--format", "csv", *given],
        ["show", URL.format(7), *given],
        ["show", URL.format(7), "--json", *given],
        ["show", URL.format(7), "--history", *given],
        ["stats", *given],
        ["stats", "--json", *given],
        ["sites", *given],
    ]


def test_every_reading_command_into_a_closed_pipe_exits_0_quietly(db):
    for command in reading_commands(db):
        done = into_a_closed_pipe(scraper(*command))
        assert done.returncode == EXIT_OK and quiet(done.stderr), (command, done.returncode, done.stderr)


def test_fetch_and_extract_into_a_closed_pipe_exit_0_quietly(db, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><article><h1>عنوان</h1>" + "<p>" + "كلمة " * 200 + "</p>" * 3
                    + "</article></body></html>", encoding="utf-8")
    # fetch reports on stderr: that is the stream whose reader goes away.
    done = into_a_closed_pipe(scraper("fetch", str(page), "--url", "https://example.com/news/1",
                                      "--db", str(tmp_path / "b.db")), stream="stderr")
    assert done.returncode == EXIT_OK and quiet(done.stdout), done
    done = into_a_closed_pipe(scraper("extract", str(page), str(page), "--url", "https://example.com/news/1"))
    assert done.returncode == EXIT_OK and quiet(done.stderr), done


@pytest.mark.parametrize("command", [["search", "الخبر", "--limit", str(ARTICLES), "--json"], ["export"]])
def test_head_1(db, command):
    """The reader takes one line and leaves, as `head -1` does."""
    process = subprocess.Popen(scraper(*command, "--db", str(db)), cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == EXIT_OK and first.strip(), stderr
    assert quiet(stderr), stderr
