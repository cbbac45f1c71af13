"""The headline: the publisher's title without the site name, chosen by comparing the page's candidates.

Sites put the headline in several places (JSON-LD headline, og:title, twitter:title, <h1>, <title>),
and most of them decorate some copies with the site name (« - Site», «Site | »). When two sources
agree, that is the headline; the separators are only cut where the rest matches another source or
the cut part is the site's name, so a headline that itself contains « - » stays whole.
"""
from __future__ import annotations

import html
import re
import unicodedata
from typing import Iterable

from lxml import etree

from .boilerplate import fold, normalize_space
from ..urls import host_key

# With spaces around: the usual «Headline - Site» separators. Without spaces only the bars, since
# «» are quotation marks in Arabic, French and German headlines («داعش», «royaler Besuch»).
# The full-width colon and a double colon («الرمال：عنوان», «Site::Headline») are site separators too.
_SEPARATORS = re.compile(r"\s+(?:[|\-–—:·•»«/~*])\s+|\s*(?:[|｜•ㅣ：]|::)\s*")
_GLUED = "-|｜ㅣ–—·"
_QUOTES = ('"', "'", "«", "„", "“")
# The copies of the headline that carry no site name by convention.
_HEADLINE_SOURCES = ("h1", "json-ld", "meta:headline", "microdata:headline")
# Title fields that can side with the JSON-LD headline against og:title (see _outvoted).
_VOTERS = ("meta:twitter:title", "microdata:headline", "meta:sailthru.title", "meta:parsely-title",
           "meta:cxenseparse:title", "meta:dc.title", "meta:dcterms.title")


def _parts(title: str) -> list[str]:
    return [p for p in (normalize_space(x) for x in _SEPARATORS.split(title)) if p]


_NOT_ALNUM = re.compile(r"\W+")


def alnum_key(text: str) -> str:
    """Text compared as letters and digits only (folded): two copies of a headline or a name match
    whatever their punctuation, spacing or case."""
    return _NOT_ALNUM.sub("", fold(text))


class PageNames:
    """The names a page shows for itself (its home link: aliases) and for its sections (menus,
    breadcrumbs, the section field), read from the page by page_names only when a short title part
    could be one of them: most titles are settled by the site-name fields and never ask."""

    def __init__(self, tree=None, url: str | None = None, *, aliases: Iterable[str] = (),
                 sections: Iterable[str] = ()) -> None:
        # Each kind is read on its first question (a section's name is asked only once a site
        # name was cut, and its scan of every class and id is the costlier one).
        self._unread = {"_aliases": lambda: _home_names(tree, url),
                        "_sections": lambda: _section_names(tree)} if tree is not None else {}
        self._aliases = {alnum_key(a) for a in aliases if a} - {""}
        self._sections = {alnum_key(s) for s in sections if s} - {""}

    def _has(self, part: str, which: str) -> bool:
        key = alnum_key(part)
        if not key or len(part.split()) > _NAME_WORDS:
            return False
        if read := self._unread.pop(which, None):
            getattr(self, which).update({alnum_key(n) for n in read()} - {""})
        return key in getattr(self, which)

    def is_alias(self, part: str) -> bool:
        return self._has(part, "_aliases")

    def is_section(self, part: str) -> bool:
        return self._has(part, "_sections")


def _is_site_name(part: str, site_names: Iterable[str], names: PageNames | None = None) -> bool:
    """Whether ``part`` is the site's name: one of ``site_names`` (the publisher's own fields and
    host, a near match allowed), or exactly a name the page shows for itself (``names``)."""
    key = alnum_key(part)
    if not key:
        return True
    for name in site_names:
        other = alnum_key(name)
        short, long_ = sorted((key, other), key=len)
        # "Evening Standard" is the site of standard.co.uk; but "dw" inside "russlandwahl" is not.
        if short and (short == long_ or len(short) >= 4 and short in long_ and len(long_) <= len(short) + 12):
            return True
    return names is not None and names.is_alias(part)


