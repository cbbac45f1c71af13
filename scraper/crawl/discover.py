"""Discovery: which article URLs a site lists now, and where each was listed; no article is fetched.

For one site profile: robots.txt (its Crawl-delay sets the host's pace, its ``Sitemap:`` lines add
sitemaps), the start pages (links matching the site's ``article`` regex, and ``<link rel=alternate>``
feeds), the feeds (RSS/Atom), the sitemaps (indexes followed newest first, gzip, news sitemaps).
Every URL is canonicalised, so one article listed by a feed, a sitemap and the home page is one
entry that remembers all three. A source that fails is reported and the others still count; a
link that is not a valid URL is counted, and each listing that had some says so in one line.

Two ways to take what is found. Given a ``sink`` (the cron run), the URLs go to it in batches as
the listings stream past, robots.txt already applied, so a sitemap of millions of URLs never
sits in memory: the queue in the database is where they are merged. Without one (`scraper
discover`), they are kept in ``Discovery.found``, each with every listing that named it.

Given a ``ListingMemory`` (the cron run's), each listing is asked for conditionally and one that
answers 304 is not read again (its articles were queued when it was last read); without one
(`scraper discover`), every listing is read in full, so the preview always shows everything.
Given a ``deadline`` (time.monotonic), no listing is asked for after it: those left are read by
the next run, as nothing about them is remembered.
"""
from __future__ import annotations

import heapq
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterable

import lxml.html

from ..errors import BadURL, FetchError, OutOfTime, RobotsDisallowed, ScraperError
from ..models import FetchAttempt
from .feeds import Found, SitemapRef, iter_feed, iter_sitemap, looks_like_feed
from ..store.listings import Listing, ListingMemory, reading_rules
from .politeness import PoliteClient
from ..profiles import Profile
from .robots import robots_url
from ..urls import Rejected, canonicalize, host_key, resolve

__all__ = ["Discovery", "Found", "discover_site", "page_links"]

MAX_SITEMAPS = 20       # sitemap files read per site and run: an index of 300 monthly sitemaps
#                         would otherwise mean 300 requests every ten minutes; newest are first.
MAX_SITEMAP_DEPTH = 3   # index -> index -> urlset is the deepest real sites go
MAX_CHILDREN = 200      # child sitemaps an index is remembered by (the newest): at most MAX_SITEMAPS are read
BATCH = 1000            # URLs handed to the sink at a time
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


@dataclass
class Discovery:
    """What discovery found for one site, and what went wrong on the way."""

    site: str
    found: dict[str, Found] = field(default_factory=dict)    # canonical URL -> first listing (no sink)
    problems: list[str] = field(default_factory=list)        # one line each, for stderr
    attempts: list[FetchAttempt] = field(default_factory=list)   # HTTP attempts, for the fetch log
    disallowed: int = 0                                       # article URLs robots.txt forbids
    listings_read: int = 0                                    # start pages, feeds, sitemaps that answered
    listings: dict[str, Listing] = field(default_factory=dict)  # what came of each, for the archive
    sent: int = 0                                             # URLs handed to the sink
    unread: int = 0                                           # listings left for the next run (deadline)


class _Collector:
    """Takes each link found, keeps the site's article URLs, and passes them on in batches."""

    def __init__(self, result: Discovery, profile: Profile, client: PoliteClient,
                 sink: Callable[[list[Found]], None] | None, deadline: float | None = None):
        self.result, self.profile, self.client, self.sink = result, profile, client, sink
        self.deadline = deadline
        self.batch: dict[str, Found] = {}
        self.unconfirmed = False    # a link dropped only because its host's robots.txt did not answer

    def add(self, item: Found, *, needs_regex: bool, rejected: Rejected) -> None:
        try:
            url = canonicalize(item.url)
        except BadURL as exc:
            rejected.add(exc)
            return
        if not _on_site(url, self.profile):
            return
        if self.profile.article_url:
            if not self.profile.is_article(url):
                return
        elif needs_regex:
            return      # without an article regex, links on a page cannot be told from navigation
        item.url = url
        known = self.batch.get(url)
        if known is None:
            self.batch[url] = item
            if len(self.batch) >= BATCH:
                self.flush()
            return
        _merge(known, item)

    def flush(self) -> None:
        """robots.txt on the batch, then the sink (or the kept ``found``)."""
        allowed = []
        for n, (url, item) in enumerate(self.batch.items()):
            if n % 100 == 0 and self.deadline is not None and time.monotonic() >= self.deadline:
                # robots.txt checks past the run's end (a huge robots.txt): the rest waits for the
                # next run, which reads the listing again.
                self.unconfirmed = True
                self.result.unread += 1
                break
            if self.client.allowed(url):
                allowed.append(item)
            else:
                self.result.disallowed += 1
                self.unconfirmed = self.unconfirmed or self.client.robots.for_url(url).unreachable
        self.batch = {}
        if self.sink is not None:
            if allowed:
                self.sink(allowed)
                self.result.sent += len(allowed)
            return
        for item in allowed:
            known = self.result.found.get(item.url)
            if known is None:
                self.result.found[item.url] = item
            else:
                _merge(known, item)


