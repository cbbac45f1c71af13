"""Site profiles as data: the Profile type, the TOML loader (built-ins + a user sites.toml), profile_for(url).

A profile says where a site keeps its article (CSS selectors), what to drop, its time zone and
language, and how the cron archiver finds its articles (start pages, feeds, sitemaps, a URL regex).
Built-in profiles are the ``*.toml`` files beside this module; a user file adds or overrides sites
with ``[sites.NAME]`` tables using the same keys. Anything invalid is a ConfigError naming the file
and the key, because a typo in a selector would otherwise silently fall back to the generic path.
"""
from __future__ import annotations

import functools
import math
import re
import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2
from cssselect import SelectorError
from lxml.cssselect import CSSSelector

from ..errors import BadURL, ConfigError
from ..urls import host_key, parse_url


@dataclass(frozen=True)
class Profile:
    name: str
    domains: tuple[str, ...]
    timezone: str | None = None
    language: str | None = None
    article: tuple[str, ...] = ()       # CSS: the body container(s), tried in order
    paragraphs: str = "p"              # CSS: the paragraphs inside the container
    title: tuple[str, ...] = ()
    published: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    section: tuple[str, ...] = ()
    section_url: str | None = None      # regex: group 1 of the article URL is its section
    tags: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()          # CSS: removed before anything is extracted
    # Discovery (used by the cron archiver).
    start: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    article_url: str | None = None      # regex: which links are articles
    delay: float = 1.0
    origin: str = "built-in"            # where the site was defined: "built-in" or the sites file's path

    @property
    def tz(self) -> ZoneInfo | None:
        return ZoneInfo(self.timezone) if self.timezone else None

    def is_article(self, url: str) -> bool:
        return bool(self.article_url) and _regex(self.article_url).search(url) is not None

    def section_match(self, url: str):
        """The ``section_url`` regex's match in ``url`` (None without one, or no match)."""
        return _regex(self.section_url).search(url) if self.section_url else None


# TOML key -> Profile field. ``article`` is the URL regex in sites.toml (the key issue 4 documents);
# the body container is ``content`` there so one key never means two things.
_KEY_TO_FIELD = {
    "domains": "domains", "timezone": "timezone", "language": "language",
    "content": "article", "paragraphs": "paragraphs", "title": "title", "published": "published",
    "modified": "modified", "author": "author", "section": "section", "section_url": "section_url",
    "tags": "tags", "drop": "drop",
    "start": "start", "feeds": "feeds", "sitemaps": "sitemaps", "article": "article_url",
    "delay": "delay",
}
_SELECTOR_KEYS = {"content", "title", "published", "modified", "author", "section", "tags", "drop"}
_URL_LIST_KEYS = {"start", "feeds", "sitemaps"}


@functools.lru_cache(maxsize=512)
def compiled(selector: str) -> CSSSelector:
    """A compiled CSS selector (translation to XPath is the slow part, so it is done once)."""
    return CSSSelector(selector)


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False     # RE2 would print its own error to stderr; ours is one line


@functools.lru_cache(maxsize=128)
def _regex(pattern: str):
    r"""A user's URL regex (``article``, ``section_url``), compiled by RE2 (google-re2).

    RE2 matches in time linear in the URL's length whatever the pattern: Python's backtracking
    engine took minutes on `/news/([a-z0-9]+-?)+(\.html)?$` against one 36-letter link and a
    `!` (issue 11), and the `regex` module's timeout overshoots and is paid on every link.
    RE2 has no lookaround and no backreferences; such a pattern is refused (re2.error).
    """
    return re2.compile(pattern, options=_RE2_OPTIONS)


def _as_list(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: expected a string or a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _convert(key: str, value: Any, where: str) -> Any:
    """Check one TOML value and turn it into the Profile field's type."""
    if key in _SELECTOR_KEYS or key == "paragraphs":
        selectors = _as_list(value, where)
        for sel in selectors:
            try:
                compiled(sel)
            except SelectorError as exc:
                raise ConfigError(f"{where}: invalid CSS selector {sel!r} ({exc})") from None
        return selectors[0] if key == "paragraphs" else selectors
    if key in _URL_LIST_KEYS:
        urls = []
        for url in _as_list(value, where):
            try:
                urls.append(parse_url(url).text)
            except BadURL as exc:
                raise ConfigError(f"{where}: {exc}") from None
        return tuple(urls)
    if key == "domains":
        return tuple(host_key("http://" + d.lower().split("://")[-1]) for d in _as_list(value, where))
    if key == "timezone":
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a time zone name such as 'Asia/Dubai'")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"{where}: unknown time zone {value!r}") from None
        return value
    if key == "language":
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]+)*", value):
            raise ConfigError(f"{where}: expected a language code such as 'ar'")
        return value
    if key in ("article", "section_url"):
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a regular expression string")
        try:
            _regex(value)
        except re2.error as exc:
            why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            raise ConfigError(f"{where}: invalid regular expression {value!r} ({why}; patterns run on RE2, "
                              "which has no lookahead, lookbehind or backreferences)") from None
        return value
    if key == "delay":
        # TOML has inf and nan; a huge finite delay is accepted and counts as the cap (politeness.py).
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{where}: expected a number of seconds >= 0")
        return float(value)
    raise AssertionError(key)


