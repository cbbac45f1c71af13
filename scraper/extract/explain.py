"""Why a page gave the record it gave: every text block kept or dropped with its reason, and each field's source.

The explanation is data (`Explanation`), rendered as text by `render` for `scraper extract --explain`.
It runs the extractor once for the record, then replays its stages on a fresh tree of the same page
to say which stage took each block out: the learned site template, a profile drop rule, the
generic path's chrome pruning, the content selectors or trafilatura's choice, the boilerplate net
(whose decisions the extractor records in ``provenance["dropped"]``), or the metadata (headline).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .. import dates
from .boilerplate import fold, normalize_space
from .content import GENERIC_PRUNE
from ..errors import ExtractionError
from .article import profile_for_page, extract
from .parse import parse_html
from .metadata import extract_metadata
from ..models import Article
from ..profiles import Profile, compiled
from .content import drop_element
from .templates import SiteTemplate, block_text, find_template_blocks

# Block-level tags: a run of text inside one of these (up to the next nested block) is one block.
_BLOCKS = frozenset(
    "p div li h1 h2 h3 h4 h5 h6 td th dd dt blockquote figcaption pre section article header footer "
    "aside nav main ul ol dl table tr form figure address details summary center".split())
_NO_TEXT = frozenset(("script", "style", "noscript", "template", "head", "title", "meta", "link"))
_PREVIEW = 70
_DATE_LINE_WORDS = 12   # a line this short holding a date is a date line, as the extractor judges it
_NON_WORD = re.compile(r"\W+")
_PATH_STEPS = 3
# The record's fields shown with their source, in this order.
_FIELDS = ("title", "published", "modified", "author", "section", "tags", "summary", "language",
           "image", "canonical_url", "site")

KEPT, DROPPED = "kept", "dropped"


@dataclass(frozen=True)
class Block:
    kept: bool
    stage: str       # template | profile | generic | boilerplate | metadata
    reason: str      # one line a user can act on, naming the rule or selector
    path: str        # where it sits: the tag.class chain of its last ancestors
    text: str        # its text, shortened
    count: int = 1   # consecutive blocks of one list with the same fate are one entry


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

    @property
    def kept(self) -> list[Block]:
        return [b for b in self.blocks if b.kept]

    @property
    def dropped(self) -> list[Block]:
        return [b for b in self.blocks if not b.kept]


def _step(el) -> str:
    classes = (el.get("class") or "").split()
    return el.tag + "".join("." + c for c in classes[:2])


def _path(el) -> str:
    steps = [_step(el)]
    for anc in el.iterancestors():
        if anc.tag in ("body", "html") or len(steps) >= _PATH_STEPS:
            break
        steps.append(_step(anc))
    return "/".join(reversed(steps))


def _preview(text: str) -> str:
    text = normalize_space(text)
    return text if len(text) <= _PREVIEW else text[:_PREVIEW - 1] + "…"


def _own_lines(el) -> list[str]:
    """The element's own text as lines (<br> splits), nested blocks left to themselves."""
    lines = [el.text or ""]

    def children(node) -> None:
        for child in node:
            if isinstance(child.tag, str) and child.tag not in _NO_TEXT and child.tag not in _BLOCKS:
                if child.tag == "br":
                    lines.append("")
                else:  # inline: its text and its children's, spacing kept as written
                    lines[-1] += child.text or ""
                    children(child)
            lines[-1] += child.tail or ""

    children(el)
    return [t for t in (normalize_space(line) for line in lines) if t]


def _key(text: str) -> str:
    """Text compared without case, marks, spacing or punctuation (extractors differ on those)."""
    return _NON_WORD.sub("", fold(text))


def _text_blocks(tree):
    body = tree.find("body")
    if body is None:
        return
    for el in body.iter():
        if isinstance(el.tag, str) and (el.tag in _BLOCKS or el is body) and \
                not any(a.tag in _NO_TEXT for a in el.iterancestors()):
            lines = _own_lines(el)
            if lines:
                yield el, lines


