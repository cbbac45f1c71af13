"""The safety net (scraper/extract/safety.py): our body held against trafilatura's own before extract
returns. Each page in tests/fixtures/net reproduces a failure shape found on publishers nobody tuned
for (issue 12): the extractor before this net gave the wrong body on each of them."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cli import EXIT_SOME_FAILED, cli
from scraper.errors import ExtractionError
from scraper.extract import extract
from scraper.extract.explain import explain, render
from scraper.extract.parse import parse_html
from scraper.extract.safety import (Links, agrees_as_copy, judge, kept_share, navigation_share,
                                    story_cluster)
from scraper.extract.trace import Trace

NET = Path(__file__).parent / "fixtures" / "net"
URLS = {
    "breaking_news_container": "https://harbordaily.example/local/flood-barrier-fails",
    "menu_dump": "https://coastline.example/local/flood-barrier-fails",
    "cut_short": "https://citypost.example/news/harbour-bridge-closes",
    "shortened_articlebody": "https://gulf-today.example/local/2025/02/electric-buses",
    "navigation_only": "https://gulf-today.example/local",
}


def page(name: str) -> str:
    return (NET / f"{name}.html").read_text(encoding="utf-8")


def traced(name: str):
    trace = Trace()
    return extract(page(name), URLS[name], trace=trace), trace


def story(name: str, container: str) -> list[str]:
    """The page's own story paragraphs, read from the fixture's markup."""
    tree = parse_html(page(name))
    return [" ".join(p.text_content().split()) for p in tree.xpath(f"//{container}//p")]


# --- each failure shape, on its page ------------------------------------------------------------

def test_a_story_container_whose_class_names_a_widget_is_not_pruned():
    """«breaking-news» on the story's own container: pruning it left trafilatura no article, and a
    fallback returned the menus. The container holds the headline's story: it stays."""
    a, trace = traced("breaking_news_container")
    assert a.text.split("\n\n") == story("breaking_news_container", "div[contains(@class, 'story')]")
    assert not [r for r in trace.removals if "breaking-news" in r.rule]
    assert trace.verdict.taken == "ours" and trace.verdict.evidence


def test_a_menu_dump_gives_way_to_trafilaturas_body():
    """The story's container pruned all the same (the page's teasers outweigh it): what is left is
    the menus and the header. Nothing vouches for that body, and it keeps almost nothing of
    trafilatura's: the baseline's body is taken."""
    a, trace = traced("menu_dump")
    paragraphs = story("menu_dump", "div[contains(@class, 'story')]")
    assert [p for p in a.text.split("\n\n") if p in paragraphs] == paragraphs
    assert "Politics" not in a.text and "Obituaries" not in a.text
    assert trace.verdict.taken == "baseline" and "nothing vouched for ours" in trace.verdict.reason
    assert a.provenance["text"].startswith("generic:trafilatura default (safety net:")
    assert a.extractor == "generic"


def test_a_shortened_json_ld_article_body_drops_no_paragraph():
    """The page's articleBody holds its first three paragraphs (publishers ship shortened ones): it
    is evidence for what it holds, never against what it lacks."""
    a, trace = traced("shortened_articlebody")
    paragraphs = story("shortened_articlebody", "div[@class='post-body']")
    assert len(paragraphs) == 13 and a.text.split("\n\n") == paragraphs
    assert not [d for d in trace.dropped if "articleBody" in d.rule]
    # Shortened, it does not agree with the whole story: it vouches for nothing.
    assert not agrees_as_copy(paragraphs, trace.meta.article_body)


def test_a_body_cut_short_at_the_story_header_gives_way_to_trafilaturas():
    """The CMS marks up the headline and the standfirst as the <article>: trafilatura's fast pass
    takes that for the story and the rest of the page is lost. Trafilatura's own default reads the
    whole story; ours kept almost none of it, and nothing vouched for ours."""
    a, trace = traced("cut_short")
    paragraphs = story("cut_short", "div[@class='story-body']")
    kept = a.text.split("\n\n")
    assert [p for p in kept if p in paragraphs] == paragraphs and "What happens to traffic" in kept
    assert kept[0].startswith("The old harbour bridge will close to cars")   # the standfirst leads
    assert trace.verdict.taken == "baseline"


def test_a_page_of_navigation_is_refused_with_one_clear_error():
    with pytest.raises(ExtractionError, match="navigation"):
        extract(page("navigation_only"), URLS["navigation_only"])
    result = CliRunner().invoke(cli, ["extract", str(NET / "navigation_only.html"), "--url",
                                      URLS["navigation_only"]])
    assert result.exit_code == EXIT_SOME_FAILED and not result.stdout.strip()


@pytest.mark.parametrize("name", sorted(set(URLS) - {"navigation_only"}))
def test_explain_names_the_safety_nets_decision_and_shows_the_records_text(name):
    e = explain(page(name), URLS[name])
    assert [t for b in e.kept for t in b.texts] == e.article.text.split("\n\n")
    assert e.verdict and "safety net: " + e.verdict in render(e)
    if name in ("menu_dump", "cut_short"):
        assert e.verdict.startswith("baseline body: ours kept")
        assert {b.reason for b in e.kept} <= {"safety net: trafilatura's own extraction (the baseline)",
                                              "generic: the standfirst (the meta description, shown on the page)",
                                              "generic: sub-headline between two kept paragraphs"}
    else:
        assert e.verdict.startswith("ours body") and "evidence: " in e.verdict
    if name == "menu_dump":   # ours was the menus: each of its lines is shown set aside
        assert any(b.reason == "safety net: ours, set aside for trafilatura's" for b in e.dropped)