def _merge(known: Found, item: Found) -> None:
    known.also.append(f"{item.source} {item.source_url}")
    # A news sitemap or feed may know the title or date the first listing did not.
    known.title = known.title or item.title
    known.published = known.published or item.published


def _on_site(url: str, profile: Profile) -> bool:
    host = host_key(url)
    return any(host == d or host.endswith("." + d) for d in profile.domains)


def page_links(html: str, base_url: str, rejected: Rejected | None = None) -> tuple[list[str], list[str]]:
    """(every <a href> as an absolute URL, the feeds named by <link rel=alternate>) of a page.

    A link that is not a valid URL is counted in ``rejected`` and left out.
    """
    rejected = rejected if rejected is not None else Rejected()
    try:
        # document_fromstring: fromstring() would return a bare fragment's first element, whose
        # own <a> a descendant search never finds.
        tree = lxml.html.document_fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return [], []
    base = tree.find(".//base[@href]")
    if base is not None:
        base_url = _absolute(base_url, base.get("href"), rejected) or base_url
    hrefs = (a.get("href").strip() for a in tree.iterfind(".//a[@href]"))
    links = [url for href in hrefs if href and not href.startswith(("#", "javascript:", "mailto:"))
             if (url := _absolute(base_url, href, rejected))]
    feeds = [url for link in tree.iterfind(".//link[@href]")
             if "alternate" in (link.get("rel") or "").lower().split()
             and (link.get("type") or "").lower().split(";")[0].strip() in FEED_TYPES
             if (url := _absolute(base_url, link.get("href").strip(), rejected))]
    return links, feeds


def _absolute(base: str, href: str, rejected: Rejected) -> str | None:
    try:
        return resolve(base, href).text
    except BadURL as exc:
        if not href.lower().startswith(("tel:", "ftp:", "data:", "whatsapp:", "sms:", "viber:")):
            rejected.add(exc)    # links to other schemes are ordinary on news pages: not worth a line
        return None


