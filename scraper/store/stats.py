"""What the archive holds, per site and in total: articles, date range, last run, failures.

Read only: it never takes the write lock, so it can run while a cron archive run writes. Here in
the store, beside the tables it reads, because only the store writes SQL.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from ..errors import BadURL
from ..urls import host_key, parse_url
from . import runstate
from .archive import Archive
from .search import pending_count

NO_SITE = "(no site)"


def site_stats(archive: Archive) -> list[dict[str, Any]]:
    """One dict per site, most articles first."""
    sites: dict[str, dict[str, Any]] = {}

    def entry(name: str | None) -> dict[str, Any]:
        name = name or NO_SITE
        return sites.setdefault(name, {
            "site": name, "articles": 0, "first_published": None, "last_published": None,
            "undated": 0, "last_fetched": None, "revisions": 0, "pending": 0, "failing": 0,
            "gave_up": 0, "failed_urls": 0, "last_error": None, "last_run": None, "last_run_exit_code": None})

    for row in archive.query(
            "SELECT site, count(*) AS articles, min(published) AS first_published, "
            "max(published) AS last_published, count(*) FILTER (WHERE published IS NULL) AS undated, "
            "max(fetched_at) AS last_fetched FROM articles GROUP BY site"):
        entry(row.pop("site")).update(row)
    for row in archive.query("SELECT a.site, count(*) AS n FROM revisions r JOIN articles a "
                             "ON a.id = r.article_id GROUP BY a.site"):
        entry(row["site"])["revisions"] = row["n"]
    # The archiver's queue: URLs still to fetch, those failing (tried, to be retried later) and
    # those given up after too many tries, with the newest error as a hint.
    for row in archive.query(
            "SELECT site, count(*) FILTER (WHERE state = 'pending' AND tries = 0) AS pending, "
            "count(*) FILTER (WHERE state = 'pending' AND tries > 0) AS failing, "
            "count(*) FILTER (WHERE state = 'gave_up') AS gave_up FROM queue GROUP BY site"):
        entry(row.pop("site")).update(row)
    for row in archive.query("SELECT site, last_error FROM queue WHERE last_error IS NOT NULL ORDER BY next_try"):
        entry(row["site"])["last_error"] = row["last_error"]  # the one retried last wins
    for site, n in _failed_urls(archive)[0].items():
        entry(site)["failed_urls"] = n
    for site, run in runstate.last_runs(archive).items():
        entry(site).update(last_run=run["ended_at"] or run["started_at"],
                           last_run_exit_code=run["exit_code"])
    return sorted(sites.values(), key=lambda s: (-s["articles"], s["site"]))


def _failed_urls(archive: Archive) -> tuple[Counter, int]:
    """{site: URLs whose latest fetch failed} from the fetch log, which `scraper fetch` writes too,
    and how many of the failed were not valid URLs at all (`a b.com`, `xn--zz`): those belong to no
    site, and their "host" is no site's name.

    The log has URLs, not sites: a URL is the site's that queued it, else the site of archived
    articles on the same host, else its host (what the generic extractor names a site).
    """
    host_site = {host_key(row["url"]): row["site"] for row in archive.query(
        "SELECT site, min(url) AS url FROM articles WHERE site IS NOT NULL GROUP BY site")}
    queued = {row["url"]: row["site"] for row in archive.query(
        "SELECT q.url, q.site FROM queue q JOIN fetch_log f ON f.url = q.url WHERE f.outcome = 'failed'")}
    counts: Counter = Counter()
    invalid = 0
    for url in (row["url"] for row in archive.query(
            "SELECT url FROM fetch_log WHERE id IN (SELECT max(id) FROM fetch_log GROUP BY url) "
            "AND outcome = 'failed'")):
        if url not in queued and not _valid(url):
            invalid += 1
            continue
        counts[queued.get(url) or host_site.get(host_key(url)) or host_key(url) or None] += 1
    return counts, invalid


def _valid(url: str) -> bool:
    try:
        parse_url(url)
    except BadURL:
        return False
    return True


def totals(archive: Archive) -> dict[str, Any]:
    def one(sql: str) -> Any:
        return archive.scalar(sql)

    last_run = archive.query("SELECT started_at, ended_at, exit_code FROM runs ORDER BY id DESC LIMIT 1")
    return {
        "articles": one("SELECT count(*) FROM articles"),
        "revisions": one("SELECT count(*) FROM revisions"),
        "raw_pages": one("SELECT count(*) FROM pages"),
        "raw_bytes": one("SELECT coalesce(sum(size), 0) FROM pages"),
        "raw_bytes_stored": one("SELECT coalesce(sum(length(body)), 0) FROM pages"),
        "fetch_attempts": one("SELECT count(*) FROM fetch_log"),
        "failed_attempts": one("SELECT count(*) FROM fetch_log WHERE outcome = 'failed'"),
        "invalid_urls": _failed_urls(archive)[1],
        "runs": one("SELECT count(*) FROM runs"),
        "last_run": last_run[0] if last_run else None,
        "search_pending": pending_count(archive),
    }


def collect(archive: Archive) -> dict[str, Any]:
    return {"sites": site_stats(archive), "totals": totals(archive)}
