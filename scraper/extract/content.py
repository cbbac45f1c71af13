"""The article body as paragraphs: a profile's selectors, else trafilatura on the already-parsed tree.

Both paths return raw paragraphs in page order; scraper.extract.boilerplate cleans them afterwards, so the
same net catches chrome whichever path let it through. A <br> inside a paragraph splits it: sites
that lay out text with <br> mean one paragraph per line.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import lxml.html
from lxml import etree

from ..profiles import Profile, compiled
from .maincontent import MainContent, main_content
from .parse import BLOCK_TAGS
from .trace import GENERIC, PROFILE, Trace, drop_element

# Inside a profile container these are never body text (captions excepted: they are the article's).
_NOT_BODY = ("script", "style", "noscript", "template", "button", "form", "iframe")


def text_lines(el, skip=()) -> list[str]:
    """Text of ``el`` as lines: <br> and block elements start a new line; ``skip`` tags are left out."""
    out: list[str] = [""]

    def walk(node, root: bool = False) -> None:
        tag = node.tag if isinstance(node.tag, str) else ""
        tail = "" if root else (node.tail or "")  # the container's own tail is not its text
        if tag in skip:
            out[-1] += tail
            return
        if tag == "br" or tag == "lb":
            out.append("")
        elif tag in BLOCK_TAGS:
            out.append("")
        if node.text and tag:
            out[-1] += node.text
        for child in node:
            walk(child)
        if tag in BLOCK_TAGS:
            out.append("")
        out[-1] += tail

    walk(el, root=True)
    return [line for line in out if line.strip()]


def drop_elements(tree, selectors, trace: Trace) -> int:
    """Remove every element matched by a profile's ``selectors`` (drop rules), each noted in ``trace``."""
    removed = 0
    for sel in selectors:
        for el in compiled(sel)(tree):
            removed += trace.remove(el, PROFILE, f"profile drop rule `{sel}`")
    return removed


def profile_paragraphs(tree, profile: Profile) -> tuple[list[str], str | None]:
    """(paragraphs, selector used) from the profile's content selectors; ([], None) if none match."""
    for sel in profile.article:
        containers = compiled(sel)(tree)
        if not containers:
            continue
        paragraphs: list[str] = []
        for container in containers:
            found = compiled(profile.paragraphs)(container)
            if found:
                for p in found:
                    paragraphs.extend(text_lines(p, _NOT_BODY))
            else:
                paragraphs.extend(text_lines(container, _NOT_BODY))
        if any(p.strip() for p in paragraphs):
            return paragraphs, f"{sel} {profile.paragraphs}"
    return [], None


# Chrome that is never article text on any site, removed before trafilatura scores the page (it
# keeps some of these when they hold enough text). An element holding the headline or many
# paragraphs is spared, since a class such as "has-comments" can sit on a wrapper of the whole page.
_CHROME_WORDS = ("prayer", "cookie", "newsletter", "ticker", "share-bar", "social-share", "sharing",
                 "epaper", "most-read", "mostread", "breaking-news",
                 # the writer's box under the story: their bio, not the article
                 "author-bio", "author__bio", "authorbio", "biography",
                 # embedded social posts: someone else's words, quoted in the page's markup
                 "twitter-tweet", "instagram-media", "tiktok-embed", "fb-post")
_CHROME = re.compile("|".join(map(re.escape, _CHROME_WORDS)))
_ENOUGH = 0.5
_STORY_MIN_CHARS = 500
_PARAGRAPH_TEXT = etree.XPath("//p//text()", smart_strings=False)   # counted only: plain strings
_OWN_PARAGRAPH_TEXT = etree.XPath(".//p//text()", smart_strings=False)
_HEADLINE_ARTICLE = etree.XPath("//h1/ancestor::article[1]")
# The story's opening: the first paragraph after the headline long enough to be running text
# (a sentence or two in any script), not a link.
_OPENING_CHARS = 40


def flatten_ruby(tree) -> int:
    """Ruby annotations (furigana) as the page's own plain-text fallback: «弾劾（だんがい）».

    A <ruby> that carries <rp> parentheses tells what a reader without ruby rendering sees: the
    base text with its reading in brackets. Extractors that drop <rt> keep only the base and
    leave a gap; the flattened text is what the article says in plain text.
    """
    flattened = 0
    for ruby in list(tree.iter("ruby")):
        if ruby.find("rp") is None or ruby.getparent() is None:
            continue
        text = ruby.text_content() + (ruby.tail or "")
        prev, parent = ruby.getprevious(), ruby.getparent()
        if prev is not None:
            prev.tail = (prev.tail or "") + text
        else:
            parent.text = (parent.text or "") + text
        parent.remove(ruby)
        flattened += 1
    return flattened


