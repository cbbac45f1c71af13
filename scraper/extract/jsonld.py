"""JSON-LD: find the page's article object (NewsArticle & co., inside @graph or lists) and read its fields.

Publishers' JSON-LD is often sloppy (trailing commas, raw newlines in strings, several blocks, the
article nested under mainEntity), so reading is forgiving and a broken block is skipped, not fatal.
A block nested deeper than any article object is (MAX_DEPTH) is refused before it is parsed: the
JSON parser and the readers below recurse once per level, and 1,000 levels (4 KB) exhaust Python's stack.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator

# Types whose object describes the article itself. WebPage is only a fallback: its name is often the
# <title> with the site name, and its dates are the page's, not the story's.
ARTICLE_TYPES = {
    "newsarticle", "article", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
    "reviewnewsarticle", "backgroundnewsarticle", "askpublicnewsarticle", "blogposting",
    "liveblogposting", "socialmediaposting", "scholarlyarticle", "report", "techarticle",
}
# HTML comments and (commented) CDATA sections that old templates wrap around the JSON.
_WRAPPERS = re.compile(r"^\s*(?://\s*)?(?:<!--|<!\[CDATA\[)|(?://\s*)?(?:-->|\]\]>)\s*$")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
# schema.org's deepest real nesting (an @graph holding an article whose author's organisation has a
# logo object) is under ten levels; the readers walk at most six.
MAX_DEPTH = 64
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class TooDeep(ValueError):
    """A JSON-LD block nested deeper than MAX_DEPTH."""


def nesting(text: str) -> int:
    """How deep the brackets of a JSON text nest, strings left out (their brackets are text)."""
    depth = deepest = 0
    for bracket in _NOT_BRACKET.sub("", _STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


# What _WRAPPERS looks for: a block without any of these has nothing to unwrap, and the regex,
# whose end-anchored half is tried at every character, need not read a 20 KB articleBody.
_WRAPPER_MARKS = ("<!--", "<![CDATA[", "-->", "]]>")


def _load(text: str) -> Any:
    if any(mark in text for mark in _WRAPPER_MARKS):
        text = _WRAPPERS.sub("", text)
    text = text.strip().rstrip(";")
    # Brackets cannot nest deeper than there are opening ones: only a block with more is measured.
    if text.count("{") + text.count("[") > MAX_DEPTH and (depth := nesting(text)) > MAX_DEPTH:
        raise TooDeep(f"a JSON-LD block nested {depth} levels deep (more than {MAX_DEPTH})")
    try:
        return json.loads(text, strict=False)
    except ValueError:
        return json.loads(_TRAILING_COMMA.sub(r"\1", text), strict=False)


def _walk(node: Any, depth: int = 0) -> Iterator[dict]:
    if depth > 6:
        return
    if isinstance(node, list):
        for item in node:
            yield from _walk(item, depth + 1)
    elif isinstance(node, dict):
        yield node
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "itemListElement"):
            if key in node:
                yield from _walk(node[key], depth + 1)


def _types(obj: dict) -> set[str]:
    t = obj.get("@type", ())
    return {str(x).lower().rsplit("/", 1)[-1] for x in (t if isinstance(t, list) else [t])}


def article_objects(tree, ignored: list[str] | None = None) -> list[dict]:
    """Every JSON-LD object of an article type, in page order; WebPage objects after them.

    A block nested too deep is skipped and said in ``ignored``; a merely broken one is skipped
    silently (sloppy JSON-LD is common and says nothing worth a line).
    """
    articles: list[dict] = []
    pages: list[dict] = []
    for script in tree.iterfind(".//script[@type]"):
        if "ld+json" not in (script.get("type") or "").lower() or not script.text:
            continue
        try:
            data = _load(script.text)
        except TooDeep as exc:
            if ignored is not None:
                ignored.append(str(exc))
            continue
        except (ValueError, RecursionError):
            continue
        for obj in _walk(data):
            types = _types(obj)
            if types & ARTICLE_TYPES:
                articles.append(obj)
            elif "webpage" in types:
                pages.append(obj)
    return articles + pages


def text_of(value: Any) -> str | None:
    """A plain string from a JSON-LD value that may be a string, a {name|@value} object or a list."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return text_of(value.get("name") or value.get("@value") or value.get("url"))
    if isinstance(value, list):
        for item in value:
            if (found := text_of(item)) is not None:
                return found
    return None


def names_of(value: Any) -> list[str]:
    """Author names: a string, a Person/Organization object, or (nested) lists of either."""
    if isinstance(value, list):
        return [n for item in value for n in names_of(item)]
    if isinstance(value, dict):
        return names_of(value.get("name"))
    if isinstance(value, str) and value.strip() and not value.strip().startswith("http"):
        return [" ".join(value.split())]
    return []


def keywords_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    if isinstance(value, list):
        return [k for v in value for k in keywords_of(v)]
    return []


def image_of(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return image_of(value.get("url") or value.get("contentUrl"))
    if isinstance(value, list):
        for item in value:
            if (found := image_of(item)) is not None:
                return found
    return None


def fields_of(obj: dict) -> dict[str, Any]:
    """The record fields one JSON-LD article object provides (only those it has)."""
    out: dict[str, Any] = {}
    headline = text_of(obj.get("headline"))
    if not headline and _types(obj) & ARTICLE_TYPES:   # a WebPage's name is the <title>, not the headline
        headline = text_of(obj.get("name"))
    if headline:
        out["title"] = headline
    if isinstance(obj.get("articleBody"), str):
        out["article_body"] = obj["articleBody"]
    for key, field in (("datePublished", "published"), ("dateCreated", "created"),
                       ("dateModified", "modified"), ("description", "summary"),
                       ("inLanguage", "language"), ("url", "url")):
        if (value := text_of(obj.get(key))) is not None:
            out[field] = value
    if authors := names_of(obj.get("author") or obj.get("creator")):
        out["author"] = ", ".join(dict.fromkeys(authors))
    if (section := obj.get("articleSection")) is not None:
        sections = keywords_of(section) if isinstance(section, list) else [text_of(section)]
        if sections and sections[0]:
            out["section"] = sections[0]
    if tags := keywords_of(obj.get("keywords")):
        out["tags"] = tags
    if image := image_of(obj.get("image") or obj.get("thumbnailUrl")):
        out["image"] = image
    if publisher := text_of(obj.get("publisher")):
        out["site_name"] = publisher
    if "liveblogposting" in _types(obj):   # entries' headlines are links to themselves: not teasers
        out["live_blog"] = True
    return out
