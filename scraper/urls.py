"""URL identity: one article is one row, however it was linked.

courlan (a trafilatura dependency) already lower-cases the host, sorts the query and drops the
well-known tracking parameters (utm_*, fbclid, gclid...); we add what an archive needs on top:
no fragment, and a site key that treats ``www.`` and the bare host as one site.
"""
from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import courlan


def canonicalize(url: str) -> str:
    """The form under which a URL is stored and compared (http(s) only; others unchanged)."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        return url.strip()
    # Not strict=True: that mode drops every parameter it does not know, including real article
    # ids such as the old Al Ittihad `details.php?id=N&y=YYYY`.
    normalized = courlan.normalize_url(url.strip(), strict=False)
    parts = urlsplit(normalized)
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def host_key(url: str) -> str:
    """The host without a leading ``www.``: www.alittihad.ae and alittihad.ae are one site
    ("" when the address has none or is malformed, such as an unclosed IPv6 bracket)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def same_site(a: str, b: str) -> bool:
    return host_key(a) == host_key(b) and host_key(a) != ""
