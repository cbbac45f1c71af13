"""Scoring of one extraction against the corpus truth: body shingles, title, time, author, leaks.

Pure functions on strings, so tests can check each rule on hand-made texts. The body metric follows
the ScrapingHub article-extraction-benchmark (evaluate.py) so numbers compare with published ones:
``\\w+`` tokens (Unicode, case kept), multisets of 4-token shingles, per-page tp/fp/fn normalised to
sum 1, precision and recall averaged over pages, F1 the harmonic mean of those two averages.
"""
from __future__ import annotations

import re
import statistics
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Sequence

SHINGLE_SIZE = 4
_TOKEN = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")


# --- body ------------------------------------------------------------------------------------

def tokens(text: str | None) -> list[str]:
    return _TOKEN.findall(text or "")


def shingles(text: str | None, size: int = SHINGLE_SIZE) -> Counter:
    """Multiset of ``size``-token shingles; a text shorter than ``size`` tokens is one short shingle
    (as in the reference benchmark, so a three-word truth is still scored), an empty text none."""
    toks = tokens(text)
    if not toks:
        return Counter()
    if len(toks) < size:
        return Counter([tuple(toks)])
    return Counter(tuple(toks[i:i + size]) for i in range(len(toks) - size + 1))


@dataclass(frozen=True)
class BodyCounts:
    """tp/fp/fn of one page, normalised to sum 1 so long articles weigh no more than short ones."""

    tp: float
    fp: float
    fn: float

    @property
    def precision(self) -> float | None:
        """None when the page has no predicted shingles: the reference leaves it out of the mean."""
        if self.tp + self.fp == 0:
            return None
        return self.tp / (self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        """None when the page has no true shingles: left out of the mean, like the reference."""
        if self.tp + self.fn == 0:
            return None
        return self.tp / (self.tp + self.fn)

    @property
    def f1(self) -> float:
        """Per-page F1, only for the per-page listing (--details); the headline F1 is corpus-level."""
        if self.tp == self.fp == self.fn == 0:
            return 1.0  # nothing to find and nothing found
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn)


def body_counts(truth: str | None, prediction: str | None) -> BodyCounts:
    true, pred = shingles(truth), shingles(prediction)
    tp = sum((true & pred).values())
    fp = sum((pred - true).values())
    fn = sum((true - pred).values())
    total = tp + fp + fn
    if total == 0:
        return BodyCounts(0.0, 0.0, 0.0)
    return BodyCounts(tp / total, fp / total, fn / total)


@dataclass(frozen=True)
class BodyScore:
    precision: float | None   # None: no page had a prediction (every page failed or was empty)
    recall: float | None      # None: no page had a truth
    f1: float


def body_score(pages: Iterable[BodyCounts]) -> BodyScore:
    """Corpus-level score. An empty prediction counts as recall 0 and is left out of precision (the
    reference's rule), so failing on a page costs recall, never precision."""
    pages = list(pages)
    precisions = [p.precision for p in pages if p.precision is not None]
    recalls = [p.recall for p in pages if p.recall is not None]
    precision = statistics.fmean(precisions) if precisions else None
    recall = statistics.fmean(recalls) if recalls else None
    if not precision or not recall:
        # The reference would divide by zero here; 0 is what such a run deserves.
        return BodyScore(precision, recall, 0.0)
    return BodyScore(precision, recall, 2 * precision * recall / (precision + recall))


# --- title -----------------------------------------------------------------------------------

def fold_title(title: str | None) -> str:
    """NFKC, every whitespace run (incl. NBSP, newlines) to one space, trimmed; case is kept."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", title or "")).strip()


def title_matches(truth: str | None, prediction: str | None) -> bool:
    return fold_title(truth) == fold_title(prediction)


# --- publication time ------------------------------------------------------------------------

@dataclass(frozen=True)
class TimeValue:
    moment: datetime          # naive when the source gave no offset
    date_only: bool


def parse_time(value: str | None) -> TimeValue | None:
    """Parse an ISO string (``T`` or space separator, any offset form). A bare ``YYYY-MM-DD`` is
    date-only; so is a naive midnight, because the corpus writes a date-only truth that way."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    moment = datetime.fromisoformat(text)  # ValueError on garbage: the caller scores it as wrong
    date_only = len(text) == 10 or (moment.tzinfo is None and (moment.hour, moment.minute,
                                                                moment.second) == (0, 0, 0))
    return TimeValue(moment, date_only)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _local_day(value: TimeValue) -> date:
    return value.moment.date()   # the day as the page wrote it, in its own offset


