"""Command line of the extraction benchmark: this project vs trafilatura vs readability-lxml.

    python bench/extract.py [DIR...] [--only NAME] [--limit N] [--repeat N] [--json FILE] [--details] [--split]
                            [--perturb names|nometa]

Without DIR it runs over ../shared/corpus/news and ../shared/corpus/arabic (beside the repository);
each DIR is a folder of `<name>.html.gz` + `<name>.json` pages, searched at any depth.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make `bench` and `scraper` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import report  # noqa: E402
from bench.corpus import DEFAULT_CORPUS, default_folders, folder_labels, load_folder  # noqa: E402
from bench.extractors import NAMES, load_extractors  # noqa: E402
from bench.perturb import PERTURBATIONS  # noqa: E402
from bench.run import run_benchmark  # noqa: E402


def _names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown extractor {', '.join(unknown)}; "
                                         f"choose from {', '.join(NAMES)}")
    return list(dict.fromkeys(names))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/extract.py",
        description="Score extractors side by side on pages with known truth (body F1/P/R, title, "
                    "publication time, author, boilerplate leaks, speed).")
    parser.add_argument("dirs", nargs="*", type=Path, metavar="DIR",
                        help="folders of .html.gz + .json pages (default: news/ and arabic/ of --corpus)")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS,
                        help=f"corpus root used when no DIR is given (default: {DEFAULT_CORPUS})")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only these extractors (repeat or comma-separate: {', '.join(NAMES)})")
    parser.add_argument("--page", metavar="TEXT", help="only pages whose name contains TEXT")
    parser.add_argument("--limit", type=int, metavar="N", help="at most N pages from each folder")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="time each page N times and keep the fastest (default 1)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every number to FILE")
    parser.add_argument("--details", action="store_true",
                        help="list the pages where this project loses to trafilatura")
    parser.add_argument("--perturb", choices=sorted(PERTURBATIONS), action="append",
                        help="take one kind of evidence away from every page first (bench/perturb.py): "
                             "'names' renames every class and id, 'nometa' drops JSON-LD; repeatable")
    parser.add_argument("--split", action="store_true",
                        help="also report the corpus in two halves by publisher (a stable hash of its "
                             "name): write rules looking at half A, keep them only if half B agrees")
    args = parser.parse_args(argv)
    try:
        args.only = _names(args.only)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    if args.repeat < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--repeat and --limit must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    folders = args.dirs or default_folders(args.corpus)
    if not folders:
        print(f"error: no news/ or arabic/ folder under {args.corpus}; give DIR or --corpus",
              file=sys.stderr)
        return 2
    pages = []
    for folder, label in zip(folders, folder_labels(folders)):
        try:
            found = load_folder(folder, label)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.page:
            found = [p for p in found if args.page in p.name]
        pages += found[: args.limit] if args.limit else found
    for kind in args.perturb or ():
        pages = [replace(p, html=PERTURBATIONS[kind](p.html)) for p in pages]
    if not pages:
        print("error: no page to benchmark (.html.gz beside .json)", file=sys.stderr)
        return 2

    extractors, skipped = load_extractors(args.only)
    print(f"{len(pages)} pages from {', '.join(str(f) for f in folders)}; repeat={args.repeat}")
    for e in extractors:
        print(f"  {e.name} {e.version}: {e.options}")
    for note in skipped:
        print(f"  {note}")

    results = run_benchmark(pages, extractors, repeat=args.repeat)
    scopes = report.summaries(results, split=args.split)
    print()
    print(report.table(scopes, extractors))
    for note in report.error_notes(scopes) + report.leak_notes(scopes) + report.failure_notes(scopes, results):
        print(note)
    if args.details:
        print("\nPages where scraper loses to trafilatura:")
        print("\n".join(report.losses(results, pages)))
    runtime = time.perf_counter() - started
    print(f"\nbenchmark runtime {runtime:.1f} s")
    if args.json:
        report.write_json(args.json, scopes, extractors, results, {
            "folders": [str(f) for f in folders], "pages": len(pages), "repeat": args.repeat,
            "split": args.split,
            "skipped": skipped, "runtime_s": runtime,
        })
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
