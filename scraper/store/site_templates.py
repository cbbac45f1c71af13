"""The archive's learned templates: one per site in the `site_templates` table.

Storage only: which template a site has and how many articles it had then, and the raw pages a
template is learned from. When to learn one, and the learning itself, are the pipeline's
(scraper/pipeline.py) and the extractor's (scraper/extract/templates.py); the table is migration
templates_001_site_templates's (store/migrations.py).
"""
from __future__ import annotations

from typing import Iterator

from ..clock import iso_utc
from ..errors import NotArchived
from .archive import Archive

TABLE = "site_templates"


def site_articles(archive: Archive, site: str) -> int:
    """How many articles of ``site`` the archive holds."""
    return archive.scalar("SELECT count(*) FROM articles WHERE site = ?", [site])


def recent_pages(archive: Archive, site: str, limit: int) -> Iterator[str]:
    """The html of the site's ``limit`` most recently fetched raw pages, one decompressed at a time."""
    ids = [row["id"] for row in archive.query(
        "SELECT id FROM articles WHERE site = ? ORDER BY fetched_at DESC, id DESC LIMIT ?", [site, limit])]
    for article_id in ids:
        try:
            yield archive.raw_page(article_id).html
        except NotArchived:
            continue


def stored(archive: Archive, site: str) -> tuple[int, str] | None:
    """(the site's article count when learned, its template as JSON), or None when it has none yet."""
    found = archive.query(f"SELECT articles, template FROM {TABLE} WHERE site = ?", [site])
    return (found[0]["articles"], found[0]["template"]) if found else None


def store(archive: Archive, site: str, template_json: str, pages: int, articles: int) -> None:
    """Keep a template (as JSON) as the site's, learned from ``pages`` when it had ``articles``."""
    now = iso_utc(archive.now())
    with archive.transaction() as tx:
        tx.execute(f"INSERT INTO {TABLE} (site, learned_at, pages, articles, template) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (site) DO UPDATE SET learned_at = excluded.learned_at, pages = excluded.pages, "
                   "articles = excluded.articles, template = excluded.template",
                   [site, now, pages, articles, template_json])
