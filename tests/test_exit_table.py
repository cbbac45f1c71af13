"""The exit codes against README's table (a new user's review): a batch of URLs none of which is a
URL is a usage error (2), a site name that is none is 2 for archive and discover, discover with
nothing reachable is 3 as archive is, --templates names its own problem, and a missing archive is
one line like fetch's. Real local files; the unreachable site is a closed port on 127.0.0.1."""
from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from cli import EXIT_FAILED, EXIT_USAGE, cli

PAGE = Path(__file__).parent / "fixtures" / "pages" / "alittihad_article.html"
ADDRESS = "https://www.alittihad.ae/news/x/1/y"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_a_batch_of_invalid_urls_is_a_usage_error_and_a_mixed_one_follows_the_failed_lines(tmp_path):
    db = tmp_path / "a.db"
    only_bad = run("fetch", "http://[::1", "http://a b.com/x", "--db", db)
    assert only_bad.exit_code == EXIT_USAGE and only_bad.stderr.count("not a valid URL") == 2
    mixed = run("fetch", "http://[::1", tmp_path / "missing.html", "--db", db)
    assert mixed.exit_code == EXIT_FAILED     # two failed lines of two: most failed


def test_a_site_name_that_is_none_is_a_usage_error(tmp_path):
    for command in (["archive", "--site", "nosuch"], ["discover", "nosuch"]):
        result = run(*command, "--db", tmp_path / "a.db")
        assert result.exit_code == EXIT_USAGE and "unknown site" in result.stderr, (command, result.output)


def test_discover_with_nothing_reachable_exits_3_as_archive_does(tmp_path):
    with socket.socket() as s:       # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "sites.toml"
    config.write_text(f'[sites.gone]\nstart = ["http://127.0.0.1:{port}/"]\narticle = "/news/"\ndelay = 0\n',
                      encoding="utf-8")
    discover = run("discover", "gone", "--config", config, "--db", tmp_path / "a.db")
    archive = run("archive", "--site", "gone", "--config", config, "--db", tmp_path / "a.db")
    assert discover.exit_code == archive.exit_code == EXIT_FAILED, (discover.output, archive.output)
    assert "nothing could be reached" in archive.stderr and "nothing new" not in archive.stderr


def test_extract_templates_names_the_option_not_the_page(tmp_path):
    text = tmp_path / "plain.txt"
    text.write_text("not a database\n" * 100, encoding="utf-8")
    for given, why in ((text, "not an archive"), (tmp_path / "nonexist.db", "no such archive")):
        result = run("extract", "--templates", given, PAGE, "--url", ADDRESS)
        assert result.exit_code == EXIT_USAGE, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: --templates {given}: {why}"), lines
        assert "--db" not in lines[0]
    assert not (tmp_path / "nonexist.db").exists()


def test_a_missing_archive_is_one_line(tmp_path):
    for command in (["stats"], ["search", "x"], ["export"], ["show", ADDRESS]):
        result = run(*command, "--db", tmp_path / "nothere.db")
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == EXIT_USAGE and len(lines) == 1 and lines[0].startswith("Error:"), result.output
