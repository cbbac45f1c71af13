"""robots.txt rules: parsed, grouped by user agent, and matched through an index, so that a check
costs about as much under a 500 KiB file as under a ten-line one.

The meaning is RFC 9309's exactly as protego 0.7 (Scrapy's parser) reads it, and
tests/test_robotstxt.py holds the two side by side on generated files and URLs. Why not protego
itself: it tries a group's rules one by one, longest first, until one matches, so a URL under
the prefix of a rule in a file of 18,000 rules cost 5.4 ms and any URL against 18,000 wildcard
rules 71 ms (10,000 URLs: minutes); its rules are private, so no index can be built over them.

What a file means:
- Lines are ``field: value`` (also ``field value``, some misspellings of Disallow, ``user agent``);
  ``#`` starts a comment. A User-agent line after other rules starts a new group; consecutive
  User-agent lines share a group; a name met again adds to the group it named before.
- The group used is the one whose name appears in our user agent at a word boundary, the longest
  name winning (``*`` scores lowest, first group on a tie); none: everything is allowed.
- Allow/Disallow values and URLs are compared with their percent-encoding normalised (escapes
  decoded but for ``/`` and ``%``, the rest quoted, ``%3D`` read as ``=``); a rule matches the path
  and query as a prefix, ``*`` is any run of characters and a final ``$`` ends the URL (a ``$``
  also counts as a literal dollar sign). Of the rules that match, the longest pattern wins, and
  Allow wins a tie; an allowed ``/dir/index.html`` allows ``/dir/`` too. /robots.txt is always allowed.
- Crawl-delay is a finite number of seconds >= 0 (others are ignored); Sitemap lines belong to no group.

The index (built on a group's first check; a group of 32 rules or fewer is simply tried rule by
rule, longest first, which is quicker at that size): patterns without ``*`` are looked up (an exact
``$`` pattern in a dict, prefixes in an RE2 set of literals anchored at the start, which walks
the URL once whatever the number of rules); each wildcard rule is found through the longest
literal it requires (an RE2 set over those literals) and only those whose literal is in the URL,
longest first, are tried, and only while they could still beat the best match so far. A file
written to defeat that (thousands of rules made of one-letter parts that occur in every URL)
costs a try per such rule, as protego always does.
"""
from __future__ import annotations

import heapq
import itertools
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import quote, urlparse, urlsplit

import re2

# -- directives -----------------------------------------------------------------------------------

_DISALLOW = {"disallow", "dissallow", "dissalow", "disalow", "diasllow", "disallaw"}
_ALLOW = {"allow"}
_USER_AGENT = {"user-agent", "useragent", "user agent"}
_SITEMAP = {"sitemap", "sitemaps", "site-map"}
_CRAWL_DELAY = {"crawl-delay", "crawl delay"}
_HOST = {"host"}
_SITE_WIDE = _SITEMAP | _HOST           # not part of any group, and no group boundary
# Directives we do not use but must know: they count as rules when telling where a group ends.
_KNOWN = _DISALLOW | _ALLOW | _USER_AGENT | _SITE_WIDE | _CRAWL_DELAY | {
    "request-rate", "request rate", "visit-time", "visit time"}
_MOST_WORDS = max(len(name.split()) for name in _KNOWN)


def _directive(line: str) -> tuple[str, str] | None:
    """(lower-cased field, value) of a non-empty line, or None when it reads as no directive."""
    name = None
    value = ""
    if ":" in line:
        name, raw = line.split(":", 1)
        name, value = name.strip().lower(), raw.strip()
        if name in _KNOWN or not raw or raw[0].isspace():
            return name, value      # a known field, or an unknown one whose colon reads as a separator
    # "Sitemap https://..." or "User agent foo": a field of one to three words, then the value.
    words = line.split()
    for count in range(1, _MOST_WORDS + 1):
        candidate = " ".join(words[:count]).lower()
        if candidate in _KNOWN:
            return candidate, " ".join(words[count:])
    return None if name is None else (name, value)


# -- percent-encoding, normalised on both sides of a comparison ----------------------------------

