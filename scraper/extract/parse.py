"""HTML text -> one lxml tree, shared by every step of the extraction; pages no article can be are refused.

Parsing is the one step whose cost no timeout can stop (it runs inside libxml2), so the guards run
before it (size, attributes per element) and right after it (elements): a hostile or broken page
is an ExtractionError in milliseconds, never minutes of CPU or gigabytes of memory.
"""
from __future__ import annotations

import re
from itertools import islice

import lxml.html
from lxml import etree
from lxml.etree import ParserError

from ..errors import ExtractionError, NoArticle

# HTML's block-level elements: where one run of text, a line, ends and the next begins. Inline tags
# (span, a, b, em) are left out: a recurring link inside a sentence («وام») is part of the sentence.
# The one set for every step that cuts a page into lines or blocks (content, templates, explain).
BLOCK_TAGS = frozenset(
    "address article aside blockquote center dd details div dl dt figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header li main menu nav ol p pre section summary table tbody td tfoot th "
    "thead tr ul".split())

# The page is handed to libxml2 as UTF-8 bytes (we encode it anyway to look for the characters
# below): the same tree as from the str (every corpus page, serialised), parsed 10-15 % faster.
_PARSER = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False,
                               default_doctype=False, encoding="utf-8")
# Every element an HtmlElement, chosen in C: lxml.html's own lookup is a Python call per element
# touched (a tag -> class table for forms and inputs, which no extraction step uses), and its
# ~6,000 calls a page cost more time than any of our own steps.
_PARSER.set_element_class_lookup(etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity))
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)

# Pages that no article page can be are refused before the costly steps: parsing and scoring them
# takes minutes or gigabytes, partly inside C code that no timeout can interrupt (issue 6).
MAX_PAGE_CHARS = 10 * 1024 * 1024   # as the fetcher's default size cap; `scraper extract FILE` has none
MAX_ELEMENTS = 50_000     # a heavy article page with comments has ~5,000; 50,000 tiny paragraphs
#                           already take ~15 s to score, and the cost grows faster than linearly
MAX_ATTRIBUTES = 1_000    # distinct names on one element: libxml2 checks each new attribute against
#                           all earlier ones, so 50,000 take 8 s and 100,000 half a minute
# Characters XML cannot hold (C0 controls but tab and line breaks, U+FFFE/U+FFFF, lone surrogates):
# the HTML parser keeps them, then lxml refuses them when the extraction sets text (a ValueError),
# and in a record they break JSON and CSV readers. Pasted from word processors, they mean nothing.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# The same characters looked for in the page's UTF-8 bytes, where C finds them ~2x faster than the
# regex does in the str (nearly no page has one): the C0 controls are bytes of their own in UTF-8
# (never part of a longer sequence), U+FFFE/U+FFFF these two sequences, and a lone surrogate
# cannot be encoded at all.
_NOT_XML_BYTES = bytes(c for c in range(0x20) if chr(c) not in "\t\n\r")
_NOT_XML_SEQUENCES = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")
_NOT_XML_PREFIX = b"\xef\xbf"   # both start so: one scan of the page tells most pages hold neither
_VALUE = r"""(?:\s*+=\s*+(?:"[^"]*+"|'[^']*+'|[^\s>]*+))?+"""
_START_TAG = re.compile(r"""<[a-zA-Z][^\s/>]*+(?:[\s/]++[^\s"'>/=]++""" + _VALUE + ")*+")
_ATTRIBUTE_NAME = re.compile(r"""[\s/]++([^\s"'>/=]++)""" + _VALUE)


def _refuse_pathological(html: str) -> None:
    """ExtractionError for a page over MAX_PAGE_CHARS or an element with over MAX_ATTRIBUTES."""
    if len(html) > MAX_PAGE_CHARS:
        raise ExtractionError(f"the page has {len(html) / 1e6:.0f} million characters, more than an "
                              f"article page can have ({MAX_PAGE_CHARS / 1e6:.0f} million); refused")
    for tag in _START_TAG.finditer(html):
        # Each distinct name takes at least two characters: only a long tag needs counting.
        if (tag.end() - tag.start() > 2 * MAX_ATTRIBUTES
                and len(set(_ATTRIBUTE_NAME.findall(tag.group()))) > MAX_ATTRIBUTES):
            raise ExtractionError(f"an element has more than {MAX_ATTRIBUTES:,} attributes; refused")


def parse_html(html: str):
    """One lxml tree for the whole extraction (metadata, selectors and trafilatura all share it)."""
    html = _XML_DECLARATION.sub("", html, count=1)
    if not html.strip():
        raise NoArticle("empty page: no HTML to extract from")
    _refuse_pathological(html)
    html = html.replace("\x0c", " ")   # a form feed is whitespace in HTML
    try:
        data = html.encode("utf-8")
    except UnicodeEncodeError:          # a lone surrogate
        data = None
    if data is None or len(data.translate(None, _NOT_XML_BYTES)) != len(data) \
            or (_NOT_XML_PREFIX in data and any(seq in data for seq in _NOT_XML_SEQUENCES)):
        data = _NOT_XML.sub("", html).encode("utf-8")
    try:
        tree = lxml.html.document_fromstring(data, parser=_PARSER)
    except (ParserError, ValueError) as exc:
        raise ExtractionError(f"the page could not be parsed as HTML ({exc})") from None
    if tree is None:
        raise NoArticle("empty page: no HTML to extract from")
    if next(islice(tree.iter(), MAX_ELEMENTS, None), None) is not None:
        raise ExtractionError(f"the page has more than {MAX_ELEMENTS:,} elements, more than an "
                              "article page can have; refused")
    return tree
