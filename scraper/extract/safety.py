"""The safety net: before `extract` returns, our body is held against the generic baseline's.

Our rules sit on top of trafilatura, and on a site nobody tuned for one of them can cut the story
short or let the menus through where trafilatura alone was right (issue 12). So the body as a whole
is judged once more, by kinds of evidence rather than by page:

- A body that is mostly navigation (lines that are the text of a link, or short menu lines) is
  refused whatever else is said for it: the baseline's body is taken if it is not navigation too,
  and otherwise the page has no article.
- Where ours and the baseline disagree massively (ours keeps less than half of the baseline's
  text, or ours is much more navigation than the baseline), ours stands only with positive
  evidence: a site profile, a learned template, a JSON-LD articleBody that agrees with it, or a
  second independent method that agrees (the page's own cluster of paragraphs around the
  headline's story, which ours must hold). Otherwise the baseline's body is taken.

The baseline is trafilatura's own default extraction (its fallbacks included) of the page as
parsed, before any of our pruning. Evidence is looked at first because it costs nothing, so the
baseline, a second trafilatura run, is only computed for a body that nothing vouches for (and not
at all when the generic path's own run already was it). The decision is the same in either order.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

from lxml import etree

from .boilerplate import fold, normalize_space
from .trace import Verdict

NAV_REFUSED = 0.5   # half of a body's text in navigation lines: it is the page's menus, not a story
NAV_SUSPECT = 0.3   # a third: it stands only with evidence, or with a baseline as much navigation
KEEP_MIN = 0.5      # ours keeping less than half of the baseline's text disagrees massively
AGREES = 0.8        # a second source agrees when ours holds this share of its text
SHINGLE = 4         # texts are compared in runs of this many words (the benchmark's shingles)
MENU_WORDS = 3      # a line this short without a sentence's end is a menu item, a label, a button
_MENU_CHARS = 40    # (and this short: a line of Chinese or Japanese is one "word" to \w+)
LINK_WORDS = 25     # a line of this many words is a paragraph, never a menu item or a linked headline
_LINK_RUN_WORDS = 2 * LINK_WORDS   # a longer link is a paragraph linked whole, not navigation
_LINK_RUN_CHARS = 40 * _LINK_RUN_WORDS
_COVER_CHARS = 10_000              # a line's share of link text is read on its start (bounded work)
LABEL_RUN_WORDS = 25   # this many words without one punctuation mark are labels in a row, not prose
_PUNCTUATION = re.compile(r"[.,;:!?؟،؛。、，．！？…]")
# A sentence's full stop (a quote may close after it): prose. Menu items and linked headlines
# do not end so, which spares asking for the page's links on most pages.
_PROSE_END = re.compile(r"[.。۔][\"'”’»)]*\s*$")
EVIDENCE_CHARS = 400   # a second source shorter than this vouches for nothing
_MIN_WORDS = 5         # a baseline shorter than this is no article either

_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?؟۔。！？…:»\"”')]\s*$")
# A copy cut short by its publisher: it ends in an ellipsis or a "read more".
_TRUNCATED = re.compile(r"(\.\.\.|…|\[…\]|\[\.\.\.\])\s*$")

# The second method: paragraphs of running text (not links), grouped by the element holding them.
_PARAGRAPHS = etree.XPath("//p")
_STORY_CLUSTER_MIN = 25   # characters: shorter paragraphs are labels, not running text
_SIBLING_SHARE = 0.2      # a sibling block with this share of the best block's text is the same story


def _tokens(text: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(text.lower()))


class Links:
    """The text of every link on the page, as word sequences, to tell how much of a line is link
    text: a menu item, a linked headline, or a menu printed as one line with the page around it."""

    def __init__(self, tree) -> None:
        self._runs: set[tuple[str, ...]] = set()
        lengths: dict[str, set[int]] = {}       # first word -> the word counts of links starting so
        for a in tree.iter("a"):
            text = a.text_content()
            if len(text) > _LINK_RUN_CHARS:
                continue
            words = _tokens(text)
            if words and len(words) <= _LINK_RUN_WORDS:
                self._runs.add(words)
                lengths.setdefault(words[0], set()).add(len(words))
        # The longest link first: it covers the most.
        self._lengths = {first: sorted(ns, reverse=True) for first, ns in lengths.items()}

    def covered(self, line: str) -> float:
        """The share of the line's words (read on its first _COVER_CHARS characters) that are link
        texts of the page, in sequence: at each word, one lookup per length of the links starting
        with that word."""
        words = _tokens(line[:_COVER_CHARS])
        i = hit = 0
        while i < len(words):
            for n in self._lengths.get(words[i], ()):
                if words[i:i + n] in self._runs:
                    hit += n
                    i += n
                    break
            else:
                i += 1
        return hit / len(words) if words else 0.0


def _label_run(line: str) -> bool:
    """Whether the line has LABEL_RUN_WORDS words in a row without a punctuation mark: labels
    printed one after the other (a menu, a tag cloud), since no prose runs that long without one."""
    return len(line) > 2 * LABEL_RUN_WORDS and any(
        len(run.split()) >= LABEL_RUN_WORDS for run in _PUNCTUATION.split(line[:_COVER_CHARS]))


def _label_line(line: str, words: int) -> bool:
    """A menu item or a label: a few words, no sentence end."""
    return words <= MENU_WORDS and len(line) <= _MENU_CHARS and not _SENTENCE_END.search(line)


def navigation_share(paragraphs: Sequence[str], links: Callable[[], Links], exact: bool = False) -> float:
    """The share of the body's characters in navigation: label lines (_label_line) and link text
    (each line counted for the share of its words that are link texts of the page, in sequence).

    ``links`` is asked only when the lines that could be link text reach NAV_SUSPECT: a short line
    not ending as a sentence does (a menu item, a linked headline) or one with a run of
    LABEL_RUN_WORDS words and no punctuation (a menu printed as one line). Prose is neither; below
    that (unless ``exact``) the share returned is the label lines' alone.
    """
    total = sum(map(len, paragraphs))
    if not total:
        return 0.0
    labels, maybe = 0, []
    for p in paragraphs:
        if len(p) <= _MENU_CHARS and _label_line(p, len(_WORD.findall(p))):
            labels += len(p)
        elif (not _PROSE_END.search(p) and len(_WORD.findall(p, 0, _COVER_CHARS)) < LINK_WORDS) \
                or _label_run(p):
            maybe.append(p)
    if not exact and (labels + sum(map(len, maybe))) / total < NAV_SUSPECT:
        return labels / total
    page = links()
    return (labels + sum(len(p) * page.covered(p) for p in maybe)) / total


def _shingles(paragraphs: Sequence[str]) -> Counter:
    """Runs of SHINGLE words (a shorter paragraph is one run), as the benchmark's metric compares
    texts: a story's words recur in its other paragraphs, its phrases do not."""
    runs: Counter = Counter()
    for p in paragraphs:
        words = _WORD.findall(fold(p))
        runs.update(zip(*(words[i:] for i in range(SHINGLE))) if len(words) >= SHINGLE else [tuple(words)])
    return runs