class _Recorder:
    """Blocks in document order: each element's position is taken before anything is removed."""

    def __init__(self, tree) -> None:
        self.order = {el: i for i, el in enumerate(tree.iter())}
        self.entries: list[tuple[int, Block]] = []
        self.removed: dict[str, int] = {}

    def add(self, el, kept: bool, stage: str, reason: str, text: str) -> None:
        self.entries.append((self.order.get(el, len(self.order)),
                             Block(kept, stage, reason, _path(el), _preview(text))))

    def remove(self, el, stage: str, reason: str) -> None:
        text = block_text(el)
        # Scripts, the <head> and empty wrappers are not worth a line.
        if text and el.tag not in _NO_TEXT and not any(a.tag == "head" for a in el.iterancestors()):
            self.add(el, False, stage, reason, text)
            self.removed[stage] = self.removed.get(stage, 0) + 1
        drop_element(el)

    def blocks(self) -> tuple[Block, ...]:
        merged: list[Block] = []
        for _, block in sorted(self.entries, key=lambda e: e[0]):
            last = merged[-1] if merged else None
            if last and (last.kept, last.reason, last.path) == (block.kept, block.reason, block.path):
                merged[-1] = Block(last.kept, last.stage, last.reason, last.path,
                                   _preview(f"{last.text} | {block.text}"), last.count + 1)
            else:
                merged.append(block)
        return tuple(merged)


@dataclass(frozen=True)
class _Body:
    """What the extractor's body stage did, to judge each block that reached it."""

    paragraphs: frozenset[str]        # _key() of each paragraph of the record
    dropped: Mapping[str, str]        # paragraph -> the boilerplate net's reason
    title: str | None
    tags: list[str]                   # folded words of the record's tags
    content: str | None = None        # the profile's content selector that matched, if that path ran
    paragraph_rule: str | None = None
    restored: frozenset[str] = frozenset()   # _key() of the sub-headlines put back between paragraphs

    def decide(self, lines: list[str], inside: bool) -> tuple[bool, str, str]:
        """(kept, stage, reason) of one text block."""
        keys = [_key(line) for line in lines]
        # A line is a paragraph of the record, or holds whole ones (the extractor split it further).
        if any(k in self.paragraphs for k in keys) or any(
                len(p) >= 20 and p in k for p in self.paragraphs for k in keys if len(k) > len(p)):
            if self.content:
                return True, "profile", f"profile content `{self.content} {self.paragraph_rule}`"
            if any(k in self.restored for k in keys):
                return True, "generic", "generic: sub-headline between two kept paragraphs"
            return True, "generic", "generic: kept by trafilatura"
        for line in lines:
            if line in self.dropped:
                return False, "boilerplate", f"boilerplate: {self.dropped[line]}"
        if self.content and not inside:
            return False, "profile", f"profile: outside content `{self.content}`"
        text = " ".join(lines)
        if self.title and text == self.title:
            return False, "metadata", "headline (the title field, not body)"
        if self.tags and fold(text).replace("،", " ").replace(",", " ").split() == self.tags:
            return False, "metadata", "tag list (the tags field, not body)"
        if len(text.split()) <= _DATE_LINE_WORDS and dates.find_date(text) is not None:
            return False, "metadata", "date line (metadata, not body)"
        if self.content:
            return False, "profile", f"profile: inside the content but not `{self.paragraph_rule}`"
        return False, "generic", "generic: left out by trafilatura"


