"""Paragraphs a main-content extractor keeps that are another page's or a picture's: linked teasers, captions.

Both are recognised by the page itself rather than by wording: a teaser is a paragraph whose whole
text is the text of a link to another page; a caption is a line of a <figcaption> or of a caption
block by a picture. Comparison is on the words only, run together, so markup that glues a kicker to
a headline («Demenz:Ab wann…») still matches the extracted «Demenz: Ab wann…».
"""
from __future__ import annotations

import re

from lxml import etree

from .content import text_lines

_WORD = re.compile(r"\w+")
_NOT_WORD = re.compile(r"[\W_]+")
_LABEL_WORDS = 4         # "Read more:", «Auch interessant:», «ADHS bei Erwachsenen:» before a linked headline
_TEASER_MAX_CHARS = 500  # a teaser's headline or a caption; longer paragraphs are not compared
_TEASER_MIN_WORDS = 3    # "Home", "Sport": navigation labels are caught elsewhere; this is for headlines


def _squeezed(text: str) -> str:
    """Words only, run together, lower case: a card's kicker and headline are spans that the link's
    text joins without the space or colon the extracted paragraph has («Demenz:Ab wann…» vs
    «Demenz: Ab wann…»). Both sides come from the same page, so no spelling folding is needed."""
    return _NOT_WORD.sub("", text).lower()


def _teaser_keys(paragraphs: list[str]) -> dict[str, list[int]]:
    """Squeezed keys of the short paragraphs (and of their text after a short «label:»), by index."""
    keys: dict[str, list[int]] = {}
    for i, p in enumerate(paragraphs):
        if len(p) > _TEASER_MAX_CHARS:
            continue
        keys.setdefault(_squeezed(p), []).append(i)
        head, colon, rest = p.partition(":")
        # «Thema: <a>Schlagzeile</a>», "Read more: <a>headline</a>": a label, then a linked headline.
        if colon and len(_WORD.findall(head)) <= _LABEL_WORDS:
            keys.setdefault(_squeezed(rest), []).append(i)
    keys.pop("", None)
    return keys


def drop_link_teasers(tree, paragraphs: list[str], dropped: list) -> list[str]:
    """A paragraph that is, whole, the text of a link to another page is a teaser, not the story.

    Story paragraphs carry links inside running text; a block whose entire text is one link is a
    "related story" headline, a "more on this topic" card or a read-on link, on any news site and
    in any language. In-page anchors (#section, a table of contents) are not teasers.
    """
    keys = _teaser_keys(paragraphs)
    if not keys:
        return paragraphs
    doomed: set[int] = set()
    shortest = min(map(len, keys))   # a link's text is at least as long as its squeezed key
    for a in tree.iter("a"):   # filtered here: cheaper than an XPath predicate on every link
        href = a.get("href")
        if not href or href.startswith("#"):
            continue
        text = "".join(a.itertext())
        if not shortest <= len(text) <= _TEASER_MAX_CHARS or len(text.split()) < _TEASER_MIN_WORDS \
                or text.lstrip().startswith("http"):   # a bare address is a cited source
            continue
        doomed.update(keys.get(_squeezed(text), ()))
    return _without(paragraphs, doomed, "the whole paragraph is a link to another page", dropped)


def _without(paragraphs: list[str], doomed: set[int], why: str, dropped: list) -> list[str]:
    dropped.extend((paragraphs[i], why) for i in sorted(doomed))
    return [p for i, p in enumerate(paragraphs) if i not in doomed]


_FIGCAPTIONS = etree.XPath("//figcaption")
_PICTURE_LINE_WORDS = 15     # a caption line beside a picture; a sentence of the story is longer


def drop_captions(tree, paragraphs: list[str], dropped: list) -> list[str]:
    """Photo captions and credits describe a picture, not the story: a paragraph that is a caption
    line of the page (<figcaption>, or a "caption" block holding, beside or inside a picture) is
    dropped. Only exact lines go: a sentence that starts like a caption stays."""
    keys = _teaser_keys(paragraphs)
    if not keys:
        return paragraphs
    blocks = {id(el): el for el in _FIGCAPTIONS(tree)}
    seen: dict[int, object] = {}   # holds the elements, so their ids stay theirs
    measured: dict[int, object] = {}   # the same, for the paragraphs holding pictures
    for img in tree.iter("img"):   # caption blocks sit by their picture: look around each image only
        parent = img.getparent()
        # A paragraph holding a picture and one short line (WordPress's «<img><br><em>caption</em>»):
        # that line is the picture's caption. Emoji images sit inside sentences and are not pictures.
        holder = next(img.iterancestors("p"), None)
        if holder is not None and id(holder) not in measured and "emoji" not in (img.get("class") or ""):
            measured[id(holder)] = holder    # a paragraph of many pictures is measured once
            if len(holder.text_content().split()) <= _PICTURE_LINE_WORDS:
                blocks[id(holder)] = holder
        around = parent.getparent() if parent is not None and parent.getparent() is not None else parent
        if around is None or id(around) in seen:
            continue
        seen[id(around)] = around
        for el in around.iter(etree.Element):
            if "caption" in (el.get("class") or ""):
                blocks[id(el)] = el
    doomed: set[int] = set()
    for el in blocks.values():
        for line in [el.text_content(), *text_lines(el)]:
            if len(line) <= _TEASER_MAX_CHARS * 2:
                doomed.update(keys.get(_squeezed(line), ()))
    return _without(paragraphs, doomed, "photo caption", dropped)
