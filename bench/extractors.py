"""The extractors compared by the benchmark, each behind one call: (html bytes, url) -> Prediction.

This project's extractor is always a column (if it fails to import or raises, its pages count as
failures, never hidden). The peers are benchmark-only extras: a missing one is skipped with a note.
"""
from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass
from typing import Callable

# Block elements after which readability's summary HTML gets a paragraph break, so words of two
# blocks are not glued into one token by text_content() ("end</p><p>Next" -> "endNext").
_BLOCKS = ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul", "ol", "blockquote",
           "pre", "table", "tr", "td", "th", "br", "section", "article", "figure", "figcaption")

# The htmldate options trafilatura gets its best fair time score with on the corpus. Its default
# output format is date-only, which can never be exact against a truth with a time (3% exact); with
# a time format: original_date + extensive_search 73.0% exact / 94.8% same-day, original_date
# without the extensive search (a guess from free text) 73.9% / 95.7%, without original_date ~40%.
TRAFILATURA_DATE_PARAMS = {
    "original_date": True,
    "extensive_search": False,
    "outputformat": "%Y-%m-%dT%H:%M:%S%z",
}


@dataclass(frozen=True)
class Prediction:
    title: str | None = None
    published: str | None = None
    text: str = ""
    author: str | list[str] | None = None


@dataclass
class Extractor:
    name: str
    run: Callable[[bytes, str | None], Prediction]
    version: str = ""
    options: str = ""             # how it is called, shown in the report and the JSON
    measures_time: bool = True    # False: the extractor finds no publication time at all
    measures_author: bool = True


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _scraper() -> Extractor:
    try:
        from scraper.extract import extract
    except Exception as exc:  # noqa: BLE001 - a broken extractor is a result, shown as failures
        error = exc

        def run(html: bytes, url: str | None) -> Prediction:
            raise error
    else:
        def run(html: bytes, url: str | None) -> Prediction:
            article = extract(html, url=url)
            return Prediction(article.title, article.published, article.text or "", article.author)

    return Extractor("scraper", run, _version("arabic-news-scraper") or "tree",
                     "scraper.extract(html_bytes, url=page_url)")


def _trafilatura() -> Extractor | str:
    try:
        import trafilatura
    except ImportError:
        return "trafilatura is not installed (pip install trafilatura)"

    def run(html: bytes, url: str | None) -> Prediction:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True,
                                          date_extraction_params=dict(TRAFILATURA_DATE_PARAMS))
        if doc is None:   # trafilatura's way of saying "no article": an empty prediction
            return Prediction()
        return Prediction(doc.title, doc.date, doc.text or "", doc.author)

    return Extractor("trafilatura", run, _version("trafilatura"),
                     "bare_extraction(html, url=url, with_metadata=True, "
                     f"date_extraction_params={TRAFILATURA_DATE_PARAMS})")


def _readability() -> Extractor | str:
    try:
        import lxml.html
        from readability import Document
    except ImportError:
        return "readability-lxml is not installed (pip install readability-lxml)"
    # readability logs a traceback for every page it cannot parse; the benchmark counts those
    # pages as errors in its table instead of flooding the terminal.
    logging.getLogger("readability").setLevel(logging.CRITICAL)

    def run(html: bytes, url: str | None) -> Prediction:
        doc = Document(html, url=url)
        summary = doc.summary()
        text = ""
        if summary.strip():
            tree = lxml.html.fromstring(summary)
            for el in tree.iter(*_BLOCKS):
                el.tail = "\n\n" + (el.tail or "")
            text = tree.text_content()
        # short_title() drops the site name: 57% exact titles on the corpus, title() 19%.
        return Prediction(title=doc.short_title(), text=text)

    return Extractor("readability", run, _version("readability-lxml"),
                     "Document(html, url=url): short_title(), summary() -> lxml text_content()",
                     measures_time=False, measures_author=False)


FACTORIES = {"scraper": _scraper, "trafilatura": _trafilatura, "readability": _readability}
NAMES = tuple(FACTORIES)


def load_extractors(names: list[str] | None = None) -> tuple[list[Extractor], list[str]]:
    """The extractors asked for (all by default) and a note for each one that is unavailable."""
    extractors, skipped = [], []
    for name in names or NAMES:
        made = FACTORIES[name]()
        if isinstance(made, str):
            skipped.append(f"{name}: skipped, {made}")
        else:
            extractors.append(made)
    return extractors, skipped