def story_opening(headline):
    """The first paragraph of running text after the headline: where the headline's story starts."""
    if headline is None:
        return None
    # Document order after the headline: its own following siblings' subtrees, then its ancestors'.
    for node in (headline, *headline.iterancestors()):
        for sibling in node.itersiblings():
            for p in sibling.iter("p") if isinstance(sibling.tag, str) else ():
                if len(p.text_content().strip()) >= _OPENING_CHARS and next(p.iterancestors("a"), None) is None:
                    return p
    return None


def _holds_story(el, page_chars, opening_line: set) -> bool:
    """Whether ``el`` holds the story: the headline, the story's opening paragraph, six paragraphs
    or more, or half of the page's paragraph text (``page_chars()``). A class naming a widget
    («breaking-news», «has-comments») can sit on the story's own container; pruning that leaves
    trafilatura no article and hands the body to a fallback that returns the menus (issue 12)."""
    if el.find(".//h1") is not None or el in opening_line:
        return True
    paragraphs = el.findall(".//p")
    if len(paragraphs) >= 6:
        return True
    chars = sum(len(t) for p in paragraphs for t in p.itertext())
    return chars > 0 and chars * 2 >= page_chars()


def chrome_named(tree) -> list[tuple]:
    """(element, word) for each element whose class or id holds a chrome word (_CHROME), in page
    order; the word is the first one in whichever of the two the element names first."""
    found = []
    # Element by element: ~15 % cheaper than //@class | //@id (every attribute node handed to Python
    # with its parent), and libxml2 testing the words with contains() is slower still.
    for el in tree.iter(etree.Element):
        by_class = (cls := el.get("class")) and _CHROME.search(cls)
        by_id = (ident := el.get("id")) and _CHROME.search(ident)
        if by_class and by_id:
            names = el.keys()
            found.append((el, (by_class if names.index("class") < names.index("id") else by_id).group(0)))
        elif by_class or by_id:
            found.append((el, (by_class or by_id).group(0)))
    return found


def drop_chrome(tree, trace: Trace, headline=None) -> int:
    """Remove the elements whose class or id names them as chrome (see _CHROME), each noted in
    ``trace``, sparing any that holds the story of ``headline`` (the headline's element)."""
    doomed = chrome_named(tree)
    if not doomed:
        return 0
    counted: list[int] = []

    def page_chars() -> int:      # counted once, and only if a paragraph-holding element is doomed
        if not counted:
            counted.append(sum(len(t) for t in _PARAGRAPH_TEXT(tree)))
        return counted[0]

    opening = story_opening(headline)
    opening_line = set(opening.iterancestors()) | {opening} if opening is not None else set()
    removed = 0
    for el, word in doomed:
        if el.getparent() is not None and not _holds_story(el, page_chars, opening_line):
            removed += trace.remove(el, GENERIC, f"generic: pruned as chrome (its class or id says «{word}»)")
    return removed


def _trafilatura(tree, url: str | None, fast: bool) -> MainContent:
    """Trafilatura's main content of ``tree`` (left as it is), as its bare_extraction gives it."""
    return main_content(tree, url, fast)


def _paragraph_chars(tree) -> int:
    """How much paragraph text the story has: inside the <article> holding the headline when there
    is one (pages that load the next stories below hold several), else on the whole page."""
    for article in _HEADLINE_ARTICLE(tree)[:1]:
        inside = sum(len(t) for t in _OWN_PARAGRAPH_TEXT(article))
        if inside >= _STORY_MIN_CHARS:
            return inside
    return sum(len(t) for t in _PARAGRAPH_TEXT(tree))


_PAGE_FORM_SHARE = 0.5   # a <form> holding this share of the page's text is the page, not a form


def unwrap_page_forms(tree) -> int:
    """Turn a <form> that holds the page itself into a plain block, and say how many there were.

    ASP.NET WebForms pages (and some PHP portals) wrap the whole page, article included, in one
    <form> for their postbacks. Main-content extractors discard forms as chrome, which discards the
    article with it; a form holding half of the page's text is no form a reader fills in.
    """
    forms = list(tree.iter("form"))
    if not forms:            # the page's text is measured only on a page with a form
        return 0
    body = tree.find(".//body")
    total = len(body.text_content()) if body is not None else 0
    unwrapped = 0
    for form in forms:
        if total and len(form.text_content()) >= _PAGE_FORM_SHARE * total:
            form.tag = "div"
            unwrapped += 1
    return unwrapped


_LAYOUT_CELL_CHARS = 300   # a table cell holding this much text is a page column, not a datum
_TABLE_PARTS = ("table", "thead", "tbody", "tfoot", "tr", "td", "th")


