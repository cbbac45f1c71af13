"""The query language parsed in Python (store/ftsquery.py) against SQLite's own FTS5, the definition:
random queries over random documents give the same hits, the same errors, the same snippets.
An archive on PostgreSQL answers through this parser, so this is what makes its hits SQLite's."""
from __future__ import annotations

import sqlite3

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.store.ftsquery import QuerySyntax, matches, parse, snippet, tokens
from scraper.store.search import TOKENIZE

WORDS = ["a", "b", "c", "ab", "abc", "دبي", "دبيان", "نفط"]
DOCS = st.lists(st.tuples(st.lists(st.sampled_from(WORDS), max_size=3),
                          st.lists(st.sampled_from(WORDS), max_size=30)), min_size=1, max_size=12)


def fts5(docs):
    conn = sqlite3.connect(":memory:")
    conn.execute(f'CREATE VIRTUAL TABLE t USING fts5(title, text, tokenize="{TOKENIZE}")')
    for n, (title, text) in enumerate(docs, 1):
        conn.execute("INSERT INTO t (rowid, title, text) VALUES (?, ?, ?)", [n, " ".join(title), " ".join(text)])
    return conn


def both(conn, docs, query):
    """(FTS5's hits or its error, ours)."""
    try:
        theirs = sorted(r[0] for r in conn.execute("SELECT rowid FROM t WHERE t MATCH ?", [query]))
    except sqlite3.OperationalError:
        theirs = "error"
    try:
        node = parse(query)
    except QuerySyntax:
        return theirs, "error"
    ours = [n for n, (title, text) in enumerate(docs, 1)
            if matches(node, {"title": tokens(" ".join(title)), "text": tokens(" ".join(text))})]
    return theirs, ours


def _phrase():
    word = st.sampled_from(WORDS + ["a*", "ab*", "د*"])
    quoted = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(lambda w: '"' + " ".join(w) + '"')
    return st.one_of(word, quoted, st.tuples(word, word).map(" + ".join))


def _near():
    return st.tuples(st.lists(st.sampled_from(WORDS), min_size=2, max_size=3), st.integers(0, 4)).map(
        lambda t: f"NEAR({' '.join(t[0])}, {t[1]})")


def _query():
    col = st.sampled_from(["", "", "", "title:", "text:", "-title:", "{title text}:", "^"])
    near = _near()
    atom = st.tuples(col, st.one_of(_phrase(), near)).map("".join)
    group = st.lists(atom, min_size=1, max_size=3).map(" ".join)
    return st.recursive(group, lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR ", " NOT "]), inner).map("".join),
        inner.map(lambda q: f"({q})")), max_leaves=6)


@settings(max_examples=400, deadline=None)
@given(DOCS, _query())
def test_same_hits_as_fts5(docs, query):
    conn = fts5(docs)
    theirs, ours = both(conn, docs, query)
    assert ours == theirs, query


@pytest.mark.parametrize("query", [
    "a NOT b c", "a NOT b AND c", "a OR b c", "a b OR c", "a OR b NOT c", "a NOT b NOT c", "a OR b AND c",
    "NEAR(a c)", "NEAR(a c, 0)", "a + c", "text:a b", "-title:a", "{title text}:b", '"a"*', "title:a OR c",
    "^a", "a ^b", "a_b", "a،b", '"" a', '""', "NEAR(a)", "title:NEAR(a b)", "title : a", "-{title}:a",
    # malformed, as FTS5 has it
    "(a) (c)", "a (b)", "NOT a", "a AND", "a:b", "a -b", "NEAR(a b,)", "NEAR(a b, x)", "OR", "a OR (b",
    "* a", "COVID-19", '"unterminated', "(a", "-x", "!!!", "text:(a OR b) c", "foo(a)",
])
def test_fts5_corner_cases(query):
    docs = [([], ["a"]), ([], ["a", "b"]), ([], ["a", "c"]), ([], ["a", "b", "c"]), ([], ["b", "c"]), ([], ["c"]),
            (["a"], ["b"]), (["a", "b"], ["x", "y", "a", "c"]), ([], ["a", "x", "x", "b"]), ([], ["b", "x", "a"])]
    conn = fts5(docs)
    theirs, ours = both(conn, docs, query)
    assert ours == theirs


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS + [".", ":", ",", "دبي.", "نفط:"]), min_size=1, max_size=60),
       st.one_of(_phrase(), _near(), st.tuples(_phrase(), _near()).map(" OR ".join)))
def test_same_snippets_as_fts5(words, query):
    text = " ".join(words)
    conn = fts5([([], [text])])
    found = conn.execute("SELECT snippet(t, 1, '[', ']', '…', 24) FROM t WHERE t MATCH ?", [query]).fetchall()
    node = parse(query)
    if found:
        assert snippet(node, text, tokens(text)) == found[0][0]


def test_tokens_are_fts5s():
    """Marks and tatweel are word characters (search.py's TOKENIZE), punctuation is not."""
    assert tokens("دَاعِش، قال: COVID-19 foo_bar ـــ") == ["دَاعِش", "قال", "COVID", "19", "foo", "bar", "ـــ"]
