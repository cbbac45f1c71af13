"""The chrome lexicon (chrome.toml beside this module): what site chrome says, by kind, folded once.

The data says what a line holds; boilerplate.py and chrome_lines.py say where such a line must sit
to be chrome. Loaded once at import; a broken file is a bug of the package, so it fails loudly.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from .textfold import fold


@dataclass(frozen=True)
class Lexicon:
    markers: tuple[str, ...]        # a short line containing one is chrome
    leading: tuple[str, ...]        # a line opening with one is chrome
    labels: frozenset[str]          # a line that is only one is a widget's label
    share_words: frozenset[str]     # a short line of only these is a share bar
    prayers: frozenset[str]
    call_verbs: tuple[str, ...]     # an appeal to the reader ...
    channels: tuple[str, ...]       # ... to follow the site on one of these
    call_verb: re.Pattern           # the two as whole words or phrases, compiled once
    channel: re.Pattern
    label: re.Pattern               # any label, as a whole word or phrase
    issuers: tuple[str, ...]        # a press release's issuer line opens with one
    relative_time: re.Pattern       # «منذ ساعتين»
    market_words: frozenset[str]    # a short line of only these and numbers is a price ticker
    temperature: re.Pattern         # a weather ticker's temperature («24°», «العظمى 31», «34 درجة»)


def _folded(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(fold(v) for v in values))


def _phrase_pattern(phrases: tuple[str, ...]) -> str:
    """Whole words or phrases (longest first), as a regex alternation on folded text."""
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))


def _words_regex(phrases: tuple[str, ...]) -> re.Pattern:
    return re.compile(rf"(?<!\w)(?:{_phrase_pattern(phrases)})(?!\w)")


def load(text: str | None = None) -> Lexicon:
    data = tomllib.loads(text if text is not None else
                         resources.files(__package__).joinpath("chrome.toml").read_text(encoding="utf-8"))
    rel = data["relative_time"]
    units = _phrase_pattern(_folded(rel["ar_units"]))
    before = _phrase_pattern(_folded(rel["ar_before"]))
    verbs, channels = _folded(data["calls"]["verbs"]), _folded(data["calls"]["channels"])
    labels = _folded(data["labels"]["ar"])
    return Lexicon(
        markers=_folded(data["markers"]["ar"] + data["markers"]["other"]),
        leading=_folded(data["leading"]["ar"] + data["leading"]["other"]),
        labels=frozenset(labels),
        share_words=frozenset(_folded(data["labels"]["share_words"])),
        prayers=frozenset(_folded(data["labels"]["prayers"])),
        call_verbs=verbs,
        channels=channels,
        call_verb=_words_regex(verbs),
        channel=_words_regex(channels),
        label=_words_regex(labels),
        issuers=_folded(data["issuers"]["ar"]),
        # «منذ ساعتين», «منذ 3 ساعات», «قبل ٥ دقائق» (digits are folded to ASCII before matching)
        relative_time=re.compile(rf"(?<!\w)(?:{before})\s+(?:\d+\s+)?(?:{units})(?!\w)"),
        market_words=frozenset(w for m in _folded(data["tickers"]["market"]) for w in re.findall(r"\w+", m)),
        # «24°», «العظمى 31»; «34 درجة» only on a line of a place and the reading (see boilerplate)
        temperature=re.compile(r"\d+(?:[.,]\d+)?\s*°|(?:العظمي|الصغري)\W*\d+"),
    )


LEXICON = load()
