"""scraper/extract/cascade.py gives what trafilatura.bare_extraction gives; where the installed
trafilatura is not the code it follows, extraction takes bare_extraction itself (maincontent.py)."""
from __future__ import annotations

import gzip
import importlib
import json
import logging
import sys
import warnings
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
from scraper.extract import cascade, maincontent
from scraper.extract.parse import parse_html

core = importlib.import_module("trafilatura.core")
baseline = importlib.import_module("trafilatura.baseline")
xpaths = importlib.import_module("trafilatura.xpaths")
trafilatura_settings = importlib.import_module("trafilatura.settings")
CHANGED = cascade.changed_since_followed()
# The tests that hold cascade.py's steps to trafilatura's own read the code cascade.py follows;
# on a trafilatura that differs, extraction does not use them (test_a_changed_trafilatura_...).
FOLLOWED_ONLY = pytest.mark.skipif(bool(CHANGED), reason=f"trafilatura {trafilatura.__version__} is not the "
                                   f"code cascade.py follows ({'; '.join(CHANGED)}): maincontent uses bare_extraction")

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
        theirs, ours = _bare(tree, url, fast), maincontent.main_content(tree, url, fast)
        if theirs is None:
            assert ours == maincontent.NOTHING
        else:
            assert ours.text == theirs.text
            assert etree.tostring(ours.body) == etree.tostring(theirs.body)
    assert etree.tostring(tree) == before, "main_content changed the tree it was given"


def test_an_empty_page_has_no_main_content():
    tree = parse_html("<html><body><div></div></body></html>")
    assert _bare(tree, None, True) is None
    assert maincontent.main_content(tree, None, True) == maincontent.NOTHING
    assert cascade.main_content(tree, None, True) is None


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


@FOLLOWED_ONLY
@settings(max_examples=300, deadline=None)
@given(_trees(), st.booleans())
def test_the_raw_tree_is_trafilaturas_raw_prune(tree, comments):
    expected = core.prune_unwanted_nodes(copy(tree), xpaths.RAW_TREE_PRUNE_XPATH)
    if comments:
        expected = core.prune_unwanted_nodes(expected, xpaths.REMOVE_COMMENTS_AND_LISTS_XPATH)
    before = etree.tostring(tree)
    assert etree.tostring(cascade._raw_tree(tree, comments)) == etree.tostring(expected)
    assert etree.tostring(tree) == before


@FOLLOWED_ONLY
@settings(max_examples=300, deadline=None)
@given(_trees())
def test_the_page_text_length_is_html2txts(tree):
    before = etree.tostring(tree)
    assert cascade._page_text_length(tree) == len(baseline.html2txt(tree))
    assert etree.tostring(tree) == before


@FOLLOWED_ONLY
def test_a_footer_div_is_named_by_its_first_of_class_and_id():
    """XPath's contains(@class|@id, 'footer') reads whichever attribute the element names first."""
    tree = parse_html('<html><body><div id="footer" class="x">one</div><div class="y" id="footer">two</div>'
                      '<div class="footer" id="y">three</div><div id="y" class="footer">four</div>'
                      '<p>five</p></body></html>')
    assert baseline.html2txt(tree) == "two four five"
    assert cascade._page_text_length(tree) == len("two four five")


# --- the trafilatura code cascade.py follows -----------------------------------------------------

def test_extraction_takes_cascade_exactly_when_trafilatura_is_the_code_it_follows():
    """On trafilatura 2.3.1 every fingerprint matches and pages go through cascade.py; on a release
    that changed what it follows they go through bare_extraction (the same records, slower), and
    this says so instead of failing: the test suite must pass on the newest releases."""
    assert (maincontent.path() is cascade.main_content) == (not CHANGED)
    if CHANGED:
        warnings.warn(f"trafilatura {trafilatura.__version__}: {'; '.join(CHANGED)}: extraction takes the "
                      "slower bare_extraction path; re-read scraper/extract/cascade.py against it")


def test_a_changed_trafilatura_sends_extraction_through_bare_extraction(monkeypatch, caplog):
    page = (PAGES / "alittihad_article.html") if (PAGES / "alittihad_article.html").is_file() \
        else sorted(PAGES.glob("*.html"))[0]
    tree = parse_html(decode_html(page.read_bytes(), None)[0])
    followed = maincontent.main_content(tree, None, True)
    monkeypatch.setitem(cascade.FOLLOWED, ("trafilatura.core", "trafilatura_sequence"), "0" * 16)
    maincontent.path.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="scraper.extract.maincontent"):
            assert maincontent.path() is maincontent.public
        assert any("trafilatura_sequence" in r.getMessage() for r in caplog.records), "the switch is not logged"
        public = maincontent.main_content(tree, None, True)
        assert public.text == followed.text and public.text
        assert etree.tostring(public.body) == etree.tostring(followed.body)
    finally:
        maincontent.path.cache_clear()


def test_a_trafilatura_without_the_private_names_cascade_reads_is_no_crash(monkeypatch):
    """A private name gone from trafilatura makes cascade.py fail to import: bare_extraction then."""
    monkeypatch.setitem(sys.modules, "scraper.extract.cascade", None)   # importing it raises ImportError
    monkeypatch.delattr(sys.modules["scraper.extract"], "cascade")
    maincontent.path.cache_clear()
    try:
        assert maincontent.path() is maincontent.public
        tree = parse_html("<html><body><article>" + "<p>" + "كلمة " * 80 + "</p>" * 3 + "</article></body></html>")
        assert maincontent.main_content(tree, None, True).text
    finally:
        maincontent.path.cache_clear()


def test_every_fingerprint_is_read_off_the_installed_code():
    """Each FOLLOWED entry names something trafilatura has; a changed one is reported, not raised."""
    assert all(len(cascade.fingerprint(m, n)) == 16 for m, n in cascade.FOLLOWED if not any(
        c.startswith(f"{m}.{n}:") for c in CHANGED))
    try:
        cascade.FOLLOWED[("trafilatura.core", "no_such_function")] = "0" * 16
        assert "trafilatura.core.no_such_function: AttributeError" in cascade.changed_since_followed()
    finally:
        del cascade.FOLLOWED[("trafilatura.core", "no_such_function")]


@FOLLOWED_ONLY
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
