"""extract() against trafilatura's default extract, page by page in one process, as ratios.

    python bench/extract_speed.py [--repeat N] [--corpus DIR] [--profile FILE]

For each corpus page, in turn: scraper.extract(html, url=url) and trafilatura.extract(html, url=url)
with trafilatura's defaults (the plain text of the main content, no metadata), each called N times
(default 5), the fastest kept. Load from other work on the shared machine falls on both alike; CPU
time (process_time) is printed beside wall time since it moves less with the load. --profile FILE
writes a cProfile of extract() alone over the corpus (pstats format) instead of timing.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make `bench` and `scraper` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import DEFAULT_CORPUS, default_folders, load_folder  # noqa: E402
from scraper.errors import ExtractionError  # noqa: E402
from scraper.extract import extract  # noqa: E402


def _ours(page) -> None:
    try:
        extract(page.html, url=page.url)
    except ExtractionError:
        pass


def _theirs(page) -> None:
    import trafilatura

    trafilatura.extract(page.html, url=page.url)


def _best(call, page, repeat: int) -> tuple[float, float]:
    wall = cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        call(page)
        wall, cpu = min(wall, time.perf_counter() - w), min(cpu, time.process_time() - c)
    return wall * 1000, cpu * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/extract_speed.py", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--profile", type=Path, metavar="FILE")
    args = parser.parse_args(argv)
    pages = [p for folder in default_folders(args.corpus) for p in load_folder(folder, folder.name)]
    if not pages:
        print(f"error: no corpus under {args.corpus}", file=sys.stderr)
        return 2
    _ours(pages[0]), _theirs(pages[0])      # imports and first-call caches out of the timing
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
        for page in pages:
            _ours(page)
        profiler.disable()
        profiler.dump_stats(args.profile)
        print(f"profile of extract() over {len(pages)} pages written to {args.profile}")
        return 0
    ours, theirs = [], []
    for page in pages:
        ours.append(_best(_ours, page, args.repeat))
        theirs.append(_best(_theirs, page, args.repeat))
    print(f"{len(pages)} pages, the fastest of {args.repeat} calls each")
    for i, what in enumerate(("wall", "CPU")):
        a, b = [t[i] for t in ours], [t[i] for t in theirs]
        print(f"  {what:4}: scraper.extract median {statistics.median(a):.1f} ms, trafilatura.extract "
              f"median {statistics.median(b):.1f} ms: x{statistics.median(a) / statistics.median(b):.2f} "
              f"(per-page ratio median x{statistics.median(x / y for x, y in zip(a, b)):.2f}, "
              f"total x{sum(a) / sum(b):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
