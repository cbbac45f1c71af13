"""Sub-headlines the generic body extractor left out, put back where the page prints them.

Trafilatura's fast pass drops a heading that sits alone in its own wrapper (<div><h2>..</h2></div>)
between two paragraphs it keeps, which is how several CMSes print an article's sub-headlines
(«Wo liegt Iran im Handelspartner-Vergleich?»). They are part of the article: a reader sees them,
and the story's sections make no sense without them. The rule is narrow on purpose: a heading
(h2-h4) comes back only when the text just before it in the page ends a kept paragraph and the
text just after it starts the *next* kept paragraph. A "related stories" heading is followed by
its links, a photo's heading by its caption, so neither is sandwiched between two body paragraphs.
"""
from __future__ import annotations

from lxml import etree

from .boilerplate import normalize_space
from .title import alnum_key

# The text a reader sees in an element: not its scripts' or styles' (ad code between paragraphs).
_VISIBLE_TEXT = etree.XPath(".//text()[not(parent::script or parent::style)]")
_CONTEXT = 40         # characters of text on each side that must match the two paragraphs
_MAX_CHARS = 200      # a sub-headline is a line, not a paragraph
_MIN_WORDS = 2


def restore_subheadings(tree, paragraphs: list[str], headlines: list[str] = ()) -> list[str]:
    """``paragraphs`` with the page's sub-headlines that sit between two consecutive ones.

    ``headlines`` are the article's own title copies: a heading repeating one (a second, hidden
    <h2> of the headline under the kept <h1> line) is the title again, not a sub-headline.
    """
    if len(paragraphs) < 2:
        return paragraphs
    kept = set(paragraphs)
    # Paragraph i by its opening characters: the text after a heading must open the next one.
    opening = {p[:_CONTEXT].rstrip(): i for i, p in reversed(list(enumerate(paragraphs))) if i}
    titles = [alnum_key(h) for h in headlines if h]
    inserts: dict[int, str] = {}      # index of the paragraph after -> heading
    for heading in tree.iter("h2", "h3", "h4"):
        text = normalize_space(heading.text_content())
        if not text or text in kept or len(text) > _MAX_CHARS or len(text.split()) < _MIN_WORDS \
                or heading.find(".//a") is not None:   # a linked heading is a teaser for another page
            continue
        # The page's text on each side of the heading; only the ends next to it count.
        i = opening.get(normalize_space(_text_after(heading))[:_CONTEXT].rstrip())
        if i is None or i in inserts:
            continue
        before = normalize_space(_text_before(heading))[-_CONTEXT:].lstrip()
        key = alnum_key(text)
        if not before or not paragraphs[i - 1].endswith(before) or key in alnum_key(paragraphs[i - 1]) \
                or any(key in t or t in key for t in titles if t):
            continue
        inserts[i] = text
    if not inserts:
        return paragraphs
    out: list[str] = []
    for i, paragraph in enumerate(paragraphs):
        if i in inserts:
            out.append(inserts[i])
        out.append(paragraph)
    return out


def _visible(el) -> str:
    if not isinstance(el.tag, str) or el.tag in ("script", "style"):
        return ""
    return "".join(_VISIBLE_TEXT(el))


def _text_before(el) -> str:
    """At least _CONTEXT characters of the text just before ``el`` in document order, walking back
    through its preceding siblings and up its ancestors (cheap: no scan of the whole page)."""
    parts: list[str] = []
    seen, node = 0, el
    while seen < _CONTEXT:
        previous = node.getprevious()
        if previous is not None:
            piece, node = _visible(previous) + (previous.tail or ""), previous
        else:
            node = node.getparent()
            if node is None:
                break
            piece = node.text or ""    # the parent's own text, before its first child
        parts.append(piece)
        seen += len(piece.strip())
    return "".join(reversed(parts))


def _text_after(el) -> str:
    """At least _CONTEXT characters of the text just after ``el`` (its tail, then what follows)."""
    parts = [el.tail or ""]
    seen, node = len(parts[0].strip()), el
    while seen < _CONTEXT:
        following = node.getnext()
        if following is not None:
            piece, node = _visible(following) + (following.tail or ""), following
        else:
            node = node.getparent()
            if node is None:
                break
            piece = node.tail or ""
        parts.append(piece)
        seen += len(piece.strip())
    return "".join(parts)
