"""Re-extraction: rebuild article records from the raw pages kept in the archive, without fetching.

After a rule or profile change, every stored page goes through the extractor again and the
record's fields that come out different are updated in place. The page did not change, so no
revision is added (revisions are versions of the article, not of our rules); the key URL is never
changed (links to it keep working). A title or date that came from a feed or sitemap listing is
filled in again when the page still lacks it, as the archiver does. The search index follows by
itself (its triggers see the update).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from ..errors import ScraperError
from ..extract.article import extract_page
from ..models import ARTICLE_FIELDS, Article, Page
from ..profiles import Profile
from ..pipeline import template_for
from ..profiles import site_of
from ..store.archive import Archive

# `url` is the row's identity (the store keeps the first key URL); everything else is rebuilt.
REBUILT_FIELDS = tuple(name for name in ARTICLE_FIELDS if name != "url")
_MAX_ERRORS_KEPT = 20


@dataclass
class ReextractReport:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    fields: Counter = field(default_factory=Counter)       # field name -> records where it changed
    errors: list[tuple[int, str]] = field(default_factory=list)  # (article id, message), the first few

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "changed": self.changed, "failed": self.failed,
                "fields": dict(self.fields.most_common()), "errors": self.errors}


def record_values(article: Article, page: Page) -> dict[str, Any]:
    """The article's fields as the store writes them (tags as JSON, final_url from the page)."""
    values = {name: getattr(article, name) for name in REBUILT_FIELDS}
    values["tags"] = json.dumps(list(article.tags or []), ensure_ascii=False)
    values["final_url"] = article.final_url or page.final_url
    return values


def _listing(archive: Archive, url: str) -> dict[str, Any]:
    """The feed/sitemap title and date the archiver saw for this URL (if the queue exists)."""
    if "queue" not in archive.db.table_names():
        return {}
    row = archive.db.execute("SELECT feed_title, feed_published FROM queue WHERE url = ?", [url]).fetchone()
    return {"title": row[0], "published": row[1]} if row else {}


def changed_fields(current: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if current.get(name) != value}


def reextract(archive: Archive, *, site: str | None = None, dry_run: bool = False,
              progress: Callable[[int], None] | None = None,
              profiles: Mapping[str, Profile] | None = None) -> ReextractReport:
    """Re-extract every archived article of ``site`` (all sites by default) from its raw page.

    ``dry_run`` counts what would change and writes nothing. A page the extractor now rejects is
    counted as failed and its record left as it was.
    """
    report = ReextractReport()
    articles = archive.db.table("articles")
    templates: dict[str | None, Any] = {}
    for article_id, page in archive.iter_raw_pages(site):
        report.checked += 1
        if progress:
            progress(report.checked)
        try:
            page_site = site_of(page.final_url, profiles)
            if page_site not in templates:   # read once per site; never learned here (no fetch, no new data)
                templates[page_site] = template_for(archive, page_site, learn=False)
            article = extract_page(page, profiles, template=templates[page_site])
        except ScraperError as exc:
            report.failed += 1
            if len(report.errors) < _MAX_ERRORS_KEPT:
                report.errors.append((article_id, str(exc)))
            continue
        current = articles.get(article_id)
        values = record_values(article, page)
        for name, value in _listing(archive, current["url"]).items():
            if not values[name] and value:
                values[name] = value
        changes = changed_fields(current, values)
        if not changes:
            continue
        report.changed += 1
        report.fields.update(changes.keys())
        if not dry_run:
            stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
            with archive.transaction() as db:
                db.table("articles").update(article_id, {**changes, "updated_at": stamp})
    return report
