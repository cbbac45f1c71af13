"""Chrome told by its kind and its place: appeals to follow the site, a release's issuer line, menu lines.

boilerplate.chrome_reason judges a line alone. These kinds say what a story's own sentence could
also say in passing, so the lexicon (chrome.toml) is not enough: the line must also sit where such
chrome sits or carry what such chrome carries.

- An appeal to follow the site («تابعوا آخر الأخبار عبر قناتنا على واتساب», «لمتابعة أخبارنا على
  نبض اضغط هنا»): a form addressing the reader and a channel, short, and linked (to the channel) or
  among the story's last lines, where sites append it. A story reporting that a ministry opened a
  Telegram channel has no imperative addressed to the reader.
- An issuer line («صادر عن: إدارة الاتصال المؤسسي»): short, opening with an issuer phrase, at the
  top or the end of the story, where handouts carry it.
- A menu line: two or more short links making up nearly all of the line's text («الرئيسية | سياسة
  | محليات»); running text links a few words of a sentence.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .boilerplate import fold
from .lexicon import LEXICON
from .parse import BLOCK_TAGS

_CALL_WORDS = 35      # an appeal is a sentence or two; a paragraph of the story is longer
_ISSUER_WORDS = 14
_TAIL = 3             # the story's last lines, where sites append their appeals
_HEAD = 2
_MENU_SHARE = 0.8     # share of a line's characters inside links for it to be a menu
_MENU_LINK_WORDS = 4  # a menu item's words
_NOT_WORD = re.compile(r"[\W_]+")


def _squeezed(text: str) -> str:
    return _NOT_WORD.sub("", text).lower()


def call_to_follow(folded: str) -> tuple[str, str] | None:
    """(the form addressing the reader, the channel) when a folded line appeals to follow the site."""
    verb = LEXICON.call_verb.search(folded)
    channel = LEXICON.channel.search(folded) if verb else None
    return (verb.group(), channel.group()) if verb and channel else None


@dataclass
class _Links:
    count: int = 0
    chars: int = 0
    longest: int = 0   # words of the longest link


def _links_by_block(tree) -> dict[str, _Links]:
    """Link statistics of each block that holds links, keyed by the block's squeezed text."""
    stats: dict[int, tuple[object, _Links]] = {}
    for a in tree.iter("a"):
        text = "".join(a.itertext()).strip()
        if not text or not a.get("href"):
            continue
        block = next((anc for anc in a.iterancestors() if anc.tag in BLOCK_TAGS), None)
        if block is None:
            continue
        _, links = stats.setdefault(id(block), (block, _Links()))
        links.count += 1
        links.chars += len(_squeezed(text))
        links.longest = max(links.longest, len(text.split()))
    out: dict[str, _Links] = {}
    for block, links in stats.values():
        key = _squeezed(block.text_content())
        if key and len(key) < 2000:
            out.setdefault(key, links)
    return out


def placed_chrome_reason(paragraph: str, index: int, count: int, links: _Links | None) -> str | None:
    """Why the paragraph at ``index`` of ``count`` is chrome by its kind and place (None if not)."""
    folded = fold(paragraph)
    words = len(paragraph.split())
    linked = links is not None and links.count > 0
    if words <= _CALL_WORDS and (call := call_to_follow(folded)) and (linked or index >= count - _TAIL):
        return f"call to follow the site («{call[0]}» + «{call[1]}», {'linked' if linked else 'at the end'})"
    if words <= _ISSUER_WORDS and (index < _HEAD or index >= count - _TAIL) \
            and folded.startswith(LEXICON.issuers):
        return "issuer line of a press release"
    if linked and links.count >= 2 and links.longest <= _MENU_LINK_WORDS \
            and links.chars >= _MENU_SHARE * len(_squeezed(paragraph)):
        return f"menu line ({links.count} links)"
    return None


_MENU_SEPARATOR = re.compile(r"\s[|•·/]\s")   # «الرئيسية | سياسة | محليات»


def drop_placed_chrome(tree, paragraphs: list[str], dropped: list) -> list[str]:
    """``paragraphs`` without the chrome placed_chrome_reason finds (listed in ``dropped``).

    The links of the page are read only for the lines that need them (an appeal that does not
    close the story, a line of separated items): most pages have neither."""
    by_block: dict[str, _Links] | None = None
    kept = []
    for i, p in enumerate(paragraphs):
        links = None
        tail = i >= len(paragraphs) - _TAIL
        if (not tail and len(p.split()) <= _CALL_WORDS and call_to_follow(fold(p))) or _MENU_SEPARATOR.search(p):
            by_block = _links_by_block(tree) if by_block is None else by_block
            links = by_block.get(_squeezed(p))
        reason = placed_chrome_reason(p, i, len(paragraphs), links)
        if reason:
            dropped.append((p, reason))
        else:
            kept.append(p)
    return kept
