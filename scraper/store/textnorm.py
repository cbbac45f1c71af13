"""Text normalisation for search: one spelling of every word, so that variants find each other.

Arabic: tashkeel (harakat, shadda, sukun, dagger alef, Quranic marks) and tatweel removed;
أ إ آ ٱ -> ا; ى -> ي; ة -> ه; Arabic-Indic and Persian digits -> ASCII. Latin: case folded and
accents removed (Café -> cafe). The same function is applied to the indexed text and to the query.

It never changes where words begin and end (the FTS5 tokenizer, with marks counted as word
characters, sees the same number of tokens before and after): FTS5 maps match positions found in
the normalised index back onto the original text to cut snippets, so a shifted token would
highlight the wrong word.
"""
from __future__ import annotations

import re
import unicodedata

# Changing the mapping below needs a new migration that empties both indexes and queues every
# article again (as search_002_stems does in store/migrations.py): the index deletes an old entry
# by normalising the old text again, which must give exactly what was indexed.

TATWEEL = "\u0640"

# Combining marks written over/under Arabic letters: Quranic honorifics and marks (0610-061A),
# harakat, tanween, shadda, sukun, maddah/hamza above/below as marks (064B-065F), dagger alef
# (0670), Quranic annotation signs (06D6-06ED) and the extended-A marks (08D3-08FF).
_ARABIC_MARKS = (
    [chr(c) for c in range(0x0610, 0x061B)]
    + [chr(c) for c in range(0x064B, 0x0660)]
    + ["\u0670"]
    + [chr(c) for c in range(0x06D6, 0x06EE) if unicodedata.category(chr(c)).startswith("M")]
    + [chr(c) for c in range(0x08D3, 0x0900) if unicodedata.category(chr(c)).startswith("M")]
)
# Latin (and Greek/Cyrillic) combining accents, left behind by casefold() or typed decomposed.
_COMBINING = [chr(c) for c in range(0x0300, 0x0370)]

_LETTERS = {
    # Alef with hamza above/below, with madda, wasla, and the rarer wavy-hamza forms: all are
    # written as bare alef by many writers, and by every search-box user.
    "\u0623": "\u0627", "\u0625": "\u0627", "\u0622": "\u0627", "\u0671": "\u0627",
    "\u0672": "\u0627", "\u0673": "\u0627", "\u0675": "\u0627",
    "\u0649": "\u064a",   # alef maksura -> yeh (Egyptian print writes final yeh without dots)
    "\u06cc": "\u064a",   # Farsi yeh, from Persian keyboards
    "\u06a9": "\u0643",   # keheh -> kaf, same reason
    "\u0629": "\u0647",   # teh marbuta -> heh
    "\u066b": ".",        # Arabic decimal separator
    "\u066c": ",",        # Arabic thousands separator
}
_DIGITS = {chr(0x0660 + d): str(d) for d in range(10)} | {chr(0x06F0 + d): str(d) for d in range(10)}


def _latin_folds() -> dict[str, str]:
    """Precomposed Latin letters -> their base letters (é -> e, Å -> a), as a translate table."""
    table = {}
    for block in (range(0x00C0, 0x0250), range(0x1E00, 0x1F00)):
        for code in block:
            char = chr(code)
            base = "".join(c for c in unicodedata.normalize("NFD", char.casefold())
                           if not unicodedata.combining(c))
            if base and base != char:
                table[char] = base
    return table


# Applied after casefold(); marks and tatweel are handled separately (see _strip_marks).
_TABLE = str.maketrans(_latin_folds() | _LETTERS | _DIGITS)

_MARKS = TATWEEL + "".join(_ARABIC_MARKS) + "".join(_COMBINING)
# A run of marks/tatweel is removed only when it follows a letter or digit. A run standing alone
# (a decorative "ـــــ" line, a mark quoted on its own) is a token for FTS5 in the original text,
# so it is kept (as its first character) to keep token positions aligned; see module docstring.
_MARK_RUN = re.compile(f"[{re.escape(_MARKS)}]+")


def _strip_marks(match: re.Match) -> str:
    start = match.start()
    if start and match.string[start - 1].isalnum():
        return ""
    return match.group()[0]


def normalize(text: str | None) -> str | None:
    """The search form of ``text`` (``None`` stays ``None``, so NULL columns stay NULL).

    NFC first, so a hamza or accent typed as a separate mark is folded like the precomposed letter.
    """
    if not text:
        return text
    folded = unicodedata.normalize("NFC", text).casefold().translate(_TABLE)
    return _MARK_RUN.sub(_strip_marks, folded)
