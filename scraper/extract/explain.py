"""Why a page gave the record it gave: every text block kept or dropped with its rule, and each field's source.

The explanation is data (`Explanation`), rendered as text by `render` for `scraper extract --explain`.
It runs the extractor once with a detailed `Trace` and shows what the extractor recorded while it
worked: the elements it took out of the page (template, profile drop rules, chrome pruning), every
body paragraph it kept or dropped with the rule, and the safety net's verdict. Nothing is decided
here: the only work of its own is placing each paragraph in the page (its path) and listing the
page's other blocks, the ones the body step never took (left out by trafilatura, or outside a
profile's content selector).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .article import extract
from .boilerplate import fold, normalize_space
from ..errors import ExtractionError
from ..models import Article
from ..profiles import Profile, compiled
from .parse import BLOCK_TAGS
from .templates import SiteTemplate, block_text
from .trace import GENERIC, PROFILE, Trace, element_path

# A run of text inside a block element (parse.BLOCK_TAGS), up to the next nested block, is one block.
_NO_TEXT = frozenset(("script", "style", "noscript", "template", "head", "title", "meta", "link"))
_PREVIEW = 70
_NON_WORD = re.compile(r"\W+")
_MATCH_CHARS = 12   # a shorter line is matched to a paragraph only exactly (a label, a menu item)
# The record's fields shown with their source, in this order.
_FIELDS = ("title", "published", "modified", "author", "section", "tags", "summary", "language",
           "image", "canonical_url", "site")

KEPT, DROPPED = "kept", "dropped"


@dataclass(frozen=True)
class Block:
    kept: bool
    stage: str       # template | profile | generic | boilerplate | metadata | net
    reason: str      # one line a user can act on, naming the rule or selector
    path: str        # where it sits: the tag.class chain of its last ancestors ("" when not in the page)
    texts: tuple[str, ...]   # its text in full; several when consecutive blocks share fate and place

    @property
    def text(self) -> str:
        return " | ".join(self.texts)

    @property
    def count(self) -> int:
        return len(self.texts)


@dataclass(frozen=True)
class FieldSource:
    name: str
    value: Any
    source: str | None


@dataclass(frozen=True)
class Explanation:
    url: str | None
    site: str | None
    extractor: str | None
    text_source: str | None
    blocks: tuple[Block, ...]
    fields: tuple[FieldSource, ...]
    article: Article | None = None
    error: str | None = None                       # why no record could be made
    removed: Mapping[str, int] = field(default_factory=dict)  # stage -> blocks taken out
    verdict: str | None = None                     # the safety net's decision, one line
    notes: tuple[str, ...] = ()                    # what was set aside as a whole, and why

    @property
    def kept(self) -> list[Block]:
        return [b for b in self.blocks if b.kept]

    @property
    def dropped(self) -> list[Block]:
        return [b for b in self.blocks if not b.kept]


def _preview(text: str) -> str:
    text = normalize_space(text)
    return text if len(text) <= _PREVIEW else text[:_PREVIEW - 1] + "…"


def _key(text: str) -> str:
    """Text compared without case, marks, spacing or punctuation (extractors differ on those)."""
    return _NON_WORD.sub("", fold(text))


def _own_lines(el) -> list[str]:
    """The element's own text as lines (<br> splits), nested blocks left to themselves."""
    lines = [el.text or ""]

    def children(node) -> None:
        for child in node:
            if isinstance(child.tag, str) and child.tag not in _NO_TEXT and child.tag not in BLOCK_TAGS:
                if child.tag == "br":
                    lines.append("")
                else:  # inline: its text and its children's, spacing kept as written
                    lines[-1] += child.text or ""
                    children(child)
            lines[-1] += child.tail or ""

    children(el)
    return [t for t in (normalize_space(line) for line in lines) if t]


