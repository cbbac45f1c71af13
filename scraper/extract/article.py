"""Page -> Article: parse once, read the metadata cascade, take the body by profile or generic path, clean.

The profile path (the site's own selectors) is trusted first; when the page's site has a profile
but its content selectors match nothing (a redesign), the generic path takes over and ``extractor``
says ``profile:NAME+generic`` so the broken profile gets noticed. Pure: no network, no disk.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import unquote

from lxml import etree

from .. import dates
from .boilerplate import clean_paragraphs, fold, normalize_space
from .byline import BY_WORDS
from .chrome_lines import drop_placed_chrome
from .dateline import headline_element
from .content import (baseline_paragraphs, drop_elements, embedded_paragraphs, generic_paragraphs,
                      profile_paragraphs)
from ..errors import ExtractionError, NoArticle
from .metadata import Metadata, extract_metadata
from ..models import Article, Page
from .parse import BLOCK_TAGS, MAX_PAGE_CHARS, parse_html
from ..profiles import Profile, profile_for
from .teasers import drop_captions, drop_link_teasers
from .subheads import restore_subheadings
from .templates import SiteTemplate, find_template_blocks
from .safety import Links, agrees_as_cluster, agrees_as_copy, judge, story_cluster
from .trace import BOILERPLATE, GENERIC, METADATA, NET, PROFILE, TEMPLATE, Trace
from ..urls import host_key

_STARTS_WITH = etree.XPath("//body//*[starts-with(normalize-space(text()), $start)]")
_IN_FIGURE = etree.XPath("boolean(ancestor-or-self::figure | ancestor-or-self::figcaption)")
_CANONICAL = etree.XPath("//link[@rel='canonical']/@href")
_OG_URL = etree.XPath("//meta[@property='og:url']/@content")
_WORD = re.compile(r"\w+")
_NOT_WORD = re.compile(r"[\W_]+")
_DATE_LINE_WORDS = 10    # a paragraph this short that holds a date is a date line, not body text
_BYLINE_WORDS = 8        # "By Jane Doe", «كتب: محمد علي»
_CARD_BYLINE_WORDS = 4   # "By" + a name of up to four words
_HEAD = 4                # a byline or date line is among the first paragraphs
# Byline openings (folded: lower case, one alef form).
_BYLINE = re.compile(r"^(%s)\b[\s:]" % "|".join(BY_WORDS))
_MIN_WORDS = 5           # less than this is a link or a label, not an article
_OUTSIDE_SHARE = 0.5     # a paragraph with fewer of its words in a whole articleBody is not the story
_STORY_PARENT_SHARE = 0.2   # an element holding this share of the copy's text is one of the story's



def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _section_from_url(profile: Profile, url: str | None) -> str | None:
    if not (profile.section_url and url):
        return None
    match = profile.section_match(url)
    return normalize_space(unquote(match.group(1)).replace("-", " ")) if match and match.groups() else None


def _drop_non_body(paragraphs: list[str], meta: Metadata, tz, dropped: list) -> list[str]:
    """Headline, byline, date line and tag list are metadata, not body, when the extractor keeps them.

    They sit at the top (before the first real paragraph, or among the first few when very short)
    or, for a "published on" line, at the very end; a bare "By Name" line goes wherever it is.
    Each one dropped goes into ``dropped`` as (paragraph, stage, rule).
    """
    title_keys = {fold(t) for t in [meta.title, *meta.headlines] if t}
    tag_key = fold(" ".join(meta.tags)).split() if meta.tags else None
    author_key = fold(meta.author) if meta.author else None
    words = [len(_WORD.findall(p)) for p in paragraphs]
    first_long = next((i for i, n in enumerate(words) if n > _DATE_LINE_WORDS
                       and fold(paragraphs[i]) not in title_keys), len(paragraphs))
    out = []
    for i, p in enumerate(paragraphs):
        why = None
        top = i < first_long or (i < _HEAD and words[i] <= _BYLINE_WORDS)
        if top or i == len(paragraphs) - 1 or len(p) < 200:
            key = fold(p)
            if i <= first_long and key in title_keys:
                why = "headline (the title field, not body)"
            elif i <= first_long and _labelled_headline(key, title_keys):
                why = "headline with its section label (the title field, not body)"
            elif tag_key and key.replace("،", " ").replace(",", " ").split() == tag_key:
                why = "tag list (the tags field, not body)"
            elif (top or i == len(paragraphs) - 1) and words[i] <= _DATE_LINE_WORDS \
                    and dates.find_date(p, tz) is not None:
                why = "date line (metadata, not body)"
            elif top and words[i] <= _BYLINE_WORDS and (key == author_key or _BYLINE.match(key)):
                why = "byline (the author field, not body)"
        if why is None and _is_card_byline(p):
            why = "byline of a story card (a name alone on its line)"
        if why:
            dropped.append((p, METADATA, why))
        else:
            out.append(p)
    return out


def _fewer_words(paragraphs, n: int) -> bool:
    """Whether the paragraphs hold fewer than ``n`` words, counted only until there are ``n``."""
    count = 0
    for p in paragraphs:
        count += len(_WORD.findall(p))
        if count >= n:
            return False
    return True


_LABEL_WORDS = 3   # a section or kicker label printed with the headline («منوعات», «عاجل»)


def _labelled_headline(key: str, title_keys: set[str]) -> bool:
    """Whether a folded line is the headline with a short label before or after it (the header's
    category link and <h1> read as one line, glued or not: «اقتصادشركات الشحن تعيد …»)."""
    for title in title_keys:
        if len(title) < 20 or len(key) <= len(title):
            continue
        rest = key[:-len(title)] if key.endswith(title) else key[len(title):] if key.startswith(title) else None
        if rest is not None and 1 <= len(_WORD.findall(rest)) <= _LABEL_WORDS:
            return True
    return False


def _is_card_byline(paragraph: str) -> bool:
    """«von Anne Sophie Feil», "By Jane Doe" on a line of its own, anywhere: the byline of a teaser
    card or of the story, never a sentence of it (a name only, each word capitalised or in a
    script without case)."""
    match = _BYLINE.match(fold(paragraph))
    if not match:
        return False
    rest = paragraph[len(match.group(0)):].split()
    return 1 <= len(rest) <= _CARD_BYLINE_WORDS and all(not w[0].islower() for w in rest)


def _visible_lead(tree, summary: str | None, paragraphs: list[str]) -> str | None:
    """The standfirst, when the page shows its meta description as a block of its own.

    Main-content extractors often leave out the lead printed between headline and body; it is the
    article's (the summary written by its editor), and the page saying it twice (meta and visible)
    is what tells it from a teaser.
    """
    if not summary or len(_WORD.findall(summary)) < _DATE_LINE_WORDS:
        return None
    want = fold(summary)
    if any(want in fold(p) for p in paragraphs[:3]):
        return None
    start = normalize_space(summary)[:20]
    # A photo's caption may repeat the description too (the CMS fills one from the other): that
    # copy is the picture's, not a standfirst.
    shown = [el for el in _STARTS_WITH(tree, start=start)
             if fold(el.text_content()) == want and not _IN_FIGURE(el)]
    # Each block the page shows it in is one copy: when the extraction already holds as many (a
    # teaser or kicker kept above the lead pushed it down), adding it again would duplicate it.
    if len(shown) > sum(want == fold(p) for p in paragraphs):
        return normalize_space(shown[0].text_content())
    return None


def profile_for_page(tree, url: str | None, final_url: str | None, profiles) -> Profile | None:
    profile = profile_for(final_url, profiles) or profile_for(url, profiles)
    if profile is None:
        # A saved page, a mirror or a test server's copy still names its site in
        # <link rel=canonical>/og:url: its rules (and time zone) are the ones that fit its markup.
        own = _CANONICAL(tree) + _OG_URL(tree)
        profile = next((p for p in (profile_for(u, profiles) for u in own) if p), None)
    return profile


@dataclass(frozen=True)
class Body:
    """A body step's result: the clean paragraphs and, for each one kept or dropped, the rule."""

    paragraphs: tuple[str, ...]
    rules: Mapping[str, tuple[str, str]]          # paragraph -> (stage, rule) of the step that found it
    dropped: tuple[tuple[str, str, str], ...]     # (paragraph, stage, rule) of each one left out
    notes: Mapping[str, Any]                      # provenance: where the text came from, what was added

    def record(self, trace: Trace) -> None:
        for text, stage, rule in self.dropped:
            trace.decide(text, False, stage, rule)
        for p in self.paragraphs:
            trace.decide(p, True, *self.rules[p])