def time_matches(truth: str | None, prediction: str | None) -> tuple[bool, bool]:
    """(exact, same_day) for one page.

    exact: both null; or the same instant to the minute (seconds dropped) when both carry an
    offset; or the same wall clock to the minute when either side has no offset (nothing better
    is knowable); a date-only side is exact only against another date-only side.
    same_day: exact, or the same calendar day as written, or (both with offsets) the prediction's
    instant falls on the truth's day in the truth's offset.
    A prediction that does not parse is wrong, never an exception.
    """
    try:
        pred = parse_time(prediction)
    except ValueError:
        return False, False
    true = parse_time(truth)
    if true is None or pred is None:
        both_null = true is None and pred is None
        return both_null, both_null
    if true.date_only or pred.date_only:
        exact = true.date_only and pred.date_only and _local_day(true) == _local_day(pred)
    elif true.moment.tzinfo is not None and pred.moment.tzinfo is not None:
        exact = _minute(true.moment) == _minute(pred.moment)   # aware: compares instants
    else:
        exact = _minute(true.moment.replace(tzinfo=None)) == _minute(pred.moment.replace(tzinfo=None))
    same_day = exact or _local_day(true) == _local_day(pred) or (
        not pred.date_only and true.moment.tzinfo is not None and pred.moment.tzinfo is not None
        and pred.moment.astimezone(true.moment.tzinfo).date() == true.moment.date())
    return exact, same_day


# --- author ----------------------------------------------------------------------------------

# Separators between names in one author string ("A; B", "A, B and C", «أ و ب», «أ، ب»).
_AUTHOR_SPLIT = re.compile(r"\s*(?:[;,،|/]|\s(?:and|und|et|y|e|&|و)\s)\s*", re.IGNORECASE)


def author_names(value: str | Sequence[str] | None) -> frozenset[str]:
    """A set of folded names (case, NFKC and whitespace folded). A string is split at name
    separators; a list (the truth) is taken as already one name per item ("Smith, John" stays one)."""
    if value is None:
        return frozenset()
    parts = _AUTHOR_SPLIT.split(value) if isinstance(value, str) else list(value)
    return frozenset(name for p in parts if (name := fold_title(p).casefold()))


def author_matches(truth: Sequence[str], prediction: str | Sequence[str] | None) -> bool:
    return author_names(truth) == author_names(prediction)


# --- boilerplate leaks -----------------------------------------------------------------------

MARKERS_FILE = Path(__file__).with_name("boilerplate.txt")
# Arabic marks that vary between spellings of the same word: harakat, superscript alef, tatweel.
_ARABIC_MARKS = re.compile("[\u064b-\u0652\u0670\u0640]")
_ALEF_FORMS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})


def load_markers(path: Path = MARKERS_FILE) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _marker_tokens(text: str | None) -> list[str]:
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return tokens(_ARABIC_MARKS.sub("", folded).translate(_ALEF_FORMS))


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return n > 0 and any(tuple(haystack[i:i + n]) == tuple(needle)
                         for i in range(len(haystack) - n + 1))


def leaked_markers(markers: Iterable[str], truth_text: str, prediction_text: str) -> list[str]:
    """Markers present as whole words in the prediction (title + text) but not in the truth
    (title + body): words that are really part of an article never count as a leak."""
    true, pred = _marker_tokens(truth_text), _marker_tokens(prediction_text)
    found = []
    for marker in markers:
        needle = _marker_tokens(marker)
        if _contains(pred, needle) and not _contains(true, needle):
            found.append(marker)
    return found
