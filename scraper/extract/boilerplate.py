"""Paragraph-level cleaning: whitespace normalisation and the site chrome that leaks into article text.

Selectors remove most chrome before extraction; this is the net behind them, applied to the
paragraphs whichever path produced them. A paragraph is dropped when it *is* chrome (a prayer-times
row, a «اقرأ أيضا» link, a copyright line), never because a long paragraph merely mentions a marker.
"""
from __future__ import annotations

import re

from .lexicon import LEXICON
from .textfold import fold, normalize_space

__all__ = ["chrome_reason", "clean_paragraphs", "fold", "normalize_space"]

_CLOCK = re.compile(r"\b\d{1,2}:\d{2}\b")
# «©», "(c) 2024", "Copyright 2024": not the word alone, which a story about copyright uses.
_COPYRIGHT = re.compile(r"©|\(c\)\s*\d{4}|copyright\s*(©|\(c\)|\d{4})", re.I)
_WORDS = re.compile(r"\w+")
_READING_TIME = re.compile(r"\d+\s*(min|minutes?|minuten|minutos|minuti|دقائق|دقيقه)\b.*"
                           r"(read|lesezeit|lecture|lectura|lettura|leitura|قراءه|للقراءه)"
                           # the label first: «Lesedauer: 4 Minuten», "Reading time: 3 min"
                           r"|^(reading time|lesedauer|lesezeit|temps de lecture|tiempo de lectura|"
                           r"مده القراءه|وقت القراءه)\W*\d+\s*\w*$")
# An e-mail address in a short paragraph: the newsroom's "Got a story? Email us at…", a reporter's
# "Email: …" line or a feedback appeal; a story quoting an address does so inside longer text.
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# A photo credit on a line of its own («Image: Jane Doe», «Foto: dpa»): the picture's, not the story's.
_PHOTO_CREDIT = re.compile(r"^(image|photo|picture|photograph|credit|foto|bild|fotó|zdjęcie|"
                           r"الصوره|صوره|تصوير)\s*:")

# A paragraph this long is article text even if it quotes a marker.
_SHORT = 30
_LEAD_CHARS = 40  # enough for the longest opening marker
_LABEL_WORDS = 6  # a widget's label («أرسل الخبر لصديق»), counted without its punctuation and count
_TICKER_WORDS = 16  # «السوق الموازية: 89,500 ليرة للشراء | 89,700 ليرة للمبيع»
_WEATHER_WORDS = 8  # «الكويت: العظمى 31 الصغرى 19»
_DEGREES = re.compile(r"\d+\s*(?:درجه|درجات)(?!\w)")   # «بغداد: 34 درجة», a place and its reading
_STAMP_WORDS = 10  # a credit or teaser with its relative time («القاهرة - أ ش أ - منذ ساعتين»)
# What a label may carry besides its words: a count «(3)», a bullet, a colon, an arrow.
_LABEL_NOISE = re.compile(r"[\d\W_]+")
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)


def is_label(folded: str) -> bool:
    """Whether a folded line is nothing but a widget's label from the lexicon (several labels in a
    row too: «طباعة أرسل لصديق», «شارك فيسبوك»)."""
    words = _LABEL_NOISE.sub(" ", folded).split()
    if not words or len(words) > _LABEL_WORDS:
        return False
    line = " ".join(words)
    if line in LEXICON.labels:
        return True
    # Labels side by side (a toolbar): every word belongs to some label or is a share word.
    rest = LEXICON.label.sub(" ", line).split()
    return len(rest) < len(words) and all(w in LEXICON.share_words for w in rest)


def chrome_reason(paragraph: str) -> str | None:
    """Why this paragraph is site chrome rather than article text (None when it is text)."""
    words = _WORDS.findall(paragraph)
    if not words:
        return "no words"
    if fold(paragraph[:_LEAD_CHARS]).startswith(LEXICON.leading):
        return "read-also link"
    if len(words) > _SHORT * 2:
        return None
    folded = fold(paragraph)
    if is_label(folded):
        return "label («%s»)" % " ".join(_LABEL_NOISE.sub(" ", folded).split())
    if len(words) <= _STAMP_WORDS and LEXICON.relative_time.search(folded.translate(_DIGITS)):
        return "relative time («منذ ساعتين»): a teaser's or credit's timestamp"
    found = [m for m in LEXICON.markers if m in folded]
    if len(found) >= 2:   # a policy blurb (comments, privacy, terms) names several at once
        return f"markers «{found[0]}», «{found[1]}»"
    if len(words) > _SHORT:
        return None
    if found:
        return f"marker «{found[0]}»"
    tokens = set(_WORDS.findall(folded))
    if len(tokens & LEXICON.prayers) >= 3 and (_CLOCK.search(paragraph) or len(words) <= 8):
        return "prayer times"
    if len(words) <= 4 and tokens & LEXICON.prayers and _CLOCK.search(paragraph):
        return "prayer times"     # one row of the widget: «الفجر | 04:21»
    if _COPYRIGHT.search(paragraph):
        return "copyright line"
    if _READING_TIME.search(folded) and len(words) <= 6:
        return "reading time"
    if _PHOTO_CREDIT.match(folded) and len(words) <= 8:
        return "photo credit"
    if _EMAIL.search(paragraph):
        return "contact line (an e-mail address)"
    if len(words) <= 8 and all(w.lower() in LEXICON.share_words for w in _WORDS.findall(folded)):
        return "share bar"
    digits = folded.translate(_DIGITS)
    names = [w for w in _WORDS.findall(digits) if not w.isdigit()]
    if len(words) <= _TICKER_WORDS and re.search(r"\d", digits) and names \
            and all(w in LEXICON.market_words for w in names):
        return "price ticker"
    if len(words) <= _WEATHER_WORDS and LEXICON.temperature.search(digits) \
            or len(words) <= 3 and _DEGREES.search(digits):
        return "weather ticker"
    return None


def clean_paragraphs(paragraphs: list[str], dropped: list[tuple[str, str]] | None = None) -> list[str]:
    """Normalised, non-empty paragraphs in order, chrome removed (and listed in ``dropped``)."""
    out: list[str] = []
    for raw in paragraphs:
        text = normalize_space(raw)
        if not text:
            continue
        reason = chrome_reason(text)
        if reason:
            if dropped is not None:
                dropped.append((text, reason))
            continue
        out.append(text)
    return out
