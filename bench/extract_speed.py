"""extract() against trafilatura's default extract, page by page in one process, as ratios.

    python bench/extract_speed.py [--repeat N] [--corpus DIR] [--before CHECKOUT] [--profile FILE]

For each corpus page, in turn: scraper.extract(html, url=url) and trafilatura.extract(html, url=url)
with trafilatura's defaults (the plain text of the main content, no metadata), each called N times
(default 5), the fastest kept. Load from other work on the shared machine falls on both alike; CPU
time (process_time) is printed beside wall time since it moves less with the load. --before
CHECKOUT also times the scraper package of another checkout (`git worktree add /tmp/before main`)
in the same turns, loaded under another name: a change's gain, measured beside trafilatura's.
--profile FILE writes a cProfile of extract() alone over the corpus (pstats format) instead of timing.
"""
from __future__ import annotations

import argparse
import importlib.util
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


def _load_before(checkout: Path):
    """extract() of the scraper package in ``checkout``, imported as ``scraper_before`` (its
    modules import each other relatively, so none of today's is mixed in)."""
    init = checkout / "scraper" / "__init__.py"
    spec = importlib.util.spec_from_file_location("scraper_before", init,
                                                  submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["scraper_before"] = module
    spec.loader.exec_module(module)
    article = importlib.import_module("scraper_before.extract.article")
    errors = importlib.import_module("scraper_before.errors")

    def call(page) -> None:
        try:
            article.extract(page.html, url=page.url)
        except errors.ExtractionError:
            pass
    return call


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
    parser.add_argument("--before", type=Path, metavar="CHECKOUT")
    parser.add_argument("--profile", type=Path, metavar="FILE")
    args = parser.parse_args(argv)
    if args.before and not (args.before / "scraper" / "__init__.py").is_file():
        print(f"error: {args.before} holds no scraper/ package", file=sys.stderr)
        return 2
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
    calls = {"scraper.extract": _ours, "trafilatura.extract": _theirs}
    if args.before:
        calls = {"before": _load_before(args.before), **calls}
        calls["before"](pages[0])
    times: dict[str, list] = {name: [] for name in calls}
    for page in pages:
        for name, call in calls.items():
            times[name].append(_best(call, page, args.repeat))
    print(f"{len(pages)} pages, the fastest of {args.repeat} calls each, ratios to trafilatura.extract")
    for i, what in enumerate(("wall", "CPU")):
        theirs = [t[i] for t in times["trafilatura.extract"]]
        for name, measured in times.items():
            mine = [t[i] for t in measured]
            print(f"  {what:4} {name:20} median {statistics.median(mine):6.1f} ms: "
                  f"x{statistics.median(mine) / statistics.median(theirs):.2f} (per-page ratio median "
                  f"x{statistics.median(x / y for x, y in zip(mine, theirs)):.2f}, "
                  f"total x{sum(mine) / sum(theirs):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