def _cleaned(tree, raw: list[str], meta: Metadata, tz, source: str, default: tuple[str, str],
             generic: bool) -> Body:
    """``raw`` paragraphs made a body: on the generic path the sub-headlines and the standfirst the
    extractor left out put back, then the boilerplate net, teasers and captions (generic path) and
    the lines that are the record's other fields taken out."""
    found: dict[str, tuple[str, str]] = {}     # raw paragraph -> (stage, rule), where not the default
    notes: dict[str, Any] = {"text": source}
    paragraphs = list(raw)
    if generic:
        restored = restore_subheadings(tree, paragraphs, [meta.title, *meta.headlines])
        if len(restored) > len(paragraphs):
            notes["subheadings"] = [p for p in restored if p not in paragraphs]
            found.update((p, (GENERIC, "generic: sub-headline between two kept paragraphs"))
                         for p in notes["subheadings"])
            paragraphs = restored
        if lead := _visible_lead(tree, meta.summary, paragraphs):
            paragraphs.insert(0, lead)
            notes["lead"] = "visible meta description"
            found[lead] = (GENERIC, "generic: the standfirst (the meta description, shown on the page)")
    rules = {normalize_space(p): found.get(p, default) for p in paragraphs}
    boilerplate: list[tuple[str, str]] = []
    paragraphs = clean_paragraphs(paragraphs, boilerplate)
    if generic:
        if not meta.live_blog:
            paragraphs = drop_link_teasers(tree, paragraphs, boilerplate)
        paragraphs = drop_captions(tree, paragraphs, boilerplate)
        paragraphs = drop_placed_chrome(tree, paragraphs, boilerplate)
    dropped = [(p, BOILERPLATE, f"boilerplate: {why}") for p, why in boilerplate]
    paragraphs = _drop_non_body(paragraphs, meta, tz, dropped)
    if generic:   # last: the headline, byline and date lines went by their own rules first
        apart: list[tuple[str, str]] = []
        paragraphs = _outside_whole_copy(tree, paragraphs, meta.article_body, apart)
        dropped += [(p, BOILERPLATE, f"boilerplate: {why}") for p, why in apart]
    return Body(tuple(paragraphs), rules, tuple(dropped), notes)