_HEX = frozenset("0123456789ABCDEFabcdef")
# URLs and patterns made only of characters quoting leaves alone need none (the common case).
_PLAIN_URL = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*)?(/(?!/)[A-Za-z0-9_.~/=-]*)").fullmatch
_PLAIN_PATTERN = re.compile(r"[A-Za-z0-9_.~/=*-]+\$?").fullmatch


def _unquote(text: str, keep: str) -> str:
    """Decode %xy escapes except those of the characters in ``keep`` (whose escapes are upper-cased)."""
    if "%" not in text:
        return text
    kept = {f"{ord(c):02X}" for c in keep}
    pieces = text.split("%")
    out = [pieces[0].encode()]
    for piece in pieces[1:]:
        if len(piece) >= 2 and piece[0] in _HEX and piece[1] in _HEX:
            code = piece[:2].upper()
            if code not in kept:
                out.append(bytes.fromhex(code) + piece[2:].encode())
                continue
            piece = code + piece[2:]
        out.append(b"%" + piece.encode())
    return b"".join(out).decode("utf-8", "replace")


def _normal(text: str, keep: str) -> str:
    # '=' is left verbatim but not kept escaped, so '%3D' and '=' compare equal.
    return quote(_unquote(text, keep), safe=keep + "=")


def url_path(url: str) -> str:
    """The path and query of ``url`` as rules are compared with (scheme, host and fragment dropped)."""
    plain = _PLAIN_URL(url)
    if plain:
        return plain[1]
    url = url.partition("#")[0]
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if "?" in url else "")   # a bare '?' still counts
    path = _normal(path, "/%")
    return path if path.startswith("/") else f"/{path}"


def pattern_of(value: str) -> str:
    """An Allow/Disallow value as compared with URL paths; its '*' and final '$' keep their meaning."""
    if _PLAIN_PATTERN(value):
        return value
    if value.startswith(("https://", "http://")):
        value = f"/{value}"      # a whole URL written as a rule matches paths containing it
    anchor = ""
    if value.endswith("$"):
        anchor, value = "$", value[:-1]
    return _normal(value, "/%*") + anchor


# -- groups and rules -----------------------------------------------------------------------------

class Rule(NamedTuple):
    pattern: str        # normalised; '*' any run of characters, a final '$' the end of the URL
    allow: bool

    @property
    def rank(self) -> tuple[int, bool]:
        """What wins among matching rules: the longer pattern, then Allow."""
        return len(self.pattern), self.allow


@dataclass(eq=False)
class Group:
    """The rules of one User-agent name."""

    name: str
    rules: list[Rule] = field(default_factory=list)
    crawl_delay: float | None = None
    _index: "_Index | _Scan | None" = field(default=None, repr=False)

    def add(self, value: str, allow: bool) -> None:
        if "$" in value:
            # A '$' is also an ordinary character: "/a$" forbids "/a" and "/a$b" alike.
            self.add(value.replace("$", "%24"), allow)
        pattern = pattern_of(value)
        if not pattern:
            return
        self.rules.append(Rule(pattern, allow))
        if allow and pattern.endswith("/index.html"):
            self.rules.append(Rule(pattern.removesuffix("index.html") + "$", True))

    def set_delay(self, value: str) -> None:
        try:
            delay = float(value)
        except ValueError:
            return
        if math.isfinite(delay) and delay >= 0:
            self.crawl_delay = delay

    def score(self, agent: str) -> int:
        """How well this group's name fits ``agent`` (lower-cased): 0 not at all, 1 for '*'."""
        if self.name == "*":
            return 1
        at = agent.find(self.name)
        while at != -1:
            if at == 0 or not (agent[at - 1].isalnum() or agent[at - 1] in "-_"):
                return len(self.name)
            at = agent.find(self.name, at + 1)
        return 0

    def allowed(self, path: str) -> bool:
        if self._index is None:     # built once, when first needed
            self._index = _Scan(self.rules) if len(self.rules) <= SMALL else _Index(self.rules)
        return self._index.allowed(path)


