"""Trafilatura's extraction cascade run on our parsed tree, without the work whose result we never read.

``trafilatura.bare_extraction(tree, fast=..., with_metadata=False, include_comments=False,
include_tables=True)`` is what the generic path and the safety net ask of trafilatura. Run through
that door, it copies our tree, prunes the copy with three XPaths whose ``re:test`` calls back into
Python for every div, copies it twice more (once for a backup only its slow mode reads) and, on
short results, measures the page's text through another such XPath. Here the same cascade
(``trafilatura.core.trafilatura_sequence`` for these options: comments off, balanced focus, no
metadata) calls trafilatura's own stages, and only the steps around them are done more cheaply:

- the raw-tree prune tests ids and classes with the same regular expressions in one walk of the
  tree, and copies our tree only when something is to be pruned (trafilatura's later stages
  copy before they change anything, so an unpruned tree is read, never written);
- the backup of the cleaned tree is made only in full mode, whose comparison reads it;
- the page text that gates the recall escalation is measured with the basic-cleaning rule
  (``BASIC_CLEAN_XPATH``) tested in Python, then trafilatura's own ``_spaced_text``.

The result is the same Document body and text as ``bare_extraction``'s, page for page:
tests/test_cascade.py holds one against the other on the corpus and the fixtures, and checks
that the trafilatura code copied here has not changed. Risk: this leans on trafilatura's
internals (2.3.1); a release that changes them fails that test, loudly, rather than the records
quietly drifting. Importing this module imports trafilatura (~0.6 s): import it lazily.
"""
from __future__ import annotations

import re
from copy import copy
from dataclasses import dataclass

from lxml import etree
from trafilatura.baseline import _spaced_text
from trafilatura import core as _core
from trafilatura import settings as _settings
from trafilatura import xpaths as _xpaths
from trafilatura.settings import Extractor
from trafilatura.xml import delete_element, xmltotxt


@dataclass(frozen=True)
class MainContent:
    """Trafilatura's main content of a page: its text and its body (``None``: it found none)."""

    text: str
    body: etree._Element | None


NOTHING = MainContent("", None)

# trafilatura.xpaths.RAW_TREE_PRUNE_XPATH and REMOVE_COMMENTS_AND_LISTS_XPATH as predicates on an
# element's tag, id and class. EXSLT's re:test is Python's re.search on the attribute's value ('' when
# absent); tests/test_cascade.py checks these against the XPaths' own text and results.
_SCROLL = re.compile("mvp-post-add-(?:box|wrap)|infinite-?scroll")
_APPENDED = re.compile("mvp-post-add-(?:box|wrap)")
_SCROLL_TAGS = frozenset(("div", "section", "aside"))
_COMMENTS_ID = re.compile(f"^(?:{_xpaths._COMMENTS_ID}|disqus_thread|dsq-comments)")
_COMMENTS_LIST_ID = re.compile(f"^(?:{_xpaths._COMMENTS_ID})")
_COMMENTS_CLASS = re.compile(_xpaths._COMMENTS_CLASS)
_COMMENTS_TAGS = frozenset(("div", "list", "section", "details", "ol", "ul"))
_RAW_TAGS = tuple(_SCROLL_TAGS | _COMMENTS_TAGS)
# settings.BASIC_CLEAN_XPATH, for html2txt's measure of the page.
_BASIC_CLEAN_TAGS = frozenset(("aside", "fencedframe", "footer", "script", "style", "svg", "template"))
_COOKIE_CONSENT = re.compile(_settings._COOKIE_CONSENT_RE, re.IGNORECASE)


def _raw_prune_targets(tree, comments: bool) -> list:
    """The elements trafilatura_sequence prunes from the raw tree, in its order: the appended
    articles of an infinite scroll, Elementor's share buttons, then (``comments``) the comment
    sections and comment lists."""
    scroll, share, comment = [], [], []
    for el in tree.iterdescendants(_RAW_TAGS):
        tag, ident, cls = el.tag, el.get("id") or "", el.get("class") or ""
        if tag in _SCROLL_TAGS:
            if (_SCROLL.search(ident) or _SCROLL.search(cls)) and (
                    el.find(".//h1") is None or _APPENDED.search(ident) or _APPENDED.search(cls)):
                scroll.append(el)
            if "elementor-share-buttons" in cls:
                share.append(el)
        if comments and tag in _COMMENTS_TAGS and (_COMMENTS_ID.search(ident) or _COMMENTS_CLASS.search(cls)) \
                and (tag not in ("ol", "ul") or _COMMENTS_LIST_ID.search(ident) or _COMMENTS_CLASS.search(cls)):
            comment.append(el)
    return scroll + share + comment


