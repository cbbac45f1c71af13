"""The query language of `scraper search`, on its own: SQLite FTS5's syntax, parsed and evaluated in
Python, so an archive on PostgreSQL answers the same queries with the same hits (pgsearch.py).

``prepare_query`` turns what the user typed into the query both engines run (normalised and
stemmed like the index, operators and quotes kept); SQLite's FTS5 reads that text itself. For
PostgreSQL, ``parse`` reads it as FTS5 does (tests/test_ftsquery.py holds the two to the same hits on
random queries and texts): words and "phrases" (each a run of tokens), ``word*`` prefixes, ``a + b``
phrases, ``NEAR(a b, N)``, ``^`` (the column's first token), column filters ``title:``,
``-title:``, ``{title text}:``, ``AND``, ``OR``, ``NOT`` (binary) and parentheses, with FTS5's
precedence: juxtaposed phrases bind tightest, then NOT, AND, OR. A malformed query raises
QuerySyntax with words like FTS5's.

``tokens`` cuts text as FTS5's unicode61 tokenizer does with our settings (store/search.py's
TOKENIZE: letters, numbers, private-use characters and marks are word characters; everything else
separates), and ``matches`` decides whether a document (its columns' tokens) matches a query,
exactly as FTS5 does: what a PostgreSQL tsquery cannot say exactly (NEAR, ^) is checked with it.
``snippet`` cuts FTS5's kind of snippet from the original text.
"""
from __future__ import annotations

import functools
import re
import sys
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from typing import Any, Iterable, Sequence

from ..errors import ScraperError
from .stems import stem_query
from .textnorm import normalize

COLUMNS = ("title", "text")
NEAR_DEFAULT = 10


class BadQuery(ScraperError):
    """The search query is not valid FTS5 syntax (str: one line saying how to quote it)."""


class SearchTimeout(ScraperError):
    """A search ran past its time limit and was stopped (str: one line saying what to do)."""

    def __init__(self, seconds: float):
        super().__init__(f"the search ran past its time limit ({seconds:g} s) and was stopped: narrow it "
                         "(fewer ORs and prefixes, --site, --since) or give it longer (--max-time)")


class QuerySyntax(ValueError):
    """What is wrong with a query, in FTS5's words (``fts5: syntax error near "x"``)."""


@dataclass(frozen=True)
class Hit:
    id: int
    url: str
    site: str | None
    title: str | None
    published: str | None
    snippet: str
    score: float | None = None  # ranked searches only: lower is better (SQLite: bm25)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_day(value: str | date | None, name: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise BadQuery(f"--{name} {value!r} is not a date: use YYYY-MM-DD") from None


# -- what the user typed -> the query the engines run --------------------------------------------

_QUOTED = re.compile(r'("(?:[^"]|"")*")')
_OPERATOR = re.compile(r"\b(AND|OR|NOT|NEAR)\b")  # FTS5 operators are upper case only


def prepare_query(query: str, *, quote: bool = False, stem: bool = False) -> str:
    """The FTS5 query to run: normalised like the index, operators and phrase quotes kept.

    ``quote=True`` searches every word literally (each one a quoted string), so punctuation such
    as ``COVID-19`` or ``C++`` needs no FTS5 syntax. ``stem=True`` also stems the Arabic words,
    for the stems index (``word*`` loses only its article: stems begin where it ends).
    """
    fold = (lambda piece: stem_query(normalize(piece))) if stem else normalize
    if quote:
        query = " ".join('"' + word.replace('"', '""') + '"' for word in query.split())
    parts = []
    for i, part in enumerate(_QUOTED.split(query)):
        if i % 2:  # a quoted phrase: its words are normalised, the quotes are not touched
            parts.append(fold(part))
        else:
            parts.extend(piece if _OPERATOR.fullmatch(piece) else fold(piece)
                         for piece in _OPERATOR.split(part))
    return "".join(parts).strip()


def quoting_hint(query: str, detail: str) -> BadQuery:
    return BadQuery(
        f"malformed search query {query!r} ({detail}): put words with punctuation in double "
        f"quotes, e.g. '\"COVID-19\" AND اللقاح', or use --quote to search every word as written")


# -- tokens, as unicode61 with categories 'L* N* Co M*' cuts them ----------------------------------

