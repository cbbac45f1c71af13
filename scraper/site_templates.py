"""The archive's learned templates: one per site in the `site_templates` table, learned from its stored pages.

`template_for(archive, site)` is what the archiver calls before extracting a page of ``site``: it
learns the site's template from the raw pages already archived (the most recent RECENT_PAGES) when
there is none yet or the site has grown since, and returns it. The learning itself is pure and
lives in scraper/templates.py.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterator, Mapping

from sqlite_utils import Database

from .errors import NotArchived, StoreError
from .profiles import Profile, profile_for
from .templates import SiteTemplate, learn_template
from .urls import host_key

TABLE = "site_templates"
RECENT_PAGES = 50       # pages a site's template is learned from: its most recently fetched ones
# Learning reads up to RECENT_PAGES pages (~40 ms each), so it is redone when the site's archived
# articles have doubled since (3, 6, 12, ... while the template is young) and then every
# RELEARN_EVERY new articles: about 40 ms per archived article, and a redesign is learned within
# RELEARN_EVERY articles.
RELEARN_EVERY = 50


def create_table(db: Database) -> None:
    """The migration (see scraper/migrations.py): one learned template per site."""
    db.execute(f"""CREATE TABLE {TABLE} (
        site TEXT PRIMARY KEY,           -- articles.site
        learned_at TEXT NOT NULL,        -- UTC ISO 8601
        pages INTEGER NOT NULL,          -- pages it was learned from (the most recent ones)
        articles INTEGER NOT NULL,       -- the site's archived articles then (when to learn again)
        template TEXT NOT NULL           -- SiteTemplate.to_json()
    )""")


def site_of(url: str | None, profiles: Mapping[str, Profile] | None = None) -> str | None:
    """The ``site`` the extractor will give a page at ``url``: its profile's name, else its host."""
    profile = profile_for(url, profiles)
    return profile.name if profile else (host_key(url) if url else None) or None


def _site_articles(archive, site: str) -> int:
    return archive.db.execute("SELECT count(*) FROM articles WHERE site = ?", [site]).fetchone()[0]


def _recent_pages(archive, site: str, limit: int) -> Iterator[str]:
    ids = [row[0] for row in archive.db.execute(
        "SELECT id FROM articles WHERE site = ? ORDER BY fetched_at DESC, id DESC LIMIT ?",
        [site, limit]).fetchall()]
    for article_id in ids:  # one raw page decompressed at a time
        try:
            yield archive.raw_page(article_id).html
        except NotArchived:
            continue


def learn_site(archive, site: str, *, limit: int = RECENT_PAGES, min_pages: int = 3,
               min_share: float = 0.6) -> SiteTemplate:
    """Learn ``site``'s template from its ``limit`` most recently fetched raw pages and store it."""
    articles = _site_articles(archive, site)
    template = learn_template(_recent_pages(archive, site, limit), min_pages=min_pages, min_share=min_share)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with archive.transaction() as db:
        db.execute(f"INSERT OR REPLACE INTO {TABLE} (site, learned_at, pages, articles, template) "
                   "VALUES (?, ?, ?, ?, ?)", [site, now, template.pages, articles, template.to_json()])
    return template


def template_for(archive, site: str | None, *, learn: bool = True,
                 relearn_every: int = RELEARN_EVERY, min_pages: int = 3) -> SiteTemplate | None:
    """The site's learned template, or None when it has none (yet) or it holds no block.

    With ``learn`` (the default) the template is learned first when the site has ``min_pages``
    archived articles and no template, or twice as many articles as when last learned, or
    ``relearn_every`` more, so the archiver's template follows the site's redesigns by itself.
    """
    if not site:
        return None
    row = archive.db.execute(f"SELECT articles, template FROM {TABLE} WHERE site = ?", [site]).fetchone()
    if learn:
        articles = _site_articles(archive, site)
        if articles >= min_pages and (row is None or articles - row[0] >= min(relearn_every, max(row[0], 1))):
            template = learn_site(archive, site, min_pages=min_pages)
            return None if template.empty else template
    if row is None:
        return None
    try:
        template = SiteTemplate.from_json(row[1])
    except ValueError as exc:
        raise StoreError(f"the stored template of site {site!r} is unreadable ({exc}); "
                         f"delete its row from {TABLE} to learn it again") from None
    return None if template.empty else template
