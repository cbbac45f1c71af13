"""Paragraph-level cleaning: whitespace normalisation and the site chrome that leaks into article text.

Selectors remove most chrome before extraction; this is the net behind them, applied to the
paragraphs whichever path produced them. A paragraph is dropped when it *is* chrome (a prayer-times
row, a «اقرأ أيضا» link, a copyright line), never because a long paragraph merely mentions a marker.
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


# A short paragraph containing one of these is chrome. (Folded at import.)
_MARKERS = tuple(fold(m) for m in (
    # Arabic mastheads, widgets, tickers, share bars, related lists, newsletters, footers
    "مواقيت الصلاة", "جميع الحقوق محفوظة", "حقوق النشر محفوظة", "أبرز الأخبار", "عدد اليوم",
    "اقرأ أيضا", "اقرأ المزيد", "شارك الخبر", "شارك المقال", "الأكثر قراءة", "الأكثر مشاهدة",
    "أخبار ذات صلة", "مواضيع ذات صلة", "مقالات ذات صلة", "تابعونا على", "اشترك في النشرة",
    "النشرة البريدية", "النشرة الإخبارية", "العدد الورقي", "روابط سريعة", "حالة الطقس",
    "ملفات تعريف الارتباط", "سياسة الخصوصية", "شروط الاستخدام",
    # English and a few European equivalents
    "all rights reserved", "sign up for our newsletter", "subscribe to our newsletter",
    "accept cookies", "cookie policy", "we use cookies", "this site uses cookies", "related articles",
    "related stories", "most read", "most popular", "share this article", "follow us on",
    "skip to content", "privacy policy", "terms of use", "alle rechte vorbehalten",
    "tous droits réservés", "todos los derechos reservados", "on google news", "before commenting",
    "log in to comment", "login to comment", "to post a comment", "أضف تعليقك", "سجل الدخول للتعليق",
    # comment-section disclaimers
    "لا تعبر عن رأي", "مراجعة التعليقات", "إرشادات الاستخدام", "comments are moderated",
    "do not necessarily reflect the views",
))
# Markers that are chrome only when they open the paragraph («اقرأ أيضا: ...», "Read more: ...").
_LEADING = tuple(fold(m) for m in (
    "اقرأ أيضا", "اقرأ ايضا", "اقرأ المزيد", "شاهد أيضا", "طالع أيضا", "read more", "read also",
    "see also", "advertisement", "lesen sie auch", "mehr zum thema", "lire aussi", "à lire aussi",
    "leer también", "leia também", "czytaj też", "czytaj także", "czytaj również", "przeczytaj też",
    "czytaj więcej", "les også", "se også", "læs også", "läs också", "lees ook", "leggi anche", "also read",
    "читайте также", "читайте також", "čtěte také", "přečtěte si také", "اقرأ كذلك", "تابع أيضا",
    "auch interessant", "das könnte sie auch interessieren", "you may also like", "you might also like",
    "قد يهمك", "اخترنا لك", "مواضيع قد تهمك",
))
_SHARE_WORDS = {fold(w) for w in (
    "شارك", "مشاركة", "فيسبوك", "تويتر", "واتساب", "تلغرام", "لينكدإن", "انستغرام", "طباعة", "إكس",
    "facebook", "twitter", "x", "whatsapp", "telegram", "linkedin", "email", "e-mail", "print",
    "share", "copy", "link", "pinterest", "reddit", "messenger",
)}
_PRAYERS = {fold(w) for w in ("الفجر", "الشروق", "الظهر", "العصر", "المغرب", "العشاء")}
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


def normalize_space(text: str) -> str:
    """NBSP and other Unicode spaces to one space; zero-width characters out; trimmed."""
    text = text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2007", " ")
    # Zero-width space, word joiner and BOM carry nothing; ZWNJ/ZWJ are kept (Persian/Urdu spelling).
    text = re.sub("[\u200b\u2060\ufeff]", "", text)
    return " ".join(text.split())


def chrome_reason(paragraph: str) -> str | None:
    """Why this paragraph is site chrome rather than article text (None when it is text)."""
    words = _WORDS.findall(paragraph)
    if not words:
        return "no words"
    if fold(paragraph[:_LEAD_CHARS]).startswith(_LEADING):
        return "read-also link"
    if len(words) > _SHORT * 2:
        return None
    folded = fold(paragraph)
    found = [m for m in _MARKERS if m in folded]
    if len(found) >= 2:   # a policy blurb (comments, privacy, terms) names several at once
        return f"markers «{found[0]}», «{found[1]}»"
    if len(words) > _SHORT:
        return None
    if found:
        return f"marker «{found[0]}»"
    tokens = set(_WORDS.findall(folded))
    if len(tokens & _PRAYERS) >= 3 and (_CLOCK.search(paragraph) or len(words) <= 8):
        return "prayer times"
    if _COPYRIGHT.search(paragraph):
        return "copyright line"
    if _READING_TIME.search(folded) and len(words) <= 6:
        return "reading time"
    if _PHOTO_CREDIT.match(folded) and len(words) <= 8:
        return "photo credit"
    if _EMAIL.search(paragraph):
        return "contact line (an e-mail address)"
    if len(words) <= 8 and all(w.lower() in _SHARE_WORDS for w in _WORDS.findall(folded)):
        return "share bar"
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
