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
tests/test_cascade.py holds one against the other on the corpus and the fixtures. This leans on
trafilatura's internals (2.3.1): ``FOLLOWED`` fingerprints the code followed here, and
maincontent.py uses this module only while the installed trafilatura's is the same
(``changed_since_followed``); otherwise pages go through the public ``bare_extraction``.
Importing this module imports trafilatura (~0.6 s): import it lazily.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import re
from copy import copy

from lxml import etree
from trafilatura.baseline import _BLOCK_ELEMS
from trafilatura.utils import remove_control_characters
from trafilatura import core as _core
from trafilatura import settings as _settings
from trafilatura import xpaths as _xpaths
from trafilatura.settings import Extractor
from trafilatura.xml import delete_element, xmltotxt


# sha256 (first 16 hex digits) of what this module repeats or replaces, as of trafilatura 2.3.1:
# a function's source, or an XPath's text (the predicates below are these XPaths written out). When
# one changes, re-read this module against the new code, run tests/test_cascade.py, update it here.
FOLLOWED = {
    ("trafilatura.core", "bare_extraction"): "2e57adb3062086f9",
    ("trafilatura.core", "trafilatura_sequence"): "f03dc4d2946dacbd",
    ("trafilatura.core", "_prepare_tree"): "9595f0642825c2c7",
    ("trafilatura.core", "_extract_and_compare"): "f7d056c2118222e8",
    ("trafilatura.baseline", "html2txt"): "a8c97eab2097c57d",
    ("trafilatura.baseline", "basic_cleaning"): "80877b2ccdefda2d",
    ("trafilatura.baseline", "_spaced_text"): "d04314f988c6afae",
    ("trafilatura.utils", "remove_control_characters"): "26cbe32b70e70e35",
    ("trafilatura.xpaths", "RAW_TREE_PRUNE_XPATH"): "25d5ab67770cfefa",
    ("trafilatura.xpaths", "REMOVE_COMMENTS_AND_LISTS_XPATH"): "ec1083e558ae70c0",
    ("trafilatura.settings", "BASIC_CLEAN_XPATH"): "db6c25acd08aef99",
}


def fingerprint(module: str, name: str) -> str:
    """The FOLLOWED fingerprint of ``module.name`` as installed (OSError: its source is not on disk)."""
    thing = getattr(importlib.import_module(module), name)
    if callable(thing) and not isinstance(thing, etree.XPath):
        text = inspect.getsource(thing)
    else:   # an XPath or a list of them: their text, whitespace folded
        text = "\n".join(" ".join(x.path.split()) for x in (thing if isinstance(thing, list) else [thing]))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def changed_since_followed() -> list[str]:
    """What of FOLLOWED differs in the installed trafilatura (empty: this module may be used)."""
    changed = []
    for (module, name), expected in FOLLOWED.items():
        try:
            if fingerprint(module, name) != expected:
                changed.append(f"{module}.{name} changed")
        except (ImportError, AttributeError, OSError, TypeError) as error:
            changed.append(f"{module}.{name}: {type(error).__name__}")
    return changed

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
# What every one of the patterns above needs in an id or class: most elements have none of it.
_ANY_TARGET = re.compile("mvp-post-add-|infinite|elementor-share-buttons|omment|comol|disqus_thread|dsq-comments")
# settings.BASIC_CLEAN_XPATH, for html2txt's measure of the page.
_BASIC_CLEAN_TAGS = frozenset(("aside", "fencedframe", "footer", "script", "style", "svg", "template"))
_COOKIE_CONSENT = re.compile(_settings._COOKIE_CONSENT_RE, re.IGNORECASE)
_SPACED = frozenset(_BLOCK_ELEMS)   # html2txt's block elements: a space before their text and tail


def _raw_prune_targets(tree, comments: bool) -> list:
    """The elements trafilatura_sequence prunes from the raw tree, in its order: the appended
    articles of an infinite scroll, Elementor's share buttons, then (``comments``) the comment
    sections and comment lists."""
    scroll, share, comment = [], [], []
    for el in tree.iterdescendants(_RAW_TAGS):
        ident, cls = el.get("id") or "", el.get("class") or ""
        if not (_ANY_TARGET.search(ident) or _ANY_TARGET.search(cls)):
            continue
        tag = el.tag
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


class _RawTree:
    """The raw tree trafilatura_sequence extracts from (``tree`` with the raw-prune targets deleted),
    made only as often as it is needed: one private copy for the cleaning stage, which changes it;
    the read-only stages that may follow (rescue, escalation, full mode) get ``tree`` itself when
    nothing is to be pruned, since each of them copies its input before changing anything."""

    def __init__(self, tree, comments: bool) -> None:
        self.tree = tree
        self.doomed = _raw_prune_targets(tree, comments)
        self._shared = None if self.doomed else tree
        # Each target's place, the same in a copy: the child indexes that lead to it from the root.
        self._places = [_place(el, tree) for el in self.doomed]

    def private(self):
        """A copy of the raw tree for the caller to change."""
        raw = copy(self.tree)
        # All found before any is deleted: a deletion shifts the indexes of the elements after it.
        for el in [_at(raw, place) for place in self._places]:
            delete_element(el)
        return raw

    def shared(self):
        """The raw tree, for the stages that only read it (or copy it first)."""
        if self._shared is None:
            self._shared = self.private()
        return self._shared