def strip_site_name(title: str, site_names: Iterable[str], others: Iterable[str] = (),
                    headlines: Iterable[str] = (), *, aliases: Iterable[str] = (),
                    sections: Iterable[str] = (), names: PageNames | None = None) -> str:
    """``title`` without a site-name prefix/suffix; unchanged when nothing says what to cut.

    ``headlines`` are the page's undecorated copies of the headline (<h1>, JSON-LD): when one of
    them carries the same words as the whole of ``title``, a part that a shorter copy elsewhere
    omits is not decoration («Kicker / Headline» shown as such above the article); only the site's
    name is still cut then. ``aliases`` are names the page shows for itself (its home link) and
    ``sections`` the names of its sections (or ``names``, read from the page when asked): a part
    that is exactly an alias is the site's name; a section's name is cut only between the headline
    and a site name that is cut («Headline | Section | Site»), since alone at an end it may be the
    headline's own kicker.
    """
    title = normalize_space(title)
    parts = _parts(title)
    if len(parts) < 2:
        return title
    shown_whole = alnum_key(title) in {alnum_key(h) for h in headlines if h and h != title}
    folded_others = {fold(o) for o in others if o}
    # The longest run of parts that another source gives verbatim is the headline.
    for size in range(len(parts) - 1 if not shown_whole else 0, 0, -1):
        for start in range(0, len(parts) - size + 1):
            chunk = parts[start:start + size]
            joined_folded = {fold(s) for s in _joins(title, chunk)}
            if joined_folded & folded_others:
                return next(s for s in _joins(title, chunk) if fold(s) in folded_others)
    site_names = list(site_names)
    names = names or PageNames(aliases=aliases, sections=sections)
    for end, cut in ((-1, _cut_after), (0, _cut_before)):
        site_cut = False
        while len(parts) > 1:
            if _is_site_name(parts[end], site_names, names):
                site_cut = True
            elif not (site_cut and names.is_section(parts[end])):
                break
            parts.pop(end)
            title = cut(title, parts)
    return title


def _joins(title: str, chunk: list[str]) -> list[str]:
    """The chunk as it appears in the title (with its original separators), and joined by spaces."""
    first, last = chunk[0], chunk[-1]
    start = title.find(first)
    end = title.rfind(last)
    found = [title[start:end + len(last)]] if start >= 0 and end >= start else []
    return found + [" ".join(chunk)]


def _cut_after(title: str, kept: list[str]) -> str:
    end = title.rfind(kept[-1])
    return title[:end + len(kept[-1])].strip() if end >= 0 else " ".join(kept)


def _cut_before(title: str, kept: list[str]) -> str:
    start = title.find(kept[0])
    return title[start:].strip() if start >= 0 else " ".join(kept)


def choose_title(candidates: list[tuple[str, str | None]], site_names: Iterable[str], *,
                 aliases: Iterable[str] = (), sections: Iterable[str] = (),
                 names: PageNames | None = None) -> tuple[str | None, str | None]:
    """(headline, source) from ``candidates`` [(source, text)] given in trust order.

    Each candidate loses its site-name prefix/suffix (judged against the other candidates and the
    site's names); the first one left that is more than the site's name is the headline, unless
    other title fields outvote og:title (see _outvoted). The order the caller uses (og:title,
    JSON-LD, twitter:title, <h1>, <title>, then the fields that only vote) is the one that matched
    the publisher's headline most often on the development corpus, and og:title is the commonest
    source across publishers' own parsers too; <h1> is sometimes a kicker, a breadcrumb or a
    live-ticker's title. ``aliases``, ``sections``, ``names``: see strip_site_name. The headline chosen is given as
    the <h1> prints it when the two differ only by typography (see _as_shown).
    """
    site_names = [s for s in site_names if s]
    names = names or PageNames(aliases=aliases, sections=sections)
    texts = [(src, normalize_space(html.unescape(t))) for src, t in candidates if t and t.strip()]
    headlines = [t for src, t in texts if src in _HEADLINE_SOURCES]
    usable = []
    for src, text in texts:
        others = [t for _, t in texts if t != text]
        cleaned = strip_site_name(text, site_names, others, headlines, names=names)
        if len(alnum_key(cleaned)) < 3 or _is_site_name(cleaned, site_names, names) \
                or _cut_short(cleaned, texts):
            continue
        usable.append((src, _unglued(cleaned, texts)))
    if not usable:
        return None, None
    src, text = _outvoted(usable) or usable[0]
    # A copy holding HTML entities went through the page's display filter (WordPress writes
    # «&#8217;» into its JSON-LD): the same conversion as the <h1>'s, so no independent copy.
    filtered = {s for s, t in candidates if t and html.unescape(t) != t}
    return _as_shown(text, src, [(s, t) for s, t in texts if s not in filtered or s == "h1"])


