"""Showing benchmark results: the side-by-side table, the per-page losses, the JSON file."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

from bench.corpus import CorpusPage
from bench.extractors import Extractor
from bench.run import PageResult, Summary, summarize

OURS, REFERENCE = "scraper", "trafilatura"
ALL = "all"
COLUMNS = ("set", "extractor", "pages", "errors", "F1", "P", "R", "title", "time exact",
           "same-day", "author", "leaks", "median ms", "×trafilatura")


def summaries(results: dict[str, list[PageResult]]) -> dict[str, dict[str, Summary]]:
    """{scope: {extractor: Summary}}: the whole run, then each folder when there are several."""
    scopes = {ALL: {name: summarize(rows) for name, rows in results.items()}}
    subsets = list(dict.fromkeys(r.subset for rows in results.values() for r in rows))
    if len(subsets) > 1:
        for subset in subsets:
            scopes[subset] = {name: summarize([r for r in rows if r.subset == subset])
                              for name, rows in results.items()}
    return scopes


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _row(scope: str, extractor: Extractor, s: Summary, reference_ms: float | None) -> list[str]:
    ratio = (s.median_ms / reference_ms) if s.median_ms and reference_ms else None
    return [
        scope, extractor.name, str(s.pages), str(s.errors),
        _num(s.f1), _num(s.precision), _num(s.recall), _num(s.title),
        _num(s.time_exact) if extractor.measures_time else "n/a",
        _num(s.same_day) if extractor.measures_time else "n/a",
        _num(s.author) if extractor.measures_author else "n/a",
        str(s.leak_pages), _num(s.median_ms, 1), "—" if ratio is None else f"{ratio:.2f}",
    ]


def table(scopes: dict[str, dict[str, Summary]], extractors: Sequence[Extractor]) -> str:
    rows = [list(COLUMNS)]
    for scope, by_name in scopes.items():
        reference = by_name.get(REFERENCE)
        reference_ms = reference.median_ms if reference else None
        rows += [_row(scope, e, by_name[e.name], reference_ms) for e in extractors]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w)
                       for i, (cell, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def error_notes(scopes: dict[str, dict[str, Summary]]) -> list[str]:
    return [f"{name}: {s.errors} page(s) raised, scored as empty; first: {s.first_error}"
            for name, s in scopes[ALL].items() if s.errors]


def leak_notes(scopes: dict[str, dict[str, Summary]]) -> list[str]:
    return [f"{name} leaks: " + ", ".join(f"«{m}» ×{n}" for m, n in s.leak_counts.items())
            for name, s in scopes[ALL].items() if s.leak_counts]


def losses(results: dict[str, list[PageResult]], pages: Sequence[CorpusPage],
           margin: float = 0.01) -> list[str]:
    """Pages where this project does worse than trafilatura (body F1 lower by more than ``margin``,
    or a title or time trafilatura gets right and we do not), worst body first."""
    if OURS not in results or REFERENCE not in results:
        return [f"(--details compares {OURS} with {REFERENCE}; both must be in the run)"]
    truth = {(p.subset, p.name): p.truth for p in pages}
    lost = []
    for ours, theirs in zip(results[OURS], results[REFERENCE]):
        gap = theirs.body.f1 - ours.body.f1
        title_lost = theirs.title_ok and not ours.title_ok
        time_lost = theirs.time_exact and not ours.time_exact
        if gap > margin or title_lost or time_lost or ours.error:
            lost.append((gap, ours, theirs, truth[(ours.subset, ours.page)]))
    lines = []
    for gap, ours, theirs, t in sorted(lost, key=lambda item: -item[0]):
        lines.append(f"{ours.subset}/{ours.page}  F1 ours {ours.body.f1:.3f}"
                     f" vs trafilatura {theirs.body.f1:.3f}")
        if ours.error:
            lines.append(f"    error: {ours.error}")
        if not ours.title_ok:
            lines.append(f"    title: {ours.title!r}  truth: {t.title!r}")
        if not ours.time_exact and theirs.time_exact:
            lines.append(f"    time:  {ours.published!r}  truth: {t.published!r}")
        if ours.leaks:
            lines.append(f"    leaks: {', '.join(ours.leaks)}")
    return lines or ["(no page where scraper loses to trafilatura)"]


def _page_dict(r: PageResult) -> dict:
    row = dataclasses.asdict(r)
    row["body"] = {"tp": r.body.tp, "fp": r.body.fp, "fn": r.body.fn, "f1": r.body.f1,
                   "precision": r.body.precision, "recall": r.body.recall}
    return row


def write_json(path: Path, scopes: dict[str, dict[str, Summary]], extractors: Sequence[Extractor],
               results: dict[str, list[PageResult]], meta: dict) -> None:
    data = {
        **meta,
        "extractors": {e.name: {"version": e.version, "options": e.options,
                                "measures_time": e.measures_time,
                                "measures_author": e.measures_author} for e in extractors},
        "summary": {scope: {name: dataclasses.asdict(s) for name, s in by_name.items()}
                    for scope, by_name in scopes.items()},
        "pages": {name: [_page_dict(r) for r in rows] for name, rows in results.items()},
    }
    for scope in data["summary"].values():
        reference = scope.get(REFERENCE, {}).get("median_ms")
        for s in scope.values():
            s["ratio_to_trafilatura"] = (s["median_ms"] / reference
                                         if s["median_ms"] and reference else None)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