def _place(el, root) -> list[int]:
    steps = []
    while el is not root:
        parent = el.getparent()
        steps.append(parent.index(el))
        el = parent
    return steps[::-1]


def _at(root, place: list[int]):
    for i in place:
        root = root[i]
    return root


def _raw_tree(tree, comments: bool):
    """The raw tree, as trafilatura_sequence's raw-tree prune leaves it (for tests)."""
    return _RawTree(tree, comments).shared()


def _first_of_class_and_id(el) -> str:
    """XPath's string(@class|@id): the value of whichever of the two the element names first."""
    for name, value in el.items():
        if name == "class" or name == "id":
            return value
    return ""


def _basic_cleaned(el) -> bool:
    """Whether settings.BASIC_CLEAN_XPATH selects ``el`` (its tests read the element alone)."""
    tag = el.tag
    return (tag in _BASIC_CLEAN_TAGS
            or (tag == "div" and "footer" in _first_of_class_and_id(el))
            or _COOKIE_CONSENT.search(el.get("class") or "") is not None
            or _COOKIE_CONSENT.search(el.get("id") or "") is not None)


def _page_text_length(tree) -> int:
    """len(trafilatura.baseline.html2txt(tree)), read off ``tree`` (left as it is) in one walk.

    html2txt copies the tree, deletes what BASIC_CLEAN_XPATH selects (keeping each one's tail,
    which joins the text before it), writes a space before every block element's text and tail
    (without the characters remove_control_characters drops), then takes the text's words. The
    walk gathers the same text runs: each run is an element's text or a tail, a deleted element's
    tail joining the run open before it, as delete_element puts it there.
    """
    body = tree.find(".//body")
    if body is None:
        body = tree
    pieces: list[str] = []
    run, block = [body.text or ""], body.tag in _SPACED

    def close() -> None:
        text = "".join(run)
        pieces.append((" " + remove_control_characters(text) if text else " ") if block else text)

    walk = etree.iterwalk(body, events=("start", "end", "comment", "pi"))
    deleted = None
    for event, el in walk:
        if el is body:
            continue
        if event == "start" and _basic_cleaned(el):
            walk.skip_subtree()
            deleted = el
            continue
        if event == "end" and el is deleted:
            run.append(el.tail or "")
            continue
        close()
        if event == "start":
            run, block = [el.text or ""], el.tag in _SPACED
        else:   # the end of an element, or a comment: a tail follows
            run, block = [el.tail or ""], event == "end" and el.tag in _SPACED
    close()
    return len(" ".join("".join(pieces).split()))


def main_content(tree, url: str | None, fast: bool) -> tuple[str, etree._Element] | None:
    """What ``bare_extraction(tree, url=url, fast=fast, with_metadata=False, include_comments=False,
    include_tables=True, include_images=False, include_links=False)`` returns as text and body
    (None: no main content). ``tree`` is left as it is."""
    options = Extractor(output_format="python", fast=fast, comments=False, tables=True, images=False,
                        links=False, url=url)
    try:    # as bare_extraction: a page its stages cannot handle has no main content
        body, text = _sequence(tree, options, url)
    except (TypeError, ValueError):
        return None
    if len(text) < options.min_output_size:
        return None
    return xmltotxt(body, options.formatting), body


def _sequence(tree, options: Extractor, url: str | None):
    """trafilatura.core.trafilatura_sequence with comments off and the balanced focus: (body, text)."""
    raw = _RawTree(tree, comments=not _core._forum_thread_page(tree))
    cleaned = _core.tree_cleaning(raw.private(), options)
    backup = None if options.fast else copy(cleaned)
    cleaned = _core.convert_tags(cleaned, options, url)

    # 1-2. main extractor, then the comparison with the external ones (full mode)
    postbody, temp_text = _core.extract_content(cleaned, options)
    if not options.fast:
        postbody, temp_text = _core.compare_extraction(backup, raw.private(), postbody, temp_text, options)

    # 3. rescue: the baseline on the raw tree, taken only if it adds text
    if len(temp_text) < options.min_extracted_size:
        b_body, b_text, b_len = _core.baseline(raw.shared())
        if b_len > len(temp_text):
            postbody, temp_text = b_body, b_text

    # 4. recall escalation when a short result covers little of the page
    if 0 < len(temp_text) < _core.ESCALATION_MAX_LENGTH \
            and len(temp_text) < _core.ESCALATION_PAGE_SHARE * _page_text_length(raw.shared()):
        r_options = copy(options)
        r_options.focus = "recall"
        r_text = j_text = ""
        try:
            r_body, r_text = _core._recall_retry(raw.shared(), r_options, url)
        except Exception:   # as trafilatura: a failed retry leaves the result as it was
            pass
        if not options.fast:
            try:
                j_body, j_text = _core.justext_rescue(raw.private(), options)
            except Exception:   # as trafilatura: a failed candidate is no candidate
                pass
        len_text, r_len, j_len = len(temp_text), len(r_text), len(j_text)
        if j_len > r_len and j_len > _core.ESCALATION_JUSTEXT_RATIO * len_text:
            postbody, temp_text = j_body, j_text
        elif r_len >= options.min_extracted_size and r_len > _core.ESCALATION_ACCEPT_RATIO * len_text:
            postbody, temp_text = r_body, r_text
    return postbody, temp_text