def _outside_whole_copy(tree, paragraphs: list[str], article_body: str | None, dropped: list) -> list[str]:
    """Paragraphs a whole JSON-LD articleBody lacks, printed outside the story's own blocks, are
    not the story (a newsletter box, an app promotion, a related headline in a list).

    A copy is evidence for what it contains, never against what it lacks (publishers ship
    shortened ones, and a story may gain a paragraph its copy has not), so two kinds of evidence
    must agree before a paragraph goes: the copy is whole (not cut short, holding nearly all of
    what we extracted while we hold nearly all of it: safety.agrees_as_copy, both ways), and the
    paragraph stands in another element than the paragraphs the copy holds (a list, a link, a box
    of its own). A paragraph beside the story's own paragraphs stays whatever the copy lacks.
    """
    if not agrees_as_copy(paragraphs, article_body):
        return paragraphs
    copy_words = set(_WORD.findall(fold(article_body)))
    outside = {i for i, p in enumerate(paragraphs)
               if (words := _WORD.findall(fold(p)))
               and sum(w in copy_words for w in words) < _OUTSIDE_SHARE * len(words)}
    if not outside:
        return paragraphs
    blocks = _blocks_by_text(tree)
    # The story's own elements: those holding a good share of the text the copy vouches for (a
    # line that only shares common words with the copy does not make its box the story's).
    weight: dict = {}
    for i, p in enumerate(paragraphs):
        if i not in outside:
            for block in blocks.get(_squeezed(p), ()):
                weight[block.getparent()] = weight.get(block.getparent(), 0) + len(p)
    total = sum(weight.values())
    story_parents = {parent for parent, chars in weight.items() if chars >= _STORY_PARENT_SHARE * total}
    kept = []
    for i, p in enumerate(paragraphs):
        own = blocks.get(_squeezed(p), ())
        if i in outside and own and not any(block.getparent() in story_parents for block in own):
            dropped.append((p, "not in the JSON-LD articleBody (a whole copy), and printed apart from the story"))
        else:
            kept.append(p)
    return kept