@functools.lru_cache(maxsize=1)
def _token_run() -> re.Pattern:
    # [^\W_] is every letter and number; marks and private-use characters are added by hand.
    extra = [chr(c) for c in range(sys.maxunicode + 1)
             if unicodedata.category(chr(c))[0] == "M" or unicodedata.category(chr(c)) == "Co"]
    ranges, start = [], None
    for i, char in enumerate(extra):
        if start is None:
            start = char
        if i + 1 == len(extra) or ord(extra[i + 1]) != ord(char) + 1:
            ranges.append(re.escape(start) + ("-" + re.escape(char) if char != start else ""))
            start = None
    return re.compile(f"(?:[^\\W_]|[{''.join(ranges)}])+")


def tokens(text: str | None) -> list[str]:
    """The tokens of ``text`` (already normalised: folding is textnorm's), in order."""
    return _token_run().findall(text) if text else []


def token_spans(text: str | None) -> list[tuple[int, int]]:
    """(start, end) of each token of ``text`` in it: the original text's tokens are the normalised
    text's, one for one (textnorm and stems never move a token boundary)."""
    return [m.span() for m in _token_run().finditer(text)] if text else []


# -- the parsed query ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Phrase:
    words: tuple[tuple[str, bool], ...]     # (token, is a prefix) in order
    columns: tuple[str, ...] = COLUMNS
    initial: bool = False                   # ^: must start at the column's first token


@dataclass(frozen=True)
class Near:
    phrases: tuple[Phrase, ...]
    distance: int = NEAR_DEFAULT
    columns: tuple[str, ...] = COLUMNS


@dataclass(frozen=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True)
class Or:
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    left: Any
    right: Any


Node = Phrase | Near | And | Or | Not


def _chain(kind: type, nodes: list[Node | None]) -> Node | None:
    """``a AND b AND c ...`` (or OR) as a balanced tree: the same query (both are associative, and
    the phrases keep their order), but a query of a thousand words is ten levels deep, not a
    thousand, so nothing that walks it recurses past Python's limit. An empty phrase ("") drops out,
    as FTS5 drops it from AND/OR: the other side stands alone."""
    kept = [n for n in nodes if n is not None]
    if not kept:
        return None
    while len(kept) > 1:
        paired = [kind(kept[i], kept[i + 1]) for i in range(0, len(kept) - 1, 2)]
        kept = paired + ([kept[-1]] if len(kept) % 2 else [])
    return kept[0]


def _without(left: Node | None, rights: list[Node | None]) -> Node | None:
    """``a NOT b NOT c`` is ``a NOT (b OR c)``: one NOT over a balanced OR instead of a chain as
    deep as the query is long (FTS5 reads NOT left to right). An empty phrase on the right drops out; on the left the
    whole NOT is empty, as in FTS5."""
    if left is None:
        return None
    excluded = _chain(Or, rights)
    return left if excluded is None else Not(left, excluded)


# FTS5's parser refuses a query nested about 30-97 parentheses deep, by what each level holds ("parser
# stack overflow"). Both engines refuse anything deeper than this, before running it, so they answer
# alike; no one searching nests a query this deep.
MAX_NESTING = 24


def check_nesting(query: str) -> None:
    """QuerySyntax when the query nests parentheses deeper than MAX_NESTING (those inside a quoted
    string are words; a doubled quote inside one toggles twice, so it needs no case of its own)."""
    depth = deepest = 0
    quoted = False
    for char in query:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "()":
            depth = max(0, depth + (1 if char == "(" else -1))
            deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise QuerySyntax(f"nested {deepest} parentheses deep (at most {MAX_NESTING})")


_SPECIAL = set('(){}:*+-^,"')


def _lex(query: str) -> list[tuple[str, str]]:
    """(kind, text) tokens: STRING (bareword or quoted, with its quotes), and the special characters."""
    out, i = [], 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char == '"':
            j, text = i + 1, []
            while True:
                if j >= len(query):
                    raise QuerySyntax("unterminated string")
                if query[j] == '"':
                    if query[j + 1:j + 2] == '"':
                        text.append('"')
                        j += 2
                        continue
                    break
                text.append(query[j])
                j += 1
            out.append(("QUOTED", "".join(text)))
            i = j + 1
        elif char in _SPECIAL:
            out.append((char, char))
            i += 1
        elif ord(char) >= 0x80 or char.isalnum() or char in "_\x1a":
            j = i
            while j < len(query) and (ord(query[j]) >= 0x80 or query[j].isalnum() or query[j] in "_\x1a"):
                j += 1
            out.append(("STRING", query[i:j]))
            i = j
        else:
            raise QuerySyntax(f'fts5: syntax error near "{char}"')
    return out


