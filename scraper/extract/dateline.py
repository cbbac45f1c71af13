"""Where an article prints its own date: <time> near the headline and the visible date line under it.

Pages carry many dates (the masthead's day, related stories, the copyright year, dates the story
talks about); the article's is the one by its headline. So the search starts at the headline's
<h1>, stays inside the <article>/<main> holding it, skips lists and asides, and stops where the
body begins. An update label («آخر تحديث», "Updated") makes a date the modification time.
"""
from __future__ import annotations

import re
from typing import Iterator

from lxml import etree

from .. import dates
from .boilerplate import normalize_space

# Words that mark a date as the last update, not the publication (Arabic, English, European).
UPDATED = re.compile(r"(تحديث|حدث في|آخر تعديل|updated?|modified|aktualisiert|mis à jour|"
                     r"actualizad[oa]|atualizad[oa]|aggiornat[oa]|zaktualizowano|bijgewerkt)", re.I)
_UPDATE_CLASS = re.compile(r"updat|modif", re.I)
_CLOCK = re.compile(r"\d{1,2}[:.]\d{2}")
_DATE_LINE_MAX = 160     # characters: a date line is short; longer text is the body
_DATE_LINE_REACH = 12    # elements after the headline looked at for a date line
_NOT_DATE_LINE = {"aside", "nav", "footer", "form", "ul", "ol", "table", "figure", "script", "style"}

_TEASER = re.compile(r"related|recommend|teaser|more-|most-|ذات-صلة", re.I)

Found = tuple[str, str, str]   # (field, ISO date, source)


def text_of(el) -> str:
    return normalize_space(el.text_content()) if el is not None else ""


def iso_date(text: str | None, tz, loose: bool = False) -> str | None:
    """ISO string of the date in ``text``: a machine date or one printed date; with ``loose``, the
    first date found anywhere in the text. None when there is none (or its year is implausible)."""
    if not text or not text.strip():
        return None
    try:
        parsed = dates.parse_iso_like(text.strip(), tz)
    except ValueError:
        parsed = dates.find_date(text, tz) if loose else None
    if parsed is None or not 1990 <= parsed.value.year <= 2100:
        return None
    return dates.to_iso(parsed)


_SHOWING = etree.XPath("//body//*[normalize-space(.) = $title]")


def headline_element(tree, title: str | None):
    """The <h1> holding the headline (or the first <h1> inside an <article>, or the first one);
    on a page without any <h1> (table-laid portals print the headline in a <span>), the innermost
    element whose whole text is the headline."""
    h1s = tree.xpath("//h1")
    if title:
        for h1 in h1s:
            if text_of(h1) == title:
                return h1
        if not h1s:
            showing = _SHOWING(tree, title=title)
            ids = {id(el) for el in showing}
            # The first that holds no other: the headline's own element, not its row or table.
            return next((el for el in showing
                         if not any(id(d) in ids for d in el.iterdescendants())), None)
    inside = [h for h in h1s if h.xpath("ancestor::article")]
    return (inside or h1s or [None])[0]


def _updated_context(el) -> bool:
    """Whether a date element is labelled as the last update (its class or the words before it)."""
    parent = el.getparent()
    for node in (el, parent):
        if node is not None and _UPDATE_CLASS.search(node.get("class", "") + node.get("itemprop", "")):
            return True
    before = el.getprevious()
    label = (before.text_content() if before is not None else "") + \
        ((parent.text or "") if parent is not None else "")
    return bool(UPDATED.search(label[-40:]))


def headline_scope(h1):
    """Where the article's own date lives: the headline's <article>/<main> (or a <header> that is
    not the page's masthead), else the headline's parent."""
    if h1 is None:
        return None
    for anc in h1.iterancestors():
        if anc.tag in ("article", "main"):
            return anc
        if anc.tag == "header" and anc.getparent() is not None and anc.getparent().tag != "body":
            return anc
    return h1.getparent()


def in_teaser(el, scope) -> bool:
    """Whether ``el`` sits in an aside, navigation, footer or related-stories block inside ``scope``."""
    for anc in el.iterancestors():
        if anc is scope:
            return False
        if anc.tag in ("aside", "nav", "footer") or _TEASER.search(anc.get("class", "")):
            return True
    return False


def time_dates(tree, h1, tz) -> list[Found]:
    """Dates of <time> elements in the headline's region: the first publication and any update."""
    found: list[Found] = []
    scope = headline_scope(h1)
    times = scope.xpath(".//time") if scope is not None else tree.xpath("//article//time")
    for el in times:
        if in_teaser(el, scope):
            continue
        value = el.get("datetime") or text_of(el)
        iso = iso_date(value, tz, loose=not el.get("datetime"))
        if iso:
            field = "modified" if _updated_context(el) else "published"
            found.append((field, iso, "time[datetime]" if el.get("datetime") else "time"))
            if field == "published":
                break
    return found


def _date_lines(h1) -> Iterator:
    """Short text blocks after the headline, in document order, up to the start of the body.

    Walks the headline's following siblings, then its ancestors' (never past the <article>/<main>
    that holds it), skipping lists, asides and navigation (related stories carry their own dates),
    and stops at the first long paragraph: a date in the body is a date the story talks about.
    """
    count = 0
    node = h1
    while node is not None and count < _DATE_LINE_REACH:
        for sib in node.itersiblings():
            if not isinstance(sib.tag, str) or sib.tag in _NOT_DATE_LINE:
                continue
            count += 1
            for line in _lines_in(sib):
                if line is None:
                    return
                yield line
            if count >= _DATE_LINE_REACH:
                return
        node = node.getparent()
        if node is None or node.tag in ("article", "main", "body", "html"):
            return


