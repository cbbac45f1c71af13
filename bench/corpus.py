"""Reading benchmark pages: `<name>.html.gz` (or `.html`) beside `<name>.json` holding the truth.

The format is the one described in ../shared/corpus/README.md; any folder laid out the same way
(at any depth) can be benchmarked.
"""
from __future__ import annotations

import gzip
import json
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# ../shared/corpus beside the repository, or beside a folder above it (a worktree in ../wt/NAME).
DEFAULT_CORPUS = next((up / "shared" / "corpus" for up in REPO.parents if (up / "shared" / "corpus").is_dir()),
                      REPO.parent / "shared" / "corpus")
DEFAULT_SUBSETS = ("news", "arabic")


@dataclass(frozen=True)
class Truth:
    title: str | None
    published: str | None         # "YYYY-MM-DD HH:MM:SS+HH:MM", sometimes without offset, or null
    authors: list[str] | None     # None when the file does not say (not the same as [])
    body: str                     # paragraphs joined by blank lines

    @property
    def text(self) -> str:
        """Title and body together: what a boilerplate marker must not be part of."""
        return f"{self.title or ''}\n\n{self.body}"


@dataclass(frozen=True)
class CorpusPage:
    name: str      # path inside its folder without the extension, e.g. "at/DerStandard_2024_05_03"
    subset: str    # label of the folder it came from, e.g. "news"
    url: str | None
    html: bytes    # the page bytes exactly as crawled (decompressed)
    truth: Truth


def _truth(data: dict) -> Truth:
    body = data.get("body") or []
    if isinstance(body, str):
        body = [body]
    authors = data.get("authors")
    return Truth(
        title=data.get("title"),
        published=data.get("published"),
        authors=list(authors) if authors is not None else None,
        body="\n\n".join(p for p in body if p),
    )


def _html_files(folder: Path) -> list[tuple[Path, Path]]:
    """(html file, json file) pairs, sorted by path so every run sees the same order."""
    pairs = []
    for html in sorted(folder.rglob("*.html*")):
        if html.name.endswith(".html.gz"):
            stem = html.name[: -len(".html.gz")]
        elif html.name.endswith(".html"):
            stem = html.name[: -len(".html")]
        else:
            continue
        truth = html.with_name(stem + ".json")
        if truth.exists():
            pairs.append((html, truth))
        else:
            print(f"warning: {html} has no {truth.name}; skipped", file=sys.stderr)
    return pairs


def load_folder(folder: Path, label: str) -> list[CorpusPage]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    pages = []
    for html_path, json_path in _html_files(folder):
        raw = html_path.read_bytes()
        if html_path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        data = json.loads(json_path.read_text(encoding="utf-8"))
        name = str(json_path.relative_to(folder).with_suffix(""))
        pages.append(CorpusPage(name, label, data.get("url"), raw, _truth(data)))
    return pages


def folder_labels(folders: list[Path]) -> list[str]:
    """Short labels (the folder's name), the full path only where two names collide."""
    names = [f.name or str(f) for f in folders]
    return [n if names.count(n) == 1 else str(f) for n, f in zip(names, folders)]


def default_folders(corpus: Path = DEFAULT_CORPUS) -> list[Path]:
    return [corpus / sub for sub in DEFAULT_SUBSETS if (corpus / sub).is_dir()]