def kept_share(ours: Sequence[str], other: Sequence[str]) -> float:
    """The share of ``other``'s text that ``ours`` holds, in runs of SHINGLE words; its lines that
    ours holds verbatim count whole without being compared. A line repeated in ``other`` counts
    once (a repeated label, «External content not available», is no story text)."""
    lines = list(dict.fromkeys(other))
    mine = set(ours)
    rest = [p for p in lines if p not in mine]
    held = sum(_shingle_count(p) for p in lines if p in mine)
    theirs = _shingles(rest)
    total = held + sum(theirs.values())
    if not total:
        return 1.0
    if theirs:   # compared with the lines of ours that ``other`` does not hold verbatim
        shared = set(lines)
        held += sum((_shingles([p for p in ours if p not in shared]) & theirs).values())
    return held / total


def _shingle_count(paragraph: str) -> int:
    words = len(_WORD.findall(paragraph))
    return max(words - SHINGLE + 1, 1) if words else 0


def story_cluster(tree, headline=None) -> list[str]:
    """The second, independent method: the page's cluster of running-text paragraphs.

    Each paragraph of running text (not mostly link text) counts for the element holding it and
    half for that element's parent; the best element, with its sibling blocks holding a fifth of
    its text or more (sections between sub-headlines, text between inline boxes), is the story.
    Paragraphs inside an <article> other than the headline's (or one holding it) are other
    stories (the next ones of an endless page, teaser cards) and do not count. Blind to
    trafilatura's scoring and to our rules, so its agreement is evidence.
    """
    own = next(headline.iterancestors("article"), None) if headline is not None else None
    mine = {own, *own.iterancestors("article")} if own is not None else set()
    texts: list = []
    scores: dict = {}
    for p in _PARAGRAPHS(tree):
        text = p.text_content()
        n = len(text)    # spaces included: a measure, not the text compared
        if n < _STORY_CLUSTER_MIN or sum(len(a.text_content()) for a in p.iter("a")) * 2 > n:
            continue
        if mine and any(a not in mine for a in p.iterancestors("article")):
            continue
        texts.append((p, text))
        parent = p.getparent()
        if parent is None:
            continue
        scores[parent] = scores.get(parent, 0) + n
        grandparent = parent.getparent()
        if grandparent is not None:
            scores[grandparent] = scores.get(grandparent, 0) + n / 2
    if not scores:
        return []
    best = max(scores, key=scores.get)
    parent = best.getparent()
    story = {best} | ({el for el in parent if scores.get(el, 0) >= _SIBLING_SHARE * scores[best]}
                      if parent is not None else set())
    return [normalize_space(text) for p, text in texts if any(a in story for a in p.iterancestors())]


