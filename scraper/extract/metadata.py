"""The metadata cascade: profile selectors, JSON-LD, OpenGraph/meta tags, <time>, the visible date line.

Each source fills only what is still missing, in that order of trust, and the source of every field
is recorded (``provenance``) so `--explain` can say where a value came from. Dates are searched only
where an article's own date lives (machine-readable fields, <time> near the headline, the short line
under it): never in the masthead (the day's date), the footer (the copyright year) or the body.
The result is a `Metadata` record: the record's fields, their sources, and the clues the body step
reads (every copy of the headline, the JSON-LD articleBody, whether the page is a live blog).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urljoin

from lxml import etree

from . import jsonld, zones
from .boilerplate import normalize_space
from .dateline import (attribute_dates, date_line_dates, headline_element, iso_date, labelled_dates, text_of,
                       time_dates)
from ..profiles import Profile, compiled
from .byline import BY_WORDS, NAME_PARTICLES, by_line_names, byline_names, labelled_author, rel_author_names
from .title import alnum_key, choose_title, PageNames
from ..errors import BadURL
from ..urls import host_key, parse_url

# Meta tag names (lower case) per field, in trust order. Why these: they are the ones publishers'
# CMSes emit (OpenGraph/article:*, Dublin Core, Parse.ly, Sailthru, plain name=date/pubdate).
_META = {
    "published": ("article:published_time", "og:article:published_time", "article:published",
                  "datepublished", "parsely-pub-date", "sailthru.date", "pubdate", "publishdate",
                  "publish-date", "publish_date", "date", "dc.date.issued", "dcterms.issued",
                  "dc.date", "dcterms.date", "dc.date.created", "dcterms.created",
                  "cxenseparse:recs:publishtime", "article.published"),
    "modified": ("article:modified_time", "og:updated_time", "datemodified", "dcterms.modified",
                 "last-modified", "article.updated"),
    "author": ("author", "article:author", "parsely-author", "sailthru.author", "dc.creator",
               "dcterms.creator", "byl", "twitter:creator"),
    "section": ("article:section", "parsely-section", "section", "category"),
    "summary": ("og:description", "description", "twitter:description", "dc.description"),
    "image": ("og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"),
}
_TAG_META = ("article:tag", "news_keywords", "keywords", "parsely-tags", "sailthru.tags")
# Title fields of newsletter, analytics and library metadata (Sailthru, Parse.ly, Cxense, Dublin Core).
_TITLE_FIELDS = ("sailthru.title", "parsely-title", "cxenseparse:title", "dcterms.title")
_SITE_META = ("og:site_name", "application-name", "apple-mobile-web-app-title", "twitter:site")
# Every element with an itemprop, via its attribute nodes: ~5x faster in libxml2 than testing the
# attribute's value on every element (//*[@itemprop='x']).
_MICRODATA = etree.XPath("//@itemprop/..")
_MICRODATA_PROPS = {"datePublished", "dateModified", "author", "headline"}


# "A and B", "A und B", "A og B": one name per author, as the record lists them.
_AND = re.compile(r"\s+(?:and|und|og|och|et|y|e|i|en|ja|és|&)\s+", re.I)
_INITIALS = re.compile(r"\s*\([a-z]{2,4}\.?\)$")   # "Elena Oberholzer (obe)", "(cog.)": desk initials
# A CMS identifier where a name should be: a URL slug ("chuck-ross") or a number ("105092").
_NOT_A_NAME = re.compile(r"^(?:[a-z0-9]+(?:[-_][a-z0-9]+)+|\d+)$")
# «By Jane Doe» in a name field; not «von»/«di», which begin surnames there («Di Maio»).
_BY = re.compile(r"^(%s)\s+" % "|".join(w for w in BY_WORDS if w not in NAME_PARTICLES), re.I)


def clean_author(value: str | None) -> str | None:
    """Author names as the page spells them, comma-separated, without "By" or desk initials."""
    if not value or value.strip().startswith(("http", "@")) or _NOT_A_NAME.match(value.strip()):
        return None
    names = []
    for part in re.split(r"\s*[,;|]\s*", normalize_space(_BY.sub("", value.strip()))):
        for name in _AND.split(part):
            name = _INITIALS.sub("", name).strip()
            if name and name not in names:
                names.append(name)
    return ", ".join(names) or None


@dataclass(frozen=True)
class Metadata:
    """What the page says about its article outside the body text.

    The record's fields (None or empty when the page does not say), ``provenance`` (field -> the
    source it came from), and what the body step reads: ``headlines`` (every version of the headline
    the page gives, when the title came from choosing among them: a body extractor sometimes keeps one
    that is not the title), ``article_body`` (the JSON-LD articleBody: a copy of the story, maybe
    shortened) and ``live_blog`` (a LiveBlogPosting: its entries' headlines link to themselves).
    """

    title: str | None = None
    published: str | None = None
    modified: str | None = None
    author: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    summary: str | None = None
    language: str | None = None
    image: str | None = None
    canonical_url: str | None = None
    headlines: tuple[str, ...] = ()
    article_body: str | None = None
    live_blog: bool = False
    provenance: Mapping[str, str] = field(default_factory=dict)
    ignored: tuple[str, ...] = ()     # machine-readable metadata that could not be read, one line each

    def value(self, name: str) -> Any:
        """A record field by name (None for a name the metadata does not hold, such as ``site``)."""
        return getattr(self, name) if name in _RECORD_FIELDS else None

    def replace(self, **changes: Any) -> "Metadata":
        return dataclasses.replace(self, **changes)


# The fields of Metadata that are record fields (the others are clues for the body step).
_RECORD_FIELDS = ("title", "published", "modified", "author", "section", "tags", "summary", "language",
                  "image", "canonical_url")


class _Cascade:
    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.provenance: dict[str, str] = {}
        # What later sources offered for a field already set, in order: the runners-up.
        self.others: dict[str, list[tuple[Any, str]]] = {}
        self.ignored: list[str] = []   # bad metadata set aside (the article is kept without it)

    def offer(self, field: str, value: Any, source: str) -> bool:
        if value in (None, "", [], ()):
            return False
        have = self.values.get(field)
        if field in ("published", "modified") and isinstance(have, str) and len(have) == 10 \
                and isinstance(value, str) and len(value) > 10 and value.startswith(have):
            # A later source that gives the same day with its time is more precise, not a rival.
            self.values[field] = value
            self.provenance[field] = f"{self.provenance[field]} + {source}"
            return True
        if have not in (None, "", []):
            self.others.setdefault(field, []).append((value, source))
            return False
        self.values[field] = value
        self.provenance[field] = source
        return True

    def offer_date(self, field: str, raw: str | None, tz, source: str) -> None:
        """A machine-readable date; one that cannot be read (year 9999999999) is noted and ignored."""
        value = iso_date(raw, tz)
        if value is None and raw and raw.strip():
            shown = raw.strip() if len(raw.strip()) <= 40 else raw.strip()[:39] + "…"
            self.ignored.append(f"{field} {shown!r} from {source}: not a readable date of a plausible year")
        self.offer(field, value, source)

    def missing(self, field: str) -> bool:
        return self.values.get(field) in (None, "", [])


def meta_tags(tree) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for el in tree.iterfind(".//meta"):
        key = el.get("property") or el.get("name") or el.get("itemprop") or el.get("http-equiv")
        value = el.get("content")
        if key and value and value.strip():
            out.setdefault(key.strip().lower(), []).append(value.strip())
    return out


def _first(metas: dict[str, list[str]], name: str) -> str | None:
    return metas.get(name, [None])[0]


def _select(tree, selectors) -> tuple[list, str | None]:
    for sel in selectors:
        found = compiled(sel)(tree)
        if found:
            return found, sel
    return [], None


def _from_profile(tree, profile: Profile, c: _Cascade, tz) -> None:
    for field in ("title", "author", "section"):
        found, sel = _select(tree, getattr(profile, field))
        text = text_of(found[0]) if found else ""
        c.offer(field, clean_author(text) if field == "author" else text, f"profile:{sel}")
    found, sel = _select(tree, profile.tags)
    c.offer("tags", list(dict.fromkeys(t for t in map(text_of, found) if t)), f"profile:{sel}")
    for field in ("published", "modified"):
        found, sel = _select(tree, getattr(profile, field))
        for el in found[:1]:
            c.offer(field, iso_date(el.get("datetime") or el.get("content"), tz)
                    or iso_date(text_of(el), tz, loose=True), f"profile:{sel}")


def _from_jsonld(tree, c: _Cascade, tz, site_names: list[str]) -> str | None:
    headline = None
    for obj in jsonld.article_objects(tree, c.ignored):
        fields = jsonld.fields_of(obj)
        headline = headline or fields.get("title")
        site_names.append(fields.get("site_name", ""))
        c.offer("author", clean_author(fields.get("author")), "json-ld")
        for field in ("section", "tags", "summary", "image", "language", "article_body", "live_blog"):
            c.offer(field, fields.get(field), "json-ld")
        c.offer_date("published", fields.get("published") or fields.get("created"), tz, "json-ld")
        c.offer_date("modified", fields.get("modified"), tz, "json-ld")
    return headline


def _from_meta(metas: dict[str, list[str]], c: _Cascade, tz) -> None:
    for field, names in _META.items():
        for name in names:
            for value in metas.get(name, ())[:1]:
                if field in ("published", "modified"):
                    c.offer_date(field, value, tz, f"meta:{name}")
                    continue
                if field == "author":
                    value = clean_author(value)
                c.offer(field, value, f"meta:{name}")
    for name in _TAG_META:
        values = metas.get(name, ())
        tags = values if name == "article:tag" else [t for v in values[:1] for t in v.split(",")]
        c.offer("tags", list(dict.fromkeys(t.strip() for t in tags if t.strip())), f"meta:{name}")


def _from_microdata(tree, c: _Cascade, tz) -> str | None:
    """Dates and author from schema.org microdata; returns its headline (on an element, not a
    <meta>: those are read with the other meta tags), a title candidate."""
    found: dict[str, list] = {}
    for el in _MICRODATA(tree):   # one pass over the tree for the four properties
        if (prop := el.get("itemprop")) in _MICRODATA_PROPS:
            found.setdefault(prop, []).append(el)
    for field, prop in (("published", "datePublished"), ("modified", "dateModified")):
        for el in found.get(prop, ())[:1]:
            value = el.get("content") or el.get("datetime") or text_of(el)
            c.offer(field, iso_date(value, tz, loose=True), f"microdata:{prop}")
    if c.missing("author"):
        for el in found.get("author", ())[:3]:
            names = el.xpath(".//*[@itemprop='name']")
            name = (names[0].get("content") or text_of(names[0])) if names else text_of(el)
            if name and len(name) < 80 and c.offer("author", clean_author(name), "microdata:author"):
                break
    return next((text_of(el) for el in found.get("headline", ()) if el.tag != "meta"), None)


def _is_publisher(author: str, site_names: list[str]) -> bool:
    """Whether every name in ``author`` is the site's own («Krautreporter», «Deutsche Welle
    (www.dw.com)»: a name that spells the site's address is the organisation)."""
    # Exact names only: a writer called «Welter» must survive a site called «WELT».
    keys = {alnum_key(s) for s in site_names if s}
    hosts = [h.lower() for h in site_names if "." in h]
    return all(alnum_key(name) in keys or any(h in name.lower() for h in hosts) for name in author.split(", "))


def _author_from_page(tree, h1, c: _Cascade, site_names: list[str]) -> None:
    """The visible byline where the machine-readable author is missing or is the publisher's name
    (an organisation, not a writer)."""
    have = c.values.get("author")
    if have and not _is_publisher(have, site_names):
        # «Aaron Kliegman, Fox News»: the publisher after the writers is not one of them.
        names = [n for n in have.split(", ") if not _is_publisher(n, site_names)]
        if len(names) < len(have.split(", ")):
            c.values["author"] = ", ".join(names)
        return
    # Over a publisher's name, first a person another machine-readable field names (JSON-LD
    # says «Krautreporter» where <meta name=author> says who wrote it), or a rel=author link,
    # which is markup for exactly this; then only a field the page labels "Author": a byline
    # block may hold a desk's initials or a photographer where the publisher credits its newsroom.
    if have:
        linked = clean_author(", ".join(rel_author_names(tree, h1)))
        by_line = clean_author(", ".join(by_line_names(tree, h1)))
        # A value naming the site anywhere («hessenschau.de, Frankfurt, Germany») is a credit line.
        people = [(v, src) for v, src in [*c.others.get("author", ()), (linked, "a[rel=author]"),
                                          (by_line, "byline")]
                  if v and not any(_is_publisher(n, site_names) for n in v.split(", "))]
        if people:
            c.values["author"], c.provenance["author"] = people[0]
            return
    shown = None if have else clean_author(", ".join(byline_names(tree, h1)))
    found, source = (shown, "byline") if shown else (clean_author(labelled_author(tree)), "labelled author")
    if found and not _is_publisher(found, site_names):
        # A publisher's name stays only when the page names no person.
        c.values["author"], c.provenance["author"] = found, source


def _web_address(base: str | None, ref: str) -> str | None:
    """``ref`` through the one validating parse of URLs (scraper/urls.py), against ``base`` when
    there is one; None when it is no http(s) URL: a broken canonical is no canonical."""
    try:
        return parse_url(ref, base=base).text if base else parse_url(ref).text
    except BadURL:
        return None


def _joined(base: str, ref: str) -> str | None:
    """``ref`` made absolute against ``base``; None when either is malformed («https://[]host/»,
    an unclosed IPv6 bracket): a broken address in a page is no address, not a failed page."""
    try:
        return urljoin(base, ref)
    except ValueError:
        return None


def extract_metadata(tree, url: str | None, profile: Profile | None) -> Metadata:
    """Record fields found outside the body text, each with its source, and the body step's clues."""
    c = _Cascade()
    tz = profile.tz if profile else None
    if profile:
        _from_profile(tree, profile, c, tz)
    site_names = [profile.name] if profile else []
    ld_headline = _from_jsonld(tree, c, tz, site_names)
    metas = meta_tags(tree)
    _from_meta(metas, c, tz)
    microdata_headline = _from_microdata(tree, c, tz)
    site_names += [v for k in _SITE_META for v in metas.get(k, ())[:1]]
    if url:
        site_names += [host_key(url), host_key(url).split(".")[0]]
    if c.missing("title"):
        h1 = headline_element(tree, None)
        title_el = tree.find(".//title")
        # meta name/itemprop "headline": the schema.org headline given as a tag (microdata).
        candidates = [("meta:og:title", _first(metas, "og:title")), ("json-ld", ld_headline),
                      ("meta:headline", _first(metas, "headline")),
                      ("meta:twitter:title", _first(metas, "twitter:title")),
                      ("h1", text_of(h1) if h1 is not None else None),
                      ("meta:dc.title", _first(metas, "dc.title")),
                      ("title", text_of(title_el) if title_el is not None else None),
                      # <meta name="title">: the CMS's page-title field, often the editorial headline.
                      ("meta:title", _first(metas, "title")),
                      # The headline as other title fields give it, last: they vote (title._outvoted).
                      ("microdata:headline", microdata_headline),
                      *((f"meta:{name}", _first(metas, name)) for name in _TITLE_FIELDS)]
        title, source = choose_title(candidates, site_names,
                                     names=PageNames(tree, url, sections=[c.values.get("section") or ""]))
        c.offer("title", title, source or "")
        # Every version of the headline: the body extractor sometimes keeps one that is not the title.
        c.values["headlines"] = [t for _, t in candidates if t]
    h1 = headline_element(tree, c.values.get("title"))
    _author_from_page(tree, h1, c, site_names)
    for field, iso, source in time_dates(tree, h1, tz):
        c.offer(field, iso, source)
    if c.missing("published") or c.missing("modified"):
        for field, iso, source in date_line_dates(h1, tz):
            c.offer(field, iso, source)
    if c.missing("published") and c.missing("modified"):
        for field, iso, source in labelled_dates(tree, tz):
            c.offer(field, iso, source)
    if c.missing("published") and c.missing("modified"):
        for field, iso, source in attribute_dates(tree, tz):
            c.offer(field, iso, source)
    lang = tree.get("lang") or tree.get("{http://www.w3.org/XML/1998/namespace}lang")
    c.offer("language", lang, "html[lang]")
    c.offer("language", (metas.get("content-language") or metas.get("og:locale") or [None])[0], "meta")
    if not c.missing("language"):
        c.values["language"] = re.split(r"[-_]", str(c.values["language"]).strip())[0].lower() or None
    if profile:
        c.offer("language", profile.language, f"profile:{profile.name}")
    if tz is None:   # no configured zone: a time printed without offset takes the page's evidence
        for field in ("published", "modified"):
            if placed := zones.localize(c.values.get(field), tree, url):
                c.values[field] = placed[0]
                c.provenance[field] += f" + zone {placed[1]}"
    canonical = tree.xpath("//link[@rel='canonical']/@href") or metas.get("og:url", [])
    if canonical:
        c.offer("canonical_url", _web_address(url, canonical[0]), "link[rel=canonical]")
    if c.values.get("image") and url:
        c.values["image"] = _joined(url, c.values["image"])
    v = c.values
    return Metadata(**{name: v.get(name) for name in _RECORD_FIELDS if name != "tags"},
                    tags=tuple(v.get("tags") or ()), headlines=tuple(v.get("headlines") or ()),
                    article_body=v.get("article_body"), live_blog=bool(v.get("live_blog")),
                    provenance=dict(c.provenance), ignored=tuple(c.ignored))