def _profile_from_table(name: str, table: Mapping[str, Any], source: str,
                        base: Profile | None = None, builtin: bool = False) -> Profile:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ConfigError(f"{source}: invalid site name {name!r} (letters, digits, . _ -)")
    values: dict[str, Any] = {f.name: getattr(base, f.name) for f in fields(Profile)} if base else {}
    values["name"] = name
    values["origin"] = "built-in" if builtin else source
    for key, value in table.items():
        where = f"{source}: {key}" if builtin else f"{source}: [sites.{name}] {key}"
        if key == "name":
            continue
        if key not in _KEY_TO_FIELD:
            known = ", ".join(sorted(_KEY_TO_FIELD))
            raise ConfigError(f"{where}: unknown key (known keys: {known})")
        values[_KEY_TO_FIELD[key]] = _convert(key, value, where)
    if not values.get("domains"):
        # A user site may leave domains out: its start pages, feeds and sitemaps say where it lives.
        hosts = {host_key(u) for k in ("start", "feeds", "sitemaps") for u in values.get(k, ())}
        if not hosts:
            raise ConfigError(f"{source}: [sites.{name}] needs 'domains' or 'start' URLs")
        values["domains"] = tuple(sorted(hosts))
    return Profile(**values)


def _read_toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    except RecursionError:
        # tomllib parses nested arrays and inline tables by recursion: a few hundred levels
        # exhaust the stack, and no sites file nests more than two.
        raise ConfigError(f"{source}: arrays or tables nested too deep to be a sites file") from None


@functools.lru_cache(maxsize=1)
def _builtin_profiles() -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    for entry in sorted(resources.files(__name__).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            source = f"built-in profile {entry.name}"
            table = _read_toml(entry.read_text(encoding="utf-8"), source)
            name = table.get("name", entry.name[:-5])
            profiles[name] = _profile_from_table(name, table, source, builtin=True)
    return profiles


def load_profiles(config: Path | str | None = None) -> dict[str, Profile]:
    """Built-in profiles, then the sites of a user TOML file (``[sites.NAME]``) added or overriding."""
    profiles = dict(_builtin_profiles())
    if config is None:
        return profiles
    path = Path(config)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    data = _read_toml(text, str(path))
    unknown = set(data) - {"sites"}
    if unknown:
        raise ConfigError(f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
                          "put each site under [sites.NAME]")
    sites = data.get("sites", {})
    if not isinstance(sites, dict):
        raise ConfigError(f"{path}: 'sites' must be a table of [sites.NAME] tables")
    for name, table in sites.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [sites.{name}] must be a table")
        profiles[name] = _profile_from_table(name, table, str(path), base=profiles.get(name))
    # Domains a table names itself; those read off start pages and feeds may be shared (two sites'
    # feeds on one feed host), and the built-in sites' are always named.
    _one_site_a_domain([(name, p.domains, p.origin == "built-in") for name, p in profiles.items()
                        if p.origin == "built-in" and name not in sites
                        or "domains" in sites.get(name, {})], path)
    return profiles


def _one_site_a_domain(claims: list[tuple[str, tuple[str, ...], bool]], path: Path) -> None:
    """Two sites naming the same domain: only the first would ever be used for its pages (its
    rules, its time zone), silently. Said at once instead, with the way out."""
    owner: dict[str, tuple[str, bool]] = {}
    for name, domains, builtin in claims:
        for domain in domains:
            first, first_builtin = owner.setdefault(domain, (name, builtin))
            if first != name:
                where = "the built-in site" if first_builtin else "site"
                raise ConfigError(f"{path}: [sites.{name}] and {where} '{first}' both name {domain}; "
                                  f"one site a domain (to change '{first}', name the table [sites.{first}])")


def profile_for(url: str | None, profiles: Mapping[str, Profile] | None = None) -> Profile | None:
    """The profile whose domains include the URL's host (www. ignored; subdomains match too)."""
    if not url:
        return None
    host = host_key(url)
    if not host:
        return None
    for profile in (profiles if profiles is not None else _builtin_profiles()).values():
        for domain in profile.domains:
            if host == domain or host.endswith("." + domain):
                return profile
    return None


def site_of(url: str | None, profiles: Mapping[str, Profile] | None = None) -> str | None:
    """The ``site`` the extractor will give a page at ``url``: its profile's name, else its host."""
    profile = profile_for(url, profiles)
    return profile.name if profile else (host_key(url) if url else None) or None
