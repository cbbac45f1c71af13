"""Reading feeds and sitemaps: RSS, Atom, sitemap indexes, news sitemaps, gzip; bytes in, links out.

Pure functions (no network). Documents are streamed with lxml ``iterparse`` and each element is
cleared once read, so a 50,000-URL sitemap never becomes a 50,000-node tree. XML from the web is
hostile input: entities are never expanded (``resolve_entities=False``), nothing is loaded from the
network or disk (``no_network``, ``load_dtd=False``), and a document that declares entities is
refused outright, so neither a billion-laughs bomb nor an external entity can hurt us.
"""
from __future__ import annotations

import gzip
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Iterator
from zoneinfo import ZoneInfo

from lxml import etree

from ..dates import parse_timestamp
from ..errors import BadURL, FeedError  # noqa: F401  (FeedError re-exported: callers catch feeds.FeedError)
from ..models import Found
from ..urls import Rejected, resolve

# Decompressed size cap for .xml.gz: the sitemap protocol allows 50 MB uncompressed.
MAX_XML_BYTES = 60 * 1024 * 1024



@dataclass
class SitemapRef:
    """A child sitemap named by a sitemap index (or by robots.txt)."""

    url: str
    lastmod: datetime | None = None


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _text(el) -> str | None:
    text = "".join(el.itertext()).strip() if el is not None else ""
    return " ".join(text.split()) or None


def _open(body: bytes) -> IO[bytes]:
    """The XML bytes as a stream; gzip (by magic number, whatever the headers said) is inflated lazily."""
    if body[:2] == b"\x1f\x8b":
        return _Capped(gzip.GzipFile(fileobj=io.BytesIO(body)), MAX_XML_BYTES)
    return io.BytesIO(body)


class _Capped(io.RawIOBase):
    """A reader that raises FeedError past ``limit`` bytes: a gzip bomb stops here, not in memory."""

    def __init__(self, raw: IO[bytes], limit: int):
        self.raw, self.left = raw, limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size if size is not None and size >= 0 else 1 << 16)
        self.left -= len(chunk)
        if self.left < 0:
            raise FeedError(f"more than {MAX_XML_BYTES // (1024 * 1024)} MB once decompressed")
        return chunk


# How much of the (decompressed) document is searched for entity declarations before parsing.
_PROLOG_BYTES = 64 * 1024
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)


def _declares_entities(body: bytes) -> bool:
    """Whether the prolog's DOCTYPE declares entities, judged on the bytes before any parser runs.

    Our own check, so the refusal does not depend on how a given libxml2 treats a bomb (newer ones
    stop it themselves with an error of their own wording, older ones leave it to us).
    """
    try:
        head = _open(body).read(_PROLOG_BYTES) if body[:2] == b"\x1f\x8b" else body[:_PROLOG_BYTES]
    except (OSError, EOFError, FeedError):
        return False   # the parser reports a broken gzip stream
    doctype = _DOCTYPE.search(head)
    return doctype is not None and b"<!ENTITY" in head[doctype.end():]


def _elements(body: bytes, source: str) -> Iterator[etree._Element]:
    """Stream the document's elements (end events); the caller reads each, then it is cleared."""
    if _declares_entities(body):
        raise FeedError(f"{source}: declares XML entities; refused")
    try:
        events = etree.iterparse(_open(body), events=("start", "end"), resolve_entities=False,
                                 no_network=True, load_dtd=False, huge_tree=False, recover=False)
        checked = False
        for event, el in events:
            if not checked:
                dtd = el.getroottree().docinfo.internalDTD
                if dtd is not None and list(dtd.iterentities()):
                    raise FeedError(f"{source}: declares XML entities; refused")
                checked = True
            if event == "end":
                yield el
    except (etree.XMLSyntaxError, OSError, EOFError) as exc:
        raise FeedError(f"{source}: not well-formed XML ({exc})") from None


def _clear(el) -> None:
    el.clear()
    parent = el.getparent()
    while parent is not None and el.getprevious() is not None:
        del parent[0]




def _iso(value: str | None, tz: ZoneInfo | None, *, date_only_ok: bool = False) -> str | None:
    """ISO 8601 with the offset, or None; a bare date is no publication time, so it is dropped."""
    if not value or (len(value.strip()) <= 10 and not date_only_ok):
        return None
    parsed = parse_timestamp(value, tz)
    return parsed.isoformat() if parsed else None


