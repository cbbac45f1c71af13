"""Standard output that cannot be written (`scraper stats > /dev/full`): one line on stderr, exit 3,
for every command and for --help (before: an OSError traceback, exit 1). Real subprocesses with
their standard output on /dev/full, which fails every write with ENOSPC as a full disk does."""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from cli import EXIT_FAILED
from scraper.models import Article
from scraper.store import Archive

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "tests" / "fixtures" / "pages" / "alittihad_article.html"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("full") / "a.db"
    with Archive.open(path) as archive:
        text = "قالت مصادر مطلعة إن الخبر " * 40
        archive.save(Article(url="https://news.example.ae/a/1", site="gulf", title="الخبر", text=text,
                             content_hash=hashlib.sha256(text.encode()).hexdigest()))
    return path


def commands(db: Path) -> list[list[str]]:
    given = ["--db", str(db)]
    return [
        ["--help"], ["stats", "--help"], ["stats", *given], ["sites", *given],
        ["search", "الخبر", *given], ["show", "https://news.example.ae/a/1", *given],
        ["export", *given], ["reextract", "--json", *given],
        ["extract", str(PAGE), "--url", "https://www.alittihad.ae/news/x/1/y"],
    ]


@pytest.mark.parametrize("n", range(9))
def test_output_on_a_full_device_is_one_line_and_exit_3(db, n):
    command = commands(db)[n]
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "cli.py", *command], cwd=ROOT, stdout=full,
                              stderr=subprocess.PIPE, timeout=120)
    err = done.stderr.decode()
    assert done.returncode == EXIT_FAILED, (command, err)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert err.strip().splitlines() == ["Error: cannot write the output: No space left on device"], err
