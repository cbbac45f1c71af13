"""The first page of an Arabic news site with no profile: twelve CMS templates (tests/fixtures/arabic_sites).

Every page's record must have its whole body and nothing else, no chrome line, the title without
the site's name and the publication time with its offset; the pages of templates with four pages
are also extracted with the template learned from the other three, as the archiver does.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scraper.extract import extract
from scraper.extract.templates import learn_template
from scraper.extract.trace import Trace

SITES = Path(__file__).parent / "fixtures" / "arabic_sites"
PAGES = sorted(SITES.glob("*/*.json"))


def case(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def others(path: Path) -> list[bytes]:
    return [p.with_suffix(".html").read_bytes() for p in sorted(path.parent.glob("*.json")) if p != path]


def check(article, want: dict) -> None:
    assert article.title == want["title"]
    assert article.published == want["published"]
    assert article.text.split("\n\n") == want["body"]
    for line in want["chrome"]:
        assert line not in article.text and line not in (article.title or ""), line


def test_twelve_templates_of_arabic_news_cms():
    assert len({p.parent.name for p in PAGES}) >= 12 and len(PAGES) >= 24


@pytest.mark.parametrize("path", PAGES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_first_page_of_an_unknown_site(path):
    want = case(path)
    article = extract(path.with_suffix(".html").read_bytes(), want["url"], want.get("headers"))
    check(article, want)
    assert article.extractor == "generic"


LEARNED = [p for p in PAGES if len(others(p)) >= 3]


@pytest.mark.parametrize("path", LEARNED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_with_the_template_learned_from_the_sites_other_pages(path):
    want = case(path)
    template = learn_template(others(path))
    assert not template.empty
    article = extract(path.with_suffix(".html").read_bytes(), want["url"], want.get("headers"), template=template)
    check(article, want)


def test_the_dropped_lines_say_why():
    def rules(path: Path) -> dict[str, str]:
        trace = Trace()
        extract(path.with_suffix(".html").read_bytes(), case(path)["url"], trace=trace)
        return {d.text: d.rule for d in trace.dropped}

    reasons = rules(SITES / "wp_jannah_sa" / "health_campaign.json")
    assert [r.split(" (")[0] for line, r in reasons.items() if "واتساب" in line or "نبض" in line] \
        == ["boilerplate: call to follow the site"] * 2
    reasons = rules(SITES / "wp_jannah_sa" / "press_release.json")
    assert reasons["بيان صحفي"].startswith("boilerplate: label")
    assert reasons["صادر عن: إدارة الاتصال المؤسسي في مصرف الواحة"] == "boilerplate: issuer line of a press release"


def test_windows_1256_without_any_declaration_is_read_right():
    path = SITES / "legacy_php_iq" / "tigris_water.json"
    raw = path.with_suffix(".html").read_bytes()
    assert b"charset" not in raw.lower()
    raw.decode("cp1256")          # the file really is windows-1256 ...
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")       # ... and not UTF-8
    want = case(path)
    assert extract(raw, want["url"]).text.split("\n\n") == want["body"]