def test_explain_of_a_refused_page_says_why():
    e = explain(page("navigation_only"), URLS["navigation_only"])
    assert e.article is None and "navigation" in e.error
    assert e.verdict.startswith("none body: the page's text is navigation")


# --- the rules, on small inputs ----------------------------------------------------------------

PROSE = [f"Paragraph {i} of the story says what the council decided on the bridge, and why it matters to the "
         f"people who cross it every day on their way to work, school or the market." for i in range(8)]
NO_LINKS = lambda: Links(parse_html("<html><body><p>x</p></body></html>"))   # noqa: E731


def test_evidence_is_asked_before_the_baseline_is_computed():
    asked: list[str] = []

    def baseline():
        asked.append("baseline")
        return PROSE

    verdict = judge(PROSE[:2], baseline, NO_LINKS, lambda: "the site's profile").verdict
    assert verdict.taken == "ours" and verdict.evidence == "the site's profile" and asked == []
    # Without evidence the baseline is computed, once, and wins where ours keeps a quarter of it.
    judgement = judge(PROSE[:2], baseline, NO_LINKS, lambda: None)
    assert judgement.baseline and judgement.paragraphs == tuple(PROSE) and asked == ["baseline"]


def test_the_baseline_replaces_ours_only_where_it_holds_more_of_the_story():
    # Ours is longer and different: the baseline is no better evidence than ours.
    assert judge(PROSE, lambda: ["Another text of the page, short."] * 3, NO_LINKS, lambda: None).verdict.taken == "ours"
    # Ours holds most of it: agreement.
    assert judge(PROSE[1:], lambda: PROSE, NO_LINKS, lambda: None).verdict.taken == "ours"


def test_a_navigation_body_is_refused_whatever_vouches_for_it():
    menus = ["Home", "World", "Sport", "Business", "Culture", "Opinion"] * 3
    vouched = lambda: "the site's profile"   # noqa: E731
    assert judge(menus, lambda: PROSE, NO_LINKS, vouched).paragraphs == tuple(PROSE)
    assert judge(menus, lambda: menus, NO_LINKS, vouched).paragraphs is None


def test_navigation_share_counts_link_lines_label_lines_and_menus_printed_as_one_line():
    tree = parse_html("<html><body><ul>" + "".join(f"<li><a href='/{w}'>{w} news</a></li>" for w in
                      ("world", "local", "sport", "business", "culture", "science", "travel", "health",
                       "weather", "opinion", "video", "podcasts", "books")) +
                      "</ul><a href='/x'>Council votes to close the old bridge to cars in June</a></body></html>")
    links = lambda: Links(tree)   # noqa: E731
    assert navigation_share(PROSE, links) == 0.0
    headline = "Council votes to close the old bridge to cars in June"   # a link's whole text
    assert navigation_share([headline] + PROSE[:1], links, exact=True) == pytest.approx(len(headline) / (
        len(headline) + len(PROSE[0])))
    # Below NAV_SUSPECT the page's links are not even read: the share is the label lines'.
    assert navigation_share([headline] + PROSE[:1], lambda: pytest.fail("links read")) == 0.0
    blob = " ".join(f"{w} news" for w in ("world", "local", "sport", "business", "culture", "science",
                                         "travel", "health", "weather", "opinion", "video", "podcasts", "books"))
    assert navigation_share([blob], links) == 1.0
    assert navigation_share(["Sport", "Weather", "Video"], links) == 1.0


def test_kept_share_counts_a_repeated_line_once():
    label = "External content is not available with your privacy settings."
    other = PROSE[:4] + [label] * 6
    assert kept_share(PROSE[:4], other) > 0.9
    assert kept_share([], PROSE) == 0.0 and kept_share(PROSE, []) == 1.0


def test_the_second_method_leaves_other_stories_of_an_endless_page_out():
    first = "".join(f"<p>{p}</p>" for p in PROSE[:4])
    second = "".join(f"<p>Next story, paragraph {i}, about the weather and the harvest in the hills, "
                     f"with more words than the first story has, to outweigh it.</p>" for i in range(10))
    tree = parse_html(f"<html><body><article><h1>Bridge</h1>{first}</article>"
                      f"<article><h1>Harvest</h1>{second}</article></body></html>")
    assert story_cluster(tree, tree.find(".//h1")) == PROSE[:4]


def test_a_truncated_article_body_vouches_for_nothing():
    whole = "\n".join(PROSE)
    assert agrees_as_copy(PROSE, whole)
    assert not agrees_as_copy(PROSE, whole[:600] + "…")
    assert not agrees_as_copy(PROSE, "\n".join(PROSE[:2]))


@given(st.lists(st.text(max_size=80), max_size=12), st.lists(st.text(max_size=80), max_size=12))
def test_the_measures_are_shares_on_any_text(ours, other):
    assert 0.0 <= kept_share(ours, other) <= 1.0
    assert 0.0 <= navigation_share(ours, NO_LINKS, exact=True) <= 1.0
    if any(w for p in ours for w in p.split()):
        assert kept_share(ours, ours) == 1.0