def agrees_as_copy(ours: Sequence[str], article_body: str | None) -> bool:
    """Whether the JSON-LD articleBody vouches for ours: a whole copy (not one cut short with an
    ellipsis) of at least EVIDENCE_CHARS, that ours holds and that holds ours."""
    if not article_body or len(article_body) < EVIDENCE_CHARS or _TRUNCATED.search(article_body):
        return False
    copy = [line for line in map(normalize_space, article_body.split("\n")) if line]
    return kept_share(ours, copy) >= AGREES and kept_share(copy, ours) >= AGREES


def agrees_as_cluster(ours: Sequence[str], cluster: Sequence[str]) -> bool:
    """Whether the second method vouches for ours: ours holds the page's story cluster."""
    return sum(map(len, cluster)) >= EVIDENCE_CHARS and kept_share(ours, cluster) >= AGREES


@dataclass(frozen=True)
class Judgement:
    """What the safety net decided: the paragraphs to keep (None: the page has no article) and why."""

    paragraphs: tuple[str, ...] | None
    verdict: Verdict

    @property
    def baseline(self) -> bool:
        return self.verdict.taken == "baseline"


def judge(ours: Sequence[str], baseline: Callable[[], Sequence[str] | None], links: Callable[[], Links],
          evidence: Callable[[], str | None]) -> Judgement:
    """Our body against the baseline's. ``baseline`` computes the baseline's clean paragraphs (None
    when it cannot be afforded: a page far larger than any article), ``links`` the page's link texts
    (Links) and ``evidence`` names what vouches for ours (None if nothing does); each is called only
    if needed, and at most once."""
    known: dict[str, Links] = {}

    def link_texts() -> Links:
        if "links" not in known:
            known["links"] = links()
        return known["links"]

    ours = tuple(ours)
    nav = navigation_share(ours, link_texts)
    if nav >= NAV_REFUSED:
        computed = baseline()
        if computed is None:
            return Judgement(None, Verdict("none", f"the page's text is navigation ({nav:.0%} of ours in "
                                           f"link or menu lines; the page is too large for a second reading)"))
        base = tuple(computed)
        base_nav = navigation_share(base, link_texts)
        if _substantial(base) and base_nav < NAV_REFUSED:
            return Judgement(base, Verdict("baseline", f"ours was navigation ({nav:.0%} of its text in "
                                           f"link or menu lines); trafilatura's has {base_nav:.0%}"))
        return Judgement(None, Verdict("none", f"the page's text is navigation: {nav:.0%} of ours and "
                                       f"{base_nav:.0%} of trafilatura's in link or menu lines"))
    if (vouched := evidence()) is not None:
        return Judgement(ours, Verdict("ours", "not compared with trafilatura's", vouched))
    computed = baseline()
    if computed is None:
        return Judgement(ours, Verdict("ours", "not compared: the page is too large for a second reading"))
    base = tuple(computed)
    keep = kept_share(ours, base)
    base_nav = navigation_share(base, link_texts, exact=nav >= NAV_SUSPECT)
    less = keep < KEEP_MIN and _count(base) > _count(ours)
    menus = nav >= NAV_SUSPECT and base_nav <= nav / 2
    if (less or menus) and _substantial(base) and base_nav < NAV_REFUSED:
        why = (f"ours kept {keep:.0%} of trafilatura's text" if less else
               f"ours was {nav:.0%} navigation, trafilatura's {base_nav:.0%}")
        return Judgement(base, Verdict("baseline", f"{why}, and nothing vouched for ours"))
    return Judgement(ours, Verdict("ours", f"holds {keep:.0%} of trafilatura's text"
                                   + (f", {nav:.0%} navigation" if nav >= NAV_SUSPECT else "")))


def _count(paragraphs: Sequence[str]) -> int:
    return sum(len(_WORD.findall(p)) for p in paragraphs)


def _substantial(paragraphs: Sequence[str]) -> bool:
    return _count(paragraphs) >= _MIN_WORDS
