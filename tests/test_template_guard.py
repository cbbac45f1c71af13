"""A learned template may never remove most of a body (issue 10 point 3).

The local site here writes its stories as rotations of one sentence with a number in them, so once
digits are masked three of each story's four paragraphs repeat on every page: exactly what a
learned template learns. Before the guard, `fetch --refresh` of an unchanged page reported
`updated` with 714 -> 177 characters, a profile naming the content selector did not help, and
`reextract` applied the cut to most records.
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import cli
from scraper.extract.article import extract
from scraper.extract.explain import explain, render
from scraper.extract.templates import learn_template
from scraper.store import Archive
from tests.synthetic import prose

SENTENCE = ("the city council approved the new budget for the schools the roads and the parks of the "
            "northern districts after a long public debate on taxes fees and the cost of living").split()
ARTICLES = 30


def rotation(k: int) -> str:
    return " ".join(SENTENCE[k:] + SENTENCE[:k])


def story(i: int) -> list[str]:
    """Three formulaic paragraphs (the same on every page once numbers are masked) and one of its own."""
    own = ["harbour", "festival", "railway", "orchard", "library", "stadium", "museum", "bridge", "market"]
    words = " ".join(own[(i + k) % len(own)] for k in range(i % 5, i % 5 + 6))
    return [f"{rotation(j)} in district {i * 7 + j}." for j in range(3)] + [
        f"Our correspondent {i} adds that the {words} plans were discussed separately on day {i}."]


def page(i: int, disclaimer: bool = False) -> str:
    extra = "<p>The views expressed by readers are their own and not the newspaper's.</p>" if disclaimer else ""
    body = "".join(f"<p>{p}</p>" for p in story(i))
    return (f"<html><head><title>Story {i}</title></head><body>"
            f"<div class='top'><a href='/'>Home</a> <a href='/world'>World</a></div>"
            f"<div class='story'><h1>Council story number {i}</h1>{body}{extra}</div>"
            f"<footer><p>Copyright the example site, all rights reserved.</p></footer></body></html>")


@pytest.fixture
def site(httpserver):
    for i in range(ARTICLES):
        httpserver.expect_request(f"/news/{i}").respond_with_data(
            page(i).encode(), content_type="text/html; charset=utf-8")
    return [httpserver.url_for(f"/news/{i}") for i in range(ARTICLES)]


def test_the_template_learns_the_formulaic_paragraphs():
    # The premise: without the guard this template cuts three paragraphs of four.
    template = learn_template([page(i) for i in range(ARTICLES)])
    previews = " ".join(b.preview for b in template.blocks)
    assert SENTENCE[0] in previews and SENTENCE[1] in previews


def test_a_template_that_would_remove_most_of_the_body_is_not_applied():
    template = learn_template([page(i) for i in range(ARTICLES)])
    for i in (0, 7, 29):
        without = extract(page(i), f"https://example.org/news/{i}")
        held = extract(page(i), f"https://example.org/news/{i}", template=template)
        assert held.text == without.text
        assert held.text.split("\n\n") == story(i)
        assert "not applied" in held.provenance["template"]


def test_explain_says_the_template_was_not_applied():
    template = learn_template([page(i) for i in range(ARTICLES)])
    shown = render(explain(page(3), "https://example.org/news/3", template))
    assert "learned template not applied" in shown
    assert shown.count("\n  + ") >= 1 and "story/p ×4" in shown


def test_a_template_still_cuts_a_line_the_site_repeats_inside_the_story():
    """A standard disclaimer inside the article's container is a small share of the body: still cut."""
    disclaimer = "The views expressed by readers are their own and not the newspaper's."

    def own_page(i: int) -> str:
        body = "".join(f"<p>{p}</p>" for p in prose(i)) + f"<p>{disclaimer}</p>"
        return (f"<html><head><title>Story {i}</title></head><body><div class='story'>"
                f"<h1>Story number {i}</h1>{body}</div></body></html>")

    template = learn_template([own_page(i) for i in range(10)])
    article = extract(own_page(4), "https://example.org/news/4", template=template)
    assert disclaimer not in article.text
    assert article.text.split("\n\n") == prose(4)
    assert "not applied" not in article.provenance.get("template", "")
    assert disclaimer in extract(own_page(4), "https://example.org/news/4").text   # the premise


def test_fetch_refresh_and_reextract_keep_every_paragraph(site, tmp_path):
    db = str(tmp_path / "a.db")
    first = CliRunner().invoke(cli, ["fetch", *site, "--db", db])
    assert first.exit_code == 0, first.output
    assert first.output.count("saved") >= ARTICLES
    with Archive.open(db) as archive:
        assert archive.scalar("SELECT count(*) FROM site_templates") == 1
        for i, url in enumerate(site):
            assert archive.get(url)["text"].split("\n\n") == story(i), i
    again = CliRunner().invoke(cli, ["fetch", "--refresh", site[5], site[20], "--db", db])
    assert again.exit_code == 0, again.output
    assert "unchanged" in again.output and "updated" not in again.output
    redo = CliRunner().invoke(cli, ["reextract", "--db", db])
    assert redo.exit_code == 0, redo.output
    with Archive.open(db) as archive:
        assert archive.scalar("SELECT count(*) FROM revisions") == 0
        for i, url in enumerate(site):
            assert archive.get(url)["text"].split("\n\n") == story(i), i


def test_a_profile_naming_the_content_keeps_every_paragraph_too(site, tmp_path):
    config = tmp_path / "sites.toml"
    config.write_text('[sites.council]\ndomains = ["localhost"]\ncontent = ["div.story"]\n')
    db = str(tmp_path / "a.db")
    result = CliRunner().invoke(cli, ["fetch", *site, "--db", db, "--config", str(config)])
    assert result.exit_code == 0, result.output
    with Archive.open(db) as archive:
        for i, url in enumerate(site):
            record = archive.get(url)
            assert record["extractor"] == "profile:council"
            assert record["text"].split("\n\n") == story(i), i