# Quotation marks and apostrophes, each to one plain form, for telling typography from wording.
_QUOTE_FORMS = str.maketrans({c: '"' for c in '“”„‟«»‹›〝〞＂'} | {c: "'" for c in "‘’‚‛′＇`´"})


def _typography_key(text: str) -> str:
    """The text with every quote and apostrophe in one form and no spaces at all."""
    return "".join(unicodedata.normalize("NFKC", text).translate(_QUOTE_FORMS).split())


def _as_shown(text: str, src: str, texts: list[tuple[str, str]]) -> tuple[str, str]:
    """The headline as the page displays it, when the chosen copy differs from the <h1> only by
    quotation marks, apostrophes or spaces and another copy of the headline prints it exactly as
    the <h1> does: a share card typed with straight quotes ("" '') against a headline set with
    curly ones (“” ’ «») by the page and its structured data. The <h1> alone is not enough: markup
    glues a kicker to the headline («Kicker:Headline») and display filters curl quotes by
    themselves, while the publisher's own fields keep the straight ones."""
    shown = next((t for s, t in texts if s == "h1"), None)
    if src == "h1" or not shown or shown == text or _typography_key(shown) != _typography_key(text):
        return text, src
    # The microdata headline is read from a visible element (often the <h1> itself): not a copy.
    seconded = next((s for s, t in texts if s not in ("h1", "microdata:headline", src) and t == shown), None)
    if seconded is None:
        return text, src
    return shown, f"{src} (as the h1 and {seconded} print it)"


def _outvoted(usable: list[tuple[str, str]]) -> tuple[str, str] | None:
    """The JSON-LD headline when another title field names it against og:title.

    og:title is the share card's title, which editors often word for social media; the JSON-LD
    headline is the article's structured headline. Alone against og:title it loses (og:title is
    right more often on the corpus and across publishers), but a second field naming it says the
    card is the one-off variant: twitter:title (the other card, usually a copy of og:title), the
    schema.org headline given again as microdata, or the title a newsletter, analytics or library
    field carries (sailthru.title, parsely-title, cxenseparse:title, dc.title). The CMS's own
    page-title field (<meta name="title">) counts only as a verbatim copy: «Kicker: - Headline»
    there is the document title's pattern (kicker and headline joined by the site's separator).
    """
    by_source = {src: text for src, text in reversed(usable)}
    og, ld = by_source.get("meta:og:title"), by_source.get("json-ld")
    if usable[0][0] != "meta:og:title" or not og or not ld or alnum_key(ld) == alnum_key(og):
        return None
    if by_source.get("meta:title") == ld or any(
            alnum_key(text) == alnum_key(ld) for src, text in by_source.items() if src in _VOTERS):
        return "json-ld", ld
    return None


def _cut_short(title: str, texts: list[tuple[str, str]]) -> bool:
    """Whether ``title`` is a meta tag cut short by an unescaped quote in its content attribute
    («Sieger und "royaler Besuch"» read as «Sieger und»), while the <h1> or JSON-LD still has the
    whole line. Such a tag is broken markup, no evidence of the headline: the next source decides,
    rather than the page's other copy being promoted to the rank of the broken one."""
    for src, text in texts:
        if src in _HEADLINE_SOURCES and len(text) > len(title) and text.startswith(title) \
                and text[len(title)] == " " and text[len(title) + 1:len(title) + 2] in _QUOTES:
            return True
    return False