def _squeezed(text: str) -> str:
    return _NOT_WORD.sub("", text).lower()


def _blocks_by_text(tree) -> dict[str, list]:
    """Every block element of the page by its squeezed text, to find where a paragraph is printed."""
    out: dict[str, list] = {}
    for el in tree.iter(*BLOCK_TAGS):
        key = _squeezed(el.text_content())
        if key:
            out.setdefault(key, []).append(el)
    return out

@dataclass(frozen=True)
class _Read:
    """What the body step read, and what the safety net needs to judge it."""

    body: Body
    extractor: str
    evidence: str | None       # what vouches for it before any comparison: the profile
    headline: Any              # the headline's element (generic path), for the second method
    baseline: bool             # its raw paragraphs are trafilatura's default result on the page as parsed
    pristine: bool             # the tree is still the page as parsed (nothing pruned or rewritten)


def _body(tree, profile: Profile | None, meta: Metadata, final_url: str | None, trace: Trace) -> _Read:
    """The clean body paragraphs by the profile's selectors, else by the generic path."""
    tz = profile.tz if profile else None
    extractor = "generic"
    if profile:
        drop_elements(tree, profile.drop, trace)
        paragraphs, used = profile_paragraphs(tree, profile)
        if paragraphs:
            body = _cleaned(tree, paragraphs, meta, tz, f"profile:{used}",
                            (PROFILE, f"profile content `{used}`"), generic=False)
            return _Read(body, f"profile:{profile.name}", "the site's profile", None, False, False)
        if profile.article:
            # Selectors that match nothing mean the site changed its markup: say so.
            extractor = f"profile:{profile.name}+generic"
    headline = headline_element(tree, meta.title)
    generic = generic_paragraphs(tree, final_url, trace, headline)
    paragraphs, source = generic.paragraphs, "generic:trafilatura"
    default = (GENERIC, "generic: kept by trafilatura")
    if _fewer_words(paragraphs, _MIN_WORDS) and (embedded := embedded_paragraphs(tree)):
        paragraphs = embedded
        source = "generic:article HTML inside a script (page rendered by JavaScript)"
        default = (GENERIC, "generic: article HTML inside a script (page rendered by JavaScript)")
    body = _cleaned(tree, paragraphs, meta, tz, source, default, generic=True)
    return _Read(body, extractor, None, headline, generic.as_baseline and paragraphs is generic.paragraphs,
                 generic.pristine and not trace.removals)


_BASELINE_RULE = (NET, "safety net: trafilatura's own extraction (the baseline)")
# A page with this much visible text is no article page (the corpus's largest has 152,000
# characters): the baseline, trafilatura with its fallbacks, is not computed on it.
_BASELINE_MAX_CHARS = 1_000_000
_VISIBLE_TEXT = etree.XPath("//body//text()[not(parent::script or parent::style or parent::noscript "
                            "or parent::template)]")


