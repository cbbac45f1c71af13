"""Showing benchmark results: the side-by-side table, the per-page losses, the JSON file."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

from bench.corpus import CorpusPage
from bench.extractors import Extractor
from bench.run import LOST_MARGIN, UNDER, PageResult, Summary, half, lost_pages, summarize

OURS, REFERENCE = "scraper", "trafilatura"
ALL = "all"
COLUMNS = ("set", "extractor", "pages", "errors", "F1", "P", "R", "lost", "<0.5", "title",
           "time exact", "same-day", "author", "leaks", "median ms", "×trafilatura")
HALVES = ("half A", "half B")


def _scope(results: dict[str, list[PageResult]], keep) -> dict[str, Summary]:
    reference = results.get(REFERENCE)
    picked = {name: [r for r in rows if keep(r)] for name, rows in results.items()}
    return {name: summarize(rows, None if name == REFERENCE or reference is None
                            else picked[REFERENCE])
            for name, rows in picked.items()}


def summaries(results: dict[str, list[PageResult]], split: bool = False) -> dict[str, dict[str, Summary]]:
    """{scope: {extractor: Summary}}: the whole run, then each folder when there are several, then
    with ``split`` the two halves of the publishers (bench.run.half)."""
    scopes = {ALL: _scope(results, lambda r: True)}
    subsets = list(dict.fromkeys(r.subset for rows in results.values() for r in rows))
    if len(subsets) > 1:
        for subset in subsets:
            scopes[subset] = _scope(results, lambda r, subset=subset: r.subset == subset)
    if split:
        for name in HALVES:
            scopes[name] = _scope(results, lambda r, h=name[-1]: half(r.page) == h)
    return scopes


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _row(scope: str, extractor: Extractor, s: Summary, reference_ms: float | None) -> list[str]:
    ratio = (s.median_ms / reference_ms) if s.median_ms and reference_ms else None
    return [
        scope, extractor.name, str(s.pages), str(s.errors),
        _num(s.f1), _num(s.precision), _num(s.recall), "—" if s.lost is None else str(s.lost),
        str(s.under_half), _num(s.title),
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


def failure_notes(scopes: dict[str, dict[str, Summary]], results: dict[str, list[PageResult]]) -> list[str]:
    """What the "lost" and "<0.5" columns count, and the pages behind them (all pages of the run)."""
    notes = [f"lost: pages where the body F1 is more than {LOST_MARGIN} below {REFERENCE}'s; "
             f"<0.5: pages under {UNDER} F1"]
    reference = results.get(REFERENCE)
    for name, rows in results.items():
        under = [r for r in rows if r.body.f1 < UNDER]
        if under:
            against = {(r.subset, r.page): r.body.f1 for r in reference or ()}
            notes.append(f"{name} under {UNDER}: " + ", ".join(
                f"{r.page} {r.body.f1:.2f}" + (f" ({REFERENCE} {against[(r.subset, r.page)]:.2f})"
                                                 if name != REFERENCE and against else "")
                for r in under))
        if name != REFERENCE and reference is not None and (lost := lost_pages(rows, reference)):
            notes.append(f"{name} lost: " + ", ".join(
                f"{o.page} {o.body.f1:.2f} vs {r.body.f1:.2f}" for o, r in lost))
    return notes


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