def _unglued(title: str, texts: list[tuple[str, str]]) -> str:
    """«Headline-Section|Site» glued without spaces, while another headline source has just
    «Headline»: the latter, which is the same headline without the glued decoration."""
    for src, text in texts:
        if src in _HEADLINE_SOURCES and len(text.split()) >= 3 and len(title) > len(text) \
                and title.startswith(text) and title[len(text)] in _GLUED:
            return text
    return title


# Where a page names its sections: menus, navigation bars and breadcrumbs. Attribute nodes are
# filtered in Python: libxml2 evaluating contains() on every element is several times slower.
_NAMED = etree.XPath("//@class | //@id | //@itemtype")
_NAV_NAMES = re.compile(r"breadcrumb|menu|nav")
_IMAGE_ALT, _IMAGE_TITLE = etree.XPath(".//img/@alt"), etree.XPath(".//img/@title")   # compiled once
_HOME_PATHS = {"", "/", "/index.html", "/index.htm", "/index.php", "/index.aspx", "/default.aspx",
               "/home", "/ar", "/ar/", "/en", "/en/", "/fr", "/fr/"}
_NAME_WORDS = 6          # a site's or a section's name; longer link texts are headlines


def _short(text: str | None) -> str | None:
    text = normalize_space(text or "")
    return text if text and len(text.split()) <= _NAME_WORDS else None


def _home_host(href: str, hosts: dict[str, str | None]) -> str | None:
    """The host a link to a home page points to ("" for the page's own), None for other links.
    Plain string work: this runs on every link of the page; ``hosts`` keeps each address's host
    (a page links its home page from the logo, the menu, the footer: the same few addresses)."""
    href = href.strip()
    if not href or href.startswith(("#", "javascript:", "mailto:", "tel:")) or "?" in href:
        return None
    if "//" in href:
        netloc, _, path = href.split("//", 1)[1].partition("/")
        path = "/" + path
    else:
        netloc, path = "", href if href.startswith("/") else "/" + href.lstrip("./")
    if path.split("#", 1)[0].lower() not in _HOME_PATHS:
        return None
    if not netloc:
        return ""
    if netloc not in hosts:
        try:
            hosts[netloc] = host_key("http://" + netloc)
        except ValueError:   # «http://[bad»: a malformed link names no page
            hosts[netloc] = None
    return hosts[netloc]


def page_names(tree, url: str | None) -> tuple[list[str], list[str]]:
    """(aliases, sections): the names the page shows for itself, by the evidence of its own links.

    The link to the site's home page (the logo, the masthead's name) carries the site's name in
    its text, its title or its image's alt text, whatever the language: «صحيفة الرمال» on a site
    whose address says alrimal. Menus and breadcrumbs name the sections («Headline | Section | Site»).
    """
    return _home_names(tree, url), _section_names(tree)


def _home_names(tree, url: str | None) -> list[str]:
    """The names on the page's links to its own home page, in page order, each once."""
    host = host_key(url) if url else ""
    aliases: list[str] = []
    hosts: dict[str, str | None] = {}
    for a in tree.iter("a"):
        target = _home_host(a.get("href") or "", hosts)
        if target is None or target not in ("", host):
            continue
        names = [a.text_content(), a.get("title"), *_IMAGE_ALT(a), *_IMAGE_TITLE(a)]
        aliases.extend(n for n in map(_short, names) if n)
    return list(dict.fromkeys(aliases))


def _section_names(tree) -> list[str]:
    """The texts of the links in the page's menus, navigation bars and breadcrumbs, each once."""
    holders = {id(el): el for el in tree.iter("nav")}
    for value in _NAMED(tree):
        if _NAV_NAMES.search(value) or value.endswith("BreadcrumbList"):
            holders.setdefault(id(value.getparent()), value.getparent())
    # The elements are kept alive while their ids are compared: lxml reuses a dead proxy's id.
    kept = [a for holder in holders.values() for a in holder.iter("a")]
    inside = {id(a) for a in kept}
    sections = [n for n in (_short(a.text_content()) for a in tree.iter("a") if id(a) in inside) if n]
    return list(dict.fromkeys(sections))