def iter_feed(body: bytes, feed_url: str, tz: ZoneInfo | None = None,
              rejected: Rejected | None = None) -> Iterator[Found]:
    """The items of an RSS 0.9x/1.0/2.0 or Atom feed, with their titles and publication dates, as read.

    A link that is not a valid URL is counted in ``rejected`` and skipped; a malformed document
    raises FeedError where it breaks, after the items before it were given.
    """
    for el in _elements(body, feed_url):
        name = _local(el.tag)
        if name not in ("item", "entry"):
            continue
        fields: dict[str, str | None] = {}
        link = None
        for child in el:
            cname = _local(child.tag)
            if cname == "link":
                # Atom: <link rel="alternate" href>; RSS: <link>text</link>.
                if child.get("href") and child.get("rel", "alternate") == "alternate":
                    link = link or child.get("href").strip()
                elif child.text and child.text.strip():
                    link = link or child.text.strip()
            elif cname == "guid" and child.get("isPermaLink", "true") == "true":
                fields.setdefault("guid", _text(child))
            elif cname in ("title", "pubDate", "published", "updated", "date", "issued"):
                fields.setdefault(cname, _text(child))
        link = link or fields.get("guid")
        _clear(el)
        if link and link.startswith(("http://", "https://", "/")):
            url = _resolved(feed_url, link, rejected)
            if url is not None:
                published = next((fields[k] for k in ("pubDate", "published", "date", "issued", "updated")
                                  if fields.get(k)), None)
                yield Found(url, "feed", feed_url, fields.get("title"), _iso(published, tz))


def iter_sitemap(body: bytes, sitemap_url: str, tz: ZoneInfo | None = None,
                 rejected: Rejected | None = None) -> Iterator[Found | SitemapRef]:
    """A urlset's pages (news:title and news:publication_date when given) or an index's sitemaps,
    one at a time as the document streams past: a sitemap of any size costs the memory of one entry.
    """
    for el in _elements(body, sitemap_url):
        name = _local(el.tag)
        if name not in ("url", "sitemap"):
            continue
        loc = lastmod = title = published = None
        for child in el.iter():
            cname = _local(child.tag)
            if cname == "loc" and loc is None and child.getparent() is el:   # not image:loc
                loc = _text(child)
            elif cname == "lastmod":
                lastmod = _text(child)
            elif cname == "title" and child.getparent() is not None and _local(child.getparent().tag) == "news":
                title = _text(child)
            elif cname == "publication_date":
                published = _text(child)
        _clear(el)
        url = _resolved(sitemap_url, loc, rejected) if loc else None
        if url is None:
            continue
        if name == "sitemap":
            yield SitemapRef(url, parse_timestamp(lastmod, tz))
        else:
            news = published is not None or title is not None
            yield Found(url, "news-sitemap" if news else "sitemap", sitemap_url, title, _iso(published, tz))


def _resolved(base: str, link: str, rejected: Rejected | None) -> str | None:
    try:
        return resolve(base, link).text
    except BadURL as exc:
        if rejected is not None:
            rejected.add(exc)
        return None


def parse_feed(body: bytes, feed_url: str, tz: ZoneInfo | None = None,
               rejected: Rejected | None = None) -> list[Found]:
    """``iter_feed`` as a list; on FeedError, what was read before it is the error's ``partial``."""
    found: list[Found] = []
    try:
        found.extend(iter_feed(body, feed_url, tz, rejected))
    except FeedError as exc:
        exc.partial = found
        raise
    return found


def parse_sitemap(body: bytes, sitemap_url: str, tz: ZoneInfo | None = None,
                  rejected: Rejected | None = None) -> tuple[list[Found], list[SitemapRef]]:
    """``iter_sitemap`` as (pages, child sitemaps); on FeedError, ``partial`` and ``children`` hold
    what was read before it."""
    pages: list[Found] = []
    children: list[SitemapRef] = []
    try:
        for item in iter_sitemap(body, sitemap_url, tz, rejected):
            (children if isinstance(item, SitemapRef) else pages).append(item)
    except FeedError as exc:
        exc.partial, exc.children = pages, children
        raise
    return pages, children


def looks_like_feed(body: bytes) -> bool:
    """Whether a robots.txt ``Sitemap:`` points at a feed (allowed by the protocol) or a sitemap."""
    head = body[:2048].lower()
    return any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf"))
