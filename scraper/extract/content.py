"""The article body as paragraphs: a profile's selectors, else trafilatura on the already-parsed tree.

Both paths return raw paragraphs in page order; scraper.extract.boilerplate cleans them afterwards, so the
same net catches chrome whichever path let it through. A <br> inside a paragraph splits it: sites
that lay out text with <br> mean one paragraph per line.
"""
from __future__ import annotations

import json
import re

import lxml.html
from lxml import etree

from ..profiles import Profile, compiled
from .trace import GENERIC, PROFILE, Trace, drop_element

# Block-level tags whose text is one paragraph when a container has no <p> (the <br> layout).
_BLOCKS = {"p", "div", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "section", "article",
           "ul", "ol", "table", "tr", "figure", "figcaption", "header", "footer", "aside", "pre"}
# Inside a profile container these are never body text (captions excepted: they are the article's).
_NOT_BODY = ("script", "style", "noscript", "template", "button", "form", "iframe")


def _lines(el, skip=()) -> list[str]:
    """Text of ``el`` as lines: <br> and block elements start a new line; ``skip`` tags are left out."""
    out: list[str] = [""]

    def walk(node, root: bool = False) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        tail = "" if root else (node.tail or "")  # the container's own tail is not its text
        if tag in skip:
            out[-1] += tail
            return
        if tag == "br" or tag == "lb":
            out.append("")
        elif tag in _BLOCKS:
            out.append("")
        if node.text and tag:
            out[-1] += node.text
        for child in node:
            walk(child)
        if tag in _BLOCKS:
            out.append("")
        out[-1] += tail

    walk(el, root=True)
    return [line for line in out if line.strip()]


def drop_elements(tree, selectors, trace: Trace) -> int:
    """Remove every element matched by a profile's ``selectors`` (drop rules), each noted in ``trace``."""
    removed = 0
    for sel in selectors:
        for el in compiled(sel)(tree):
            removed += trace.remove(el, PROFILE, f"profile drop rule `{sel}`")
    return removed


def profile_paragraphs(tree, profile: Profile) -> tuple[list[str], str | None]:
    """(paragraphs, selector used) from the profile's content selectors; ([], None) if none match."""
    for sel in profile.article:
        containers = compiled(sel)(tree)
        if not containers:
            continue
        paragraphs: list[str] = []
        for container in containers:
            found = compiled(profile.paragraphs)(container)
            if found:
                for p in found:
                    paragraphs.extend(_lines(p, _NOT_BODY))
            else:
                paragraphs.extend(_lines(container, _NOT_BODY))
        if any(p.strip() for p in paragraphs):
            return paragraphs, f"{sel} {profile.paragraphs}"
    return [], None


# Chrome that is never article text on any site, removed before trafilatura scores the page (it
# keeps some of these when they hold enough text). An element holding the headline or many
# paragraphs is spared, since a class such as "has-comments" can sit on a wrapper of the whole page.
_CHROME_WORDS = ("prayer", "cookie", "newsletter", "ticker", "share-bar", "social-share", "sharing",
                 "epaper", "most-read", "mostread", "breaking-news",
                 # the writer's box under the story: their bio, not the article
                 "author-bio", "author__bio", "authorbio", "biography",
                 # embedded social posts: someone else's words, quoted in the page's markup
                 "twitter-tweet", "instagram-media", "tiktok-embed", "fb-post")
_CHROME = re.compile("|".join(map(re.escape, _CHROME_WORDS)))
_ENOUGH = 0.5
_STORY_MIN_CHARS = 500
# Attribute nodes, filtered in Python: libxml2 evaluating contains() per element is ~6x slower.
_CLASS_AND_ID = etree.XPath("//@class | //@id")


