"""Learned site templates: the blocks a site repeats on its pages (masthead, prayer times, footer), found and stripped.

A site's boilerplate is what its pages share. A block (a block-level element under <body>) is
identified by where it sits, its *path signature* (the tag.class chain of its nearest ancestors),
and by what it says, a hash of its text with numbers and calendar words masked, so the masthead's
date of the day and today's prayer times hash alike on every day. A (path, text) pair seen on at
least ``min_share`` of at least ``min_pages`` pages is the site's template. The article body never
qualifies: its path recurs on every page, but with different text each time.

Pure: no disk, no network. scraper/pipeline.py learns one template per site when due, scraper/store/site_templates.py keeps it in the
archive.
"""
from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Any, Generator, Iterable, Mapping

from lxml import etree

from .. import dates
from .boilerplate import fold, normalize_space
from .trace import drop_element
from ..errors import ExtractionError
from .parse import BLOCK_TAGS, parse_html

FORMAT_VERSION = 1
# The units of page layout are the block elements (parse.BLOCK_TAGS): an inline tag is never a
# template block, since removing a recurring link inside a sentence («وام») would cut the text.
_NO_TEXT = frozenset(("script", "style", "noscript", "template"))
# How many ancestors the path signature names. Enough to tell the sidebar's list from the footer's,
# few enough that a wrapper that differs between page types (video, gallery) high above does not
# make the same footer look like two blocks.
_PATH_DEPTH = 6
# A block with more text than this is a page region holding the article, never template (its
# recurring parts are found one by one); skipping it saves hashing every wrapper of the page.
_MAX_TEXT = 5000
_PREVIEW = 60           # characters of a block's text kept to show it (explain, inspecting a template)

# Words that change from day to day in a recurring block: weekday, month and Hijri month names.
_CALENDAR = frozenset(
    part
    for names in (*dates.MONTH_NAMES.values(), dates.HIJRI_MONTHS, dates.WEEKDAYS)
    for word in names.replace("/", " ").split()
    for part in fold(word.replace("_", " ")).split())
_CALENDAR_WORD = re.compile(r"(?<!\w)(?:{})(?!\w)".format(
    "|".join(re.escape(w) for w in sorted(_CALENDAR, key=len, reverse=True))))
_NUMBER = re.compile(r"\w*\d\w*")
_WORDS = re.compile(r"\w+")    # a calendar word is one such run (the regex's (?<!\w)...(?!\w))
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[^\W\d_]")
# Every text node under an element except inside script-like elements, in document order (one
# C-level query: the Python walk it replaces was most of the time strip_template took).
_TEXT_NODES = etree.XPath(".//text()[not({})]".format(" or ".join(f"ancestor::{t}" for t in sorted(_NO_TEXT))))


@dataclass(frozen=True, order=True)
class TemplateBlock:
    path: str          # path signature, e.g. "div.wrap/div.salat-box/ul/li" (up to _PATH_DEPTH steps)
    text_hash: str     # hash of the masked, folded text
    pages: int         # on how many of the learned pages it was found
    preview: str = ""  # the start of its text, as first seen