class _Parser:
    def __init__(self, query: str, columns: Sequence[str]):
        self.items = _lex(query)
        self.at = 0
        self.columns = tuple(columns)

    def peek(self, ahead: int = 0) -> tuple[str, str]:
        i = self.at + ahead
        return self.items[i] if i < len(self.items) else ("EOF", "")

    def next(self) -> tuple[str, str]:
        item = self.peek()
        self.at += 1
        return item

    def fail(self) -> QuerySyntax:
        kind, text = self.peek()
        return QuerySyntax(f'fts5: syntax error near "{text if kind != "QUOTED" else chr(34) + text}"')

    def keyword(self, word: str) -> bool:
        return self.peek() == ("STRING", word)

    def query(self) -> Node | None:
        node = self.expr_or()
        if self.peek()[0] != "EOF":
            raise self.fail()
        return node

    def _operands(self, word: str, operand) -> list[Node | None]:
        """``operand (word operand)*``: every operand, read as one list rather than nested."""
        nodes = [operand()]
        while self.keyword(word):
            self.next()
            nodes.append(operand())
        return nodes

    def expr_or(self) -> Node | None:
        return _chain(Or, self._operands("OR", self.expr_and))

    def expr_and(self) -> Node | None:
        return _chain(And, self._operands("AND", self.expr_not))

    def expr_not(self) -> Node | None:
        node, *excluded = self._operands("NOT", self.primary)
        return _without(node, excluded)

    def starts_cnearset(self) -> bool:
        kind, text = self.peek()
        return (kind in ("QUOTED", "^", "{", "-") or kind == "STRING" and text not in ("AND", "OR", "NOT"))

    def primary(self) -> Node | None:
        if self.peek()[0] == "(":
            self.next()
            node = self.expr_or()
            if self.next()[0] != ")":
                self.at -= 1
                raise self.fail()
            return node
        colset = self.colset()
        if colset is not None and self.peek()[0] == "(":
            self.next()
            node = self.expr_or()
            if self.next()[0] != ")":
                self.at -= 1
                raise self.fail()
            return _restrict(node, colset)
        if not self.starts_cnearset() and colset is None:
            raise self.fail()
        nodes = [self.nearset(colset)]
        while self.starts_cnearset():
            nodes.append(self.nearset(self.colset()))
        return _chain(And, nodes)

    def colset(self) -> tuple[str, ...] | None:
        """``col:``, ``-col:``, ``{a b}:``, ``-{a b}:`` before a nearset or a parenthesis, else None."""
        start = self.at
        minus = self.peek()[0] == "-"
        if minus:
            self.next()
        names: list[str] = []
        if self.peek()[0] == "{":
            self.next()
            while self.peek()[0] in ("STRING", "QUOTED"):
                names.append(self.next()[1])
            if self.next()[0] != "}" or not names:
                self.at -= 1
                raise self.fail()
        elif self.peek()[0] in ("STRING", "QUOTED") and self.peek(1)[0] == ":":
            names.append(self.next()[1])
        else:
            if minus:
                raise self.fail()
            self.at = start
            return None
        if self.next()[0] != ":":
            self.at -= 1
            raise self.fail()
        for name in names:
            if name.lower() not in self.columns:
                raise QuerySyntax(f"no such column: {name}")
        chosen = {name.lower() for name in names}
        return tuple(c for c in self.columns if (c in chosen) != minus)

    def nearset(self, colset: tuple[str, ...] | None) -> Node | None:
        columns = colset or self.columns
        if self.peek()[0] == "^":
            self.next()
            phrase = self.phrase(columns)
            return replace(phrase, initial=True) if phrase is not None else None
        if self.peek()[0] == "STRING" and self.peek(1)[0] == "(":
            word = self.next()[1]
            if word != "NEAR":
                self.at -= 1
                raise self.fail()
            self.next()
            phrases = []
            while self.peek()[0] in ("STRING", "QUOTED"):
                phrases.append(self.phrase(columns))
            if not phrases:
                raise self.fail()
            distance = NEAR_DEFAULT
            if self.peek()[0] == ",":
                self.next()
                kind, text = self.next()
                if kind != "STRING":
                    self.at -= 1
                    raise self.fail()
                if not text.isascii() or not text.isdigit():
                    raise QuerySyntax(f'expected integer, got "{text}"')
                distance = int(text)
            if self.next()[0] != ")":
                self.at -= 1
                raise self.fail()
            kept = tuple(p for p in phrases if p is not None)
            if not kept:
                return None
            return Near(kept, distance, columns) if len(kept) > 1 else kept[0]
        if self.peek()[0] not in ("STRING", "QUOTED"):
            raise self.fail()
        return self.phrase(columns)

    def phrase(self, columns: tuple[str, ...]) -> Phrase | None:
        words: list[tuple[str, bool]] = []
        while True:
            kind, text = self.next()
            if kind not in ("STRING", "QUOTED"):
                self.at -= 1
                raise self.fail()
            pieces = tokens(text)
            star = self.peek()[0] == "*"
            if star:
                self.next()
            words += [(piece, star and i == len(pieces) - 1) for i, piece in enumerate(pieces)]
            if self.peek()[0] != "+":
                break
            self.next()
        return Phrase(tuple(words), columns) if words else None


