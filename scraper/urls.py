"""URLs from outside: one validating parse for every source, and URL identity (one article, one row).

Every URL the scraper meets (command arguments, -i files, feeds, sitemaps, start pages, robots.txt
``Sitemap:`` lines, redirects' ``Location``, ``rel=canonical``/``og:url``, WARC target URIs, the
sites file) goes through ``parse_url`` (``resolve`` for a link relative to its page). It returns a
``URL`` or raises ``BadURL``, never the standard library's ValueError or urllib3's
LocationParseError, so one bad link is one line and the work goes on. What it fixes rather than
refuses is what browsers fix too: surrounding spaces and control characters are stripped, tabs
and newlines inside are removed (WHATWG URL), a ``%`` that starts no escape becomes ``%25`` (the
valid escapes beside it stay as they are, never encoded twice), and ``user:pass@`` is taken out of
the URL (kept apart in ``URL.auth`` for the request to that host only, never stored or shown).

courlan (a trafilatura dependency) then gives the stored form: host in lower case, the query
sorted, the well-known tracking parameters (utm_*, fbclid, gclid...) dropped; we add what an
archive needs on top: no fragment, and a site key that treats ``www.`` and the bare host as one.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import courlan
import idna

from .errors import BadURL

MAX_URL_LENGTH = 8192     # what common servers accept in a request line (Apache: 8,190 bytes)
_STRIP = "".join(map(chr, range(0x21)))                  # C0 controls and space, at either end
_INSIDE_REMOVED = re.compile(r"[\t\n\r]")               # WHATWG: removed wherever they are
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_LABEL = re.compile(r"[a-z0-9_-]+")     # underscores and stray hyphens: real hosts have them
_IPV4ISH = re.compile(r"[0-9.]+")


@dataclass(frozen=True)
class URL:
    """An absolute http(s) URL that passed ``parse_url``; ``text`` is the form to request and store."""

    text: str                     # without credentials; stray % escaped; scheme and host lower case
    scheme: str
    host: str                     # lower case, IPv6 without brackets, as given (not punycoded)
    port: int | None
    auth: tuple[str, str] | None = field(default=None, repr=False)   # user:pass@ given, if any

    def __str__(self) -> str:
        return self.text


def parse_url(text: object, base: str | None = None) -> URL:
    """The absolute http(s) URL ``text`` names (relative to ``base`` when given), or BadURL."""
    if not isinstance(text, str):
        raise BadURL(repr(text), "not text")
    raw = _INSIDE_REMOVED.sub("", text.strip(_STRIP))
    if not raw:
        raise BadURL(text, "empty")
    if len(raw) > MAX_URL_LENGTH:
        raise BadURL(text, f"longer than {MAX_URL_LENGTH:,} characters")
    if _CONTROL.search(raw):
        raise BadURL(text, "control character")
    raw = _STRAY_PERCENT.sub("%25", raw)
    try:
        if base is not None:
            raw = urljoin(base, raw)
        parts = urlsplit(raw)
        port = parts.port            # ValueError when not a number or out of range
    except ValueError as exc:
        raise BadURL(text, _why(exc)) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadURL(text, f"not an http(s) URL" + (f" ({scheme}:)" if scheme else ""))
    host = _check_host(parts, text)
    if port == 0:
        raise BadURL(text, "port 0")
    auth = None
    if "@" in parts.netloc:
        auth = (unquote(parts.username or ""), unquote(parts.password or ""))
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{port}"
    clean = urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))
    if not parts.path and (parts.query or parts.fragment):
        clean = urlunsplit((scheme, netloc, "/", parts.query, parts.fragment))
    return URL(clean, scheme, host, port, auth)


def resolve(base: str, link: str) -> URL:
    """A link as found in a page, feed or sitemap, made absolute against where it was found."""
    return parse_url(link, base=base)


class Rejected:
    """The links of one listing (a feed, a sitemap, a page) that were not valid URLs.

    Counted, with the first kept as the example, so a listing of a million broken links is one
    problem line, not a million, and costs no memory.
    """

    def __init__(self) -> None:
        self.count = 0
        self.first: BadURL | None = None

    def add(self, error: BadURL) -> None:
        self.count += 1
        self.first = self.first or error

    def __bool__(self) -> bool:
        return self.count > 0

    def __str__(self) -> str:
        noun = "link that is" if self.count == 1 else "links that are"
        return f"skipped {self.count:,} {noun} not a valid URL (first: {self.first})"


def _why(exc: ValueError) -> str:
    message = str(exc).lower()
    if "port" in message:
        return "port is not a number from 1 to 65535"
    if "ipv6" in message or "bracket" in message:
        return "invalid IPv6 address"
    return "malformed"


def _check_host(parts, text: str) -> str:
    """The host in lower case; BadURL unless it is an IP address or a name DNS could hold."""
    netloc = parts.netloc.rpartition("@")[2]
    host = parts.hostname or ""
    if not host:
        raise BadURL(text, "no host")
    if netloc.startswith("["):
        try:
            return str(ipaddress.IPv6Address(host.split("%")[0])) if "%" not in host else host
        except ValueError:
            raise BadURL(text, "invalid IPv6 address") from None
    name = host[:-1] if host.endswith(".") else host
    if _IPV4ISH.fullmatch(name):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            raise BadURL(text, "invalid IPv4 address") from None
        return host
    total = 0
    for label in name.split("."):
        if label.isascii():
            if label.startswith("xn--"):
                try:
                    idna.decode(label)   # punycode that decodes to no valid name is garbage
                except (idna.IDNAError, UnicodeError, ValueError):
                    raise BadURL(text, f"invalid internationalised label {label[:70]!r}") from None
            elif not _LABEL.fullmatch(label):
                raise BadURL(text, f"invalid host name label {label[:70]!r}" if label else "empty label in host name")
            size = len(label)
        else:
            try:
                size = len(idna.encode(label, uts46=True))
            except (idna.IDNAError, UnicodeError, ValueError):
                raise BadURL(text, f"invalid internationalised label {label[:70]!r}") from None
        if size > 63:
            raise BadURL(text, "a host name label is longer than 63 characters")
        total += size + 1
    if total - 1 > 253:
        raise BadURL(text, "host name longer than 253 characters")
    return host


def canonicalize(url: str) -> str:
    """The form under which a URL is stored and compared; BadURL for a broken http(s) URL.

    Strings that are not http(s) URLs at all (a file path, a file: URI) are returned stripped.
    """
    stripped = url.strip()
    if not re.match(r"(?i)https?:", stripped):
        return stripped
    parsed = parse_url(stripped)
    # Not strict=True: that mode drops every parameter it does not know, including real article
    # ids such as the old Al Ittihad `details.php?id=N&y=YYYY`.
    try:
        normalized = courlan.normalize_url(parsed.text, strict=False)
        parts = urlsplit(normalized)
    except ValueError as exc:
        raise BadURL(url, _why(exc)) from None
    path = parts.path or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))


def host_key(url: str) -> str:
    """The host without a leading ``www.``: www.alittihad.ae and alittihad.ae are one site.

    "" when the text has no host (or is too broken to have one): such a URL belongs to no site.
    """
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
    return host[4:] if host.startswith("www.") else host


def same_site(a: str, b: str) -> bool:
    return host_key(a) == host_key(b) and host_key(a) != ""