def _raw_tree(tree, comments: bool):
    """The raw tree trafilatura_sequence extracts from: ``tree`` itself when nothing is to be pruned
    (every later stage copies it before changing anything), else a copy with the targets deleted."""
    doomed = _raw_prune_targets(tree, comments)
    if not doomed:
        return tree
    # The same elements in the copy, found by their place in document order (the same in both).
    index = {el: i for i, el in enumerate(tree.iter())}
    raw = copy(tree)
    at = list(raw.iter())
    for el in doomed:
        delete_element(at[index[el]])
    return raw


def _first_of_class_and_id(el) -> str:
    """XPath's string(@class|@id): the value of whichever of the two the element names first."""
    for name, value in el.items():
        if name == "class" or name == "id":
            return value
    return ""


def _page_text_length(raw) -> int:
    """len(trafilatura.baseline.html2txt(raw)), with BASIC_CLEAN_XPATH's test done in Python."""
    tree = copy(raw)
    body = tree.find(".//body")
    if body is None:
        body = tree
    doomed = [el for el in body.iterdescendants() if isinstance(el.tag, str) and (
        el.tag in _BASIC_CLEAN_TAGS
        or (el.tag == "div" and "footer" in _first_of_class_and_id(el))
        or _COOKIE_CONSENT.search(el.get("class") or "") or _COOKIE_CONSENT.search(el.get("id") or ""))]
    for el in doomed:
        delete_element(el)
    return len(_spaced_text(body))


def main_content(tree, url: str | None, fast: bool) -> MainContent:
    """What ``bare_extraction(tree, url=url, fast=fast, with_metadata=False, include_comments=False,
    include_tables=True, include_images=False, include_links=False)`` returns as text and body.
    ``tree`` is left as it is."""
    options = Extractor(output_format="python", fast=fast, comments=False, tables=True, images=False,
                        links=False, url=url)
    try:    # as bare_extraction: a page its stages cannot handle has no main content
        body, text = _sequence(tree, options, url)
    except (TypeError, ValueError):
        return NOTHING
    if len(text) < options.min_output_size:
        return NOTHING
    return MainContent(xmltotxt(body, options.formatting), body)


def _sequence(tree, options: Extractor, url: str | None):
    """trafilatura.core.trafilatura_sequence with comments off and the balanced focus: (body, text)."""
    raw = _raw_tree(tree, comments=not _core._forum_thread_page(tree))
    cleaned = _core.tree_cleaning(copy(raw), options)
    backup = None if options.fast else copy(cleaned)
    cleaned = _core.convert_tags(cleaned, options, url)

    # 1-2. main extractor, then the comparison with the external ones (full mode)
    postbody, temp_text = _core.extract_content(cleaned, options)
    if not options.fast:
        postbody, temp_text = _core.compare_extraction(backup, copy(raw), postbody, temp_text, options)

    # 3. rescue: the baseline on the raw tree, taken only if it adds text
    if len(temp_text) < options.min_extracted_size:
        b_body, b_text, b_len = _core.baseline(raw)
        if b_len > len(temp_text):
            postbody, temp_text = b_body, b_text

    # 4. recall escalation when a short result covers little of the page
    if 0 < len(temp_text) < _core.ESCALATION_MAX_LENGTH \
            and len(temp_text) < _core.ESCALATION_PAGE_SHARE * _page_text_length(raw):
        r_options = copy(options)
        r_options.focus = "recall"
        r_text = j_text = ""
        try:
            r_body, r_text = _core._recall_retry(raw, r_options, url)
        except Exception:   # as trafilatura: a failed retry leaves the result as it was
            pass
        if not options.fast:
            try:
                j_body, j_text = _core.justext_rescue(copy(raw), options)
            except Exception:   # as trafilatura: a failed candidate is no candidate
                pass
        len_text, r_len, j_len = len(temp_text), len(r_text), len(j_text)
        if j_len > r_len and j_len > _core.ESCALATION_JUSTEXT_RATIO * len_text:
            postbody, temp_text = j_body, j_text
        elif r_len >= options.min_extracted_size and r_len > _core.ESCALATION_ACCEPT_RATIO * len_text:
            postbody, temp_text = r_body, r_text
    return postbody, temp_text
