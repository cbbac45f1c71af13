"""Arabic light stemming for search: every Arabic word of normalised text replaced by its stem, in place.

The stemmer is Snowball's Arabic algorithm (the ``snowballstemmer`` package, which runs it in C
through PyStemmer when that is installed), a light stemmer: it strips clitics and affixes (the
article ال, the conjunctions و ف, the prepositions ب ل ك, plural, dual, feminine and pronoun
suffixes) and leaves the pattern alone, so «كتاب» and «كاتب» stay apart. It sees our normalised
text (textnorm), which it was not written for, and leaves gaps where news Arabic needs it most
(«والحكومة» kept its prefix, «وزير» lost its root letter). ``stem_word`` wraps it with three
small corrections, each for a measured gap; on bench/search.py's families of word forms they take
the share of forms that stem like their query word from 56/113 (Snowball alone) to 100/113, with
the same 3/34 other words conflated.

Like textnorm, this never moves token boundaries: only runs of Arabic letters change, each into
a non-empty run of Arabic letters, so the stems index has the same token positions as the
original text and FTS5's snippet() highlights the word as written.

Stems must be the same at index time and at delete time (FTS5 deletes by re-tokenizing the old
value). A new library version or a change of backend may stem differently, so ``SIGNATURE``
names them, and search.refresh() re-indexes everything when the archive was built with another.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import re

import snowballstemmer

from .textnorm import normalize

_STEMMER = snowballstemmer.stemmer("arabic")  # a Stemmer.Stemmer (C) if PyStemmer is installed

# Arabic letters as textnorm leaves them (hamza forms, letters, Persian/Urdu extensions). Marks and
# tatweel are gone after normalisation, digits are ASCII: neither is touched.
_ARABIC_RUN = re.compile("[\u0621-\u063a\u0641-\u064a\u0671-\u06d3\u06fa-\u06ff]+")


@functools.lru_cache(maxsize=1 << 18)  # news vocabularies are Zipfian: most tokens are cache hits
def stem_word(word: str) -> str:
    """The stem of one normalised Arabic word (a non-empty run of Arabic letters, or ``word``)."""
    target = word
    # 1. Snowball strips و/ف only when not followed by ا, so «والحكومة» (and + the government, the
    #    commonest form in news) kept its prefix: drop the conjunction before ال ourselves.
    if len(target) >= 6 and target[0] in "وف" and target[1:3] == "ال":
        target = target[1:]
    # 2. textnorm wrote ة as ه; Snowball strips a final ة as the feminine ending but a final ه
    #    only in some lengths, so «حكومه» and «الحكومه» stemmed apart. Give it its ة back (the
    #    pronoun ه "his" is a suffix it strips either way).
    if len(target) > 2 and target[-1] == "\u0647":
        target = target[:-1] + "\u0629"
    # 3. Snowball's suffix rules depend on the word's length with its prefixes, so a bare word and
    #    its definite form could stem apart («حكومات» «حكوما», «الحكومات» «حكوم»; «بنوك» «بنو»,
    #    «البنوك» «بنوك»); but it strips no pronoun from a definite form («حكومتها»). So a bare word
    #    is stemmed both ways and the shorter stem kept.
    if target[:2] == "ال" or len(target) < 3:
        stem = _STEMMER.stemWord(target)
    elif target[0] in "وف" and not (len(target) >= 6 and target[1:].startswith(("بال", "كال", "لل"))):
        # A bare و/ف is as often the root's first letter (وزير، وزارة، ولاية، فلسطين) as a
        # conjunction, and Snowball stripped it when no article followed («وزير» «زير», «الوزير»
        # «وزير»). Behind an article or the preposition ب it keeps it, and behind ب it also strips
        # pronouns («بوزيرها» «وزير»): the shorter of the two, unless ب itself stayed (too short a
        # word: «بوطنها» «بوط»). Unless a clitic with the article follows (وبال، ولل; «وكالة» is too
        # short for that). Cost: «وقال» does not find «قال», nor «ومصر» «مصر».
        candidates = [_STEMMER.stemWord("ال" + target), _STEMMER.stemWord("ب" + target)]
        stem = min([c for c in candidates if not c.startswith("ب")] or candidates[:1], key=len)
    else:
        stem = min(_STEMMER.stemWord("ال" + target), _STEMMER.stemWord(target), key=len)
    stem = normalize(stem)  # Snowball writes its own forms (ة, ى): back to the index's spelling
    # Never an empty or split token: the stems index must keep the original's token positions.
    return stem if stem and _ARABIC_RUN.fullmatch(stem) else word


def _stem_match(match: re.Match) -> str:
    return stem_word(match.group())


def stem_text(text: str | None) -> str | None:
    """``text`` (already normalised) with each Arabic word replaced by its stem; the rest unchanged."""
    if not text:
        return text
    return _ARABIC_RUN.sub(_stem_match, text)


# The article, alone or after a conjunction or preposition: what a prefix query's word loses.
_ARTICLE = re.compile("^(?:[وف]?[بك]?ال|[وف]?لل)(?=..)")


def _stem_query_match(match: re.Match) -> str:
    if match.string.startswith("*", match.end()):
        # A prefix query («البورص*»): its word is cut, so stemming it would cut it again at the
        # wrong place; only the article goes, to meet the index's stems where they begin.
        return _ARTICLE.sub("", match.group())
    return stem_word(match.group())


def stem_query(text: str) -> str:
    """A normalised query (or piece of one) for the stems index: whole words stemmed as in
    ``stem_text``; a word before ``*`` loses only its article, since stems start where it ends."""
    return _ARABIC_RUN.sub(_stem_query_match, text)


# Words whose stems run through every rule above: a library whose algorithm changed without a
# version bump still gets a new signature.
_PROBE = ("والحكومة الحكومات حكومات بالحكومة للمدرسة المدارس وزير الوزارة فلسطين كتابه "
          "المستشفيات الإمارات المصريين يقولون سيارتها والكاتب فالمعلمون وزيرها وطنها بنوك وبالحكومة")


def _signature() -> str:
    backend = type(_STEMMER).__module__.split(".")[0]
    versions = []
    for dist in ("snowballstemmer", "PyStemmer"):
        try:
            versions.append(f"{dist}-{importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    probe = hashlib.sha256(stem_text(normalize(_PROBE)).encode()).hexdigest()[:12]
    # The rules above are part of the stem: bump the "rules" number when changing them.
    return f"arabic rules-1 {backend} {' '.join(versions)} probe-{probe}"


SIGNATURE = _signature()
