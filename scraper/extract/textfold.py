"""Text compared as a reader sees it: whitespace normalised (normalize_space), spelling folded (fold).

Every step that compares lines (chrome, teasers, titles, templates) folds text the same way, so it
lives below them all.
"""
from __future__ import annotations

import functools
import re
import unicodedata

# Text compared after fold(): lower case, NFKC, no Arabic diacritics or tatweel, one alef and one
# ya/ta-marbuta form, so «اقرأ أيضاً» and «اقرا ايضا» are one marker.
_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ALEFS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي",
                        # typographic quotes compare equal to straight ones
                        "’": "'", "‘": "'", "“": '"', "”": '"', "„": '"'})


@functools.lru_cache(maxsize=8192)   # the same lines are compared in several steps of one page
def fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(_DIACRITICS.sub("", text).translate(_ALEFS).split())


# Zero-width space, word joiner and BOM carry nothing; ZWNJ/ZWJ are kept (Persian/Urdu spelling).
_ZERO_WIDTH = re.compile("[\u200b\u2060\ufeff]")


def normalize_space(text: str) -> str:
    """NBSP and other Unicode spaces to one space; zero-width characters out; trimmed."""
    # Looked for before a regex is run (called on every line of a page, and nearly none has one).
    if "\u200b" in text or "\u2060" in text or "\ufeff" in text:
        text = _ZERO_WIDTH.sub("", text)
    # str.split() splits at NBSP, the narrow and the figure space (U+00A0, U+202F, U+2007) too.
    return " ".join(text.split())
