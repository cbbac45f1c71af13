"""Running every extractor on every page (timed on the same bytes) and summarising the scores.

Pages are the outer loop and extractors the inner one, so load from other processes on the machine
falls on all columns alike instead of on whichever extractor happened to run during it.
"""
from __future__ import annotations

import hashlib
import re
import statistics
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from bench import scoring
from bench.corpus import CorpusPage
from bench.extractors import Extractor, Prediction


@dataclass
class PageResult:
    page: str
    subset: str
    body: scoring.BodyCounts
    title_ok: bool
    time_exact: bool
    same_day: bool
    author_ok: bool | None        # None: the truth does not say who wrote the page
    leaks: list[str]
    ms: float | None              # None when the extractor raised (failures are not timed)
    error: str | None
    title: str | None
    published: str | None


@dataclass
class Summary:
    pages: int
    errors: int
    f1: float
    precision: float | None
    recall: float | None
    title: float
    time_exact: float
    same_day: float
    author: float | None
    author_pages: int
    leak_pages: int
    median_ms: float | None
    first_error: str | None = None
    leak_counts: dict[str, int] = field(default_factory=dict)
    under_half: int = 0               # pages whose body F1 is under UNDER
    lost: int | None = None           # pages more than LOST_MARGIN below the reference (None: it is the reference)


def _call(extractor: Extractor, page: CorpusPage, repeat: int) -> tuple[Prediction, float | None, str | None]:
    """The prediction from the first call, the fastest of ``repeat`` calls in ms (the least disturbed
    by other work on the machine), or an empty prediction and the error when it raises."""
    times = []
    prediction = None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        try:
            result = extractor.run(page.html, page.url)
        except Exception as exc:  # noqa: BLE001 - any failure is a scored, counted empty page
            return Prediction(), None, f"{type(exc).__name__}: {exc}"
        times.append((time.perf_counter() - start) * 1000)
        if prediction is None:
            prediction = result
    return prediction, min(times), None


def score_page(page: CorpusPage, prediction: Prediction, markers: Sequence[str],
               ms: float | None = None, error: str | None = None) -> PageResult:
    truth = page.truth
    exact, same_day = scoring.time_matches(truth.published, prediction.published)
    author_ok = None if truth.authors is None else scoring.author_matches(truth.authors, prediction.author)
    if error:   # a page that raised answered nothing: no credit for a null that matches a null
        exact = same_day = False
        author_ok = None if author_ok is None else False
    predicted_text = f"{prediction.title or ''}\n\n{prediction.text or ''}"
    return PageResult(
        page=page.name, subset=page.subset,
        body=scoring.body_counts(truth.body, prediction.text),
        title_ok=not error and scoring.title_matches(truth.title, prediction.title),
        time_exact=exact, same_day=same_day, author_ok=author_ok,
        leaks=scoring.leaked_markers(markers, truth.text, predicted_text),
        ms=ms, error=error, title=prediction.title, published=prediction.published,
    )


def run_benchmark(pages: Sequence[CorpusPage], extractors: Sequence[Extractor], repeat: int = 1,
                  markers: Sequence[str] | None = None, progress=None) -> dict[str, list[PageResult]]:
    markers = scoring.load_markers() if markers is None else markers
    if pages:
        for extractor in extractors:   # warm-up: imports, caches and lazy setup stay out of the times
            _call(extractor, pages[0], 1)
    results: dict[str, list[PageResult]] = {e.name: [] for e in extractors}
    for i, page in enumerate(pages):
        for extractor in extractors:
            prediction, ms, error = _call(extractor, page, repeat)
            results[extractor.name].append(score_page(page, prediction, markers, ms, error))
        if progress:
            progress(i + 1, len(pages))
    return results


# A page is lost when this project's body F1 is more than LOST_MARGIN below trafilatura's on it, and
# fails when its F1 is under UNDER: the failures an average hides (issue 12).
LOST_MARGIN = 0.05
UNDER = 0.5


def publisher(page: str) -> str:
    """The publisher of a corpus page from its name: «de/ZDF_2024_04_22» -> «ZDF» (the crawl date,
    and any folder, left out), so every page of one publisher lands in the same half."""
    base = page.rsplit("/", 1)[-1]
    return re.sub(r"_\d{4}_\d{2}_\d{2}$", "", base) or base


def half(page: str) -> str:
    """"A" or "B": the half of the corpus a page's publisher falls in, by a stable hash of its name
    (the same on every machine and run, unlike Python's hash()). Rules are written looking at half A
    and kept only if half B agrees."""
    return "AB"[hashlib.sha256(publisher(page).encode("utf-8")).digest()[0] % 2]


def lost_pages(ours: Sequence[PageResult], reference: Sequence[PageResult],
               margin: float = LOST_MARGIN) -> list[tuple[PageResult, PageResult]]:
    """(ours, reference) of each page where ours scores more than ``margin`` below the reference."""
    return [(o, r) for o, r in zip(ours, reference) if r.body.f1 - o.body.f1 > margin]


def _rate(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return sum(flags) / len(flags) if flags else 0.0


def summarize(results: Sequence[PageResult], reference: Sequence[PageResult] | None = None) -> Summary:
    """The scores of one extractor's ``results``; ``reference``: the reference extractor's results on
    the same pages in the same order, to count the pages lost to it."""
    body = scoring.body_score(r.body for r in results)
    authors = [r.author_ok for r in results if r.author_ok is not None]
    times = [r.ms for r in results if r.ms is not None]
    errors = [r.error for r in results if r.error]
    leak_counts: dict[str, int] = {}
    for r in results:
        for marker in r.leaks:
            leak_counts[marker] = leak_counts.get(marker, 0) + 1
    return Summary(
        pages=len(results), errors=len(errors),
        f1=body.f1, precision=body.precision, recall=body.recall,
        title=_rate(r.title_ok for r in results),
        time_exact=_rate(r.time_exact for r in results),
        same_day=_rate(r.same_day for r in results),
        author=_rate(authors) if authors else None, author_pages=len(authors),
        leak_pages=sum(1 for r in results if r.leaks),
        median_ms=statistics.median(times) if times else None,
        first_error=errors[0] if errors else None,
        leak_counts=dict(sorted(leak_counts.items(), key=lambda kv: -kv[1])),
        under_half=sum(1 for r in results if r.body.f1 < UNDER),
        lost=None if reference is None else len(lost_pages(results, reference)),
    )