def _text_blocks(tree, whole: bool = False):
    """(element, its own lines) of every block of the page's body (of ``tree`` itself when
    ``whole``), in document order."""
    body = tree if whole else tree.find("body") if tree is not None else None
    if body is None:
        return
    for el in body.iter():
        if isinstance(el.tag, str) and (el.tag in BLOCK_TAGS or el is body) and \
                not any(a.tag in _NO_TEXT for a in el.iterancestors()):
            lines = _own_lines(el)
            if lines:
                yield el, lines


class _Page:
    """The page's blocks as the body step read them, to place each decided paragraph in the page."""

    def __init__(self, tree, whole: bool = False) -> None:
        """``whole``: ``tree`` is one element (a removed one), read whole rather than its <body>."""
        self.blocks = [(el, lines, [_key(line) for line in lines]) for el, lines in _text_blocks(tree, whole)]
        self.exact: dict[str, int] = {}
        for i, (_, _, keys) in enumerate(self.blocks):
            for k in keys:
                self.exact.setdefault(k, i)

    def find(self, paragraph: str) -> int | None:
        """The index of the block that holds ``paragraph`` (or holds its beginning), if any."""
        k = _key(paragraph)
        if not k:
            return None
        if k in self.exact:
            return self.exact[k]
        if len(k) < _MATCH_CHARS:
            return None
        for i, (_, _, keys) in enumerate(self.blocks):
            joined = "".join(keys)
            if k in joined or (len(joined) >= _MATCH_CHARS and k.startswith(joined)):
                return i
        return None


def _blocks(trace: Trace) -> tuple[Block, ...]:
    """Every decision of the trace as a block placed in the page, then the page's blocks that no
    decision accounts for (the ones the body step never took), merged where consecutive blocks
    share place and fate."""
    page = _Page(trace.tree)
    entries: list[tuple[float, int, Block]] = []
    # Removed elements were numbered in document order before the removals; they go just before
    # the first block still in the page that came after them.
    later = [trace.position(el) for el, _, _ in page.blocks]
    removed: list[tuple[float, _Page]] = []     # each removed element's place and its own blocks
    for r in trace.removals:
        text = block_text(r.element)
        if text and r.element.tag not in _NO_TEXT:   # scripts and empty wrappers are not worth a line
            after = next((i for i, pos in enumerate(later) if pos > r.position), len(page.blocks))
            entries.append((after - 0.5, len(entries), Block(False, r.stage, r.rule, r.path, (text,))))
            removed.append((after - 0.5, _Page(r.element, whole=True)))
    used = [False] * len(page.blocks)
    last = -1.0
    for d in trace.decisions:
        i = page.find(d.text)
        place, el = (float(i), page.blocks[i][0]) if i is not None else (last, None)
        if i is not None:
            used[i] = True
        else:     # taken back from an element our pruning removed (the safety net's baseline read it)
            for where, inside in removed:
                if (j := inside.find(d.text)) is not None:
                    place, el = where, inside.blocks[j][0]
                    break
        if d.kept:       # the record's paragraphs are shown in the record's order
            place = last = max(place, last)
        path = element_path(el) if el is not None else ""
        entries.append((place, len(entries), Block(d.kept, d.stage, d.rule, path, (d.text,))))
    # A block whose every line lies inside a decided paragraph was read too (the extractor joined
    # several blocks into one paragraph).
    decided = "\x00" + "\x00".join(_key(d.text) for d in trace.decisions) + "\x00"
    content, paragraph_rule, containers = _content(trace)
    for i, (el, lines, keys) in enumerate(page.blocks):
        if used[i] or all((len(k) >= _MATCH_CHARS and k in decided) or f"\x00{k}\x00" in decided
                          for k in keys):
            continue
        if content:
            inside = any(c is el or c in el.iterancestors() for c in containers)
            stage, reason = PROFILE, (f"profile: inside the content but not `{paragraph_rule}`" if inside
                                      else f"profile: outside content `{content}`")
        else:
            stage, reason = GENERIC, "generic: left out by trafilatura"
        entries.append((float(i), len(entries), Block(False, stage, reason, element_path(el),
                                                      (" ".join(lines),))))
    merged: list[Block] = []
    for _, _, block in sorted(entries, key=lambda e: (e[0], e[1])):
        last_block = merged[-1] if merged else None
        if last_block and (last_block.kept, last_block.reason, last_block.path) == (block.kept, block.reason, block.path):
            merged[-1] = Block(block.kept, block.stage, block.reason, block.path, last_block.texts + block.texts)
        else:
            merged.append(block)
    return tuple(merged)


