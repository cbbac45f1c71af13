"""Where an article prints its authors' names: rel=author links, byline blocks, labelled fields.

Machine-readable author fields (JSON-LD, meta tags) often name the publisher instead of a person
(«Deutsche Welle», «mdr.de») or only the first of several authors; the page's visible byline is
what a reader sees. These readers look only in the headline's region (the <article>/<main> that
holds it), where the story's own byline is, never in teasers, comments or captions.
"""
from __future__ import annotations

import re

from .dateline import AUTHOR_LABELS, headline_scope, in_teaser, labelled_values, text_of

# Class names of byline blocks; and of blocks that merely contain the word (a comment's author,
# a photo's credit, a quote's speaker, the author's bio or avatar) and are not the byline.
_BYLINE_CLASS = re.compile(r"byline|author", re.I)
_NOT_BYLINE = re.compile(r"comment|image|photo|caption|credit|quote|avatar|bio|desc|date|time|"
                         r"follow|social|share|more|related|teaser", re.I)
_NAME_MAX = 60      # characters: a byline names people; a longer text is a sentence or a bio
_DIGIT = re.compile(r"\d")


# «Quelle: sid/dpa», "Source: Reuters": the agency credited for the text, not its author.
_SOURCE = re.compile(r"^(quelle|source|sources|fuente|fonte|źródło|المصدر)\s*:", re.I)


def _texts(el) -> list[str]:
    """One text per name: the element's children when each holds one («<a>A</a><a>B</a>», which
    text_content() would run together), else the element's whole text."""
    kids = [child for child in el if isinstance(child.tag, str)]
    while len(kids) == 1 and not (el.text or "").strip():   # a wrapper around the list of names
        el = kids[0]
        kids = [child for child in el if isinstance(child.tag, str)]
    children = [text_of(child) for child in kids]
    if len(children) > 1 and all(children) and sum(map(len, children)) >= len(text_of(el)) - len(children):
        return children
    return [text_of(el)]


def _name_texts(elements, split: bool = True) -> list[str]:
    names: list[str] = []
    for el in elements:
        for text in _texts(el) if split else [text_of(el)]:   # a link is one name
            if 2 <= len(text) <= _NAME_MAX and not _DIGIT.search(text) and not text.startswith("http") \
                    and not _SOURCE.match(text) and text not in names:
                names.append(text)
    return names


def _byline_scope(h1):
    """The story's region: the <article>/<main> holding the headline, else one level above the
    headline's block (bylines often sit just after the <header> that holds the <h1>)."""
    if h1 is None:
        return None
    for anc in h1.iterancestors():
        if anc.tag in ("article", "main"):
            return anc
    scope = headline_scope(h1)
    return scope.getparent() if scope is not None and scope.getparent() is not None else scope


def rel_author_names(tree, h1) -> list[str]:
    """The names of the story's rel=author links (HTML's markup for "the author of this article")."""
    scope = _byline_scope(h1)
    if scope is None:
        return []
    return _name_texts([a for a in scope.iterfind(".//a[@rel='author']") if not in_teaser(a, scope)],
                       split=False)


def byline_names(tree, h1) -> list[str]:
    """Names in the story's byline: its rel=author links, else its innermost byline/author blocks."""
    if names := rel_author_names(tree, h1):
        return names
    scope = _byline_scope(h1)
    if scope is None:
        return []
    blocks = []
    for el in scope.iter():
        cls = el.get("class") if isinstance(el.tag, str) else None
        if not cls or not _BYLINE_CLASS.search(cls) or _NOT_BYLINE.search(cls) or in_teaser(el, scope):
            continue
        # The innermost block: a wrapper's text runs its several names together.
        if any(_BYLINE_CLASS.search(d.get("class") or "") for d in el.iterdescendants() if isinstance(d.tag, str)):
            continue
        blocks.append(el)
    return _name_texts(blocks)


# The words a byline opens with («By A», «von A», «par A», «بقلم أ», «إعداد أ» folded): the one list
# every reader of bylines uses (here, scraper.extract.article's byline lines, metadata's author cleaning).
BY_WORDS = ("by", "written by", "von", "par", "por", "di", "door", "av", "af",
            "بقلم", "كتب", "كتبت", "اعداد", "تقرير", "حوار")
# Of those, the ones that also begin surnames («von Trotta», «Di Maio»): never cut from a name field.
NAME_PARTICLES = ("von", "di")
_BY_LINE_MAX = 120      # characters: «von Dr. A und B, Desk» is a byline; a longer text is prose


def by_line_names(tree, h1) -> list[str]:
    """The names after a by-word that opens a short line of the story's region («von <a>Dr. Max
    Kolter</a>»): the wording of a byline, which photo credits («Foto:») and teasers do not use."""
    scope = _byline_scope(h1)
    if scope is None:
        return []
    for el in scope.iter("p", "div", "span", "li", "address"):
        lead = (el.text or "").strip().rstrip(":").strip().lower()
        if lead not in BY_WORDS or in_teaser(el, scope) or len(text_of(el)) > _BY_LINE_MAX:
            continue
        # Each name is its own element («von <a>A</a> und <b>B</b>»); plain text after the word
        # is one string of names.
        marked = [child for child in el if child.tag in ("a", "b", "strong", "span")]
        names = _name_texts(marked, split=False) if marked else _name_texts([el])
        if marked and not names:
            continue
        return [n for n in names if n.strip().lower() not in BY_WORDS]
    return []


def labelled_author(tree) -> str | None:
    """The name a fact list labels as the author («<strong>Autor</strong> Roman Goncharenko»)."""
    for _, value in labelled_values(tree, AUTHOR_LABELS):
        if len(value) <= _NAME_MAX:
            return value
    return None