def _judged(read: _Read, html: str, tree, meta: Metadata, profile: Profile | None, final_url: str | None,
            trace: Trace) -> tuple[Body, str]:
    """The body the safety net lets through (ours, or the baseline's), and the record's extractor."""
    held: dict[str, Body] = {}

    def baseline() -> tuple[str, ...] | None:
        if "base" not in held:
            if sum(map(len, _VISIBLE_TEXT(tree))) > _BASELINE_MAX_CHARS:
                return None            # trafilatura's fallbacks on such a page take many seconds
            if read.baseline:          # the generic path's own run already was trafilatura's default
                held["base"] = read.body
            else:                      # the page as parsed, before our pruning (left as it is)
                page = tree if read.pristine else parse_html(html)
                raw = baseline_paragraphs(page, final_url)
                held["base"] = _cleaned(page, raw, meta, profile.tz if profile else None,
                                        "generic:trafilatura default (safety net)", _BASELINE_RULE, generic=True)
        return held["base"].paragraphs

    def evidence() -> str | None:
        if read.evidence:
            return read.evidence
        if trace.removed_by(TEMPLATE):
            return "the site's learned template"
        # The second method reads the page as the body step left it: our pruning spares the story
        # (content.drop_chrome), and what it removed is chrome to either method.
        if agrees_as_cluster(read.body.paragraphs, story_cluster(tree, read.headline)):
            return "the page's paragraph cluster agrees"
        if agrees_as_copy(read.body.paragraphs, meta.article_body):
            return "the JSON-LD articleBody agrees"
        return None

    judgement = judge(read.body.paragraphs, baseline, lambda: Links(tree), evidence)
    trace.verdict = judgement.verdict
    if judgement.paragraphs is None:
        raise NoArticle(f"{final_url or 'page'}: no article text found ({judgement.verdict.reason})")
    if not judgement.baseline:
        return read.body, read.extractor
    base = held["base"]
    set_aside = [(p, NET, "safety net: ours, set aside for trafilatura's") for p in read.body.paragraphs
                 if p not in base.rules]
    body = Body(base.paragraphs, base.rules, read.body.dropped + tuple(set_aside) + base.dropped,
                {**base.notes, "text": f"generic:trafilatura default (safety net: {judgement.verdict.reason})"})
    extractor = read.extractor if read.extractor != f"profile:{getattr(profile, 'name', '')}" \
        else f"{read.extractor}+generic"
    return body, extractor


def extract(html: bytes | str, url: str | None = None, headers: Mapping[str, str] | None = None,
            *, final_url: str | None = None, profiles: Mapping[str, Profile] | None = None,
            template: SiteTemplate | None = None, trace: Trace | None = None) -> Article:
    """The article record of one page. Raises ExtractionError when the page has no article text.

    ``final_url`` is the address after redirects (default ``url``); ``profiles`` replaces the
    built-in site profiles (e.g. ``load_profiles(config)``); ``template`` is the site's learned
    template (scraper.extract.templates), whose blocks are removed before the body is extracted,
    unless that would remove most of the body (``TEMPLATE_MAX_CUT``); ``trace``
    (scraper.extract.trace) receives every decision taken, for `explain`.
    """
    trace = trace if trace is not None else Trace()
    if isinstance(html, bytes):
        if len(html) > MAX_PAGE_CHARS:   # before decoding (and detecting the charset of) 50 MB
            raise ExtractionError(f"the page is {len(html) / 1048576:.0f} MB, more than the "
                                  f"{MAX_PAGE_CHARS // 1048576} MB an article page can be; refused")
        from ..charset import decode_html   # here: charset is only needed for bytes
        html, _ = decode_html(html, _header(headers, "content-type"))
    final_url = final_url or url
    if template is None or template.empty:
        return _extract(html, url, final_url, profiles, None, trace)
    try:
        article, failure = _extract(html, url, final_url, profiles, template, trace), None
    except ExtractionError as exc:
        article, failure = None, exc
    if trace.removed_by(TEMPLATE) and _template_may_cut_body(trace, article):
        plain_trace = Trace(detailed=trace.detailed)
        try:
            plain = _extract(html, url, final_url, profiles, None, plain_trace)
        except ExtractionError:
            plain = None
        kept = len(article.text) if article is not None else 0
        if plain is not None and kept < (1 - TEMPLATE_MAX_CUT) * len(plain.text):
            note = (f"learned template not applied: it would have removed {1 - kept / len(plain.text):.0%} "
                    f"of the body ({len(plain.text) - kept:,} of {len(plain.text):,} characters)")
            trace.adopt(plain_trace)
            trace.note(TEMPLATE, note)
            return plain.replace(provenance={**plain.provenance, "template": note})
    if failure is not None:
        raise failure
    return article


