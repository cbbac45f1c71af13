"""Full-text search of an archive on PostgreSQL: tsvectors of our own normalised and stemmed text,
and the FTS5 query language (ftsquery.py) turned into tsqueries, so a search gives the hits it
gives on SQLite, with no server dictionary involved.

Why this way (measured in README "Past one machine"): PostgreSQL's own text search would stem
with the server's dictionaries (its 'arabic' Snowball has none of stems.py's corrections, and the
'simple' one no Arabic normalisation), and its parser cuts words differently from FTS5's unicode61
(hyphenated words, URLs, numbers with dots). So nothing is left to it but the index: each article's
title and text go through textnorm.normalize (and stems.stem_text for the stems index), are cut
into tokens as FTS5 cuts them (ftsquery.tokens), and are written as a tsvector literal, lexemes
quoted, so the server only stores and matches them (GIN). The title's positions come first, with
weight A; the text's follow, weight D; a phrase (or NEAR) must stay within one column, so it is
asked of each column through the weights.

A query is parsed as FTS5 parses it; each part becomes a tsquery: words and prefixes (``'x':*``),
phrases (``<->``), AND, OR, NOT. What a tsquery cannot say exactly (NEAR, ``^``) is asked in two
forms, a wider one (NEAR's phrases all present) to find the candidates and a narrower one to
exclude under NOT; then ftsquery.matches checks each candidate exactly, in Python. The snippet is
FTS5's algorithm (ftsquery.snippet) over the original text; a ranked search orders by ts_rank with
the title weighing four times the text (not bm25: the same hits, their order by relevance may
differ from SQLite's).

The index is kept as on SQLite: a trigger (pg_migrations.py) queues every article whose title or
text changed, whoever changed it, and ``refresh`` (run by every search) indexes the queue in
batches, taking its rows with FOR UPDATE SKIP LOCKED so searches in several processes share the
work and a change made meanwhile is queued again, never lost. Limits of tsvector that FTS5 lacks:
positions stop at 16,383 (a phrase or NEAR past the 16,383rd word of an article is not found) and a
word keeps its first 256 positions; a word over 2,000 bytes is not indexed.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import date
from typing import Any, Sequence

from ..errors import QueryError, QueryTimeout, WriteConflict
from .archive import Archive, article_filter
from .ftsquery import (And, BadQuery, Hit, Near, Node, Not, Or, Phrase, QuerySyntax, SearchTimeout, matches, parse,
                       parse_day, prepare_query, quoting_hint, snippet, tokens)
from .stems import SIGNATURE, stem_text
from .textnorm import normalize

WEIGHTS = {"title": "A", "text": "D"}
RANK_WEIGHTS = "{0.1, 0.1, 0.1, 0.4}"   # {D, C, B, A}: a word in the title counts as four in the text
MAX_POSITION = 16383
MAX_POSITIONS_PER_WORD = 256
MAX_LEXEME_BYTES = 2000
MAX_VECTOR_BYTES = 900_000              # under tsvector's 1 MB: lexemes past it are left out
_REFRESH_BATCH = 500
_TRIES = 5
_CANDIDATES = 200                       # rows read at a time when candidates are checked in Python


# -- the index -----------------------------------------------------------------------------------

def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def vector(title_tokens: Sequence[str], text_tokens: Sequence[str]) -> str:
    """The tsvector literal of an article's tokens: the title at positions 1.. with weight A, the
    text after it with weight D (tsvector's own limits applied, see the module's docstring)."""
    positions: dict[str, list[str]] = {}
    size = 0
    numbered = [(word, "A") for word in title_tokens] + [(word, "") for word in text_tokens]
    for position, (word, weight) in enumerate(numbered, 1):
        if len(word.encode()) > MAX_LEXEME_BYTES:
            continue
        found = positions.get(word)
        if found is None:
            if size > MAX_VECTOR_BYTES:
                continue
            found = positions[word] = []
            size += len(word.encode()) + 8
        if len(found) < MAX_POSITIONS_PER_WORD:
            where = min(position, MAX_POSITION)
            if not (where == MAX_POSITION and found and found[-1].startswith(str(MAX_POSITION))):
                found.append(f"{where}{weight}")
                size += 6
    return " ".join(f"{_quote(word)}:{','.join(found)}" for word, found in positions.items())


def indexed_tokens(title: str | None, text: str | None, *, stems: bool) -> dict[str, list[str]]:
    """{column: its tokens as the exact (or stems) index holds them}."""
    out = {}
    for column, value in (("title", title), ("text", text)):
        folded = normalize(value)
        out[column] = tokens(stem_text(folded) if stems else folded)
    return out


def _stemmer_changed(reader: Any) -> bool:
    return reader.scalar("SELECT value FROM _search_state WHERE key = 'stemmer'") != SIGNATURE


def queue_everything(tx: Any) -> None:
    """Queue every article to be indexed again, recording the stemmer that will index them."""
    tx.execute("INSERT INTO _search_pending (article_id) SELECT id FROM articles ON CONFLICT (article_id) DO NOTHING")
    tx.execute("INSERT INTO _search_state (key, value) VALUES ('stemmer', ?) "
               "ON CONFLICT (key) DO UPDATE SET value = excluded.value", [SIGNATURE])


def refresh(archive: Archive) -> int:
    """Index what the trigger queued; return how many articles were (re)indexed or removed."""
    if _stemmer_changed(archive):      # another stemmer built this index: its stems are not ours
        with archive.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(1546296835)")   # one process re-queues
            if _stemmer_changed(tx):
                queue_everything(tx)
    done = 0
    while archive.scalar("SELECT 1 FROM _search_pending LIMIT 1") is not None:
        for attempt in range(_TRIES):
            try:
                indexed = _refresh_batch(archive)
                break
            except WriteConflict:       # a deadlock the server broke: this batch again
                if attempt == _TRIES - 1:
                    raise
        if not indexed:
            return done     # the rest is being indexed by another process right now
        done += indexed
    return done


def _refresh_batch(archive: Archive) -> int:
    with archive.transaction() as tx:
        pending = [row["article_id"] for row in tx.query(
            f"SELECT article_id FROM _search_pending ORDER BY article_id LIMIT {_REFRESH_BATCH} FOR UPDATE SKIP LOCKED")]
        # The articles are read by a second statement, whose snapshot is taken after the pending rows
        # are locked. Read in the same statement (a join), they came from a snapshot taken before
        # the lock: a writer that committed a new text and re-queued the article in between had its
        # pending row locked and deleted here with the old text indexed, so the new text was never
        # searchable (one run in a few of tests/test_pg.py's concurrent writers). A writer still
        # open holds its pending row (SKIP LOCKED passes it by), and one that comes after waits
        # for this transaction, then queues the article again.
        rows = tx.query("SELECT id, title, text FROM articles WHERE id = ANY(?)", [pending]) if pending else []
        values = []
        for row in rows:      # an article deleted meanwhile is not among them: its index row went with it
            exact = indexed_tokens(row["title"], row["text"], stems=False)
            stems = indexed_tokens(row["title"], row["text"], stems=True)
            values.append((row["id"], vector(exact["title"], exact["text"]), vector(stems["title"], stems["text"])))
        tx.executemany("INSERT INTO article_search (article_id, exact, stems) "
                       "VALUES (?, CAST(? AS tsvector), CAST(? AS tsvector)) ON CONFLICT (article_id) "
                       "DO UPDATE SET exact = excluded.exact, stems = excluded.stems", values)
        tx.executemany("DELETE FROM _search_pending WHERE article_id = ?", [(article_id,) for article_id in pending])
    return len(pending)


def rebuild(archive: Archive) -> int:
    with archive.transaction() as tx:
        queue_everything(tx)
    return refresh(archive)


def pending_count(archive: Archive) -> int:
    return archive.scalar("SELECT count(*) FROM _search_pending")


# -- queries -------------------------------------------------------------------------------------

def _lexeme(word: str, prefix: bool, weight: str) -> str:
    labels = ("*" if prefix else "") + weight
    return _quote(word) + (":" + labels if labels else "")


def _phrase(phrase: Phrase, weight: str = "") -> str:
    return " <-> ".join(_lexeme(word, prefix, weight) for word, prefix in phrase.words)


def _in_columns(phrase: Phrase) -> str:
    """The phrase within one of its columns (a single word: in any of them, by the weights)."""
    weights = [WEIGHTS[c] for c in phrase.columns]
    if len(phrase.words) == 1:
        return _phrase(phrase, "".join(weights) if len(weights) < len(WEIGHTS) else "")
    return "(" + " | ".join(f"({_phrase(phrase, w)})" for w in weights) + ")" if len(weights) > 1 \
        else f"({_phrase(phrase, weights[0])})"


TRUE, FALSE = "TRUE", "FALSE"   # what a part of a query becomes when it is no condition at all


def _combine(kind: type, left: str, right: str) -> str:
    if kind is And:
        if FALSE in (left, right):
            return FALSE
        return right if left == TRUE else left if right == TRUE else f"({left}) & ({right})"
    if TRUE in (left, right):
        return TRUE
    return right if left == FALSE else left if right == FALSE else f"({left}) | ({right})"


def tsquery(node: Node, *, wide: bool = True) -> str:
    """The tsquery text of a query: ``wide`` finds every article that matches (and maybe more),
    otherwise only articles that match (maybe not all); the same when the query is exact."""
    if isinstance(node, Phrase):
        if node.initial and not wide:
            return FALSE
        return _in_columns(replace(node, initial=False))
    if isinstance(node, Near):
        if not wide:
            return FALSE
        parts = [_in_columns(p) for p in node.phrases]
        return "(" + " & ".join(parts) + ")"
    if isinstance(node, (And, Or)):
        return _combine(type(node), tsquery(node.left, wide=wide), tsquery(node.right, wide=wide))
    # NOT: a wide answer takes out only what surely matches the right side, a narrow one all that may.
    left, right = tsquery(node.left, wide=wide), tsquery(node.right, wide=not wide)
    if left == FALSE or right == TRUE:
        return FALSE
    if right == FALSE:
        return left
    return f"!({right})" if left == TRUE else f"({left}) & !({right})"


def exact(node: Node | None) -> bool:
    """Whether the tsquery says exactly what the query says (no NEAR, no ^ inside)."""
    if isinstance(node, Phrase):
        return not node.initial
    if isinstance(node, Near):
        return False
    if isinstance(node, (And, Or, Not)):
        return exact(node.left) and exact(node.right)
    return True


def search(archive: Archive, query: str, *, site: str | None = None, since: str | date | None = None,
           until: str | date | None = None, limit: int = 20, rank: bool = False,
           quote: bool = False, exact_forms: bool = False,
           highlight: tuple[str, str] = ("[", "]"), max_time: float | None = None) -> list[Hit]:
    """search.search on a PostgreSQL archive (same arguments, same hits)."""
    prepared = prepare_query(query, quote=quote, stem=not exact_forms)
    if not prepared:
        raise BadQuery("empty search query: give at least one word")
    first, last = parse_day(since, "since"), parse_day(until, "until")
    try:
        node = parse(prepared)
    except QuerySyntax as exc:
        raise quoting_hint(query, str(exc)) from None
    refresh(archive)
    if node is None:
        return []
    column = "exact" if exact_forms else "stems"
    wide = tsquery(node)
    if wide == FALSE:
        return []
    selected, params = article_filter(site, first, last, table="a")
    where = [*selected] + ([] if wide == TRUE else [f"s.{column} @@ CAST(:q AS tsquery)"])
    params.update(q=wide)
    score = f"ts_rank('{RANK_WEIGHTS}', s.{column}, CAST(:q AS tsquery))" if rank and wide != TRUE else "0"
    order = "score DESC, a.id" if rank else "a.published IS NULL, a.published DESC, a.id DESC"
    checked = exact(node)
    sql = (f"SELECT a.id, a.url, a.site, a.title, a.published, a.text, {score} AS score "
           f"FROM article_search s JOIN articles a ON a.id = s.article_id "
           f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY {order} LIMIT :limit OFFSET :offset")
    hits: list[Hit] = []
    offset = 0
    deadline = time.monotonic() + max_time if max_time else None
    try:
        while len(hits) < limit:
            batch = limit if checked else _CANDIDATES
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise SearchTimeout(max_time)
            with archive.time_limit(left):
                rows = archive.query(sql, {**params, "limit": batch, "offset": offset})
            for row in rows:
                if deadline is not None and time.monotonic() > deadline:
                    raise SearchTimeout(max_time)
                indexed = indexed_tokens(row["title"], row["text"], stems=not exact_forms)
                if not checked and not matches(node, indexed):
                    continue
                hits.append(Hit(id=row["id"], url=row["url"], site=row["site"], title=row["title"],
                                published=row["published"],
                                snippet=snippet(node, row["text"], indexed["text"], highlight=highlight),
                                score=round(-float(row["score"]), 4) if rank else None))
                if len(hits) == limit:
                    break
            if len(rows) < batch:
                break
            offset += batch
    except QueryTimeout:
        raise SearchTimeout(max_time) from None
    except QueryError as exc:
        raise quoting_hint(query, exc.detail) from None
    return hits
