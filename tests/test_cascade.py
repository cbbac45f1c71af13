"""scraper/extract/cascade.py gives what trafilatura.bare_extraction gives, and trafilatura's code it
follows has not changed (a release that changes it must fail here, not drift the records)."""
from __future__ import annotations

import gzip
import hashlib
import importlib
import inspect
import json
import os
from copy import copy
from pathlib import Path

import lxml.html
import pytest
import trafilatura
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from scraper.charset import decode_html
from scraper.extract import cascade
from scraper.extract.parse import parse_html

core = importlib.import_module("trafilatura.core")
baseline = importlib.import_module("trafilatura.baseline")
xpaths = importlib.import_module("trafilatura.xpaths")
trafilatura_settings = importlib.import_module("trafilatura.settings")

PAGES = Path(__file__).parent / "fixtures" / "pages"
CORPUS = Path(os.environ.get("SCRAPER_CORPUS") or Path(__file__).resolve().parents[2] / "shared" / "corpus")
CASES = [pytest.param(p, json.loads(p.with_suffix(".json").read_text(encoding="utf-8"))["url"], id=p.stem)
         for p in sorted(PAGES.glob("*.html")) if p.with_suffix(".json").is_file()]
CASES += [pytest.param(p, json.loads(p.with_name(p.name[: -len(".html.gz")] + ".json").read_text(encoding="utf-8"))
                       .get("url"), id=f"corpus:{p.relative_to(CORPUS)}")
          for sub in ("news", "arabic") for p in sorted((CORPUS / sub).rglob("*.html.gz"))]


def _bare(tree, url, fast):
    return trafilatura.bare_extraction(tree, url=url, fast=fast, with_metadata=False, include_comments=False,
                                       include_tables=True, include_images=False, include_links=False)


@pytest.mark.parametrize("path, url", CASES)
def test_main_content_is_bare_extractions_in_both_modes(path, url):
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    tree = parse_html(decode_html(data, None)[0])
    before = etree.tostring(tree)
    for fast in (True, False):
        theirs, ours = _bare(tree, url, fast), cascade.main_content(tree, url, fast)
        if theirs is None:
            assert ours == cascade.NOTHING
        else:
            assert ours.text == theirs.text
            assert etree.tostring(ours.body) == etree.tostring(theirs.body)
    assert etree.tostring(tree) == before, "main_content changed the tree it was given"


def test_an_empty_page_has_no_main_content():
    tree = parse_html("<html><body><div></div></body></html>")
    assert _bare(tree, None, True) is None
    assert cascade.main_content(tree, None, True) == cascade.NOTHING


# --- the steps done in Python are trafilatura's XPaths, on trees built to hit their edges -----------

_TOKENS = ["comment", "Comments", "commentary", "comment-list", "comol", "disqus_thread", "dsq-comments",
           "article-comments", "post-comments", "x-comments", "mvp-post-add-box", "mvp-post-add-wrap",
           "infinite-scroll", "infinitescroll", "elementor-share-buttons", "footer", "site-footer",
           "Cookie-Banner", "notice--cookie", "onetrust-x", "CMPLZ", "body", "main", ""]
_TAGS = ["div"] * 6 + ["section", "aside", "details", "ol", "ul", "list", "p", "h1", "span", "footer", "script",
                       "svg", "template", "fencedframe", "style", "li"]


@st.composite
def _trees(draw):
    """An <html><body> of nested elements with ids and classes from trafilatura's vocabularies,
    in either order (XPath's @class|@id reads the first one the element names), text and tails."""
    root = etree.fromstring("<html><body/></html>", parser=etree.HTMLParser())
    body = root.find("body")
    parents = [body]
    for i in range(draw(st.integers(1, 14))):
        parent = parents[draw(st.integers(0, len(parents) - 1))]
        if draw(st.integers(0, 9)) == 0:      # a comment: no text of the page's, but its tail is
            comment = etree.Comment("note")
            comment.tail = draw(st.sampled_from([None, f" after{i}", "\u200b"]))
            parent.append(comment)
            continue
        el = etree.SubElement(parent, draw(st.sampled_from(_TAGS)))
        names = draw(st.permutations(["id", "class"]))[: draw(st.integers(0, 2))]
        for name in names:
            el.set(name, " ".join(draw(st.lists(st.sampled_from(_TOKENS), min_size=1, max_size=2))))
        # A zero-width space and a soft hyphen: characters html2txt drops from a block's text only.
        el.text = draw(st.sampled_from([None, "", " ", f"text{i}", f" word{i} ", f"zero\u200bwidth{i}", "\xad"]))
        el.tail = draw(st.sampled_from([None, " ", f"tail{i}", f"tail{i} ", f"soft\xadhyphen{i}\n"]))
        parents.append(el)
    return lxml_html(root)