def unwrap_layout_tables(tree) -> int:
    """Turn the tables that lay out the page (not data) into plain blocks; say how many.

    Portals of the 2000s (ASP.NET, classic PHP) build the whole page from nested tables: masthead,
    menu, story and sidebar are cells of one table. A main-content extractor keeps a table whole,
    so the menus, the prayer times and the poll come out with the story. A table is layout when it
    holds another table or a cell with a paragraph's worth of text; as blocks, its cells are judged
    one by one like any other part of the page. Data tables (short cells, no nesting) stay tables.
    """
    unwrapped = 0
    for table in list(tree.iter("table")):
        if table.getparent() is None or table.tag != "table":
            continue
        cells = [c for c in table.iter("td", "th") if next(c.iterancestors("table")) is table]
        layout = table.find(".//table") is not None or any(
            len(c.text_content()) >= _LAYOUT_CELL_CHARS for c in cells)
        if not layout:
            continue
        for el in [table, *table.iter(*_TABLE_PARTS)]:
            if el is table or next(el.iterancestors("table"), None) is table:
                el.tag = "div"
        unwrapped += 1
    return unwrapped


_LINKED = 0.8   # share of a table's text in links above which it is a menu, not data


def drop_widget_tables(tree, trace: Trace) -> int:
    """Remove the tables that are a menu (their text is link text) or a form's layout (inputs),
    each noted in ``trace``; how many. What is left of a table after unwrap_layout_tables is data
    or such a widget, and a main-content extractor keeps tables whole, so a menu or a comment form
    would come out as text."""
    removed = 0
    for table in list(tree.iter("table")):
        if table.getparent() is None or table.tag != "table":
            continue
        text = len("".join(table.itertext()).strip())
        linked = sum(len("".join(a.itertext()).strip()) for a in table.iter("a"))
        if table.find(".//input") is not None or table.find(".//textarea") is not None \
                or table.find(".//select") is not None:
            removed += trace.remove(table, GENERIC, "generic: a form's table (it holds inputs)")
        elif text and linked >= _LINKED * text:
            removed += trace.remove(table, GENERIC, "generic: a menu table (its text is link text)")
    return removed


_BREAK_RUN_CHARS = 200   # an element with this much text between double <br>s lays out paragraphs
_BREAK_HOLDERS = {"span", "div", "td", "font", "section", "article"}


def paragraphs_from_breaks(tree) -> int:
    """Give <p> elements to text laid out with <br><br> (old portals, WYSIWYG fields); how many made.

    A story written as one block of text with blank lines between paragraphs has no paragraph
    elements, and a main-content extractor that scores paragraphs finds none (readability does
    the same conversion). Each run of text and inline elements between two double breaks becomes
    a <p>; block elements inside stay as they are.
    """
    made = 0
    # The elements holding a double break, found from the breaks (few on most pages).
    holders = {id(br.getparent()): br.getparent() for br in tree.iter("br")
               if br.getparent() is not None and br.getparent().tag in _BREAK_HOLDERS
               and (nxt := br.getnext()) is not None and nxt.tag == "br" and not (br.tail or "").strip()}
    for el in holders.values():
        if len(" ".join(t for t in el.xpath("text()"))) < _BREAK_RUN_CHARS:
            continue
        runs: list[list] = [[]]          # each run: the text and inline children of one paragraph
        lead, el.text = el.text, None
        if lead and lead.strip():
            runs[-1].append(lead)
        children = list(el)
        for child in children:
            el.remove(child)
        for i, child in enumerate(children):
            tail, child.tail = child.tail, None
            nxt = children[i + 1] if i + 1 < len(children) else None
            if child.tag == "br" and (nxt is not None and nxt.tag == "br" and not (tail or "").strip()
                                      or runs[-1] == []):
                runs.append([])          # a double break (or a break at a run's start) ends a paragraph
            elif child.tag == "br":
                runs[-1].append(child)
            elif isinstance(child.tag, str) and child.tag in BLOCK_TAGS:
                runs.append([child])
                runs.append([])
            else:
                runs[-1].append(child)
            # A space between two inline elements separates their words («<b>a</b> <b>b</b>»);
            # only at a paragraph's start is a blank tail nothing.
            if tail and (tail.strip() or runs[-1]):
                runs[-1].append(tail)
        for run in runs:
            if not run:
                continue
            if len(run) == 1 and not isinstance(run[0], str) and run[0].tag in BLOCK_TAGS:
                el.append(run[0])
                continue
            p = etree.SubElement(el, "p")
            for part in run:
                if isinstance(part, str):
                    if len(p):
                        p[-1].tail = (p[-1].tail or "") + part
                    else:
                        p.text = (p.text or "") + part
                else:
                    p.append(part)
            made += 1
    return made


@dataclass(frozen=True)
class Generic:
    """The generic path's paragraphs, and what the safety net needs to know of how they were read."""

    paragraphs: list[str]
    pristine: bool       # the tree was left as parsed: nothing pruned, unwrapped or rewritten first
    as_baseline: bool    # pristine, and trafilatura's full mode gave them: its own default result


