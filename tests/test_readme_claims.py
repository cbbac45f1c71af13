"""README statements a new user found false, made true: an empty sites file is a sites file (the
built-in sites are not archived), and one duration syntax for every time option."""
from __future__ import annotations

from click.testing import CliRunner

from cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, cli
from scraper.models import Article
from scraper.store import Archive


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_an_empty_sites_file_archives_no_built_in_site(tmp_path):
    (tmp_path / "sites.toml").write_text("", encoding="utf-8")
    sites = run("sites", "--db", tmp_path / "a.db")
    assert sites.exit_code == EXIT_OK
    assert "not archived by `scraper archive`" in sites.output and "while there is no sites file" not in sites.output
    archive = run("archive", "--db", tmp_path / "a.db")
    assert archive.exit_code == EXIT_FAILED and "no site to archive" in archive.stderr
    (tmp_path / "sites.toml").unlink()
    assert "while there is no sites file" in run("sites", "--db", tmp_path / "a.db").output


def test_search_and_archive_take_the_same_durations(tmp_path):
    db = tmp_path / "a.db"
    with Archive.open(db) as archive:
        archive.save(Article(url="https://news.example.ae/a/1", site="gulf", title="الخبر", text="نص الخبر " * 50,
                             content_hash="0" * 64))
    for given in ("30s", "1m", "30", "2.5", "0", "1h30m"):
        result = run("search", "الخبر", "--max-time", given, "--db", db)
        assert result.exit_code == EXIT_OK, (given, result.output)
    for given in ("3x", "-1", "nan", "1e400"):
        assert run("search", "الخبر", "--max-time", given, "--db", db).exit_code == EXIT_USAGE, given
        assert run("archive", "--max-time", given, "--db", db).exit_code == EXIT_USAGE, given
