"""Bad metadata is ignored, said by --explain, and the article kept (issue 11 point 2).

JSON-LD nested 1,000 deep (4 KB) raised RecursionError from the JSON parser; a published time in
year 9999999999 raised OverflowError; a sites file with a deeply nested array raised RecursionError.
"""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from cli import cli
from scraper.errors import ConfigError
from scraper.extract import jsonld
from scraper.extract.article import extract
from scraper.extract.explain import explain, render
from scraper.extract.parse import parse_html
from scraper.profiles import load_profiles
from scraper.store import Archive

BODY = "".join(f"<p>Paragraph {i} of the story tells what the council decided about the harbour and "
               f"why the vote took three sessions this spring.</p>" for i in range(4))
DEEP = "[" * 1000 + "]" * 1000


def page(head: str) -> str:
    return (f"<html><head><title>Harbour vote</title>{head}</head><body><article><h1>Harbour vote</h1>"
            f"{BODY}</article></body></html>")


def ld(obj: str) -> str:
    return f'<script type="application/ld+json">{obj}</script>'


HOSTILE = {
    "deep json-ld": ld('{"@type": "NewsArticle", "headline": "Harbour vote", "about": ' + DEEP + "}"),
    "deep json-ld objects": ld('{"a":' * 1000 + "1" + "}" * 1000),
    "json-ld year 9999999999": ld('{"@type": "NewsArticle", "datePublished": "9999999999-01-01T00:00:00Z"}'),
    "meta year 9999999999": '<meta property="article:published_time" content="9999999999-05-01T10:00:00+04:00">',
    "epoch far away": '<meta property="article:published_time" content="99999999999999999999">',
}


@pytest.mark.parametrize("name", HOSTILE)
def test_the_article_is_kept_and_the_bad_metadata_ignored(name):
    article = extract(page(HOSTILE[name]), "https://example.org/news/1")
    assert article.text.count("Paragraph") == 4
    assert article.published is None


@pytest.mark.parametrize("name", HOSTILE)
def test_explain_says_what_was_ignored(name):
    shown = render(explain(page(HOSTILE[name]), "https://example.org/news/1"))
    assert "set aside: metadata: ignored" in shown
    assert "NO RECORD" not in shown


def test_a_good_date_beside_a_bad_one_is_still_read():
    head = HOSTILE["deep json-ld"] + '<meta property="article:published_time" content="2024-05-01T10:00:00+04:00">'
    assert extract(page(head), "https://example.org/news/1").published == "2024-05-01T10:00:00+04:00"


def test_fetch_and_extract_keep_the_article(tmp_path, httpserver):
    for i, name in enumerate(HOSTILE):
        httpserver.expect_request(f"/news/{i}").respond_with_data(
            page(HOSTILE[name]).replace("Harbour", f"Harbour {i}"), content_type="text/html")
    db = str(tmp_path / "a.db")
    urls = [httpserver.url_for(f"/news/{i}") for i in range(len(HOSTILE))]
    result = CliRunner().invoke(cli, ["fetch", *urls, "--db", db])
    assert result.exit_code == 0, result.output
    with Archive.open(db) as archive:
        assert archive.scalar("SELECT count(*) FROM articles") == len(HOSTILE)
    saved = tmp_path / "deep.html"
    saved.write_text(page(HOSTILE["deep json-ld"]))
    out = CliRunner().invoke(cli, ["extract", str(saved), "--url", "https://example.org/news/1"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["text"].count("Paragraph") == 4


@pytest.mark.parametrize("nested", ["a = " + "[" * 2000 + "]" * 2000,
                                    "a = " + "{b = " * 2000 + "1" + "}" * 2000])
def test_a_sites_file_nested_deep_is_a_config_error(tmp_path, nested):
    config = tmp_path / "sites.toml"
    config.write_text(f"[sites.x]\ndomains = ['x.org']\n{nested}\n")
    with pytest.raises(ConfigError, match="nested too deep"):
        load_profiles(config)
    result = CliRunner().invoke(cli, ["fetch", "https://x.org/1", "--db", str(tmp_path / "a.db"),
                                      "--config", str(config)])
    assert result.exit_code == 3 and "Traceback" not in result.output


# -- property tests: the JSON-LD reader never raises --------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["@type", "@graph", "headline", "name", "author", "datePublished", "dateModified",
                         "image", "keywords", "articleSection", "publisher", "mainEntity", "url",
                         "articleBody", "inLanguage", "description"]) | st.text(max_size=5), inner, max_size=5),
    max_leaves=30)
TYPES = st.sampled_from(["NewsArticle", "Article", "WebPage", ["NewsArticle", "x"], 5, None])


def _page_with(text: str):
    return parse_html(f'<html><head>{ld(text)}</head><body><p>x</p></body></html>')


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON, kind=TYPES, depth=st.integers(0, 3000), noise=st.text(max_size=30))
def test_the_json_ld_reader_never_raises(value, kind, depth, noise):
    obj = {"@type": kind, "headline": value, "author": value, "datePublished": value, "image": value,
           "keywords": value, "articleSection": value, "publisher": value, "nested": value}
    text = json.dumps(obj)
    for variant in (text, "[" * depth + text + "]" * depth, text[:len(text) // 2] + noise,
                    '{"@graph": ' + "[" * depth + text + "]" * depth + "}", noise):
        for found in jsonld.article_objects(_page_with(variant)):
            jsonld.fields_of(found)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=JSON, year=st.integers(-10**12, 10**12), depth=st.integers(0, 2000))
def test_extract_keeps_the_article_whatever_the_metadata(value, year, depth):
    obj = json.dumps({"@type": "NewsArticle", "headline": value, "datePublished": f"{year}-01-01",
                      "dateModified": value})[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    head = ld("[" * depth + obj + "]" * depth) + f'<meta name="date" content="{year}-02-03">'
    article = extract(page(head), "https://example.org/news/1")
    assert article.text.count("Paragraph") == 4
