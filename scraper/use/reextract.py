"""Re-extraction: rebuild article records from the raw pages kept in the archive, without fetching.

After a rule or profile change, every stored page goes through the record path's first half again
(pipeline.page_to_article: the site's template, then the listing's title and date where the page
lacks them, as when it was archived) and every field of the record derived from it, provenance
included, is rewritten in place where it came out different. The page did not change, so no
revision is added (revisions are versions of the article, not of our rules), except when the new
text has lost more than a small share of the old (pipeline.SHRINK_SHARE): then the old version is
kept in `revisions` and the report lists the record, since a rule or template that cuts stories
must be seen and undone. The key URL is never changed (links to it keep working). The search index
follows by itself (its triggers see the update).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..errors import ExtractionError
from ..extract.templates import SiteTemplate
from ..pipeline import rederive, template_for
from ..profiles import Profile, site_of
from ..store.archive import Archive

_MAX_ERRORS_KEPT = 20


@dataclass
class ReextractReport:
    checked: int = 0
    changed: int = 0
    failed: int = 0
    fields: Counter = field(default_factory=Counter)       # field name -> records where it changed
    errors: list[tuple[int, str]] = field(default_factory=list)  # (article id, message), the first few
    shrank: list[tuple[int, str, str]] = field(default_factory=list)  # (id, key URL, "text 714 -> 177 ...")

    def to_dict(self) -> dict[str, Any]:
        return {"checked": self.checked, "changed": self.changed, "failed": self.failed,
                "fields": dict(self.fields.most_common()), "errors": self.errors,
                "shrank": [{"id": i, "url": url, "change": what} for i, url, what in self.shrank]}


def reextract(archive: Archive, *, site: str | None = None, dry_run: bool = False,
              progress: Callable[[int], None] | None = None,
              profiles: Mapping[str, Profile] | None = None,
              ids: tuple[int, int] | None = None) -> ReextractReport:
    """Re-extract every archived article of ``site`` (all sites by default) from its raw page;
    with ``ids`` (first, last), only those in that range of ids (one worker's share).

    ``dry_run`` counts what would change and writes nothing. A page the extractor now rejects is
    counted as failed and its record left as it was.
    """
    report = ReextractReport()
    templates: dict[str | None, SiteTemplate | None] = {}
    for article_id, page in archive.iter_raw_pages(site, ids):
        report.checked += 1
        if progress:
            progress(report.checked)
        page_site = site_of(page.final_url, profiles)
        if page_site not in templates:   # read once per site; never learned here (no fetch, no new data)
            templates[page_site] = template_for(archive, page_site, learn=False)
        try:
            result = rederive(archive, article_id, page, profiles=profiles, template=templates[page_site],
                              dry_run=dry_run)
        except ExtractionError as exc:   # store errors stop the run: no later record could be written
            report.failed += 1
            if len(report.errors) < _MAX_ERRORS_KEPT:
                report.errors.append((article_id, str(exc)))
            continue
        if result.changed:
            report.changed += 1
            report.fields.update(result.changed)
        if result.shrank:   # every one, however many: each is a record that lost text
            report.shrank.append((article_id, archive.key_url(article_id), result.shrank))
    return report
