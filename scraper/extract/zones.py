"""The time zone of a page whose site has none configured, from the page's own evidence.

A news page often prints its time without an offset («14 يوليو 2024 - 09:30 م»). A profile's
``timezone`` says what that means on a known site; on an unknown one the page itself may tell:

1. another machine-readable time of the same page that carries an offset (article:modified_time,
   a JSON-LD dateModified, a <time datetime>): the site's clock, stated by the site;
2. the country of the site's address (its ccTLD) or of its locale (og:locale, <html lang>), whose
   zone's rules on that date give the offset: Cairo's summer time, Morocco's change for Ramadan.

When both speak, the country's zone is kept only if it agrees with the stated offsets (then its
rules also cover a date on the other side of a clock change); if it contradicts them, the stated
offset wins. A zero offset alone is no evidence: servers stamp UTC whatever the newsroom's clock.
Nothing found leaves the time without an offset, as before. Pure: the zone data is tzdata's.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from importlib import resources
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .. import dates
from ..urls import host_key

# Country-code TLDs that are sold and used as generic names (Google Search Console's list of
# "generic ccTLDs", which it does not geotarget): .tv or .io says nothing about where a site is.
GENERIC_CCTLDS = frozenset("ad ai as bz cc cd co dj fm gg io la me ms nu sc sr su tk tv ws".split())
# ccTLDs whose country code is another (ISO 3166: the United Kingdom is GB).
_CCTLD_COUNTRY = {"uk": "GB"}
# Locale regions that name no country: Facebook's pseudo-locales (ar_AR "Arabic", es_LA "Spanish,
# Latin America", en_UD "upside down", en_PI "pirate"), which OpenGraph tags copy verbatim.
PSEUDO_LOCALES = frozenset({"ar_ar", "es_la", "en_ud", "en_pi", "ja_ks", "fb_lt"})
# Machine-readable dates in JSON-LD: the page's own times (an event's startDate may be elsewhere).
_JSONLD_DATES = ("datePublished", "dateModified", "dateCreated", "uploadDate")
_DATE_META = re.compile(r"date|time|published|modified|updated|issued|created", re.I)
_LOCALE = re.compile(r"^([a-z]{2,3})[-_]([a-z]{2})$", re.I)


@dataclass(frozen=True)
class ZoneChoice:
    """The zone naive times of a page are read in, and the evidence for it (for provenance)."""

    zone: tzinfo
    why: str

    def localize(self, naive: datetime) -> datetime:
        return naive.replace(tzinfo=self.zone)


@functools.lru_cache(maxsize=1)
def _country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country code -> its IANA zones, principal first (tzdata's zone.tab)."""
    try:
        text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        path = Path("/usr/share/zoneinfo/zone.tab")
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    zones: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            fields = line.split("\t")
            if len(fields) >= 3:
                zones.setdefault(fields[0].upper(), []).append(fields[2])
    return {country: tuple(names) for country, names in zones.items()}


def country_zone(country: str, when: datetime) -> ZoneInfo | None:
    """The country's zone at the wall-clock time ``when``; None when the country has several
    zones that disagree at that time (Spain's Canaries, the United States) or none is known."""
    names = _country_zones().get(country.upper(), ())
    zones = []
    for name in names:
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    if not zones or len({when.replace(tzinfo=z).utcoffset() for z in zones}) != 1:
        return None
    return zones[0]


def _address_country(url: str | None) -> tuple[str, str] | None:
    """(country code, evidence) from the host's last label, when it is a country's own."""
    host = host_key(url) if url else ""
    tld = host.rsplit(".", 1)[-1] if "." in host else ""
    if len(tld) != 2 or not tld.isalpha() or tld in GENERIC_CCTLDS:
        return None
    return _CCTLD_COUNTRY.get(tld, tld.upper()), f"the address's country (.{tld})"


def _locale_country(tree) -> tuple[str, str] | None:
    """(country code, evidence) from og:locale, the Content-Language meta or <html lang>."""
    values = [(v, "og:locale") for v in tree.xpath("//meta[@property='og:locale']/@content")]
    values += [(v, "content-language") for v in tree.xpath(
        "//meta[translate(@http-equiv, 'CONTENT-LANGUAGE', 'content-language')='content-language']/@content")]
    root = tree.getroot() if hasattr(tree, "getroot") else tree
    values.append((root.get("lang") or "", "html lang"))
    for value, source in values:
        match = _LOCALE.match(value.strip())
        if match and value.strip().replace("-", "_").lower() not in PSEUDO_LOCALES:
            return match.group(2).upper(), f"{source} {value.strip()}"
    return None


def _jsonld_times(tree) -> Iterator[tuple[str, str]]:
    for script in tree.iterfind(".//script[@type]"):
        if "ld+json" not in (script.get("type") or "").lower() or not script.text:
            continue
        try:
            data = json.loads(script.text, strict=False)
        except ValueError:
            continue
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                for key, value in node.items():
                    if key in _JSONLD_DATES and isinstance(value, str):
                        yield value, f"JSON-LD {key}"
                    elif isinstance(value, (dict, list)):
                        stack.append(value)


def stated_times(tree) -> list[tuple[datetime, str]]:
    """Machine-readable times of the page that state a non-zero UTC offset, with their source."""
    found: list[tuple[datetime, str]] = []
    candidates: list[tuple[str, str]] = []
    for el in tree.iterfind(".//meta[@content]"):
        name = el.get("property") or el.get("name") or el.get("itemprop") or ""
        if _DATE_META.search(name):
            candidates.append((el.get("content"), name))
    candidates += list(_jsonld_times(tree))
    candidates += [(value, "time[datetime]") for value in tree.xpath("//time/@datetime")]
    for value, source in candidates:
        try:
            parsed = dates.parse_iso_like(value)
        except ValueError:
            continue
        offset = parsed.value.utcoffset() if parsed.has_offset else None
        if offset:   # None (no offset) and zero (UTC stamps) say nothing of the local clock
            found.append((parsed.value, source))
    return found


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def zone_for(tree, url: str | None, when: datetime) -> ZoneChoice | None:
    """The zone the naive time ``when`` of this page is in, by the page's evidence (see above)."""
    stated = stated_times(tree)
    for found in (_address_country(url), _locale_country(tree)):
        if found is None:
            continue
        country, evidence = found
        zone = country_zone(country, when)
        if zone is None:
            continue
        agree = [src for moment, src in stated if moment.utcoffset() == moment.astimezone(zone).utcoffset()]
        if stated and not agree:
            break   # the page's own clock contradicts the country: trust the clock
        why = f"{zone.key} from {evidence}" + (f", agreeing with {agree[0]}" if agree else "")
        return ZoneChoice(zone, why)
    if stated:
        # The stated time nearest to ``when`` (a page's times straddling a clock change differ).
        moment, source = min(stated, key=lambda s: abs(s[0].replace(tzinfo=None) - when))
        offset = moment.utcoffset()
        return ZoneChoice(timezone(offset), f"UTC{_offset_text(offset)} stated by {source}")
    return None


def localize(value: str | None, tree, url: str | None) -> tuple[str, str] | None:
    """(ISO time with the offset the page's evidence gives, why) for an ISO time printed without
    an offset; None when ``value`` is not such a time or nothing on the page says its zone."""
    if not value or len(value) <= 10:   # a date alone has no time to place
        return None
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return None
    if naive.tzinfo is not None or (choice := zone_for(tree, url, naive)) is None:
        return None
    return dates.to_iso(choice.localize(naive)), choice.why