@dataclass(frozen=True)
class SiteTemplate:
    """The recurring blocks of one site, learned from ``pages`` pages."""

    pages: int
    blocks: tuple[TemplateBlock, ...] = ()
    min_share: float = 0.6
    _index: Mapping[str, Mapping[str, TemplateBlock]] = field(
        init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        index: dict[str, dict[str, TemplateBlock]] = {}
        for block in self.blocks:
            index.setdefault(block.path, {})[block.text_hash] = block
        object.__setattr__(self, "_index", index)

    @property
    def empty(self) -> bool:
        return not self.blocks

    def match(self, path: str, text_hash: str) -> TemplateBlock | None:
        return self._index.get(path, {}).get(text_hash)

    def has_path(self, path: str) -> bool:
        return path in self._index

    def to_json(self) -> str:
        return json.dumps({"version": FORMAT_VERSION, "pages": self.pages, "min_share": self.min_share,
                           "blocks": [[b.path, b.text_hash, b.pages, b.preview] for b in self.blocks]},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "SiteTemplate":
        """The template ``to_json`` wrote; ValueError when ``text`` is not one."""
        try:
            data = json.loads(text)
            if data.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown template format version {data.get('version')!r}")
            blocks = tuple(TemplateBlock(str(p), str(h), int(n), str(v)) for p, h, n, v in data["blocks"])
            return cls(pages=int(data["pages"]), blocks=blocks, min_share=float(data["min_share"]))
        except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a site template ({exc})") from None


# -- blocks of one page -------------------------------------------------------------------------

@functools.lru_cache(maxsize=4096)
def _step_of(tag: str, classes: str, ident: str) -> str:
    # Classes and ids with digits are per-article («post-4456201») and left out; classes are sorted
    # so their order in the markup does not matter.
    kept = sorted({c for c in classes.split() if not _DIGIT.search(c)})[:3]
    step = tag + "".join("." + c for c in kept)
    return step + "#" + ident if ident and not _DIGIT.search(ident) else step


def _step(el) -> str:
    """One element of a path signature: its tag, stable classes and id."""
    return _step_of(el.tag, el.get("class") or "", el.get("id") or "")


def _body(tree):
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    return root if root.tag == "body" else root.find("body")


def _walk(tree) -> Generator[tuple[Any, str], bool | None, None]:
    """(element, path signature) of every element under <body>, parents before children.

    The caller may stop the descent into an element by sending True (see `find_template_blocks`).
    """
    body = _body(tree)
    if body is None:
        return
    stack = [(child, ()) for child in reversed(body)]
    while stack:
        el, chain = stack.pop()
        if not isinstance(el.tag, str) or el.tag in _NO_TEXT:
            continue
        chain = (chain + (_step(el),))[-_PATH_DEPTH:]
        skip = yield el, "/".join(chain)
        if not skip:
            stack.extend((child, chain) for child in reversed(el))


def block_text(el) -> str:
    """The element's visible text (scripts and styles left out), whitespace normalised."""
    return normalize_space(" ".join(_TEXT_NODES(el)))


def text_hash(text: str) -> str | None:
    """Hash of the text with numbers and calendar words masked; None when no other word is left
    (a bare number or date is no evidence of a recurring block)."""
    masked = fold(text)
    # Each substitution only where it can match: most blocks hold no digit and no calendar word,
    # and the two regexes were most of the time a template's learning took.
    if _DIGIT.search(masked):
        masked = _NUMBER.sub("0", masked)
    if not _CALENDAR.isdisjoint(_WORDS.findall(masked)):
        masked = _CALENDAR_WORD.sub("~", masked)
    if not _LETTER.search(masked):
        return None
    return hashlib.blake2b(masked.encode("utf-8"), digest_size=8).hexdigest()


def _page_blocks(tree) -> tuple[dict[tuple[str, str], str], str]:
    """({(path, text hash): preview} of the page's blocks, the page's identity), in one pass.

    The identity is its <title> and its longest innermost block (a body paragraph, on an article):
    two copies of one article stored under two addresses have the same, two articles do not.
    """
    found: dict[tuple[str, str], str] = {}
    longest = ""
    hashes: dict[str, str | None] = {}   # nested wrappers often hold the same text: hash it once

    def visit(el, chain: tuple[str, ...]) -> tuple[str, bool]:
        nonlocal longest
        chain = (chain + (_step(el),))[-_PATH_DEPTH:]
        parts, holds_block = [el.text or ""], False
        for child in el:
            if isinstance(child.tag, str) and child.tag not in _NO_TEXT:
                text, block = visit(child, chain)
                parts.append(text)
                holds_block = holds_block or block
            parts.append(child.tail or "")
        text = normalize_space(" ".join(parts))  # == block_text(el), each text built once
        if el.tag in BLOCK_TAGS:
            if not holds_block and len(text) > len(longest):
                longest = text
            if len(text) > _MAX_TEXT:
                key = None
            elif (key := hashes.get(text, "")) == "":
                key = hashes[text] = text_hash(text)
            if key and ("/".join(chain), key) not in found:
                found["/".join(chain), key] = text[:_PREVIEW]
        return text, holds_block or el.tag in BLOCK_TAGS

    body = _body(tree)
    for child in body if body is not None else ():
        if isinstance(child.tag, str) and child.tag not in _NO_TEXT:
            visit(child, ())
    root = body.getparent() if body is not None else None
    title = root.findtext("head/title") if root is not None else None
    identity = hashlib.blake2b(f"{normalize_space(title or '')}\n{longest}".encode("utf-8"),
                               digest_size=8).hexdigest()
    return found, identity


def _as_tree(page):
    if isinstance(page, (str, bytes)):
        if isinstance(page, bytes):
            from ..charset import decode_html
            page, _ = decode_html(page, None)
        return parse_html(page)
    return page


# A site's template is learned again as it grows (at 3, 6, 12, 24, 48 articles, then every 50), each
# time from its latest pages, so the same pages come back: their blocks are kept, by the page's
# digest, for as many pages as two learnings read (a few MB). A memo of a pure function.
_SEEN_PAGES = 100
_seen: OrderedDict[bytes, tuple[dict[tuple[str, str], str], str]] = OrderedDict()
_seen_lock = threading.Lock()


def _blocks_of(page) -> tuple[dict[tuple[str, str], str], str]:
    """_page_blocks of a page given as HTML (remembered) or as a tree (not: it may change)."""
    if not isinstance(page, (str, bytes)):
        return _page_blocks(page)
    digest = hashlib.blake2b(page.encode("utf-8", "surrogatepass") if isinstance(page, str) else page,
                             digest_size=16).digest()
    with _seen_lock:
        if (found := _seen.get(digest)) is not None:
            _seen.move_to_end(digest)
            return found
    found = _page_blocks(_as_tree(page))
    with _seen_lock:
        _seen[digest] = found
        while len(_seen) > _SEEN_PAGES:
            _seen.popitem(last=False)
    return found


# -- learning and stripping (pure) ------------------------------------------------------------

def learn_template(pages: Iterable[Any], *, min_pages: int = 3, min_share: float = 0.6) -> SiteTemplate:
    """The blocks (path and text) found on at least ``min_share`` of ``pages`` (HTML str/bytes or
    lxml trees), at least two pages; an empty template when fewer than ``min_pages`` pages parse.

    Pages are read one at a time (a generator keeps memory flat). A page that is not HTML at all
    is skipped: it says nothing about the site's layout; so is a second copy of one article (same
    title and longest paragraph), whose whole text would otherwise look like recurring blocks.
    """
    if not 0 < min_share <= 1:
        raise ValueError("min_share must be in (0, 1]")
    counts: Counter[tuple[str, str]] = Counter()
    previews: dict[tuple[str, str], str] = {}
    seen: set[str] = set()
    n = 0
    for page in pages:
        try:
            blocks, identity = _blocks_of(page)
        except ExtractionError:
            continue
        if identity in seen:
            continue
        seen.add(identity)
        n += 1
        counts.update(blocks.keys())
        for key, preview in blocks.items():
            previews.setdefault(key, preview)
    if n < max(min_pages, 2):
        return SiteTemplate(pages=n, min_share=min_share)
    # Two pages at least: one page agreeing with itself is no evidence of anything.
    need = max(2, math.ceil(min_share * n - 1e-9))
    blocks = tuple(sorted(TemplateBlock(path, key, count, previews[(path, key)])
                          for (path, key), count in counts.items() if count >= need))
    return SiteTemplate(pages=n, blocks=blocks, min_share=min_share)


def find_template_blocks(tree, template: SiteTemplate) -> list[tuple[Any, TemplateBlock]]:
    """The outermost blocks of ``tree`` that belong to ``template`` (nothing is changed)."""
    found: list[tuple[Any, TemplateBlock]] = []
    if template.empty:
        return found
    walker = _walk(tree)
    skip = None
    while True:
        try:
            el, path = walker.send(skip)
        except StopIteration:
            return found
        skip = False
        # Text is hashed only where the path is a template path: most of a page never is.
        if el.tag in BLOCK_TAGS and template.has_path(path):
            text = block_text(el)
            key = text_hash(text) if len(text) <= _MAX_TEXT else None
            block = template.match(path, key) if key else None
            if block is not None:
                found.append((el, block))
                skip = True


def strip_template(tree, template: SiteTemplate | None) -> int:
    """Remove the template's blocks from ``tree`` (in place); return how many were removed."""
    if template is None:
        return 0
    found = find_template_blocks(tree, template)
    for el, _ in found:
        drop_element(el)
    return len(found)