def _lines_in(el):
    """``el`` if short enough to be a date line, else its short parts; None marks the body's start."""
    text = text_of(el)
    if len(text) <= _DATE_LINE_MAX:
        if text:
            yield el
        return
    if el.tag == "p" or (el.text and len(el.text.strip()) > _DATE_LINE_MAX):
        yield None
        return
    for child in el:
        if isinstance(child.tag, str) and child.tag not in _NOT_DATE_LINE:
            for line in _lines_in(child):
                yield line
                if line is None:
                    return


def date_line_dates(h1, tz) -> list[Found]:
    """The short lines after the headline: the first date is the publication, one labelled as an
    update («آخر تحديث», "Updated") is the modification; a line that only says when the page was
    updated leaves ``published`` empty rather than guessing."""
    found: list[Found] = []
    if h1 is None:
        return found
    after = None
    have = set()
    for n, line in enumerate(_date_lines(h1)):
        if after is not None and n > after + 2:   # the date block is behind us
            break
        text = text_of(line)
        marker = UPDATED.search(text)
        head, tail = (text[:marker.start()], text[marker.start():]) if marker else (text, "")
        published = iso_date(head, tz, loose=True) if "published" not in have else None
        modified = iso_date(tail, tz, loose=True) if tail else None
        if marker and published and modified is None and _CLOCK.search(tail):
            # «28 آب 2013، آخر تحديث 14:00»: the date belongs to the update, not to publication.
            modified, published = iso_date(text, tz, loose=True), None
        for field, iso, source in (("published", published, "date line"),
                                   ("modified", modified, "date line (updated)")):
            if iso and field not in have:
                found.append((field, iso, source))
                have.add(field)
        if published or modified:
            after = n if after is None else after
        if have == {"published", "modified"}:
            break
    if not found:
        found = _date_above(h1, tz)
    return found


_ABOVE = 2   # lines right before the headline looked at: K2's and many portals' date sits there


def _date_above(h1, tz) -> list[Found]:
    """The date printed just above the headline, in the headline's own container («itemHeader»:
    date, then title), when none follows it; never beyond the container (the masthead's day)."""
    for n, sib in enumerate(h1.itersiblings(preceding=True)):
        if n >= _ABOVE or not isinstance(sib.tag, str) or sib.tag in _NOT_DATE_LINE:
            break
        text = text_of(sib)
        if not text or len(text) > _DATE_LINE_MAX:
            break
        if not UPDATED.search(text) and (iso := iso_date(text, tz, loose=True)):
            return [("published", iso, "date line (above the headline)")]
    return []


# Labels that a page prints before its date or author in a fact list («<strong>Datum</strong>
# 28.04.2023», "<dt>Published</dt><dd>…</dd>", «التاريخ: …»), folded to lower case.
DATE_LABELS = {"datum", "date", "published", "publié le", "fecha", "data", "dato", "päivämäärä",
               "veröffentlicht", "veröffentlicht am", "publicado", "pubblicato", "تاريخ", "التاريخ",
               "تاريخ النشر", "نشر في"}
AUTHOR_LABELS = {"autor", "autorin", "autorin/autor", "autor/autorin", "author", "auteur", "autore",
                 "written by", "الكاتب", "الكاتبة", "بقلم", "المؤلف"}
_LABEL_TAGS = ("strong", "b", "dt", "th", "label", "span")


def labelled_values(tree, labels: set[str]) -> Iterator[tuple[str, str]]:
    """(label, value) for each element whose whole text is one of ``labels``: the value is the text
    after it (its tail), else its next sibling's text (a <dd> after a <dt>, a <td> after a <th>)."""
    for el in tree.iter(_LABEL_TAGS):
        label = text_of(el).rstrip(":：").strip().lower()
        if label not in labels:
            continue
        value = normalize_space(el.tail or "").lstrip(":：").strip()
        if not value and (nxt := el.getnext()) is not None:
            value = text_of(nxt)
        if value:
            yield label, value


def labelled_dates(tree, tz) -> list[Found]:
    """The publication date a fact list labels as the date («Datum 28.04.2023»); a last resort
    when the headline's region carries none, since such lists sit anywhere in the page."""
    for _, value in labelled_values(tree, DATE_LABELS):
        if len(value) <= _DATE_LINE_MAX and (iso := iso_date(value, tz, loose=True)):
            return [("published", iso, "labelled date")]
    return []


# data-* attributes that front-end code renders the article's date from («data-deploy-dt»,
# «data-published-at», «data-pubdate»): when the markup carries no printed date at all, they are
# what the browser will show. "update"/"modif"/"re-deploy" names are the modified time.
_DATA_DATE = re.compile(r"^data-(?:[a-z-]*-)?(?:publish|published|pub|deploy|created|release|"
                        r"update|updated|modified)(?:-?(?:date|dt|time|at|on))+$")
_DATA_MODIFIED = re.compile(r"updat|modif|re-?deploy")
_DATA_ATTRIBUTES = etree.XPath("//@*[starts-with(name(), 'data-')]", smart_strings=True)


def attribute_dates(tree, tz) -> list[Found]:
    """Published and modified times from data-* attributes named for them; a last resort."""
    found: dict[str, Found] = {}
    for attribute in _DATA_ATTRIBUTES(tree):
        name = attribute.attrname
        if not _DATA_DATE.match(name) or len(attribute) > 40:
            continue
        field = "modified" if _DATA_MODIFIED.search(name) else "published"
        if field not in found and (iso := iso_date(str(attribute), tz, loose=True)):
            found[field] = (field, iso, f"[{name}]")
    return list(found.values())
