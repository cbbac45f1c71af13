"""The archive's learned templates: one per site in the `site_templates` table.

Storage only: which template a site has and how many articles it had then, and the raw pages a
template is learned from. When to learn one, and the learning itself, are the pipeline's
(scraper/pipeline.py) and the extractor's (scraper/extract/templates.py).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator

from sqlite_utils import Database

from ..errors import NotArchived

TABLE = "site_templates"


def create_table(db: Database) -> None:
    """The migration (see scraper/store/migrations.py): one learned template per site."""
    db.execute(f"""CREATE TABLE {TABLE} (
        site TEXT PRIMARY KEY,           -- articles.site
        learned_at TEXT NOT NULL,        -- UTC ISO 8601
        pages INTEGER NOT NULL,          -- pages it was learned from (the most recent ones)
        articles INTEGER NOT NULL,       -- the site's archived articles then (when to learn again)
        template TEXT NOT NULL           -- SiteTemplate.to_json()
    )""")


def site_articles(archive, site: str) -> int:
    """How many articles of ``site`` the archive holds."""
    return archive.db.execute("SELECT count(*) FROM articles WHERE site = ?", [site]).fetchone()[0]


def recent_pages(archive, site: str, limit: int) -> Iterator[str]:
    """The html of the site's ``limit`` most recently fetched raw pages, one decompressed at a time."""
    ids = [row[0] for row in archive.db.execute(
        "SELECT id FROM articles WHERE site = ? ORDER BY fetched_at DESC, id DESC LIMIT ?",
        [site, limit]).fetchall()]
    for article_id in ids:
        try:
            yield archive.raw_page(article_id).html
        except NotArchived:
            continue


def stored(archive, site: str) -> tuple[int, str] | None:
    """(the site's article count when learned, its template as JSON), or None when it has none yet."""
    row = archive.db.execute(f"SELECT articles, template FROM {TABLE} WHERE site = ?", [site]).fetchone()
    return None if row is None else (row[0], row[1])


def store(archive, site: str, template_json: str, pages: int, articles: int) -> None:
    """Keep a template (as JSON) as the site's, learned from ``pages`` when it had ``articles``."""
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with archive.transaction() as db:
        db.execute(f"INSERT OR REPLACE INTO {TABLE} (site, learned_at, pages, articles, template) "
                   "VALUES (?, ?, ?, ?, ?)", [site, now, pages, articles, template_json])