# A learned template is what a site's pages share, which article text is not, except on a site whose
# stories repeat their sentences once numbers are masked (a standard disclaimer, a "read also" line
# are legitimately cut; whole paragraphs of a formulaic story are not). So the template's cut is held
# against the body read without it, as the extractor's safety net holds ours against a baseline: a
# template that would remove more than this share of the body is not applied to the page.
TEMPLATE_MAX_CUT = 0.5


def _template_may_cut_body(trace: Trace, article: Article | None) -> bool:
    """Whether the template's blocks held enough text to be most of the body: the comparison with
    the body read without the template (a second extraction) is needed only then. The text the
    template cut from the body lies in the blocks it removed, so blocks holding less text than the
    body kept cannot have been most of it."""
    if article is None:
        return True
    removed = sum(len(normalize_space(r.element.text_content())) for r in trace.removals if r.stage == TEMPLATE)
    return removed * (1 - TEMPLATE_MAX_CUT) > len(article.text) * TEMPLATE_MAX_CUT


def _extract(html: str, url: str | None, final_url: str | None, profiles: Mapping[str, Profile] | None,
             template: SiteTemplate | None, trace: Trace) -> Article:
    """One extraction of the decoded page, with ``template`` stripped first when given."""
    tree = parse_html(html)
    trace.start(tree)
    profile = profile_for_page(tree, url, final_url, profiles)
    meta = extract_metadata(tree, final_url, profile)
    provenance: dict = dict(meta.provenance)
    if profile and meta.section is None and (section := _section_from_url(profile, final_url)):
        meta, provenance["section"] = meta.replace(section=section), "profile:section_url"
    trace.meta, trace.profile = meta, profile
    for message in meta.ignored:
        trace.note(METADATA, f"ignored {message}")
    if template is not None:
        # After the metadata (it reads the whole page), before the body (the template is chrome).
        for el, block in find_template_blocks(tree, template):
            trace.remove(el, TEMPLATE, f"learned template (on {block.pages} of {template.pages} pages)")
        if stripped := trace.removed_by(TEMPLATE):
            provenance["template"] = f"{stripped} learned template block(s) removed"
    read = _body(tree, profile, meta, final_url, trace)
    trace.source = read.body.notes["text"]
    body, extractor = _judged(read, html, tree, meta, profile, final_url, trace)
    trace.source = body.notes["text"]
    provenance.update(body.notes)
    body.record(trace)
    text = "\n\n".join(body.paragraphs)
    # Counted once on the text: its paragraphs' words are its words (no word spans the blank line).
    word_count = len(_WORD.findall(text))
    if word_count < _MIN_WORDS:
        raise NoArticle(f"{final_url or 'page'}: no article text found")
    title = normalize_space(meta.title) if meta.title else None
    return Article(
        url=url, final_url=final_url, canonical_url=meta.canonical_url,
        site=profile.name if profile else (host_key(final_url) if final_url else None) or None,
        title=title, published=meta.published, modified=meta.modified,
        author=meta.author, section=meta.section, tags=list(meta.tags),
        summary=normalize_space(meta.summary) if meta.summary else None, text=text,
        language=meta.language, image=meta.image,
        word_count=word_count,
        content_hash=hashlib.sha256(f"{title or ''}\n\n{text}".encode("utf-8")).hexdigest(),
        extractor=extractor, provenance=provenance,
    )


def extract_page(page: Page, profiles: Mapping[str, Profile] | None = None,
                 template: SiteTemplate | None = None) -> Article:
    """The record of a fetched Page (its decoded html; url and final_url from the fetch)."""
    return extract(page.html, page.url, page.headers, final_url=page.final_url, profiles=profiles,
                   template=template)
