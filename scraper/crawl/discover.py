"""Discovery: which article URLs a site lists now, and where each was listed; no article is fetched.

For one site profile: robots.txt (its Crawl-delay sets the host's pace, its ``Sitemap:`` lines add
sitemaps), the start pages (links matching the site's ``article`` regex, and ``<link rel=alternate>``
feeds), the feeds (RSS/Atom), the sitemaps (indexes followed newest first, gzip, news sitemaps).
Every URL is canonicalised, so one article listed by a feed, a sitemap and the home page is one
entry that remembers all three. A source that fails is reported and the others still count.

Given a ``ListingMemory`` (the cron run's), each listing is asked for conditionally and one that
answers 304 is not read again (its articles were queued when it was last read); without one
(`scraper discover`), every listing is read in full, so the preview always shows everything.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urljoin

import lxml.html

from ..errors import FetchError, ScraperError
from ..models import FetchAttempt
from .feeds import FeedError, Found, looks_like_feed, parse_feed, parse_sitemap
from ..store.listings import Listing, ListingMemory, reading_rules
from .politeness import PoliteClient
from ..profiles import Profile
from .robots import robots_url
from ..urls import canonicalize, host_key

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
    attempts: list[FetchAttempt] = field(default_factory=list)   # HTTP attempts, for the fetch log
    disallowed: int = 0                                       # article URLs robots.txt forbids
    listings_read: int = 0                                    # start pages, feeds, sitemaps that answered
    listings: dict[str, Listing] = field(default_factory=dict)  # what came of each, for the archive

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


def discover_site(profile: Profile, client: PoliteClient, *, max_sitemaps: int = MAX_SITEMAPS,
                  memory: ListingMemory | None = None) -> Discovery:
    """Read the site's robots.txt, start pages, feeds and sitemaps; return the article URLs found.

    ``memory`` (the archive's listing cache) makes listing requests conditional; the caller stores
    ``result.listings`` once the URLs found are queued.
    """
    result = Discovery(profile.name)
    memory = memory if memory is not None else ListingMemory(profile.name)   # knows nothing: full reads
    tz = profile.tz

    def get(url: str, *, html: bool, kind: str):
        """The page (a 304 Page when unchanged since its last complete read), or None if it failed."""
        try:
            page = client.get(url, html=html, attempts=result.attempts,
                              **memory.validators(url))
        except FetchError as exc:
            result.problems.append(f"{profile.name}: {exc}")
            memory.failed(url, kind, exc)
            return None
        result.listings_read += 1
        if page.not_modified:
            memory.not_modified(url, kind)
        return page

    def read(url: str, kind: str, page, parse, children=()) -> None:
        problem = _read(parse, result, profile)
        if problem is None:
            memory.read(url, kind, page, children)      # children: filled by parse by now
        else:
            memory.partial(url, kind, page, problem)

    # robots.txt of every host the profile names: pace and extra sitemaps.
    feeds = list(dict.fromkeys(profile.feeds))
    sitemaps = list(dict.fromkeys(profile.sitemaps))
    digests = []
    for origin in dict.fromkeys(robots_url(u) for u in (*profile.start, *profile.feeds, *profile.sitemaps)):
        robots = client.robots.for_url(origin)
        digests.append(robots.digest)
        if robots.why.startswith("unreachable"):
            result.problems.append(f"{profile.name}: {origin} {robots.why}: nothing on that host is fetched")
        client.politeness.set_delay(origin, profile.delay, robots.crawl_delay(client.options.user_agent))
        sitemaps.extend(s for s in robots.sitemaps if s not in sitemaps and _on_site(s, profile))
    # A listing's validators are only trusted under the rules it was read with.
    memory.rules = reading_rules(profile.article_url, profile.domains, digests)

    for start in profile.start:
        page = get(start, html=True, kind="start-page")
        if page is None:
            continue
        if page.not_modified:
            alternates = list(memory.children(start))   # its feeds are still asked, conditionally
        else:
            links, alternates = page_links(page.html, page.final_url)
            for link in links:
                result.add(Found(link, "start-page", start), profile, needs_regex=True)
            alternates = [f for f in alternates if _on_site(f, profile)]
            memory.read(start, "start-page", page, alternates)
        feeds.extend(f for f in alternates if f not in feeds)

    for feed_url in feeds:
        page = get(feed_url, html=False, kind="feed")
        if page is not None and not page.not_modified:
            read(feed_url, "feed", page, lambda: parse_feed(page.body, feed_url, tz))

    _read_sitemaps(sitemaps, get, read, memory, result, profile, max_sitemaps)

    allowed = {url: item for url, item in result.found.items() if client.allowed(url)}
    if any(client.robots.for_url(url).why.startswith("unreachable") for url in result.found.keys() - allowed):
        memory.unconfirmed()   # links dropped only for now (a host unreachable): read them again next run
    result.disallowed = len(result.found) - len(allowed)
    result.found = allowed
    result.listings = dict(memory.results)
    return result


def _read(parse, result: Discovery, profile: Profile) -> str | None:
    """Add the links ``parse()`` returns; return the problem if the listing was malformed, else None."""
    try:
        items, problem = parse(), None
    except ScraperError as exc:
        # A malformed listing still gives the links read before the error (FeedError.partial).
        items = getattr(exc, "partial", None) or []
        kept = f" (kept the {len(items)} links read before it)" if items else ""
        problem = f"{profile.name}: {exc}{kept}"
        result.problems.append(problem)
    for item in items:
        result.add(item, profile, needs_regex=False)
    return problem


def _read_sitemaps(roots: list[str], get, read, memory: ListingMemory, result: Discovery,
                   profile: Profile, budget: int) -> None:
    """Breadth first from the root sitemaps; an index's children newest first, ``budget`` files in all.

    An index that answers 304 is not read again, but the children it named then are still asked
    (each conditionally): a static index over a changing news sitemap must not hide the latter.
    """
    todo = deque((url, 0) for url in roots)
    seen: set[str] = set()
    while todo and budget > 0:
        url, depth = todo.popleft()
        if url in seen:
            continue
        seen.add(url)
        budget -= 1
        page = get(url, html=False, kind="sitemap")
        if page is None:
            continue
        if page.not_modified:
            if depth + 1 < MAX_SITEMAP_DEPTH:
                todo.extend((child, depth + 1) for child in memory.children(url))
            continue
        if looks_like_feed(page.body):   # robots.txt Sitemap: lines may name a feed
            read(url, "feed", page, lambda: parse_feed(page.body, url, profile.tz))
            continue
        followed: list[str] = []     # the child sitemaps, newest first (an index's)

        def parse():
            try:
                pages, kids = parse_sitemap(page.body, url, profile.tz)
            except FeedError as exc:
                # An index cut short: its first children are still followed.
                followed.extend(_newest_first(getattr(exc, "children", []), profile))
                raise
            followed.extend(_newest_first(kids, profile))
            return pages
        read(url, "sitemap", page, parse, followed)
        if depth + 1 < MAX_SITEMAP_DEPTH:
            todo.extend((child, depth + 1) for child in followed)


def _newest_first(children: list, profile: Profile) -> list[str]:
    oldest = datetime.min.replace(tzinfo=timezone.utc)
    ordered = sorted(children, key=lambda ref: ref.lastmod or oldest, reverse=True)
    return [ref.url for ref in ordered if _on_site(ref.url, profile)]

