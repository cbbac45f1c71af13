"""The headline: the publisher's title without the site name, chosen by comparing the page's candidates.

Sites put the headline in several places (JSON-LD headline, og:title, twitter:title, <h1>, <title>),
and most of them decorate some copies with the site name (« - Site», «Site | »). When two sources
agree, that is the headline; the separators are only cut where the rest matches another source or
the cut part is the site's name, so a headline that itself contains « - » stays whole.
"""
from __future__ import annotations

import html
import re
from typing import Iterable

from .boilerplate import fold, normalize_space

# With spaces around: the usual «Headline - Site» separators. Without spaces only the bars, since
# «» are quotation marks in Arabic, French and German headlines («داعش», «royaler Besuch»).
_SEPARATORS = re.compile(r"\s+(?:[|\-–—:·•»«/~*]|::)\s+|\s*[|｜•ㅣ]\s*")
_GLUED = "-|｜ㅣ–—·"
_QUOTES = ('"', "'", "«", "„", "“")
# The copies of the headline that carry no site name by convention.
_HEADLINE_SOURCES = ("h1", "json-ld", "meta:headline", "microdata:headline")
# Title fields that can side with the JSON-LD headline against og:title (see _outvoted).
_VOTERS = ("meta:twitter:title", "microdata:headline", "meta:sailthru.title", "meta:parsely-title",
           "meta:cxenseparse:title", "meta:dc.title", "meta:dcterms.title")


def _parts(title: str) -> list[str]:
    return [p for p in (normalize_space(x) for x in _SEPARATORS.split(title)) if p]


def _alnum(text: str) -> str:
    return re.sub(r"\W+", "", fold(text))


def _is_site_name(part: str, site_names: Iterable[str]) -> bool:
    key = _alnum(part)
    if not key:
        return True
    for name in site_names:
        other = _alnum(name)
        short, long_ = sorted((key, other), key=len)
        # "Evening Standard" is the site of standard.co.uk; but "dw" inside "russlandwahl" is not.
        if short and (short == long_ or len(short) >= 4 and short in long_ and len(long_) <= len(short) + 12):
            return True
    return False


def strip_site_name(title: str, site_names: Iterable[str], others: Iterable[str] = (),
                    headlines: Iterable[str] = ()) -> str:
    """``title`` without a site-name prefix/suffix; unchanged when nothing says what to cut.

    ``headlines`` are the page's undecorated copies of the headline (<h1>, JSON-LD): when one of
    them carries the same words as the whole of ``title``, a part that a shorter copy elsewhere
    omits is not decoration («Kicker / Headline» shown as such above the article); only the site's
    name is still cut then.
    """
    title = normalize_space(title)
    parts = _parts(title)
    if len(parts) < 2:
        return title
    shown_whole = _alnum(title) in {_alnum(h) for h in headlines if h and h != title}
    folded_others = {fold(o) for o in others if o}
    # The longest run of parts that another source gives verbatim is the headline.
    for size in range(len(parts) - 1 if not shown_whole else 0, 0, -1):
        for start in range(0, len(parts) - size + 1):
            chunk = parts[start:start + size]
            joined_folded = {fold(s) for s in _joins(title, chunk)}
            if joined_folded & folded_others:
                return next(s for s in _joins(title, chunk) if fold(s) in folded_others)
    site_names = list(site_names)
    while len(parts) > 1 and _is_site_name(parts[-1], site_names):
        parts.pop()
        title = _cut_after(title, parts)
    while len(parts) > 1 and _is_site_name(parts[0], site_names):
        parts.pop(0)
        title = _cut_before(title, parts)
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


def choose_title(candidates: list[tuple[str, str | None]],
                 site_names: Iterable[str]) -> tuple[str | None, str | None]:
    """(headline, source) from ``candidates`` [(source, text)] given in trust order.

    Each candidate loses its site-name prefix/suffix (judged against the other candidates and the
    site's names); the first one left that is more than the site's name is the headline, unless
    other title fields outvote og:title (see _outvoted). The order the caller uses (og:title,
    JSON-LD, twitter:title, <h1>, <title>, then the fields that only vote) is the one that matched
    the publisher's headline most often on the development corpus, and og:title is the commonest
    source across publishers' own parsers too; <h1> is sometimes a kicker, a breadcrumb or a
    live-ticker's title.
    """
    site_names = [s for s in site_names if s]
    texts = [(src, normalize_space(html.unescape(t))) for src, t in candidates if t and t.strip()]
    headlines = [t for src, t in texts if src in _HEADLINE_SOURCES]
    usable = []
    for src, text in texts:
        others = [t for _, t in texts if t != text]
        cleaned = strip_site_name(text, site_names, others, headlines)
        if len(_alnum(cleaned)) < 3 or _is_site_name(cleaned, site_names) or _cut_short(cleaned, texts):
            continue
        usable.append((src, _unglued(cleaned, texts)))
    if not usable:
        return None, None
    src, text = _outvoted(usable) or usable[0]
    return text, src


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
    if usable[0][0] != "meta:og:title" or not og or not ld or _alnum(ld) == _alnum(og):
        return None
    if by_source.get("meta:title") == ld or any(
            _alnum(text) == _alnum(ld) for src, text in by_source.items() if src in _VOTERS):
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