def _restrict(node: Node | None, columns: tuple[str, ...]) -> Node | None:
    """A column filter applied to a parenthesised query: every phrase in it keeps only those columns."""
    if node is None:
        return None
    if isinstance(node, (Phrase, Near)):
        kept = tuple(c for c in node.columns if c in columns)
        if isinstance(node, Near):
            return replace(node, columns=kept, phrases=tuple(replace(p, columns=kept) for p in node.phrases))
        return replace(node, columns=kept)
    return type(node)(_restrict(node.left, columns), _restrict(node.right, columns))


def parse(query: str, columns: Sequence[str] = COLUMNS) -> Node | None:
    """The query's tree (None: it holds no token, so nothing matches); QuerySyntax if malformed."""
    check_nesting(query)
    return _Parser(query, columns).query()


# -- a document against a query, exactly -----------------------------------------------------------

def _starts(phrase: Phrase, words: Sequence[str]) -> list[int]:
    """Where ``phrase`` begins in a column's tokens."""
    n = len(phrase.words)
    found = []
    for i in range(len(words) - n + 1):
        if all(words[i + k].startswith(w) if prefix else words[i + k] == w
               for k, (w, prefix) in enumerate(phrase.words)):
            found.append(i)
    return [0] if phrase.initial and found and found[0] == 0 else ([] if phrase.initial else found)


def _near_sweep(near: Near, words: Sequence[str]) -> list[list[int]]:
    """For each phrase of a NEAR group, its instances in one column that take part in a match, found
    as FTS5's fts5ExprNearIsMatch finds them: a match is a set of instances where the one that
    starts last begins at most ``distance`` tokens after the end of every other; the sweep moves
    each phrase to its first instance that could still be in the window, records a match, then
    moves the phrase whose next instance comes first. No instance recorded: no match."""
    starts = [_starts(p, words) for p in near.phrases]
    found: list[list[int]] = [[] for _ in starts]
    if not all(starts):
        return found
    at = [0] * len(starts)
    while True:
        last = starts[0][at[0]]
        matched = False
        while not matched:
            matched = True
            for i, phrase in enumerate(near.phrases):
                lowest = last - len(phrase.words) - near.distance
                if not lowest <= starts[i][at[i]] <= last:
                    matched = False
                    while starts[i][at[i]] < lowest:
                        at[i] += 1
                        if at[i] == len(starts[i]):
                            return found
                    last = max(last, starts[i][at[i]])
        for i in range(len(starts)):
            if not found[i] or found[i][-1] != starts[i][at[i]]:
                found[i].append(starts[i][at[i]])
        ahead = [starts[i][at[i] + 1] if at[i] + 1 < len(starts[i]) else float("inf") for i in range(len(starts))]
        advance = ahead.index(min(ahead))
        at[advance] += 1
        if at[advance] == len(starts[advance]):
            return found


def matches(node: Node | None, document: dict[str, Sequence[str]]) -> bool:
    """Whether ``document`` ({column: its tokens}) matches the query, as FTS5 decides."""
    if node is None:
        return False
    if isinstance(node, Phrase):
        return any(_starts(node, document.get(c, ())) for c in node.columns)
    if isinstance(node, Near):
        return any(_near_sweep(node, document.get(c, ()))[0] for c in node.columns)
    if isinstance(node, And):
        return matches(node.left, document) and matches(node.right, document)
    if isinstance(node, Or):
        return matches(node.left, document) or matches(node.right, document)
    return matches(node.left, document) and not matches(node.right, document)


