"""The data that flows through the pipeline: URL -> Page -> Article -> row.

Plain frozen dataclasses with no behaviour beyond conversion, so every arrow between them is a
plain function that can be tested on files.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping


@dataclass(frozen=True)
class FetchAttempt:
    """One HTTP request of a fetch (a fetch is one or more: redirect hops and retries), for the fetch log.

    Built by the fetcher as each request ends, whatever came of it; the store writes one fetch_log
    row per attempt. A saved page read from disk or a WARC capture is one attempt with its page's figures.
    """

    url: str
    status: int | None = None         # None: no answer at all (refused, timed out, a bad scheme)
    error: str | None = None          # one line, when this request failed
    bytes: int = 0                    # body bytes received (decompressed), as far as it got
    elapsed: float = 0.0              # seconds this request took
    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def of_page(cls, page: "Page") -> "FetchAttempt":
        """The one attempt a page had that came without HTTP (a saved file, a WARC capture)."""
        return cls(page.final_url, page.status, None, len(page.body), page.elapsed, page.etag,
                   page.last_modified)


@dataclass(frozen=True)
class Page:
    """One HTTP answer (or a saved file), decoded.

    ``body`` is the raw (decompressed) bytes as received, kept so records can be rebuilt later;
    ``html`` is the same page decoded with ``encoding``.
    """

    url: str                      # what was asked for
    final_url: str                # after redirects (== url for files)
    status: int                   # HTTP status; 200 for local files; 304 when not modified
    headers: Mapping[str, str]    # response headers (case-insensitive mapping when from HTTP)
    body: bytes
    html: str
    encoding: str                 # the codec used to decode body, e.g. "utf-8", "windows-1256"
    fetched_at: datetime          # timezone-aware UTC
    elapsed: float = 0.0          # seconds, all attempts included
    request_headers: Mapping[str, str] = field(default_factory=dict)  # as sent (for WARC records)

    @property
    def etag(self) -> str | None:
        return self.headers.get("ETag") or self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("Last-Modified") or self.headers.get("last-modified")

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# The record's fields, in the order they are shown, exported and stored.
ARTICLE_FIELDS = (
    "url", "final_url", "canonical_url", "site", "title", "published", "modified", "author",
    "section", "tags", "summary", "text", "language", "image", "word_count", "content_hash",
    "extractor",
)


@dataclass(frozen=True)
class Article:
    """The clean record of one article page.

    ``published``/``modified`` are ISO 8601 strings with their UTC offset
    (``2015-09-27T18:32:00+04:00``) or ``None`` when the page does not say.
    ``text`` is the body paragraphs in order, separated by one blank line.
    """

    url: str | None
    final_url: str | None = None
    canonical_url: str | None = None
    site: str | None = None
    title: str | None = None
    published: str | None = None
    modified: str | None = None
    author: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    summary: str | None = None
    text: str = ""
    language: str | None = None
    image: str | None = None
    word_count: int = 0
    content_hash: str = ""
    extractor: str = ""
    # Not part of the record: how each field was found (for --explain); never stored.
    provenance: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {name: (list(v) if isinstance(v := getattr(self, name), list) else v)
                for name in ARTICLE_FIELDS}

    def replace(self, **changes: Any) -> "Article":
        return dataclasses.replace(self, **changes)


@dataclass
class Found:
    """One article URL discovered, where it came from, and what the listing said about it."""

    url: str
    source: str                     # "feed", "sitemap", "news-sitemap", "start-page"
    source_url: str                 # the feed, sitemap or page that listed it
    title: str | None = None        # from the feed item or news:title
    published: str | None = None    # ISO 8601 with offset, from pubDate/published/publication_date
    also: list[str] = field(default_factory=list)  # further "source source_url" that listed it


@dataclass(frozen=True)
class RobotsCopy:
    """A robots.txt answer kept between runs: a 2xx body, or a 4xx (everything allowed)."""

    url: str
    status: int
    text: str
    fetched_at: datetime            # fetched, or confirmed by a 304: the start of its 24 hours
    etag: str | None = None
    last_modified: str | None = None
    checked_at: datetime | None = None   # the last time it was asked for, whatever the answer
    error: str | None = None             # that last answer, when the host was unreachable
