"""One target through the whole pipeline: fetch -> extract -> store, every attempt logged; and
each site's learned template, learned from the archive when it is due.

Shared by `scraper fetch` and the cron run so both record the same outcomes the same way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Mapping

from .errors import ExtractionError, FetchError, StoreError
from .extract.article import extract_page
from .fetch.http import FetchOptions, fetch, load_file
from .models import Page
from .profiles import Profile, site_of
from .store import site_templates
from .extract.templates import SiteTemplate, learn_template
from .store.archive import Archive
from .urls import canonicalize

RECENT_PAGES = 50       # pages a site's template is learned from: its most recently fetched ones
# Learning reads up to RECENT_PAGES pages (~40 ms each), so it is redone when the site's archived
# articles have doubled since (3, 6, 12, ... while the template is young) and then every
# RELEARN_EVERY new articles: about 40 ms per archived article, and a redesign is learned within
# RELEARN_EVERY articles.
RELEARN_EVERY = 50

# What a target can come to; the CLI prints one line per target with one of these words.
SAVED, UPDATED, UNCHANGED, NOT_MODIFIED, SKIPPED, FAILED = (
    "saved", "updated", "unchanged", "not_modified", "skipped", "failed")


@dataclass(frozen=True)
class Outcome:
    target: str               # what the user gave (a URL or a file path)
    url: str                  # the address it was archived under
    status: str               # one of the words above
    article_id: int | None = None
    title: str | None = None
    error: str | None = None  # one line, for `failed`


def is_local(target: str) -> bool:
    return target.startswith("file://") or (
        "://" not in target and os.path.exists(target))


def archive_one(target: str, archive: Archive, options: FetchOptions = FetchOptions(), *,
                url: str | None = None, refresh: bool = False, run_id: int | None = None,
                profiles: Mapping[str, Profile] | None = None,
                on_page: Callable[[Page], None] | None = None) -> Outcome:
    """Archive one URL or saved file; return what happened (failures are outcomes, not raises).

    Store errors (disk full, database busy) do raise: no later target could be saved either.
    """
    local = is_local(target)
    address = url or target
    if not local and not refresh and archive.has(canonicalize(address)):
        archive.log_fetch(address, outcome=SKIPPED, error="already archived", run_id=run_id)
        return Outcome(target, address, SKIPPED, archive.find(canonicalize(address)))

    attempts: list[dict] = []
    try:
        if local:
            page = load_file(target.removeprefix("file://"), url=url)
        else:
            page = fetch(address, options, on_attempt=attempts.append)
    except FetchError as exc:
        # No attempt at all (a bad scheme, a missing file) is still a line in the log.
        archive.log_attempts(attempts or [{"url": address}], final=FAILED, error=str(exc),
                             run_id=run_id)
        return Outcome(target, address, FAILED, error=str(exc))
    if on_page is not None:
        on_page(page)
    # The site's learned template (learned here when due); outside the try: a store error stops the run.
    template = template_for(archive, site_of(page.final_url, profiles))
    try:
        article = extract_page(page, profiles, template=template)
    except ExtractionError as exc:
        archive.log_attempts(attempts or [_file_attempt(page)], final=FAILED, error=str(exc),
                             run_id=run_id)
        return Outcome(target, page.final_url, FAILED, error=str(exc))
    result = archive.save(article, page, run_id=run_id)
    archive.log_attempts(attempts or [_file_attempt(page)], final=result.outcome, run_id=run_id)
    return Outcome(target, page.final_url, result.outcome, result.article_id, article.title)


def _file_attempt(page: Page) -> dict:
    return {"url": page.final_url, "status": page.status, "error": None, "bytes": len(page.body),
            "elapsed": page.elapsed, "etag": page.etag, "last_modified": page.last_modified}


def learn_site(archive: Archive, site: str, *, limit: int = RECENT_PAGES, min_pages: int = 3,
               min_share: float = 0.6) -> SiteTemplate:
    """Learn ``site``'s template from its ``limit`` most recently fetched raw pages and store it."""
    articles = site_templates.site_articles(archive, site)
    template = learn_template(site_templates.recent_pages(archive, site, limit),
                              min_pages=min_pages, min_share=min_share)
    site_templates.store(archive, site, template.to_json(), template.pages, articles)
    return template


def template_for(archive: Archive, site: str | None, *, learn: bool = True,
                 relearn_every: int = RELEARN_EVERY, min_pages: int = 3) -> SiteTemplate | None:
    """The site's learned template, or None when it has none (yet) or it holds no block.

    With ``learn`` (the default) the template is learned first when the site has ``min_pages``
    archived articles and no template, or twice as many articles as when last learned, or
    ``relearn_every`` more, so the archiver's template follows the site's redesigns by itself.
    """
    if not site:
        return None
    kept = site_templates.stored(archive, site)
    if learn:
        articles = site_templates.site_articles(archive, site)
        if articles >= min_pages and (kept is None or articles - kept[0] >= min(relearn_every, max(kept[0], 1))):
            template = learn_site(archive, site, min_pages=min_pages)
            return None if template.empty else template
    if kept is None:
        return None
    try:
        template = SiteTemplate.from_json(kept[1])
    except ValueError as exc:
        raise StoreError(f"the stored template of site {site!r} is unreadable ({exc}); delete its row "
                         f"from {site_templates.TABLE} to learn it again") from None
    return None if template.empty else template