def lxml_html(root):
    """The same tree as lxml.html elements (what trafilatura expects), comments kept."""
    return lxml.html.document_fromstring(etree.tostring(root, encoding="unicode", method="html"))


@settings(max_examples=300, deadline=None)
@given(_trees(), st.booleans())
def test_the_raw_tree_is_trafilaturas_raw_prune(tree, comments):
    expected = core.prune_unwanted_nodes(copy(tree), xpaths.RAW_TREE_PRUNE_XPATH)
    if comments:
        expected = core.prune_unwanted_nodes(expected, xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH)
    before = etree.tostring(tree)
    assert etree.tostring(cascade._raw_tree(tree, comments)) == etree.tostring(expected)
    assert etree.tostring(tree) == before


@settings(max_examples=300, deadline=None)
@given(_trees())
def test_the_page_text_length_is_html2txts(tree):
    before = etree.tostring(tree)
    assert cascade._page_text_length(tree) == len(baseline.html2txt(tree))
    assert etree.tostring(tree) == before


def test_a_footer_div_is_named_by_its_first_of_class_and_id():
    """XPath's contains(@class|@id, 'footer') reads whichever attribute the element names first."""
    tree = parse_html('<html><body><div id="footer" class="x">one</div><div class="y" id="footer">two</div>'
                      '<div class="footer" id="y">three</div><div id="y" class="footer">four</div>'
                      '<p>five</p></body></html>')
    assert baseline.html2txt(tree) == "two four five"
    assert cascade._page_text_length(tree) == len("two four five")


# --- the trafilatura code cascade.py follows -----------------------------------------------------

# sha256 (first 16 hex digits) of the source of each trafilatura function whose steps cascade.py
# repeats or replaces, as of trafilatura 2.3.1. When one changes, re-read cascade.py against the new
# code (and test_main_content_is_bare_extractions_in_both_modes must still pass), then update it here.
FOLLOWED = {
    (core, "bare_extraction"): "2e57adb3062086f9",
    (core, "trafilatura_sequence"): "f03dc4d2946dacbd",
    (core, "_prepare_tree"): "9595f0642825c2c7",
    (core, "_extract_and_compare"): "f7d056c2118222e8",
    (baseline, "html2txt"): "a8c97eab2097c57d",
    (baseline, "basic_cleaning"): "80877b2ccdefda2d",
}


@pytest.mark.parametrize("module, name", list(FOLLOWED))
def test_the_trafilatura_code_cascade_follows_is_unchanged(module, name):
    source = inspect.getsource(getattr(module, name))
    assert hashlib.sha256(source.encode()).hexdigest()[:16] == FOLLOWED[module, name], (
        f"trafilatura {trafilatura.__version__} changed {module.__name__}.{name}: "
        "scraper/extract/cascade.py repeats its steps; check it against the new code")


def test_the_xpaths_cascade_tests_in_python_are_unchanged():
    """cascade.py's predicates are these XPaths written out; a different XPath needs a different predicate."""
    raw = [" ".join(x.path.split()) for x in xpaths.RAW_TREE_PRUNE_XPATH]
    assert raw == [
        ".//*[self::div or self::section or self::aside][ re:test(@id, 'mvp-post-add-(?:box|wrap)|infinite-?scroll') "
        "or re:test(@class, 'mvp-post-add-(?:box|wrap)|infinite-?scroll')][ not(.//h1) or "
        "re:test(@id, 'mvp-post-add-(?:box|wrap)') or re:test(@class, 'mvp-post-add-(?:box|wrap)')]",
        ".//*[self::div or self::section or self::aside][contains(@class, 'elementor-share-buttons')]"]
    [comments] = [" ".join(x.path.split()) for x in xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH]
    cid, cclass = xpaths._COMMENTS_ID, xpaths._COMMENTS_CLASS
    assert comments == (
        ".//*[self::div or self::list or self::section or self::details or self::ol or self::ul][ "
        f"re:test(@id, '^(?:{cid}|disqus_thread|dsq-comments)') or re:test(@class, '{cclass}')][ "
        f"not(self::ol or self::ul) or re:test(@id, '^(?:{cid})') or re:test(@class, '{cclass}')]")
    cookie = trafilatura_settings._COOKIE_CONSENT_RE
    assert trafilatura_settings.BASIC_CLEAN_XPATH.path == (
        ".//aside|.//div[contains(@class|@id, 'footer')]|.//fencedframe|.//footer|.//script|.//style|.//svg"
        f"|.//template|.//*[re:test(@class, '{cookie}', 'i') or re:test(@id, '{cookie}', 'i')]")
