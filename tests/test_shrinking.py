"""No record shrinks silently (issue 10 point 3): a refresh, a recheck or a re-extraction whose text
loses more than a small share keeps the previous version in `revisions` and says so on stderr;
`reextract --dry-run` shows it and writes nothing."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import cli
from scraper.pipeline import SHRINK_SHARE, shrinkage
from scraper.store import Archive
from tests.synthetic import prose
from tests.test_archive import NewsSite, article_html, rows, run

PARAGRAPHS = prose(7, paragraphs=4)


def story(paragraphs, part: str = "part") -> bytes:
    body = "".join(f"<p class='{part if i else 'lead'}'>{p}</p>" for i, p in enumerate(paragraphs))
    return (f"<html><head><title>Budget vote</title></head><body><article><h1>Budget vote</h1>{body}"
            f"</article></body></html>").encode()


@pytest.fixture
def served(httpserver):
    """A page whose bytes the test changes between fetches."""
    current = {"body": story(PARAGRAPHS)}
    httpserver.expect_request("/news/1").respond_with_handler(
        lambda request: __import__("werkzeug").Response(current["body"], content_type="text/html; charset=utf-8"))
    return httpserver.url_for("/news/1"), current


def test_the_rule():
    assert shrinkage(714, 177) == "text 714 -> 177 characters (-75%)"
    assert shrinkage(1000, int(1000 * (1 - SHRINK_SHARE))) is None      # a small share: nothing to say
    assert shrinkage(1000, 1200) is None and shrinkage(None, 10) is None and shrinkage(0, 0) is None


def test_a_refresh_that_loses_most_of_the_text_says_so_and_keeps_the_old_version(served, tmp_path):
    url, current = served
    db = str(tmp_path / "a.db")
    assert CliRunner().invoke(cli, ["fetch", url, "--db", db]).exit_code == 0
    current["body"] = story(PARAGRAPHS[:1])
    result = CliRunner().invoke(cli, ["fetch", "--refresh", url, "--db", db])
    assert result.exit_code == 0, result.output
    assert "updated" in result.stderr and "shrank: text" in result.stderr and "revisions" in result.stderr
    with Archive.open(db) as archive:
        versions = archive.history(url)
    assert [v["text"].count("\n\n") + 1 for v in versions] == [4, 1]


def test_a_refresh_that_grows_says_nothing_more(served, tmp_path):
    url, current = served
    db = str(tmp_path / "a.db")
    CliRunner().invoke(cli, ["fetch", url, "--db", db])
    current["body"] = story(PARAGRAPHS + prose(8, paragraphs=1))
    result = CliRunner().invoke(cli, ["fetch", "--refresh", url, "--db", db])
    assert "updated" in result.stderr and "shrank" not in result.stderr


def test_reextract_that_cuts_keeps_the_old_version_and_dry_run_shows_it(served, tmp_path):
    url, _ = served
    db = str(tmp_path / "a.db")
    assert CliRunner().invoke(cli, ["fetch", url, "--db", db]).exit_code == 0
    # A rule change that goes wrong: the profile's content selector now takes only the lead (a
    # `drop` rule that empties the body is caught by the safety net, which takes trafilatura's body;
    # a profile's selector is evidence the net trusts, so this cut reaches the store).
    config = tmp_path / "sites.toml"
    config.write_text('[sites.local]\ndomains = ["localhost"]\ncontent = ["p.lead"]\n')
    dry = CliRunner().invoke(cli, ["reextract", "--dry-run", "--db", db, "--config", str(config)])
    assert dry.exit_code == 0, dry.output
    assert "would shrink: article 1" in dry.stderr and "would be kept in revisions" in dry.stderr
    with Archive.open(db) as archive:
        assert archive.scalar("SELECT count(*) FROM revisions") == 0
        assert archive.get(url)["text"].count("\n\n") == 3
    done = CliRunner().invoke(cli, ["reextract", "--db", db, "--config", str(config), "--json"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.stdout)
    assert [s["id"] for s in report["shrank"]] == [1] and "-7" in report["shrank"][0]["change"]
    with Archive.open(db) as archive:
        versions = archive.history(url)
    assert [v["text"].count("\n\n") + 1 for v in versions] == [4, 1]
    # Once rewritten, running again changes nothing and keeps no further revision.
    again = CliRunner().invoke(cli, ["reextract", "--db", db, "--config", str(config)])
    assert "shrank" not in again.stderr
    with Archive.open(db) as archive:
        assert archive.scalar("SELECT count(*) FROM revisions") == 1


def test_a_recheck_in_the_cron_run_that_loses_text_says_so(tmp_path):
    site = NewsSite()
    try:
        config = tmp_path / "sites.toml"
        config.write_text(f"""
[sites.local]
start = ["{site.base}/"]
feeds = ["{site.base}/rss.xml"]
article = '^http://127\\.0\\.0\\.1:{site.server.server_port}/news/\\d+/'
delay = 0
""", encoding="utf-8")
        site.db, site.config = str(tmp_path / "archive.db"), str(config)
        assert run(site, "--quiet").exit_code == 0
        html = article_html(3).decode()
        first = html.index("<p>")
        site.pages["/news/3/story-3"] = ((html[:first] + html[html.index("</p>") + 4:]).encode(),
                                         "text/html; charset=utf-8")
        result = run(site, "--recheck-after", "0")
        assert result.exit_code == 0, result.output
        assert f"shrank: {site.url(3)}: text" in result.stderr
        assert rows(site, "SELECT count(*) AS n FROM revisions")[0]["n"] == 1
        quiet = run(site, "--recheck-after", "0", "--quiet")
        assert quiet.output == ""
    finally:
        site.close()
