"""`explain`: each block of a page kept or dropped with the stage and rule, and each field's source."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import cli
from scraper.extract.explain import explain, render
from scraper.pipeline import template_for
from scraper.extract.templates import learn_template
from test_templates import BOILERPLATE, MOST_READ, PAGES as SITE_PAGES, SITE, archive_with, url as site_url

PAGES = Path(__file__).parent / "fixtures" / "pages"


def fixture(name: str) -> tuple[bytes, str]:
    case = json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))
    return (PAGES / f"{name}.html").read_bytes(), case["url"]


def blocks_with(explanation, text: str):
    return [b for b in explanation.blocks if text in b.text]


@pytest.fixture(scope="module")
def seed():
    return explain(*fixture("alittihad_article"))


def test_profile_drop_rules_are_named(seed):
    [prayers] = blocks_with(seed, "مواقيت الصلاة")
    assert not prayers.kept and prayers.stage == "profile"
    assert prayers.reason == "profile drop rule `.prayer-times`"
    assert prayers.path.endswith("div.prayer-times")
    [footer] = blocks_with(seed, "جميع الحقوق محفوظة")
    assert not footer.kept and "`footer`" in footer.reason
    assert seed.removed["profile"] >= 10


def test_every_body_paragraph_is_listed_as_kept_by_the_content_selector(seed):
    paragraphs = seed.article.text.split("\n\n")
    kept = seed.kept
    assert sum(b.count for b in kept) == len(paragraphs) == 12
    assert {b.reason for b in kept} == {"profile content `div.article-content-editor p`"}
    assert kept[0].text.startswith(paragraphs[0][:40])
    # No paragraph of the record is listed as dropped.
    assert not {b.text for b in seed.dropped} & set(paragraphs)


def test_fields_carry_their_source(seed):
    [headline] = [b for b in seed.blocks if b.path.endswith("h1")]
    assert not headline.kept and headline.reason == "profile: outside content `div.article-content-editor`"
    fields = {f.name: f for f in seed.fields}
    assert fields["published"].value == "2015-09-27T18:32:00+04:00"
    assert fields["published"].source == "profile:header .article-date"
    assert fields["title"].source == "profile:header h1"
    assert fields["tags"].value == ["العراق", "سوريا", "روسيا", "إيران", "داعش"]
    assert fields["site"].source == "profile:alittihad"
    assert seed.text_source == "profile:div.article-content-editor p"


def test_generic_path_blocks_are_trafilaturas_decisions():
    e = explain(*fixture("comments"))
    assert e.extractor == "generic"
    assert {b.reason for b in e.kept} == {"generic: kept by trafilatura"}
    comment = blocks_with(e, "مبروك للأبطال")[0]
    assert not comment.kept and comment.reason == "generic: left out by trafilatura"
    [headline] = [b for b in e.blocks if b.path.endswith("h1")]
    assert not headline.kept and headline.reason == "headline (the title field, not body)"
    [byline] = blocks_with(e, "ليلى حداد — 5 نوفمبر 2022")
    assert not byline.kept and byline.reason == "date line (metadata, not body)"
    assert {f.name: f.source for f in e.fields}["published"] == "meta:article:published_time"


def test_the_boilerplate_net_gives_its_reason():
    e = explain(*fixture("jsonld_only"))
    [read_also] = blocks_with(e, "اقرأ أيضا")
    assert not read_also.kept and read_also.stage == "boilerplate"
    assert read_also.reason == "boilerplate: read-also link"


def test_learned_template_blocks_are_named_with_their_evidence():
    template = learn_template(SITE_PAGES)
    e = explain(SITE_PAGES[0], site_url(0), template=template)
    assert e.removed["template"] == 5
    [most_read] = blocks_with(e, "الأكثر تداولاً")
    assert not most_read.kept and most_read.stage == "template"
    assert most_read.reason == f"learned template (on {len(SITE_PAGES)} of {len(SITE_PAGES)} pages)"
    assert not any(s in e.article.text for s in BOILERPLATE)
    assert all(b.stage == "generic" for b in e.kept)
    # Without the template the same cards are kept by the generic path: the leak it fixes.
    plain = explain(SITE_PAGES[0], site_url(0))
    assert any(MOST_READ[0] in b.text for b in plain.kept)


def test_a_page_without_article_text_is_explained_not_raised():
    e = explain("<html><head><title>Home | Site</title></head><body><nav><a>x</a></nav></body></html>",
                "https://nothing.example/")
    assert e.article is None and "no article text" in e.error
    assert not e.kept
    assert {f.name for f in e.fields} >= {"title"}


def test_render_lists_blocks_and_fields(seed):
    text = render(seed)
    assert "- profile drop rule `.prayer-times`" in text
    assert "+ profile content `div.article-content-editor p`" in text and "×12" in text
    assert "published     2015-09-27T18:32:00+04:00  <- profile:header .article-date" in text


def test_cli_extract_explain(tmp_path):
    result = CliRunner().invoke(cli, ["extract", "--explain", str(PAGES / "alittihad_article.html"),
                                      "--url", fixture("alittihad_article")[1]])
    assert result.exit_code == 0, result.output
    assert "profile drop rule `.prayer-times`" in result.output
    assert not result.output.lstrip().startswith("{")


def test_cli_extract_with_the_archives_learned_template(tmp_path):
    db = tmp_path / "a.db"
    with archive_with(db, 5) as archive:
        assert template_for(archive, SITE) is not None       # learned and stored
    page = tmp_path / "page.html"
    page.write_text(SITE_PAGES[5], encoding="utf-8")
    runner = CliRunner()
    plain = runner.invoke(cli, ["extract", str(page), "--url", site_url(5)])
    assert plain.exit_code == 0 and MOST_READ[0] in json.loads(plain.output)["text"]
    stripped = runner.invoke(cli, ["extract", str(page), "--url", site_url(5), "--templates", str(db)])
    assert stripped.exit_code == 0, stripped.output
    assert MOST_READ[0] not in json.loads(stripped.output)["text"]
    why = runner.invoke(cli, ["extract", "--explain", str(page), "--url", site_url(5), "--templates", str(db)])
    assert "- learned template (on 5 of 5 pages)" in why.output