def discover_site(profile: Profile, client: PoliteClient, *, max_sitemaps: int = MAX_SITEMAPS,
                  memory: ListingMemory | None = None, sink: Callable[[list[Found]], None] | None = None,
                  deadline: float | None = None) -> Discovery:
    """Read the site's robots.txt, start pages, feeds and sitemaps; return what was found and how.

    ``memory`` (the archive's listing cache) makes listing requests conditional; the caller stores
    ``result.listings`` once the URLs found are queued. ``sink`` receives them in batches instead
    of ``result.found``; ``deadline`` (time.monotonic) is when no further listing may be asked for.
    """
    result = Discovery(profile.name)
    memory = memory if memory is not None else ListingMemory(profile.name)   # knows nothing: full reads
    collector = _Collector(result, profile, client, sink, deadline)
    tz = profile.tz

    def get(url: str, *, html: bool, kind: str):
        """The page (a 304 Page when unchanged since its last complete read), or None if it failed."""
        if deadline is not None and time.monotonic() >= deadline:
            result.unread += 1      # nothing remembered: the next run reads it
            return None
        try:
            page = client.get(url, html=html, attempts=result.attempts, **memory.validators(url))
        except OutOfTime:
            result.unread += 1      # the run's time limit: not a failure of the listing
            return None
        except FetchError as exc:
            if not (isinstance(exc, RobotsDisallowed) and client.robots.for_url(url).unreachable):
                result.problems.append(f"{profile.name}: {exc}")   # (an unreachable host: said once above)
            memory.failed(url, kind, exc)
            return None
        result.listings_read += 1
        if page.not_modified:
            memory.not_modified(url, kind)
        return page

    def read(url: str, kind: str, page, items: Iterable[Found], rejected: Rejected, children=()) -> None:
        problem = None
        try:
            for n, item in enumerate(items, 1):
                collector.add(item, needs_regex=False, rejected=rejected)
                if n % BATCH == 0 and deadline is not None and time.monotonic() >= deadline:
                    # A huge listing read past the run's end: nothing remembered, read again next run.
                    result.unread += 1
                    collector.unconfirmed = True
                    return
        except ScraperError as exc:
            problem = f"{profile.name}: {exc}"    # what was read before the error is kept
            result.problems.append(problem)
        if rejected:
            result.problems.append(f"{profile.name}: {url}: {rejected}")
        if problem is None:
            memory.read(url, kind, page, children)      # children: filled by the reading by now
        else:
            memory.partial(url, kind, page, problem)

    # robots.txt of every host the profile names: pace and extra sitemaps.
    feeds = list(dict.fromkeys(profile.feeds))
    sitemaps = list(dict.fromkeys(profile.sitemaps))
    digests = []
    for origin in dict.fromkeys(robots_url(u) for u in (*profile.start, *profile.feeds, *profile.sitemaps)):
        robots = client.robots.for_url(origin)
        digests.append(robots.digest)
        if robots.unreachable:
            result.problems.append(f"{profile.name}: {origin} {robots.why}: nothing on that host is fetched")
        client.politeness.set_delay(origin, profile.delay, robots.crawl_delay(client.options.user_agent))
        sitemaps.extend(s for s in robots.sitemaps if s not in sitemaps and _on_site(s, profile))
        if robots.rejected:
            result.problems.append(f"{profile.name}: {origin}: Sitemap lines: {robots.rejected}")
    # A listing's validators are only trusted under the rules it was read with.
    memory.rules = reading_rules(profile.article_url, profile.domains, digests)

    for start in profile.start:
        page = get(start, html=True, kind="start-page")
        if page is None:
            continue
        if page.not_modified:
            alternates = list(memory.children(start))   # its feeds are still asked, conditionally
        else:
            rejected = Rejected()
            links, alternates = page_links(page.html, page.final_url, rejected)
            for link in links:
                collector.add(Found(link, "start-page", start), needs_regex=True, rejected=rejected)
            if rejected:
                result.problems.append(f"{profile.name}: {start}: {rejected}")
            alternates = [f for f in alternates if _on_site(f, profile)]
            memory.read(start, "start-page", page, alternates)
        feeds.extend(f for f in alternates if f not in feeds)

    for feed_url in feeds:
        page = get(feed_url, html=False, kind="feed")
        if page is not None and not page.not_modified:
            rejected = Rejected()
            read(feed_url, "feed", page, iter_feed(page.body, feed_url, tz, rejected), rejected)

    _read_sitemaps(sitemaps, get, read, memory, profile, max_sitemaps)

    collector.flush()
    if collector.unconfirmed:
        memory.unconfirmed()   # links dropped only for now (a host unreachable): read them again next run
    result.listings = dict(memory.results)
    return result


def _read_sitemaps(roots: list[str], get, read, memory: ListingMemory, profile: Profile, budget: int) -> None:
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
        rejected = Rejected()
        if looks_like_feed(page.body):   # robots.txt Sitemap: lines may name a feed
            read(url, "feed", page, iter_feed(page.body, url, profile.tz, rejected), rejected)
            continue
        newest = _Newest(MAX_CHILDREN)
        followed: list[str] = []     # the child sitemaps, newest first (an index's), once read

        def pages(body=page.body, url=url):
            try:
                for item in iter_sitemap(body, url, profile.tz, rejected):
                    if isinstance(item, SitemapRef):
                        if _on_site(item.url, profile):
                            newest.add(item)
                    else:
                        yield item
            finally:
                # An index cut short: its first children are still followed.
                followed.extend(newest.urls())
        read(url, "sitemap", page, pages(), rejected, followed)
        if depth + 1 < MAX_SITEMAP_DEPTH:
            todo.extend((child, depth + 1) for child in followed)


class _Newest:
    """The ``size`` newest child sitemaps of an index (by lastmod; undated ones count as oldest)."""

    _OLDEST = datetime.min.replace(tzinfo=timezone.utc)

    def __init__(self, size: int):
        self.size, self.heap, self.order = size, [], 0

    def add(self, ref: SitemapRef) -> None:
        # Ties keep the index's own order (earlier first), as a stable sort would.
        entry = (ref.lastmod or self._OLDEST, -self.order, ref.url)
        self.order += 1
        if len(self.heap) < self.size:
            heapq.heappush(self.heap, entry)
        else:
            heapq.heappushpop(self.heap, entry)

    def urls(self) -> list[str]:
        return [url for _, _, url in sorted(self.heap, reverse=True)]
