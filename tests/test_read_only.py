"""A read-only archive serves the reading commands (issue 10 §4): search, stats, export, show and
sites work on an archive in a folder the user cannot write, or a file the user cannot write, and
say once on stderr that it was read as it is; writing commands give one line and exit 3.

Permission bits do not stop root, so every command here runs in a child process that drops to
`nobody` when the tests run as root (as a cron user without rights on the archive would be).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from cli import EXIT_FAILED, EXIT_OK
from scraper.models import Article
from scraper.store import Archive
from scraper.store.search import refresh

ROOT = Path(__file__).resolve().parent.parent
URL = "https://news.example.ae/a/{}"

AS_NOBODY = """
import difflib, os, sys   # click imports difflib while it parses "-o"
import cli
import scraper.store.archive, scraper.store.search, scraper.store.stats, scraper.use.export, scraper.crawl.run
import scraper.commands.archiving, scraper.commands.reading, scraper.use.reextract, scraper.pipeline
if os.geteuid() == 0:   # root ignores permission bits: act as nobody, as a cron user would be
    os.setgid(65534)
    os.setuid(65534)
cli.cli(sys.argv[1:], prog_name="scraper")
"""


def save(archive: Archive, n: int) -> None:
    text = f"قالت مصادر مطلعة إن الخبر رقم {n} " * 10
    archive.save(Article(url=URL.format(n), site="gulf", title=f"الخبر رقم {n}", text=text,
                         content_hash=hashlib.sha256(text.encode()).hexdigest()))


def as_nobody(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(AS_NOBODY), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def folder():
    """A world-readable folder holding an archive: 3 articles indexed for search, a 4th written
    after the last search (its index update is pending)."""
    top = Path(tempfile.mkdtemp(prefix="read-only-"))
    top.chmod(0o755)
    with Archive.open(top / "a.db") as archive:
        for n in range(3):
            save(archive, n)
        refresh(archive)
        save(archive, 3)
    (top / "a.db").chmod(0o644)
    yield top
    top.chmod(0o755)
    shutil.rmtree(top)


def reading(db: Path) -> dict[str, list[str]]:
    return {"search": ["search", "الخبر", "--json", "--db", str(db)],
            "stats": ["stats", "--json", "--db", str(db)],
            "export": ["export", "-o", "-", "--db", str(db)],
            "show": ["show", URL.format(1), "--json", "--db", str(db)],
            "sites": ["sites", "--db", str(db)]}


def check_reading_commands(db: Path) -> None:
    out = {}
    for name, args in reading(db).items():
        done = as_nobody(*args)
        notes = [line for line in done.stderr.splitlines() if "read-only" in line]
        assert done.returncode == EXIT_OK and len(notes) == 1, (name, done.stderr)
        assert "Traceback" not in done.stderr and "Error" not in done.stderr, done.stderr
        out[name] = done.stdout
    # What was indexed is found; the article written since is not (the index was not updated).
    assert sorted(json.loads(line)["url"] for line in out["search"].splitlines()) == [URL.format(n) for n in range(3)]
    assert json.loads(out["stats"])["totals"]["articles"] == 4
    assert len(out["export"].splitlines()) == 4
    assert json.loads(out["show"])["url"] == URL.format(1)
    assert "gulf" in out["sites"] or "alittihad" in out["sites"]


def test_a_read_only_folder_serves_the_reading_commands_and_creates_nothing(folder):
    before = sorted(p.name for p in folder.iterdir())
    folder.chmod(0o555)
    check_reading_commands(folder / "a.db")
    assert sorted(p.name for p in folder.iterdir()) == before


def test_a_file_the_user_cannot_write_is_read_without_leaving_files_its_owner_could_not_write(folder):
    # The folder is writable: SQLite would make -wal/-shm files owned by the reader there, which
    # the archive's owner (a user other than root) could then not write.
    (folder / "a.db").chmod(0o444)
    folder.chmod(0o777)
    check_reading_commands(folder / "a.db")
    assert sorted(p.name for p in folder.iterdir()) == ["a.db"]


def test_a_read_only_archive_being_written_is_read_with_what_its_writer_committed(folder):
    # The owner's process holds the archive open and has committed an article that is still only
    # in the -wal: the reader shares the writer's -shm (mode=ro), so it sees that article.
    writer = sqlite3.connect(folder / "a.db")
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        with Archive.open(folder / "a.db") as archive:
            save(archive, 9)
        assert (folder / "a.db-wal").stat().st_size > 0
        folder.chmod(0o555)
        done = as_nobody("show", URL.format(9), "--json", "--db", str(folder / "a.db"))
        assert done.returncode == EXIT_OK, done.stderr
        assert json.loads(done.stdout)["url"] == URL.format(9)
    finally:
        folder.chmod(0o755)
        writer.close()


@pytest.mark.parametrize("command", [["reextract"], ["fetch", "--refresh", URL.format(1)]])
def test_writing_commands_on_a_read_only_archive_are_one_line_and_exit_3(folder, command):
    folder.chmod(0o555)
    before = (folder / "a.db").read_bytes()
    done = as_nobody(*command, "--db", str(folder / "a.db"))
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == EXIT_FAILED and len(lines) == 1 and "read-only" in lines[0], done.stderr
    assert (folder / "a.db").read_bytes() == before
