"""Discovery: which article URLs a site lists now, and where each was listed; no article is fetched.

For one site profile: robots.txt (its Crawl-delay sets the host's pace, its ``Sitemap:`` lines add
sitemaps), the start pages (links matching the site's ``article`` regex, and ``<link rel=alternate>``
feeds), the feeds (RSS/Atom), the sitemaps (indexes followed newest first, gzip, news sitemaps).
Every URL is canonicalised, so one article listed by a feed, a sitemap and the home page is one
entry that remembers all three. A source that fails is reported and the others still count.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin

import lxml.html

from .errors import FetchError, ScraperError
from .feeds import FeedError, Found, looks_like_feed, parse_feed, parse_sitemap
from .politeness import PoliteClient
from .profiles import Profile
from .robots import robots_url
from .urls import canonicalize, host_key

__all__ = ["Discovery", "Found", "discover_site", "page_links"]

MAX_SITEMAPS = 20       # sitemap files read per site and run: an index of 300 monthly sitemaps
#                         would otherwise mean 300 requests every ten minutes; newest are first.
MAX_SITEMAP_DEPTH = 3   # index -> index -> urlset is the deepest real sites go
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


@dataclass
class Discovery:
    """What discovery found for one site, and what went wrong on the way."""

    site: str
    found: dict[str, Found] = field(default_factory=dict)    # canonical URL -> first listing
    problems: list[str] = field(default_factory=list)        # one line each, for stderr
    attempts: list[dict] = field(default_factory=list)       # HTTP attempts, for the fetch log
    disallowed: int = 0                                       # article URLs robots.txt forbids
    listings_read: int = 0                                    # start pages, feeds, sitemaps fetched

    def add(self, item: Found, profile: Profile, *, needs_regex: bool) -> None:
        url = canonicalize(item.url)
        if not _on_site(url, profile):
            return
        if profile.article_url:
            if not profile.is_article(url):
                return
        elif needs_regex:
            return      # without an article regex, links on a page cannot be told from navigation
        item.url = url
        known = self.found.get(url)
        if known is None:
            self.found[url] = item
            return
        known.also.append(f"{item.source} {item.source_url}")
        # A news sitemap or feed may know the title or date the first listing did not.
        known.title = known.title or item.title
        known.published = known.published or item.published


def _on_site(url: str, profile: Profile) -> bool:
    host = host_key(url)
    return any(host == d or host.endswith("." + d) for d in profile.domains)


def page_links(html: str, base_url: str) -> tuple[list[str], list[str]]:
    """(every <a href> as an absolute URL, the feeds named by <link rel=alternate>) of a page."""
    try:
        # document_fromstring: fromstring() would return a bare fragment's first element, whose
        # own <a> a descendant search never finds.
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return [], []
    base = tree.find(".//base[@href]")
    base_url = urljoin(base_url, base.get("href")) if base is not None else base_url
    links = [urljoin(base_url, a.get("href").strip()) for a in tree.iterfind(".//a[@href]")
             if a.get("href").strip() and not a.get("href").strip().startswith(("#", "javascript:", "mailto:"))]
    feeds = [urljoin(base_url, link.get("href").strip()) for link in tree.iterfind(".//link[@href]")
             if "alternate" in (link.get("rel") or "").lower().split()
             and (link.get("type") or "").lower().split(";")[0].strip() in FEED_TYPES]
    return links, feeds


def discover_site(profile: Profile, client: PoliteClient, *,
                  max_sitemaps: int = MAX_SITEMAPS) -> Discovery:
    """Read the site's robots.txt, start pages, feeds and sitemaps; return the article URLs found."""
    result = Discovery(profile.name)
    tz = profile.tz

    def get(url: str, *, html: bool):
        try:
            page = client.get(url, html=html, attempts=_tagged(result.attempts, url))
        except FetchError as exc:
            result.problems.append(f"{profile.name}: {exc}")
            return None
        result.listings_read += 1
        return page

    # robots.txt of every host the profile names: pace and extra sitemaps.
    feeds = list(dict.fromkeys(profile.feeds))
    sitemaps = list(dict.fromkeys(profile.sitemaps))
    for origin in dict.fromkeys(robots_url(u) for u in (*profile.start, *profile.feeds, *profile.sitemaps)):
        robots = client.robots.for_url(origin)
        if robots.why.startswith("unreachable"):
            result.problems.append(f"{profile.name}: {origin} {robots.why}: nothing on that host is fetched")
        client.politeness.set_delay(origin, profile.delay, robots.crawl_delay(client.options.user_agent))
        sitemaps.extend(s for s in robots.sitemaps if s not in sitemaps and _on_site(s, profile))

    for start in profile.start:
        page = get(start, html=True)
        if page is None:
            continue
        links, alternates = page_links(page.html, page.final_url)
        for link in links:
            result.add(Found(link, "start-page", start), profile, needs_regex=True)
        feeds.extend(f for f in alternates if f not in feeds and _on_site(f, profile))

    for feed_url in feeds:
        page = get(feed_url, html=False)
        if page is not None:
            _read(lambda: parse_feed(page.body, feed_url, tz), result, profile)

    _read_sitemaps(sitemaps, get, result, profile, max_sitemaps)

    allowed = {url: item for url, item in result.found.items() if client.allowed(url)}
    result.disallowed = len(result.found) - len(allowed)
    result.found = allowed
    return result


def _read(parse, result: Discovery, profile: Profile) -> list:
    try:
        items = parse()
    except ScraperError as exc:
        # A malformed listing still gives the links read before the error (FeedError.partial).
        items = getattr(exc, "partial", None) or []
        kept = f" (kept the {len(items)} links read before it)" if items else ""
        result.problems.append(f"{profile.name}: {exc}{kept}")
    for item in items:
        result.add(item, profile, needs_regex=False)
    return items


def _read_sitemaps(roots: list[str], get, result: Discovery, profile: Profile, budget: int) -> None:
    """Breadth first from the root sitemaps; an index's children newest first, ``budget`` files in all."""
    todo = deque((url, 0) for url in roots)
    seen: set[str] = set()
    while todo and budget > 0:
        url, depth = todo.popleft()
        if url in seen:
            continue
        seen.add(url)
        budget -= 1
        page = get(url, html=False)
        if page is None:
            continue
        if looks_like_feed(page.body):   # robots.txt Sitemap: lines may name a feed
            _read(lambda: parse_feed(page.body, url, profile.tz), result, profile)
            continue
        children: list = []

        def parse():
            try:
                pages, kids = parse_sitemap(page.body, url, profile.tz)
            except FeedError as exc:
                children.extend(getattr(exc, "children", []))   # an index cut short: its first children
                raise
            children.extend(kids)
            return pages
        _read(parse, result, profile)
        if depth + 1 < MAX_SITEMAP_DEPTH:
            oldest = datetime.min.replace(tzinfo=timezone.utc)
            children.sort(key=lambda ref: ref.lastmod or oldest, reverse=True)
            todo.extend((ref.url, depth + 1) for ref in children if _on_site(ref.url, profile))


class _tagged(list):
    """An attempts list that tags each attempt as a discovery fetch, for the fetch log."""

    def __init__(self, target: list, url: str):
        super().__init__()
        self._target, self._url = target, url

    def append(self, attempt: dict) -> None:
        self._target.append({"url": self._url, **attempt, "kind": "discovery"})