def _content(trace: Trace) -> tuple[str, str, list]:
    """(content selector, paragraph selector, the containers it matched) when the profile's
    selectors gave the body; ("", "", []) on the generic path."""
    source, profile = trace.source or "", trace.profile
    if profile is None or not source.startswith("profile:"):
        return "", "", []
    # The extractor records "profile:<content selector> <paragraphs selector>".
    content = source[len("profile:"):].removesuffix(" " + profile.paragraphs)
    return content, profile.paragraphs, compiled(content)(trace.tree)


def explain(html: bytes | str, url: str | None = None, template: SiteTemplate | None = None, *,
            headers: Mapping[str, str] | None = None,
            profiles: Mapping[str, Profile] | None = None) -> Explanation:
    """What the extractor does with this page, block by block, and where each field came from."""
    trace = Trace(detailed=True)
    article, error = None, None
    try:
        article = extract(html, url, headers, profiles=profiles, template=template, trace=trace)
    except ExtractionError as exc:
        error = str(exc)
    if article is not None:
        provenance, value = dict(article.provenance), article.to_dict().get
    elif trace.meta is not None:   # the fields the page still has, with their sources
        provenance, value = dict(trace.meta.provenance), trace.meta.value
    else:                          # refused before the metadata was read (a pathological page)
        provenance, value = {}, (lambda name: None)
    profile = trace.profile
    provenance.setdefault("site", f"profile:{profile.name}" if profile else "the page's host")
    fields = tuple(FieldSource(name, value(name), provenance.get(name)) for name in _FIELDS
                   if value(name) not in (None, "", [], ()))
    removed: dict[str, int] = {}
    for r in trace.removals:
        if block_text(r.element) and r.element.tag not in _NO_TEXT:
            removed[r.stage] = removed.get(r.stage, 0) + 1
    verdict = None
    if trace.verdict is not None:
        v = trace.verdict
        verdict = f"{v.taken} body: {v.reason}" + (f" (evidence: {v.evidence})" if v.evidence else "")
    return Explanation(url=url, site=article.site if article else None,
                       extractor=article.extractor if article else None, text_source=trace.source,
                       blocks=_blocks(trace) if trace.tree is not None else (), fields=fields,
                       article=article, error=error, removed=removed, verdict=verdict,
                       notes=tuple(f"{n.stage}: {n.message}" for n in trace.notes))


def render(explanation: Explanation) -> str:
    """The explanation as plain text: one line per block, then one per field."""
    e = explanation
    out = [f"{e.url or '(no url)'}  site={e.site or '-'}  extractor={e.extractor or '-'}  "
           f"text from {e.text_source or '-'}"]
    if e.verdict:
        out.append(f"safety net: {e.verdict}")
    out.extend(f"set aside: {note}" for note in e.notes)
    if e.error:
        out.append(f"NO RECORD: {e.error}")
    kept, dropped = sum(b.count for b in e.kept), sum(b.count for b in e.dropped)
    out.append(f"\nBlocks ({kept} kept, {dropped} dropped; '+' kept, '-' dropped):")
    width = max((len(b.reason) for b in e.blocks), default=0)
    for b in e.blocks:
        times = f" ×{b.count}" if b.count > 1 else ""
        out.append(f"  {'+' if b.kept else '-'} {b.reason:<{width}}  {b.path or '(not in the page)'}{times}"
                   f"  «{_preview(b.text)}»")
    out.append("\nFields (value <- source):")
    for f in e.fields:
        value = ", ".join(map(str, f.value)) if isinstance(f.value, (list, tuple)) else str(f.value)
        out.append(f"  {f.name:<13} {_preview(value)}  <- {f.source or '-'}")
    return "\n".join(out)
