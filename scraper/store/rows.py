"""An article and its row, both ways: the one serialisation the store writes (``row_values``), the
key URL and aliases an article is known by, and a stored row read back as a record or a Page.

Pure (no database): the Archive (archive.py) calls these on either side of its statements, so a
save and a re-extraction write the very same columns from an Article.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from requests.structures import CaseInsensitiveDict

from ..charset import decode_html
from ..errors import StoreError
from ..models import ARTICLE_FIELDS, Article, Page
from ..urls import canonicalize, same_site


def article_identity(article: Article, page: Page | None = None) -> tuple[str, list[str]]:
    """(key URL, every canonical URL the article is known by, key first)."""
    final = (article.final_url or (page.final_url if page else None) or article.url
             or (page.url if page else None))
    if not final:
        raise StoreError("cannot archive an article without a URL (give the page's address with --url)")
    canonical = article.canonical_url
    # A canonical on another site (syndication) or at the site's root (some CMSs point every page
    # at the home page) would merge unrelated articles into one row: ignore it then.
    trusted = bool(canonical) and same_site(canonical, final) and urlsplit(canonical).path.strip("/") != ""
    key = canonicalize(canonical if trusted else final)
    seen = [key, canonicalize(final)]
    for url in (article.url, page.url if page else None, page.final_url if page else None):
        if url:
            seen.append(canonicalize(url))
    return key, list(dict.fromkeys(seen))


def url_variants(url: str) -> list[str]:
    """The URL itself, then its www/bare-host and http/https twins: one article on one site."""
    try:
        parts = urlsplit(url)
    except ValueError:
        # Not a URL we could have stored (an unclosed IPv6 bracket, a bad port): looked up as typed,
        # so asking for it finds nothing instead of breaking the command.
        return [url]
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [url]
    host = parts.netloc
    other_host = host[4:] if host.startswith("www.") else "www." + host
    other_scheme = "https" if parts.scheme == "http" else "http"
    return [urlunsplit((scheme, netloc) + tuple(parts[2:]))
            for scheme in (parts.scheme, other_scheme) for netloc in (host, other_host)]


def row_values(article: Article, page: Page | None = None) -> dict[str, Any]:
    """Every column of an article's row that comes from the article (the key URL aside), as stored:
    the one serialisation of an Article, for a save and for a rewrite alike."""
    values = {name: getattr(article, name) for name in ARTICLE_FIELDS if name != "url"}
    values.update(
        tags=json.dumps(list(article.tags or []), ensure_ascii=False),
        final_url=article.final_url or (page.final_url if page else None),
        content_hash=article.content_hash or fallback_hash(article),
        provenance=json.dumps(sources(article), ensure_ascii=False))
    return values


def fallback_hash(article: Article) -> str:
    # The extractor sets content_hash; this keeps "unchanged" meaningful if a caller did not.
    return hashlib.sha256(f"{article.title or ''}\n{article.text or ''}".encode()).hexdigest()


def sources(article: Article) -> dict[str, str]:
    """The field -> source part of the provenance (the extractor's lists of dropped blocks are for
    --explain, not for the archive)."""
    return {field: how for field, how in article.provenance.items() if isinstance(how, str)}


def decoded(row: dict[str, Any]) -> dict[str, Any]:
    decoded = {**row, "tags": json.loads(row["tags"]) if row.get("tags") else []}
    if "provenance" in row:
        decoded["provenance"] = json.loads(row["provenance"]) if row["provenance"] else {}
    return decoded


def page_from_row(row: dict[str, Any]) -> Page:
    body = zlib.decompress(row["body"])
    headers = CaseInsensitiveDict(json.loads(row["headers"] or "{}"))
    html, encoding = decode_html(body, headers.get("Content-Type"))
    return Page(url=row["url"], final_url=row["final_url"], status=row["status"], headers=headers,
                body=body, html=html, encoding=encoding,
                fetched_at=datetime.fromisoformat(row["fetched_at"]))
