"""What the archive holds, per site and in total: articles, date range, last run, failures.

Read only: it never takes the write lock, so it can run while a cron archive run writes.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from ..store import runstate
from ..store.search import PENDING_TABLE
from ..store.archive import Archive
from ..urls import host_key

NO_SITE = "(no site)"


def site_stats(archive: Archive) -> list[dict[str, Any]]:
    """One dict per site, most articles first."""
    db = archive.db
    sites: dict[str, dict[str, Any]] = {}

    def entry(name: str | None) -> dict[str, Any]:
        name = name or NO_SITE
        return sites.setdefault(name, {
            "site": name, "articles": 0, "first_published": None, "last_published": None,
            "undated": 0, "last_fetched": None, "revisions": 0, "pending": 0, "failing": 0,
            "gave_up": 0, "failed_urls": 0, "last_error": None, "last_run": None, "last_run_exit_code": None})

    for site, n, first, last, undated, fetched in db.execute(
            "SELECT site, count(*), min(published), max(published), "
            "sum(published IS NULL), max(fetched_at) FROM articles GROUP BY site"):
        entry(site).update(articles=n, first_published=first, last_published=last,
                           undated=undated, last_fetched=fetched)
    for site, n in db.execute("SELECT a.site, count(*) FROM revisions r JOIN articles a "
                              "ON a.id = r.article_id GROUP BY a.site"):
        entry(site)["revisions"] = n
    # The archiver's queue: URLs still to fetch, those failing (tried, to be retried later) and
    # those given up after too many tries, with the newest error as a hint.
    for site, pending, failing, gave_up in db.execute(
            "SELECT site, sum(state = 'pending' AND tries = 0), sum(state = 'pending' AND tries > 0), "
            "sum(state = 'gave_up') FROM queue GROUP BY site"):
        entry(site).update(pending=pending, failing=failing, gave_up=gave_up)
    for site, error in db.execute("SELECT site, last_error FROM queue WHERE last_error IS NOT NULL "
                                  "ORDER BY next_try"):
        entry(site)["last_error"] = error  # the one retried last wins
    for site, n in _failed_urls(db).items():
        entry(site)["failed_urls"] = n
    for site, run in runstate.last_runs(archive).items():
        entry(site).update(last_run=run["ended_at"] or run["started_at"],
                           last_run_exit_code=run["exit_code"])
    return sorted(sites.values(), key=lambda s: (-s["articles"], s["site"]))


def _failed_urls(db) -> Counter:
    """{site: URLs whose latest fetch failed} from the fetch log, which `scraper fetch` writes too.

    The log has URLs, not sites: a URL is the site's that queued it, else the site of archived
    articles on the same host, else its host (what the generic extractor names a site).
    """
    host_site = {host_key(url): site for site, url in db.execute(
        "SELECT site, min(url) FROM articles WHERE site IS NOT NULL GROUP BY site")}
    queued = dict(db.execute(
        "SELECT q.url, q.site FROM queue q JOIN fetch_log f ON f.url = q.url WHERE f.outcome = 'failed'"))
    counts: Counter = Counter()
    for (url,) in db.execute(
            "SELECT url FROM fetch_log WHERE id IN (SELECT max(id) FROM fetch_log GROUP BY url) "
            "AND outcome = 'failed'"):
        counts[queued.get(url) or host_site.get(host_key(url)) or host_key(url) or None] += 1
    return counts


def totals(archive: Archive) -> dict[str, Any]:
    db = archive.db

    def one(sql: str) -> Any:
        return db.execute(sql).fetchone()[0]

    last_run = db.execute("SELECT started_at, ended_at, exit_code FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return {
        "articles": one("SELECT count(*) FROM articles"),
        "revisions": one("SELECT count(*) FROM revisions"),
        "raw_pages": one("SELECT count(*) FROM pages"),
        "raw_bytes": one("SELECT coalesce(sum(size), 0) FROM pages"),
        "raw_bytes_stored": one("SELECT coalesce(sum(length(body)), 0) FROM pages"),
        "fetch_attempts": one("SELECT count(*) FROM fetch_log"),
        "failed_attempts": one("SELECT count(*) FROM fetch_log WHERE outcome = 'failed'"),
        "runs": one("SELECT count(*) FROM runs"),
        "last_run": None if last_run is None else {
            "started_at": last_run[0], "ended_at": last_run[1], "exit_code": last_run[2]},
        "search_pending": one(f"SELECT count(*) FROM {PENDING_TABLE}"),
    }


def collect(archive: Archive) -> dict[str, Any]:
    return {"sites": site_stats(archive), "totals": totals(archive)}