def generic_paragraphs(tree, url: str | None, trace: Trace, headline=None) -> Generic:
    """Paragraphs of the main content found by trafilatura, given our parsed tree (maincontent.main_content).

    Trafilatura's own extractor runs first without its fallbacks (readability, jusText), which
    cost most of its time; they run only when the result holds less than half of the page's
    paragraph text, the sign that the fast pass kept one block of a longer article.
    """
    changed = (drop_chrome(tree, trace, headline) + flatten_ruby(tree) + unwrap_page_forms(tree)
               + unwrap_layout_tables(tree) + drop_widget_tables(tree, trace) + paragraphs_from_breaks(tree))
    doc = _trafilatura(tree, url, fast=True)
    full = None
    if len(doc.text) < _ENOUGH * _paragraph_chars(tree):
        full = _trafilatura(tree, url, fast=False)
    return Generic(doc_paragraphs(full or doc), pristine=not changed, as_baseline=full is not None and not changed)


def baseline_paragraphs(tree, url: str | None) -> list[str]:
    """Trafilatura's own default extraction (with its fallbacks) of the page, as paragraphs: the
    generic baseline the safety net holds our body against. ``tree`` is left as it is."""
    return doc_paragraphs(_trafilatura(tree, url, fast=False))


def doc_paragraphs(doc) -> list[str]:
    """A trafilatura result's body (a maincontent.MainContent) as paragraphs: a list item or a table row
    is one, a layout table's cells give one a line."""
    if doc.body is None:
        return []
    paragraphs: list[str] = []
    for block in doc.body:
        if block.tag == "list":
            for item in block.iter("item"):
                paragraphs.extend(text_lines(item))
        elif block.tag == "table":
            for row in block.iter("row"):
                cells = [text_lines(cell) for cell in row]
                if any(len(lines) > 1 or len(" ".join(lines)) > 200 for lines in cells):
                    # A layout table (old CMSes): its cells hold the text, one line a paragraph.
                    paragraphs.extend(line for lines in cells for line in lines)
                else:
                    paragraphs.append(" | ".join(" ".join(lines) for lines in cells if lines))
        else:
            paragraphs.extend(text_lines(block))
    return paragraphs


# A JSON string literal of some length (escaped quotes allowed): where script-rendered pages keep
# the article as HTML (Next.js/Nuxt hydration state, API payloads inlined for the client).
_JSON_STRING = re.compile(r'"((?:[^"\\]|\\.){300,})"')
_HTML_BLOCK = re.compile(r"<(?:p|br|div|h[2-6])\b", re.I)
_PICTURE_BOX_CHARS = 300     # an element holding an image and this little text is image + caption
# A template token the page's script replaces when rendering ($$ARTICLEAD$$, {{ad_slot}}, [[AD]]).
_PLACEHOLDER = re.compile(r"^(\$\$\w+\$\$|\{\{\s*\w+\s*\}\}|\[\[\w+\]\])$")
_EMBEDDED_MIN_BLOCKS = 3      # a few block tags: an article, not a one-line label


def embedded_paragraphs(tree) -> list[str]:
    """Paragraphs of the longest article-like HTML string inside the page's scripts.

    Pages rendered in the browser ship an empty <body> and the story as data in a script (the
    hydration state of a JavaScript framework): no extractor that reads the markup finds anything,
    while the data holds the article's HTML verbatim. Only asked when the markup gave no text.
    """
    best: list[str] = []
    best_chars = 0
    for script in tree.iter("script"):
        text = script.text or ""
        for match in _JSON_STRING.finditer(text):
            raw = match.group(1)
            if "\\u003c" not in raw and "<" not in raw:
                continue
            try:
                value = json.loads(f'"{raw}"')
            except ValueError:
                continue
            # An HTML field opens with a tag; a longer string that merely holds some markup is a
            # serialised payload (a framework's stream), not the article.
            if not value.lstrip().startswith("<") or len(_HTML_BLOCK.findall(value)) < _EMBEDDED_MIN_BLOCKS:
                continue
            try:
                fragment = lxml.html.fragment_fromstring(value, create_parent="div")
            except (etree.ParserError, ValueError):
                continue
            for box in fragment.xpath(".//*[.//img]"):
                # A picture box (the image and its caption): the picture's text, not the story's.
                if box.getparent() is not None and len(box.text_content()) < _PICTURE_BOX_CHARS:
                    drop_element(box)
            lines = [line for line in text_lines(fragment, _NOT_BODY + ("figure", "figcaption"))
                     if not _PLACEHOLDER.match(line.strip())]
            chars = sum(len(line) for line in lines)
            if chars > best_chars:
                best, best_chars = lines, chars
    return best
