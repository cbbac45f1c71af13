"""One page into one row, the same way whichever command brought the page; and each site's
learned template, learned from the archive when it is due.

The record path, in two halves so the first can run anywhere (a worker thread, a worker process)
and only the second touches the archive:

    page_to_article(page, profiles, template, listing)   Page -> Article: extract with the site's
                                                         template, the listing fills what the page lacks (pure)
    article_to_row(archive, article, page, attempts)     Article + Page -> row: save, log every attempt

``record_page`` does both for a page in hand (`scraper fetch`, `import-warc`), ``record_one``
fetches a target first (`scraper fetch` of one target): ``admit`` (checks, `skipped`), ``load``
(any thread), ``record_page``. `scraper fetch` of many targets (crawl/batch.py) and the cron run
(crawl/run.py) call these steps and the halves from their workers and their own thread; `reextract` (use/reextract.py) runs ``page_to_article`` again on the
stored page and rewrites the row in place (``rederive``). So a page gives the same record
whichever way it came in.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

from .errors import BadURL, ExtractionError, FetchError, ScraperError, StoreError, UnsupportedURL
from .extract.article import extract_page
from .extract.templates import SiteTemplate, learn_template
from .fetch.http import FetchOptions, fetch, load_file
from .models import Article, FetchAttempt, Found, Page
from .profiles import Profile, site_of
from .store import runstate, site_templates
from .store.archive import Archive
from .urls import canonicalize, parse_url

RECENT_PAGES = 50       # pages a site's template is learned from: its most recently fetched ones
# Learning reads up to RECENT_PAGES pages (~40 ms each), so it is redone when the site's archived
# articles have doubled since (3, 6, 12, ... while the template is young) and then every
# RELEARN_EVERY new articles: about 40 ms per archived article, and a redesign is learned within
# RELEARN_EVERY articles.
RELEARN_EVERY = 50

# A new version of an article that has lost more than this share of the text it replaces is said
# on stderr, and the version it replaces is kept in `revisions` (a refresh always keeps it; a
# re-extraction keeps it then). Publishers seldom cut a story; a rule or a template that cuts one
# is a bug the user must see, and be able to undo.
SHRINK_SHARE = 0.1

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
    shrank: str | None = None  # `updated` with much less text: "text 714 -> 177 characters (-75%)"
    bad_url: bool = False      # `failed` because what was given is not a valid URL (BadURL)


def shrinkage(before: int | None, after: int) -> str | None:
    """How a text of ``before`` characters shrank to ``after``, when it lost more than SHRINK_SHARE."""
    if before and after < (1 - SHRINK_SHARE) * before:
        return f"text {before:,} -> {after:,} characters (-{1 - after / before:.0%})"
    return None


# -- the two halves ----------------------------------------------------------------------------

def page_to_article(page: Page, profiles: Mapping[str, Profile] | None = None,
                    template: SiteTemplate | None = None, listing: Found | None = None) -> Article:
    """Page -> Article, pure: raise ExtractionError when the page holds no article.

    ``template`` is the site's learned template (``template_for``); ``listing`` what the feed or
    sitemap that listed the page said of it, whose title and date fill what the page lacks.
    """
    return fill_from_listing(extract_page(page, profiles, template=template), listing)


def fill_from_listing(article: Article, listing: Found | None) -> Article:
    """The listing's title and date fill what the page lacks, and the provenance says so."""
    if listing is None:
        return article
    changes, provenance = {}, dict(article.provenance)
    where = f"{listing.source} {listing.source_url}".strip()
    if not article.title and listing.title:
        changes["title"], provenance["title"] = listing.title, where
    if not article.published and listing.published:
        changes["published"], provenance["published"] = listing.published, where
    return article.replace(**changes, provenance=provenance) if changes else article


def article_to_row(archive: Archive, article: Article, page: Page, *,
                   attempts: Sequence[FetchAttempt] = (), run_id: int | None = None) -> Outcome:
    """Article + Page -> row: save the article with its raw page, then log the fetch's attempts
    (a page that came without HTTP, from a file or a WARC, logs none unless given)."""
    result = archive.save(article, page, run_id=run_id)
    if attempts:
        archive.log_attempts(attempts, final=result.outcome, run_id=run_id)
    return Outcome(page.url, page.final_url, result.outcome, result.article_id, article.title,
                   shrank=shrinkage(result.previous_chars, len(article.text)))


# -- both halves, for the commands ------------------------------------------------------------

def record_page(archive: Archive, page: Page, *, profiles: Mapping[str, Profile] | None = None,
                attempts: Sequence[FetchAttempt] = (), run_id: int | None = None) -> Outcome:
    """A page in hand into its row: the site's template (learned first when due), the listing the
    archive keeps for its URL, extract, save, log ``attempts`` (none for a WARC capture). A page
    without an article is a `failed` outcome."""
    template, listing = context_for(archive, page, profiles)
    try:
        article = page_to_article(page, profiles, template, listing)
    except ExtractionError as exc:
        return record_extracted(archive, page, exc, attempts=attempts, run_id=run_id)
    return record_extracted(archive, page, article, attempts=attempts, run_id=run_id)


def context_for(archive: Archive, page: Page, profiles: Mapping[str, Profile] | None
                ) -> tuple[SiteTemplate | None, Found | None]:
    """What ``page_to_article`` needs from the archive for ``page``: its site's template (learned
    first when due: this writes) and the listing kept for its URL."""
    return (template_for(archive, site_of(page.final_url, profiles)),
            runstate.listing(archive, canonicalize(page.url)))