class RobotsRules:
    """A parsed robots.txt: its groups, Sitemap lines, and answers for a user agent."""

    def __init__(self, groups: dict[str, Group], sitemaps: list[str]):
        self.groups, self.sitemaps = groups, sitemaps
        self._chosen: dict[str, Group | None] = {}

    @classmethod
    def parse(cls, text: str) -> "RobotsRules":
        groups: dict[str, Group] = {}
        sitemaps: list[str] = []
        current: list[Group] = []
        previous = None         # the last directive's field, Sitemap and Host aside
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            directive = _directive(line) if line else None
            if directive is None:
                continue
            name, value = directive
            if name in _USER_AGENT and previous is not None and previous not in _USER_AGENT:
                current = []    # a User-agent line after rules starts the next group
            if name not in _SITE_WIDE:
                previous = name
            if not value or (not current and name not in _USER_AGENT and name not in _SITE_WIDE):
                continue        # "Disallow:" alone, or a rule before any User-agent line
            if name in _USER_AGENT:
                agent = value.lower()
                # No wildcards in names; "foo*bot" is read as itself and as "foobot".
                for key in (agent, agent.replace("*", "") if agent != "*" and "*" in agent else None):
                    if not key:
                        continue
                    group = groups.get(key)
                    if group is None:
                        group = groups[key] = Group(key)
                    if group not in current:
                        current.append(group)
            elif name in _ALLOW or name in _DISALLOW:
                for group in current:
                    group.add(value, name in _ALLOW)
            elif name in _SITEMAP:
                sitemaps.append(value)
            elif name in _CRAWL_DELAY:
                for group in current:
                    group.set_delay(value)
        return cls(groups, sitemaps)

    def group_for(self, user_agent: str) -> Group | None:
        if user_agent not in self._chosen:
            agent = user_agent.strip().lower()
            best, best_score = None, 0
            for group in self.groups.values():
                score = group.score(agent)
                if score > best_score:
                    best, best_score = group, score
            self._chosen[user_agent] = best
        return self._chosen[user_agent]

    def allowed(self, url: str, user_agent: str) -> bool:
        if "/robots.txt" in url and urlparse(url).path == "/robots.txt":
            return True
        group = self.group_for(user_agent)
        return True if group is None else group.allowed(url_path(url))

    def crawl_delay(self, user_agent: str) -> float | None:
        group = self.group_for(user_agent)
        return None if group is None else group.crawl_delay


# -- the index ------------------------------------------------------------------------------------

NO_MATCH = (-1, True)           # below every rank: nothing matched, so allowed
SMALL = 32                      # rules a group may have to be checked one by one (cheaper than the index)
MERGE_FROM = 256                # wildcard candidates from which a lazy merge beats a sort
SET_MEMORY = 64 << 20           # RE2's budget for each literal set (a 500 KiB file needs a few MB)


class _Wildcard:
    """A pattern with '*': its literal head, middle parts and tail; anchored when it ended in '$'."""

    __slots__ = ("head", "middle", "tail", "anchored", "rank", "needs")

    def __init__(self, rule: Rule):
        pattern = rule.pattern
        self.anchored = pattern.endswith("$")
        if self.anchored:
            pattern = pattern[:-1]
        if "**" in pattern:
            pattern = re.sub(r"\*+", "*", pattern)
        parts = pattern.split("*")
        self.head, self.middle, self.tail = parts[0], tuple(parts[1:-1]), parts[-1]
        self.rank = rule.rank
        # The longest literal the URL must contain besides the head ('' when only the head counts).
        self.needs = max(parts[1:], key=len)

    def matches(self, path: str) -> bool:
        # Leftmost placement of each part: if any placement fits, this one does.
        if not path.startswith(self.head):
            return False
        at = len(self.head)
        for part in self.middle:
            found = path.find(part, at)
            if found < 0:
                return False
            at = found + len(part)
        if self.anchored:
            return len(path) - len(self.tail) >= at and path.endswith(self.tail)
        return not self.tail or path.find(self.tail, at) >= 0


class _Literals:
    """Which of many literals a text starts with (``anchored``) or contains, in one pass of RE2."""

    def __init__(self, literals: list[str], anchored: bool):
        options = re2.Options()
        options.literal, options.max_mem, options.log_errors = True, SET_MEMORY, False
        self._set = re2.Set.MatchSet(options) if anchored else re2.Set.SearchSet(options)
        self._set.Add("")       # in every answer: an answer without it means RE2 gave up
        for literal in literals:
            self._set.Add(literal)
        self._set.Compile()     # re2.error when the set does not fit its budget

    def found(self, text: str) -> list[int] | None:
        """Indexes (into ``literals``) found; None when RE2 ran out of memory and cannot say."""
        hits = self._set.Match(text)
        if not hits or 0 not in hits:
            return None
        return [hit - 1 for hit in hits if hit]


