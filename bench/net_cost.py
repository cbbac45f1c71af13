"""What the safety net costs: extract() on every corpus page with the net and with it bypassed.

    python bench/net_cost.py [--repeat N] [--corpus DIR]

The two are timed page by page in one process, in turn (the fastest of N calls each), so load from
other work on the machine falls on both alike; the bypass replaces the net's step
(scraper.extract.article._judged) with one that keeps our body as it is. Also says on how many pages
the net had to compute trafilatura's baseline, and why the others needed none.
"""
from __future__ import annotations

import argparse
import collections
import importlib
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make `bench` and `scraper` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import DEFAULT_CORPUS, default_folders, load_folder  # noqa: E402
from scraper.extract.trace import Trace  # noqa: E402

article = importlib.import_module("scraper.extract.article")   # the module, not the function
content = importlib.import_module("scraper.extract.content")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/net_cost.py", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    pages = [p for folder in default_folders(args.corpus) for p in load_folder(folder, folder.name)]
    if not pages:
        print(f"error: no corpus under {args.corpus}", file=sys.stderr)
        return 2
    judged = article._judged
    baselines = [0]
    real_baseline = content.baseline_paragraphs

    def counted(tree, url):
        baselines[0] += 1
        return real_baseline(tree, url)

    article.baseline_paragraphs = counted
    verdicts: collections.Counter = collections.Counter()
    for page in pages:            # what the net decided, and how often it read the page twice
        before, trace = baselines[0], Trace()
        article.extract(page.html, url=page.url, trace=trace)
        v = trace.verdict
        verdicts[f"{v.taken}, " + (v.evidence or ("baseline computed" if baselines[0] > before
                                                  else "baseline reused"))] += 1

    def bypass(read, *rest):
        return read.body, read.extractor

    def timed(page, net: bool) -> float:
        article._judged = judged if net else bypass
        start = time.perf_counter()
        article.extract(page.html, url=page.url)
        return time.perf_counter() - start

    timed(pages[0], True), timed(pages[0], False)
    on, off = [], []
    for page in pages:
        best_on = best_off = float("inf")
        for _ in range(args.repeat):
            best_on, best_off = min(best_on, timed(page, True)), min(best_off, timed(page, False))
        on.append(best_on * 1000)
        off.append(best_off * 1000)
    article._judged = judged
    ratios = [a / b for a, b in zip(on, off)]
    print(f"{len(pages)} pages, repeat={args.repeat}")
    for verdict, n in verdicts.most_common():
        print(f"  {n:4d}  {verdict}")
    print(f"median ms with the net {statistics.median(on):.1f}, bypassed {statistics.median(off):.1f}; "
          f"per-page ratio median {statistics.median(ratios):.3f}, total time ratio {sum(on) / sum(off):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