def flatten_ruby(tree) -> int:
    """Ruby annotations (furigana) as the page's own plain-text fallback: «弾劾（だんがい）».

    A <ruby> that carries <rp> parentheses tells what a reader without ruby rendering sees: the
    base text with its reading in brackets. Extractors that drop <rt> keep only the base and
    leave a gap; the flattened text is what the article says in plain text.
    """
    flattened = 0
    for ruby in list(tree.iter("ruby")):
        if ruby.find("rp") is None or ruby.getparent() is None:
            continue
        text = ruby.text_content() + (ruby.tail or "")
        prev, parent = ruby.getprevious(), ruby.getparent()
        if prev is not None:
            prev.tail = (prev.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
        parent.remove(ruby)
        flattened += 1
    return flattened


def drop_chrome(tree, trace: Trace) -> int:
    """Remove the elements whose class or id names them as chrome (see _CHROME), each noted in ``trace``."""
    doomed = {}
    for a in _CLASS_AND_ID(tree):
        if match := _CHROME.search(a):
            doomed.setdefault(id(a.getparent()), (a.getparent(), match.group(0)))
    removed = 0
    for el, word in doomed.values():
        if el.getparent() is not None and el.find(".//h1") is None and len(el.findall(".//p")) < 6:
            removed += trace.remove(el, GENERIC, f"generic: pruned as chrome (its class or id says «{word}»)")
    return removed


def _trafilatura(tree, url: str | None, fast: bool):
    # Imported here: it costs ~0.6 s, which commands that never extract (search, stats) skip.
    import trafilatura

    return trafilatura.bare_extraction(
        tree, url=url, fast=fast, with_metadata=False, include_comments=False, include_tables=True,
        include_images=False, include_links=False,
    )


def _paragraph_chars(tree) -> int:
    """How much paragraph text the story has: inside the <article> holding the headline when there
    is one (pages that load the next stories below hold several), else on the whole page."""
    for article in tree.xpath("//h1/ancestor::article[1]")[:1]:
        inside = sum(len(t) for t in article.xpath(".//p//text()"))
        if inside >= _STORY_MIN_CHARS:
            return inside
    return sum(len(t) for t in tree.xpath("//p//text()"))


def generic_paragraphs(tree, url: str | None, trace: Trace) -> list[str]:
    """Paragraphs of the main content found by trafilatura, given our parsed tree (it copies it).

    Trafilatura's own extractor runs first without its fallbacks (readability, jusText), which
    cost most of its time; they run only when the result holds less than half of the page's
    paragraph text, the sign that the fast pass kept one block of a longer article.
    """
    drop_chrome(tree, trace)
    flatten_ruby(tree)
    doc = _trafilatura(tree, url, fast=True)
    got = len(doc.text or "") if doc is not None else 0
    if got < _ENOUGH * _paragraph_chars(tree):
        doc = _trafilatura(tree, url, fast=False) or doc
    if doc is None or doc.body is None:
        return []
    paragraphs: list[str] = []
    for block in doc.body:
        if block.tag == "list":
            for item in block.iter("item"):
                paragraphs.extend(_lines(item))
        elif block.tag == "table":
            for row in block.iter("row"):
                cells = [_lines(cell) for cell in row]
                if any(len(lines) > 1 or len(" ".join(lines)) > 200 for lines in cells):
                    # A layout table (old CMSes): its cells hold the text, one line a paragraph.
                    paragraphs.extend(line for lines in cells for line in lines)
                else:
                    paragraphs.append(" | ".join(" ".join(lines) for lines in cells if lines))
        else:
            paragraphs.extend(_lines(block))
    return paragraphs


# A JSON string literal of some length (escaped quotes allowed): where script-rendered pages keep
# the article as HTML (Next.js/Nuxt hydration state, API payloads inlined for the client).
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.){300,})"')
_HTML_BLOCK = re.compile(r"<(?:p|br|div|h[2-6])\b", re.I)
_PICTURE_BOX_CHARS = 300     # an element holding an image and this little text is image + caption
# A template token the page's script replaces when rendering ($$ARTICLEAD$$, {{ad_slot}}, [[AD]]).
_PLACEHOLDER = re.compile(r"^(\$\$\w+\$\$|\{\{\s*\w+\s*\}\}|\[\[\w+\]\])$")
_EMBEDDED_MIN_BLOCKS = 3      # a few block tags: an article, not a one-line label


def embedded_paragraphs(tree) -> list[str]:
    """Paragraphs of the longest article-like HTML string inside the page's scripts.

    Pages rendered in the browser ship an empty <body> and the story as data in a script (the
    hydration state of a JavaScript framework): no extractor that reads the markup finds anything,
    while the data holds the article's HTML verbatim. Only asked when the markup gave no text.
    """
    best: list[str] = []
    best_chars = 0
    for script in tree.iter("script"):
        text = script.text or ""
        for match in _JSON_STRING.finditer(text):
            raw = match.group(1)
            if "\\u003c" not in raw and "<" not in raw:
                continue
            try:
                value = json.loads(f'"{raw}"')
            except ValueError:
                continue
            # An HTML field opens with a tag; a longer string that merely holds some markup is a
            # serialised payload (a framework's stream), not the article.
            if not value.lstrip().startswith("<") or len(_HTML_BLOCK.findall(value)) < _EMBEDDED_MIN_BLOCKS:
                continue
            try:
                fragment = lxml.html.fragment_fromstring(value, create_parent="div")
            except (etree.ParserError, ValueError):
                continue
            for box in fragment.xpath(".//*[.//img]"):
                # A picture box (the image and its caption): the picture's text, not the story's.
                if box.getparent() is not None and len(box.text_content()) < _PICTURE_BOX_CHARS:
                    drop_element(box)
            lines = [line for line in _lines(fragment, _NOT_BODY + ("figure", "figcaption"))
                     if not _PLACEHOLDER.match(line.strip())]
            chars = sum(len(line) for line in lines)
            if chars > best_chars:
                best, best_chars = lines, chars
    return best