def record_extracted(archive: Archive, page: Page, extracted: Article | ScraperError, *,
                     attempts: Sequence[FetchAttempt] = (), run_id: int | None = None) -> Outcome:
    """What ``page_to_article`` made of ``page`` into the archive: the article saved, or the error
    that says why there is none logged (with ``attempts``) as a `failed` outcome."""
    if isinstance(extracted, ScraperError):
        if attempts:
            archive.log_attempts(attempts, final=FAILED, error=str(extracted), run_id=run_id)
        return Outcome(page.url, page.final_url, FAILED, error=str(extracted))
    return article_to_row(archive, extracted, page, attempts=attempts, run_id=run_id)


def is_local(target: str) -> bool:
    """Whether ``target`` names a saved page (a path or a file: URI) rather than a web address: what
    has no scheme is a path, existing or not (a mistyped file is an error, never a fetch)."""
    return target.lower().startswith("file:") or "://" not in target


@dataclass(frozen=True)
class Admitted:
    """A target that passed ``admit``: to be loaded (fetched, or read from its file)."""
    target: str              # what the user gave (a URL, with its credentials if any, or a file path)
    address: str             # the validated address it is archived under (the path for a bare file)
    url: str | None = None   # --url: the address of a saved page
    local: bool = False


def admit(target: str, archive: Archive, *, url: str | None = None, refresh: bool = False,
          run_id: int | None = None) -> Admitted | Outcome:
    """A target checked before anything is loaded: its Outcome when that ends it here (`failed`, a
    bad URL or a missing file; `skipped`, already archived unless ``refresh``), each logged, else
    the Admitted target to ``load``."""
    local = is_local(target)
    address = url or target
    try:
        if url and not local:
            raise UnsupportedURL(target, "--url gives the address of a saved page: this is no file")
        if local and not url and not target.lower().startswith("file:") and not os.path.lexists(target):
            raise UnsupportedURL(target, "no such file, and not an http(s) URL")
        # Every address goes through the one validating parse: a bad one is one failed outcome.
        address = parse_url(address).text if not local or url else address
    except UnsupportedURL as exc:
        archive.log_attempts([FetchAttempt(exc.url)], final=FAILED, error=str(exc), run_id=run_id)
        return Outcome(target, exc.url, FAILED, error=str(exc), bad_url=isinstance(exc, BadURL))
    if not local and not refresh and archive.has(canonicalize(address)):
        archive.log_fetch(address, outcome=SKIPPED, error="already archived", run_id=run_id)
        return Outcome(target, address, SKIPPED, archive.find(canonicalize(address)))
    return Admitted(target, address, url, local)


def load(admitted: Admitted, options: FetchOptions, attempts: list[FetchAttempt]) -> Page:
    """The admitted target's page, fetched (each HTTP attempt appended to ``attempts``) or read from
    its file; raise FetchError. No archive here: this runs in any thread."""
    if admitted.local:
        return load_file(admitted.target, url=admitted.url)
    return fetch(admitted.target, options, on_attempt=attempts.append)   # with its credentials, if any


def load_failed(archive: Archive, admitted: Admitted, error: FetchError, attempts: Sequence[FetchAttempt],
                *, run_id: int | None = None) -> Outcome:
    """A target that could not be loaded, logged: no attempt at all (a bad scheme, a missing file)
    is still a line in the log."""
    archive.log_attempts(attempts or [FetchAttempt(admitted.address)], final=FAILED, error=str(error),
                         run_id=run_id)
    return Outcome(admitted.target, admitted.address, FAILED, error=str(error))


def record_one(target: str, archive: Archive, options: FetchOptions = FetchOptions(), *,
               url: str | None = None, refresh: bool = False, run_id: int | None = None,
               profiles: Mapping[str, Profile] | None = None,
               on_page: Callable[[Page], None] | None = None) -> Outcome:
    """Fetch one URL (or load a saved file) and record it; return what happened (failures are
    outcomes, not raises). With ``url`` (the address of a saved page) ``target`` must be a file.
    (Many targets at once: crawl/batch.py, from the same steps.)

    Store errors (disk full, database busy) do raise: no later target could be saved either.
    """
    admitted = admit(target, archive, url=url, refresh=refresh, run_id=run_id)
    if isinstance(admitted, Outcome):
        return admitted
    attempts: list[FetchAttempt] = []
    try:
        page = load(admitted, options, attempts)
    except FetchError as exc:
        return load_failed(archive, admitted, exc, attempts, run_id=run_id)
    outcome = record_page(archive, page, profiles=profiles, run_id=run_id,
                          attempts=attempts or [FetchAttempt.of_page(page)])
    # After the article and its attempt are stored: a WARC that cannot be written (a full disk)
    # stops the command but loses neither.
    if on_page is not None:
        on_page(page)
    return dataclasses.replace(outcome, target=target)


@dataclass(frozen=True)
class Rederived:
    changed: list[str]          # the fields that changed
    shrank: str | None = None   # the text lost more than SHRINK_SHARE: the old version went to `revisions`


def rederive(archive: Archive, article_id: int, page: Page, *, profiles: Mapping[str, Profile] | None,
             template: SiteTemplate | None, dry_run: bool = False) -> Rederived:
    """The stored ``page`` of article ``article_id`` through ``page_to_article`` again, and every
    field derived from it rewritten in place (``Archive.rewrite``). A new text that lost more than
    SHRINK_SHARE of the old keeps the old version in `revisions`, so a rule or template gone wrong
    destroys nothing. Raise ExtractionError when the page no longer gives an article (the row is
    left as it was)."""
    key = archive.key_url(article_id)
    article = page_to_article(page, profiles, template, runstate.listing(archive, key))
    shrank = shrinkage(len(archive.get(key)["text"] or ""), len(article.text))
    changed = archive.rewrite(article_id, article, page, dry_run=dry_run, keep_revision=shrank is not None)
    return Rederived(changed, shrank if changed else None)


# -- each site's learned template --------------------------------------------------------------

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