class _Scan:
    """Every rule in rank order until one matches: protego's way, and the quickest for a few rules."""

    def __init__(self, rules: list[Rule]):
        self.tests: list[tuple[bool, str, object]] = []
        for rule in sorted(rules, key=lambda r: r.rank, reverse=True):
            pattern = rule.pattern
            if "*" in pattern:
                self.tests.append((rule.allow, "wildcard", _Wildcard(rule)))
            elif pattern.endswith("$"):
                self.tests.append((rule.allow, "exact", pattern[:-1]))
            else:
                self.tests.append((rule.allow, "prefix", pattern))

    def allowed(self, path: str) -> bool:
        for allow, kind, what in self.tests:
            if kind == "prefix":
                if path.startswith(what):
                    return allow
            elif kind == "exact":
                if path == what:
                    return allow
            elif what.matches(path):
                return allow
        return True


class _Index:
    """A group's rules arranged so that a check looks up, rather than tries, most of them."""

    def __init__(self, rules: list[Rule]):
        self.exact: dict[str, tuple[int, bool]] = {}       # "$" patterns without "*": the whole path
        prefixes: dict[str, tuple[int, bool]] = {}         # plain patterns, and "head*" ones
        wildcards: list[_Wildcard] = []
        for rule in rules:
            if "*" not in rule.pattern:
                table, key = (self.exact, rule.pattern[:-1]) if rule.pattern.endswith("$") else (prefixes, rule.pattern)
                table[key] = max(table.get(key, NO_MATCH), rule.rank)
                continue
            wildcard = _Wildcard(rule)
            if wildcard.needs:
                wildcards.append(wildcard)
            else:   # "/a*" or "/a*$": the head alone decides, with the whole pattern's rank
                prefixes[wildcard.head] = max(prefixes.get(wildcard.head, NO_MATCH), rule.rank)
        # Highest rank first: the first wildcard that matches is the best one.
        self.wildcards = sorted(wildcards, key=lambda w: w.rank, reverse=True)
        self.prefix_ranks = list(prefixes.values())
        needs: dict[str, list[int]] = {}
        for n, wildcard in enumerate(self.wildcards):
            needs.setdefault(wildcard.needs, []).append(n)
        self.needed_by = list(needs.values())       # each list in rank order
        self.rules = rules
        self.scan: _Scan | None = None
        try:
            self.prefix_set = _Literals(list(prefixes), anchored=True) if prefixes else None
            self.need_set = _Literals(list(needs), anchored=False) if needs else None
        except re2.error:
            self.scan = _Scan(rules)    # too large for RE2's budget: every rule is tried, as protego does

    def allowed(self, path: str) -> bool:
        if self.scan is not None:
            return self.scan.allowed(path)
        best = self.exact.get(path, NO_MATCH)
        if self.prefix_set is not None:
            found = self.prefix_set.found(path)
            if found is None:
                return self._scanned(path)
            for n in found:
                best = max(best, self.prefix_ranks[n])
        if self.wildcards and self.wildcards[0].rank > best:
            found = self.need_set.found(path)
            if found is None:
                return self._scanned(path)
            # The candidates in rank order: the first that matches ends the search. Many are
            # merged lazily (most are never reached); a few are sorted, which costs less then.
            lists = [self.needed_by[literal] for literal in found]
            many = sum(map(len, lists)) > MERGE_FROM
            for n in heapq.merge(*lists) if many else sorted(itertools.chain.from_iterable(lists)):
                wildcard = self.wildcards[n]
                if wildcard.rank <= best:
                    break
                if wildcard.matches(path):
                    best = wildcard.rank
                    break
        return best[1]

    def _scanned(self, path: str) -> bool:
        """RE2 ran out of memory on this path (its DFA cache): ask the rules one by one."""
        if self.scan is None:
            self.scan = _Scan(self.rules)
        return self.scan.allowed(path)
