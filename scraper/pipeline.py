"""One target through the whole pipeline: fetch -> extract -> store, every attempt logged.

Shared by `scraper fetch` and the cron run so both record the same outcomes the same way.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Mapping

from .errors import ExtractionError, FetchError
from .extract import extract_page
from .fetch import FetchOptions, fetch, load_file
from .models import Page
from .profiles import Profile
from .site_templates import site_of, template_for
from .store import Archive
from .urls import canonicalize

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
