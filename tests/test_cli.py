"""`scraper fetch`, `extract` and `show` end to end: a real server on 127.0.0.1, rows in the database."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = Path(__file__).parent / "fixtures" / "pages"
SEED_HTML = (PAGES / "alittihad_article.html").read_bytes()
SEED = json.loads((PAGES / "alittihad_article.json").read_text(encoding="utf-8"))["record"]
ARTICLE_PATH = "/news/arab-world/3835123/iraq-syria-russia-iran"


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def rows(db, table="articles"):
    return list(sqlite_utils.Database(db)[table].rows)


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "archive.db")


@pytest.fixture
def seed_url(httpserver):
    httpserver.expect_request(ARTICLE_PATH).respond_with_data(
        SEED_HTML, content_type="text/html; charset=utf-8")
    return httpserver.url_for(ARTICLE_PATH)


def test_fetch_of_the_seed_page_stores_exactly_the_clean_record(db, seed_url):
    result = run("fetch", seed_url, "--db", db)
    assert result.exit_code == EXIT_OK, result.output
    (row,) = rows(db)
    assert row["title"] == "تعاون استخباراتي بين العراق وسوريا وروسيا وإيران للقضاء على «داعش»"
    assert row["published"] == "2015-09-27T18:32:00+04:00"
    assert row["text"] == SEED["text"]
    paragraphs = row["text"].split("\n\n")
    assert len(paragraphs) == 12
    assert paragraphs[0].startswith("أفادت مصادر عسكرية عراقية")
    assert paragraphs[-1].endswith("حول التصدي لتنظيم «داعش».")
    for chrome in ("مواقيت الصلاة", "أبرز الأخبار", "عدد اليوم", "جميع الحقوق محفوظة", "2024", "\xa0"):
        assert chrome not in row["text"] and chrome not in row["title"]
    assert row["extractor"] == "profile:alittihad" and row["site"] == "alittihad"
    assert row["http_status"] == 200 and row["fetched_at"]
    assert json.loads(row["tags"]) == SEED["tags"]
    # The raw bytes are kept (compressed) and every attempt is in the fetch log.
    (page,) = rows(db, "pages")
    assert page["size"] == len(SEED_HTML)
    (log,) = rows(db, "fetch_log")
    assert log["outcome"] == "saved" and log["status"] == 200 and log["bytes"] == len(SEED_HTML)


def test_fetching_again_adds_no_row_and_refresh_says_unchanged(db, seed_url):
    assert run("fetch", seed_url, "--db", db).exit_code == EXIT_OK
    again = run("fetch", seed_url, "--db", db)
    assert again.exit_code == EXIT_OK and "skipped" in again.output
    refreshed = run("fetch", seed_url, "--refresh", "--db", db)
    assert refreshed.exit_code == EXIT_OK and "unchanged" in refreshed.output
    assert len(rows(db)) == 1 and len(rows(db, "pages")) == 1
    assert [r["outcome"] for r in rows(db, "fetch_log")] == ["saved", "skipped", "unchanged"]


def test_one_failed_url_exits_1_and_the_others_are_saved(db, seed_url, httpserver):
    httpserver.expect_request("/gone").respond_with_data("gone", status=404)
    missing = httpserver.url_for("/gone")
    result = run("fetch", missing, seed_url, "--db", db)
    assert result.exit_code == EXIT_SOME_FAILED
    assert "HTTP 404" in result.output and "1 saved" in result.output and "1 failed" in result.output
    assert len(rows(db)) == 1
    failed = [r for r in rows(db, "fetch_log") if r["outcome"] == "failed"]
    assert failed[0]["url"] == missing and failed[0]["status"] == 404 and "404" in failed[0]["error"]


def test_urls_from_a_file_and_from_standard_input(db, seed_url, tmp_path):
    listing = tmp_path / "urls.txt"
    listing.write_text(f"# today's articles\n\n{seed_url}\n", encoding="utf-8")
    assert run("fetch", "-i", str(listing), "--db", db).exit_code == EXIT_OK
    assert len(rows(db)) == 1
    other = str(tmp_path / "other.db")
    assert run("fetch", "-i", "-", "--db", other, input=seed_url + "\n").exit_code == EXIT_OK
    assert len(rows(other)) == 1


def test_a_comment_after_a_url_in_a_file_is_not_part_of_it(db, seed_url, tmp_path):
    # «URL  # note» was requested as «URL%20%20» and failed; a #fragment (no space before) stays.
    listing = tmp_path / "urls.txt"
    listing.write_text(f"{seed_url}  # the seed\n{seed_url}#top\t# same page, its fragment\n", encoding="utf-8")
    result = run("fetch", "-i", str(listing), "--db", db)
    assert result.exit_code == EXIT_OK, result.output
    assert [r["url"] for r in rows(db)] == [seed_url]


def test_a_saved_page_with_its_address(db, tmp_path):
    saved = tmp_path / "page.html"
    saved.write_bytes(SEED_HTML)
    url = "https://www.alittihad.ae" + ARTICLE_PATH
    assert run("fetch", str(saved), "--url", url, "--db", db).exit_code == EXIT_OK
    (row,) = rows(db)
    assert row["final_url"] == url and row["published"] == "2015-09-27T18:32:00+04:00"


def test_db_from_the_environment(tmp_path, seed_url):
    path = tmp_path / "env.db"
    result = CliRunner(env={"SCRAPER_DB": str(path)}).invoke(cli, ["fetch", seed_url])
    assert result.exit_code == EXIT_OK and len(rows(str(path))) == 1


def test_windows_1256_page_without_declared_charset(db, httpserver):
    html = (PAGES / "windows1256_undeclared.html").read_bytes()
    expected = json.loads((PAGES / "windows1256_undeclared.json").read_text(encoding="utf-8"))["record"]
    httpserver.expect_request("/cp1256").respond_with_data(html, content_type="text/html")
    assert run("fetch", httpserver.url_for("/cp1256"), "--db", db).exit_code == EXIT_OK
    (row,) = rows(db)
    assert row["title"] == expected["title"] and row["text"] == expected["text"]


@pytest.mark.parametrize("args, message", [
    ([], "give at least one URL"),
    (["a.html", "b.html", "--url", "https://x.example/1"], "exactly one file"),
    (["https://x.example/1", "--timeout", "-1"], "--timeout"),
])
def test_usage_errors_exit_2(db, args, message):
    result = run("fetch", *args, "--db", db)
    assert result.exit_code == EXIT_USAGE and message in result.output
    assert not os.path.exists(db)


def test_bad_targets_are_one_line_failures(db, httpserver):
    httpserver.expect_request("/image").respond_with_data(b"\x89PNG\r\n\x1a\n" + b"\0" * 100,
                                                          content_type="image/png")
    result = run("fetch", "ftp://example.com/a", httpserver.url_for("/image"), "--db", db)
    assert result.exit_code == EXIT_FAILED       # every URL failed
    lines = [line for line in result.output.splitlines() if line.startswith("failed")]
    assert len(lines) == 2 and "Traceback" not in result.output
    assert {r["outcome"] for r in rows(db, "fetch_log")} == {"failed"}


def test_a_file_that_is_not_a_database_is_a_clear_error_and_untouched(tmp_path, seed_url):
    path = tmp_path / "notes.db"
    path.write_bytes(b"my notes, not a database\n" * 10)
    before = path.read_bytes()
    result = run("fetch", seed_url, "--db", str(path))
    assert result.exit_code == EXIT_FAILED
    assert result.output.count("\n") == 1 and "not" in result.output.lower()
    assert path.read_bytes() == before


def test_extract_prints_the_record_as_json_without_network_or_database(tmp_path):
    result = run("extract", str(PAGES / "alittihad_article.html"),
                 "--url", "https://www.alittihad.ae" + ARTICLE_PATH)
    assert result.exit_code == EXIT_OK
    record = json.loads(result.output)
    assert record["text"] == SEED["text"] and record["published"] == SEED["published"]
    several = run("extract", str(PAGES / "jsonld_only.html"), str(PAGES / "comments.html"))
    assert [json.loads(line)["extractor"] for line in several.output.splitlines()] == ["generic"] * 2
    assert not list(tmp_path.iterdir())


def test_extract_reads_standard_input_and_reports_a_page_without_article():
    piped = run("extract", "-", "--url", "https://www.alittihad.ae" + ARTICLE_PATH,
                input=SEED_HTML)
    assert json.loads(piped.output)["title"] == SEED["title"]
    empty = run("extract", "-", input=b"<html><body><nav>Home</nav></body></html>")
    assert empty.exit_code == EXIT_SOME_FAILED and "Error:" in empty.output


def test_show_prints_the_stored_record(db, seed_url):
    run("fetch", seed_url, "--db", db)
    shown = run("show", seed_url, "--db", db)
    assert shown.exit_code == EXIT_OK
    assert shown.output.startswith(SEED["title"]) and "published: 2015-09-27T18:32:00+04:00" in shown.output
    as_json = json.loads(run("show", seed_url, "--json", "--db", db).output)
    assert as_json["text"] == SEED["text"] and as_json["tags"] == SEED["tags"]
    missing = run("show", "https://www.alittihad.ae/news/none/1/x", "--db", db)
    assert missing.exit_code != EXIT_OK and missing.output.startswith("Error:")


@pytest.mark.parametrize("url", ["http://[::1", " ttp://[127.0.0.1:8080/news/1/x", "https://host:99999/x"])
def test_show_of_a_url_that_cannot_be_stored_is_not_found(db, seed_url, url):
    # Found by the URL fuzz test: the www/scheme twins of the lookup split the URL and broke on it.
    run("fetch", seed_url, "--db", db)
    shown = run("show", url, "--db", db)
    assert shown.exit_code in (EXIT_SOME_FAILED, EXIT_USAGE) and shown.output.startswith("Error:")
    assert len(shown.output.strip().splitlines()) == 1


def test_ctrl_c_mid_run_keeps_what_was_saved(tmp_path, seed_url, raw_server):
    """A real process, a real SIGINT while it waits on a slow server: exit 130, first article kept."""
    def slow(handler):
        time.sleep(30)
    slow_url = raw_server.route("/slow", slow)
    db = tmp_path / "archive.db"
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "fetch", seed_url, slow_url,
                             "--timeout", "60", "--db", str(db)],
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            # A suite started in the background (`pytest &`) ignores SIGINT, and
                            # children inherit that: the user's Ctrl-C reaches a foreground process.
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if db.exists() and _count(db) == 1:
            break
        time.sleep(0.1)
    time.sleep(0.3)   # now waiting on the slow server
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == EXIT_INTERRUPTED
    assert "Interrupted" in err and "Traceback" not in err
    assert _count(db) == 1
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _count(db):
    try:
        return sqlite3.connect(db).execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_an_invalid_sites_file_is_a_clear_error_exit_3(db, seed_url, tmp_path):
    bad = tmp_path / "sites.toml"
    bad.write_text('[sites.x]\ndomains = ["x.example"]\ntimezone = "Mars/Olympus"\n', encoding="utf-8")
    result = run("fetch", seed_url, "--config", str(bad), "--db", db)
    assert result.exit_code == EXIT_FAILED
    assert "sites.toml" in result.output and "timezone" in result.output
    assert result.output.count("\n") == 1
