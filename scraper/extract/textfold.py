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


def normalize_space(text: str) -> str:
    """NBSP and other Unicode spaces to one space; zero-width characters out; trimmed."""
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2007", " ")
    # Zero-width space, word joiner and BOM carry nothing; ZWNJ/ZWJ are kept (Persian/Urdu spelling).
    text = re.sub("[\u200b\u2060\ufeff]", "", text)
    return " ".join(text.split())