def explain(html: bytes | str, url: str | None = None, template: SiteTemplate | None = None, *,
            headers: Mapping[str, str] | None = None,
            profiles: Mapping[str, Profile] | None = None) -> Explanation:
    """What the extractor does with this page, block by block, and where each field came from."""
    if isinstance(html, bytes):
        from ..charset import decode_html
        content_type = next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), None)
        html, _ = decode_html(html, content_type)
    article, error = None, None
    try:
        article = extract(html, url, headers, profiles=profiles, template=template)
    except ExtractionError as exc:
        error = str(exc)
    tree = parse_html(html)
    profile = profile_for_page(tree, url, url, profiles)  # the extractor's own choice
    provenance = dict(article.provenance) if article else {}
    if article is None:  # the fields the page still has, with their sources
        meta = extract_metadata(parse_html(html), url, profile)
        provenance, value = dict(meta.provenance), meta.value
    else:
        value = article.to_dict().get
    rec = _Recorder(tree)

    # The stages in the extractor's order, each taking its blocks out of the tree.
    if template is not None:
        for el, block in find_template_blocks(tree, template):
            rec.remove(el, "template", f"learned template (on {block.pages} of {template.pages} pages)")
    if profile:
        for sel in profile.drop:
            for el in compiled(sel)(tree):
                if el.getparent() is not None:
                    rec.remove(el, "profile", f"profile drop rule `{sel}`")
    text_source = provenance.get("text")
    body = _Body(frozenset(_key(p) for p in article.text.split("\n\n")) - {""} if article else frozenset(),
                 {normalize_space(t): why for t, why in provenance.get("dropped", [])},
                 article.title if article else None,
                 fold(" ".join(article.tags)).split() if article and article.tags else [],
                 restored=frozenset(_key(p) for p in provenance.get("subheadings", [])))
    containers = []
    if profile and text_source and text_source.startswith("profile:"):
        # The extractor records "profile:<content selector> <paragraphs selector>".
        content = text_source[len("profile:"):].removesuffix(" " + profile.paragraphs)
        body = dataclasses.replace(body, content=content, paragraph_rule=profile.paragraphs)
        containers = compiled(content)(tree)
    elif text_source:  # the generic path prunes named chrome before trafilatura reads the page
        for el in tree.xpath(GENERIC_PRUNE):
            if el.getparent() is not None:
                rec.remove(el, "generic", "generic: pruned as chrome (its class or id says so)")
    for el, lines in _text_blocks(tree):
        inside = any(c is el or c in el.iterancestors() for c in containers)
        kept, stage, reason = body.decide(lines, inside)
        rec.add(el, kept, stage, reason, " ".join(lines))

    provenance.setdefault("site", f"profile:{profile.name}" if profile else "the page's host")
    fields = tuple(FieldSource(name, value(name), provenance.get(name)) for name in _FIELDS
                   if value(name) not in (None, "", [], ()))
    return Explanation(url=url, site=article.site if article else None,
                       extractor=article.extractor if article else None, text_source=text_source,
                       blocks=rec.blocks(), fields=fields, article=article, error=error,
                       removed=rec.removed)


def render(explanation: Explanation) -> str:
    """The explanation as plain text: one line per block, then one per field."""
    e = explanation
    out = [f"{e.url or '(no url)'}  site={e.site or '-'}  extractor={e.extractor or '-'}  "
           f"text from {e.text_source or '-'}"]
    if e.error:
        out.append(f"NO RECORD: {e.error}")
    kept, dropped = sum(b.count for b in e.kept), sum(b.count for b in e.dropped)
    out.append(f"\nBlocks ({kept} kept, {dropped} dropped; '+' kept, '-' dropped):")
    width = max((len(b.reason) for b in e.blocks), default=0)
    for b in e.blocks:
        times = f" ×{b.count}" if b.count > 1 else ""
        out.append(f"  {'+' if b.kept else '-'} {b.reason:<{width}}  {b.path}{times}  «{b.text}»")
    out.append("\nFields (value <- source):")
    for f in e.fields:
        value = ", ".join(map(str, f.value)) if isinstance(f.value, (list, tuple)) else str(f.value)
        out.append(f"  {f.name:<13} {_preview(value)}  <- {f.source or '-'}")
    return "\n".join(out)