def phrases(node: Node | None) -> Iterable[Phrase | Near]:
    """The query's phrases and NEAR groups that can make a hit, in the query's order (those on the
    right of a NOT cannot)."""
    if isinstance(node, (Phrase, Near)):
        yield node
    elif isinstance(node, (And, Or)):
        yield from phrases(node.left)
        yield from phrases(node.right)
    elif isinstance(node, Not):
        yield from phrases(node.left)


def instances(node: Node | None, words: Sequence[str], column: str) -> list[tuple[int, int, int]]:
    """(start, phrase number, length) of every instance of the query's phrases in one column, as
    FTS5 lists them for its snippets: a NEAR group's phrases only where they make a match."""
    out, number = [], 0
    for item in phrases(node):
        if isinstance(item, Near):
            kept = _near_sweep(item, words) if column in item.columns else [[] for _ in item.phrases]
            for phrase, starts in zip(item.phrases, kept):
                out += [(start, number, len(phrase.words)) for start in starts]
                number += 1
        else:
            if column in item.columns:
                out += [(start, number, len(item.words)) for start in _starts(item, words)]
            number += 1
    return sorted(out)


# -- the snippet: FTS5's snippet() of the original text --------------------------------------------

SNIPPET_TOKENS = 24


def _sentence_starts(original: str, spans: Sequence[tuple[int, int]]) -> list[int]:
    """Positions of the tokens that begin a sentence: the first, and any after a '.' or ':' and a space."""
    starts = [0]
    for position in range(1, len(spans)):
        between = original[spans[position - 1][1]:spans[position][0]]
        stripped = between.rstrip(" \t\n\r")
        if stripped != between and stripped.endswith((".", ":")):
            starts.append(position)
    return starts


def _half(n: int) -> int:
    return n // 2 if n >= 0 else -((-n) // 2)   # C's division, which truncates toward zero


def snippet(node: Node | None, original: str | None, indexed: Sequence[str], *, column: str = "text",
            highlight: tuple[str, str] = ("[", "]"), ellipsis: str = "…",
            size: int = SNIPPET_TOKENS) -> str:
    """``snippet(table, column, open, close, ellipsis, size)`` of FTS5 for ``original`` (the column
    as stored; ``indexed``: its tokens as indexed): the window of ``size`` tokens holding the most
    of the query's phrases (a sentence's start preferred), each phrase instance highlighted, the
    ellipsis where the text goes on. The same algorithm as FTS5's fts5SnippetFunction."""
    if not original:
        return ""
    spans = token_spans(original)
    total = len(spans)
    if not total:
        return original
    found = instances(node, indexed, column)

    def score(at: int) -> tuple[int, int]:
        seen: set[int] = set()
        points, first, last = 0, -1, 0
        for start, number, length in found:
            if at <= start < at + size:
                points += 1 if number in seen else 1000
                seen.add(number)
                first = start if first < 0 else first
                last = start + length
        adjusted = max(0, min(first - _half(size - (last - first)), total - size))
        return points, adjusted

    firsts = _sentence_starts(original, spans)
    best_score, best = -1, 0
    for at, _, _ in found:
        points, adjusted = score(at)
        if points > best_score:
            best_score, best = points, adjusted
        if total > size:
            sentence = max(f for f in firsts if f <= at)
            if sentence < at:
                points = score(sentence)[0] + (120 if sentence == 0 else 100)
                if points > best_score:
                    best_score, best = points, sentence
    end = min(total, best + size) - 1
    marked: list[list[int]] = []          # merged [first, last] token ranges of the instances
    for start, _, length in found:
        if marked and start <= marked[-1][1]:
            marked[-1][1] = max(marked[-1][1], start + length - 1)
        else:
            marked.append([start, start + length - 1])
    opens = {max(a, best) for a, b in marked if b >= best and a <= end}
    closes = {min(b, end) for a, b in marked if b >= best and a <= end}
    out = [ellipsis if best > 0 else original[:spans[0][0]]]
    for position in range(best, end + 1):
        if position > best:
            out.append(original[spans[position - 1][1]:spans[position][0]])
        word = original[spans[position][0]:spans[position][1]]
        out.append((highlight[0] if position in opens else "") + word + (highlight[1] if position in closes else ""))
    out.append(original[spans[-1][1]:] if end == total - 1 else ellipsis)
    return "".join(out)
