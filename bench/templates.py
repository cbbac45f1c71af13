"""Learned templates on the corpus: what the guard (a template may not remove most of a body) costs.

For every publisher with at least 3 pages in the corpus, its template is learned from its own pages
and each page extracted with it. Reported: the pages where the template removed blocks, where the
guard had to read the page a second time without the template (the template's blocks held more
text than the body kept), where it refused the template, and the extraction time with the guard
against the same extraction with the template applied blindly, pair by pair in one process.

    python bench/templates.py [--repeat 5] [--corpus ../shared/corpus]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import DEFAULT_CORPUS, default_folders, load_folder  # noqa: E402
from scraper.charset import decode_html  # noqa: E402
from scraper.errors import ExtractionError  # noqa: E402
from scraper.extract import article as article_module  # noqa: E402
from scraper.extract.article import extract  # noqa: E402
from scraper.extract.templates import learn_template  # noqa: E402
from scraper.extract.trace import TEMPLATE, Trace  # noqa: E402


def publisher(name: str) -> str:
    return name.rsplit("/", 1)[-1].split("_")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    groups = defaultdict(list)
    for folder in default_folders(args.corpus):
        for page in load_folder(folder, folder.name):
            groups[publisher(page.name)].append(page)
    groups = {k: v for k, v in groups.items() if len(v) >= 3}
    pages = [(page, learn_template([decode_html(p.html, None)[0] for p in group]))
             for group in groups.values() for page in group]
    print(f"{len(groups)} publishers, {len(pages)} pages")
    stripped = compared = refused = 0
    for page, template in pages:
        html = decode_html(page.html, None)[0]
        trace = Trace()
        try:
            first = article_module._extract(html, page.url, page.url, None, template, trace)
        except ExtractionError:
            first = None
        if trace.removed_by(TEMPLATE):
            stripped += 1
            compared += article_module._template_may_cut_body(trace, first)
        article = extract(html, page.url, template=template)
        refused += "not applied" in article.provenance.get("template", "")
    print(f"template removed blocks on {stripped} pages; compared with the body without it on "
          f"{compared}; refused on {refused}")
    guarded, blind = [], []
    for _ in range(args.repeat):
        for page, template in pages:
            html = decode_html(page.html, None)[0]
            t = time.perf_counter()
            extract(html, page.url, template=template)
            guarded.append(time.perf_counter() - t)
            t = time.perf_counter()
            try:
                article_module._extract(html, page.url, page.url, None, template, Trace())
            except ExtractionError:
                pass
            blind.append(time.perf_counter() - t)
    ratios = [g / b for g, b in zip(guarded, blind)]
    print(f"extraction with the guard / template applied blindly: median ratio {statistics.median(ratios):.3f} "
          f"(medians {statistics.median(guarded) * 1e3:.1f} ms / {statistics.median(blind) * 1e3:.1f} ms, "
          f"{len(ratios)} pairs)")


if __name__ == "__main__":
    main()
