"""Files the user names for output (export -o, --warc, --log-file, copy's destination): never the
archive by any name, never anything but a regular file, a missing folder is one line, an existing
file is replaced only with --force, and an interrupted export leaves no half file (issue 11 §3)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, cli
from scraper.errors import OutputRefused
from scraper.models import Article
from scraper.outfiles import replaced_whole
from scraper.store import Archive

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "a.db"
    with Archive.open(path) as archive:
        for n in range(5):
            text = f"نص الخبر رقم {n} " * 20
            archive.save(Article(url=f"https://news.example.ae/a/{n}", site="gulf", title=f"خبر {n}",
                                 text=text, content_hash=hashlib.sha256(text.encode()).hexdigest()))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return lines[0]


def export(db: Path, *args: str):
    return CliRunner().invoke(cli, ["export", "--db", str(db), *args])


def other_names_of_the_archive(db: Path) -> list[str]:
    """The archive reached by another path, a symlink, a hard link, and its -wal."""
    folder = db.parent
    (folder / "sub").mkdir()
    os.symlink(db, folder / "link.db")
    os.link(db, folder / "hard.db")
    return [str(db), str(folder / "sub" / ".." / db.name), str(folder / "link.db"), str(folder / "hard.db"),
            f"{db}-wal", f"{db}-shm"]


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_export_never_writes_over_the_archive_by_any_name(db, force):
    before = digest(db)
    for name in other_names_of_the_archive(db):
        result = export(db, "-o", name, *force)
        assert result.exit_code == EXIT_USAGE, (name, result.output)
        assert "archive" in one_line(result)
        assert digest(db) == before
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    with Archive.open(db) as archive:
        assert archive.scalar("SELECT count(*) FROM articles") == 5


def test_export_to_standard_output_appended_to_the_archive_is_refused(db):
    # `scraper export --db a.db >> a.db`: standard output is the archive file itself.
    before = digest(db)
    with open(db, "ab") as out:
        done = subprocess.run([sys.executable, "cli.py", "export", "--db", str(db)], cwd=ROOT, stdout=out,
                              stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == EXIT_USAGE and "archive" in done.stderr and "Traceback" not in done.stderr
    assert digest(db) == before


def test_export_refuses_what_is_not_a_regular_file(db, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    targets = {fifo: stat.S_ISFIFO, tmp_path: stat.S_ISDIR}
    if os.geteuid() == 0:   # a device node of our own (never the machine's /dev/full)
        device = tmp_path / "full"
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
        targets[device] = stat.S_ISCHR
    for target, kind in targets.items():
        for force in ([], ["--force"]):
            result = export(db, "-o", str(target), *force)
            assert result.exit_code == EXIT_USAGE, (target, result.output)
            one_line(result)
            assert kind(os.lstat(target).st_mode), target      # still what it was
    assert not list(tmp_path.glob(".*.part"))


def test_export_into_a_missing_folder_is_one_line(db, tmp_path):
    result = export(db, "-o", str(tmp_path / "no" / "such" / "out.jsonl"))
    assert result.exit_code == EXIT_USAGE
    assert "does not exist" in one_line(result)
    assert not (tmp_path / "no").exists()


def test_an_existing_file_is_replaced_only_with_force(db, tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("keep me\n", encoding="utf-8")
    result = export(db, "-o", str(target))
    assert result.exit_code == EXIT_USAGE and "--force" in one_line(result)
    assert target.read_text(encoding="utf-8") == "keep me\n"
    result = export(db, "-o", str(target), "--force")
    assert result.exit_code == EXIT_OK, result.output
    assert [json.loads(line)["title"] for line in target.read_text(encoding="utf-8").splitlines()] == \
        [f"خبر {n}" for n in range(5)]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_export_through_a_symlink_writes_the_file_it_names(db, tmp_path):
    real = tmp_path / "real.jsonl"
    real.write_text("old\n", encoding="utf-8")
    os.symlink(real, tmp_path / "out.jsonl")
    result = export(db, "-o", str(tmp_path / "out.jsonl"), "--force")
    assert result.exit_code == EXIT_OK, result.output
    assert (tmp_path / "out.jsonl").is_symlink() and len(real.read_text(encoding="utf-8").splitlines()) == 5


def test_dash_is_standard_output(db):
    result = export(db, "-o", "-")
    assert result.exit_code == EXIT_OK
    assert len(result.stdout_bytes.decode("utf-8").splitlines()) == 5


def test_a_write_that_fails_midway_leaves_neither_a_half_file_nor_a_temporary_one(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError):
        with replaced_whole(target) as out:
            out.write(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"the previous export\n")
    with pytest.raises(KeyboardInterrupt):
        with replaced_whole(target, force=True) as out:
            out.write(b"half")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"the previous export\n" and list(tmp_path.iterdir()) == [target]


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with replaced_whole(tmp_path / "out") as out:
            out.write(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o644


def test_a_name_taken_during_the_write_is_not_replaced(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(OutputRefused):
        with replaced_whole(target) as out:
            out.write(b"new")
            target.write_bytes(b"someone else's")
    assert target.read_bytes() == b"someone else's" and list(tmp_path.iterdir()) == [target]


# -- the other files a command writes: --warc, --log-file, copy's destination, --db --------------

def test_warc_is_never_the_archive_nor_a_file_of_another_kind(db, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html><body><article><h1>t</h1><p>" + "كلمة " * 80 + "</p></article></body></html>",
                    encoding="utf-8")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "notes.txt").write_text("mine\n", encoding="utf-8")
    before = digest(db)
    names = other_names_of_the_archive(db) + [str(tmp_path / "fifo"), str(tmp_path / "notes.txt"),
                                               str(tmp_path / "no" / "x.warc")]
    for name in names:
        result = CliRunner().invoke(cli, ["fetch", str(page), "--url", "https://example.com/news/9",
                                          "--warc", name, "--db", str(db)])
        assert result.exit_code == EXIT_USAGE, (name, result.output)
        one_line(result)
    assert digest(db) == before and (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    # An existing WARC file is appended to, as before.
    warc = tmp_path / "crawl.warc"
    for n in (1, 2):
        result = CliRunner().invoke(cli, ["fetch", str(page), "--url", f"https://example.com/news/{n}",
                                          "--warc", str(warc), "--db", str(db)])
        assert result.exit_code == EXIT_OK, result.output
    from warcio.archiveiterator import ArchiveIterator
    with open(warc, "rb") as stream:
        kinds = [record.rec_type for record in ArchiveIterator(stream)]
    assert kinds == ["warcinfo", "resource", "resource"]


def test_the_log_file_is_never_the_archive(db, tmp_path):
    (tmp_path / "sites.toml").write_text('[sites.local]\nfeeds = ["http://127.0.0.1:9/rss.xml"]\n'
                                         'article = "/news/"\n', encoding="utf-8")
    before = digest(db)
    for name in [str(db), f"{db}.lock", str(tmp_path)]:
        result = CliRunner().invoke(cli, ["archive", "--config", str(tmp_path / "sites.toml"), "--log-file", name,
                                          "--db", str(db)])
        assert result.exit_code == EXIT_USAGE, (name, result.output)
        one_line(result)
    assert digest(db) == before


@pytest.mark.timeout(30)
def test_a_fifo_or_a_device_as_the_archive_is_one_line_not_a_hang(db, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for args in (["stats", "--db", str(fifo)], ["copy", str(db), str(fifo)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == EXIT_FAILED, result.output
        assert "regular file" in one_line(result)
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


FILE_SIZE_LIMIT = """
import os, resource, signal, sys
import cli
import scraper.use.export, scraper.outfiles
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # else the kernel kills us at the limit
resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, resource.RLIM_INFINITY))   # over the -shm (32 KiB), under the export
cli.cli(sys.argv[1:], prog_name="scraper")
"""


def test_an_export_stopped_by_a_full_disk_is_one_line_and_leaves_the_old_file(tmp_path):
    db = tmp_path / "big.db"
    with Archive.open(db) as archive:
        for n in range(40):
            text = f"نص الخبر رقم {n} " * 100
            archive.save(Article(url=f"https://news.example.ae/a/{n}", site="gulf", title=f"خبر {n}",
                                 text=text, content_hash=hashlib.sha256(text.encode()).hexdigest()))
    target = tmp_path / "out.jsonl"
    target.write_bytes(b"the previous export\n")
    done = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMIT, "export", "-o", str(target), "--force",
                           "--db", str(db)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == EXIT_FAILED and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert target.read_bytes() == b"the previous export\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.db", "out.jsonl"]


def test_a_folder_the_user_cannot_write_is_one_line(db):
    top = Path(tempfile.mkdtemp(prefix="out-locked-"))   # pytest's own folders are private to root
    try:
        top.chmod(0o755)
        shutil.copy(db, top / "a.db")
        (top / "a.db").chmod(0o644)
        folder = top / "locked"
        folder.mkdir(mode=0o555)
        folder.chmod(0o555)
        script = ("import difflib, os, sys\nimport cli, scraper.use.export, scraper.outfiles\n"
                  "if os.geteuid() == 0:\n    os.setgid(65534)\n    os.setuid(65534)\n"
                  "cli.cli(sys.argv[1:], prog_name='scraper')\n")
        done = subprocess.run([sys.executable, "-c", script, "export", "-o", str(folder / "out.jsonl"),
                               "--db", str(top / "a.db")], cwd=ROOT, capture_output=True, text=True, timeout=60)
        lines = [line for line in done.stderr.splitlines() if line.strip() and not line.startswith("note:")]
        assert done.returncode == EXIT_USAGE and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert list(folder.iterdir()) == []
    finally:
        (top / "locked").chmod(0o755)
        shutil.rmtree(top)
