"""Every corpus record as extract() makes it, to tell whether a change of the extractor changed any.

    python bench/records.py --save FILE        write each page's record (and its provenance) to FILE
    python bench/records.py --check FILE       compare today's records with FILE; exit 1 if one differs

A change meant to make extraction cheaper must leave every record byte-identical: this is the check.
The records are JSON lines in corpus order, one per page (an ExtractionError is recorded as such).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):   # run as a script: make `bench` and `scraper` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.corpus import DEFAULT_CORPUS, default_folders, load_folder  # noqa: E402
from scraper.errors import ExtractionError  # noqa: E402
from scraper.extract import extract  # noqa: E402


def records(corpus: Path) -> list[str]:
    lines = []
    for folder in default_folders(corpus):
        for page in load_folder(folder, folder.name):
            try:
                article = extract(page.html, url=page.url)
                record = {"page": page.name, **article.to_dict(), "provenance": dict(article.provenance)}
            except ExtractionError as exc:
                record = {"page": page.name, "error": str(exc)}
            lines.append(json.dumps(record, ensure_ascii=False, sort_keys=True, default=repr))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/records.py", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--save", type=Path, metavar="FILE")
    action.add_argument("--check", type=Path, metavar="FILE")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args(argv)
    lines = records(args.corpus)
    if not lines:
        print(f"error: no corpus under {args.corpus}", file=sys.stderr)
        return 2
    if args.save:
        args.save.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"{len(lines)} records written to {args.save}")
        return 0
    try:
        saved = args.check.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        print(f"error: cannot read {args.check}: {exc.strerror}", file=sys.stderr)
        return 2
    before = {json.loads(line)["page"]: line for line in saved}
    differ = [json.loads(line)["page"] for line in lines if before.get(json.loads(line)["page"]) != line]
    missing = len(set(before) - {json.loads(line)["page"] for line in lines})
    for name in differ:
        print(f"differs: {name}")
    print(f"{len(lines)} records, {len(differ)} differ from {args.check}, {missing} of its pages not read")
    return 1 if differ or missing else 0


if __name__ == "__main__":
    sys.exit(main())
