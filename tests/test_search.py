"""Search: Arabic/Latin normalisation, the FTS5 index kept right through every kind of write, queries, CLI."""
from __future__ import annotations

import json
import random
import sqlite3

import pytest
import sqlite_utils
from click.testing import CliRunner

from cli import cli
from scraper.store import Archive
from scraper.store.search import BadQuery, pending_count, prepare_query, rebuild, refresh, search
from scraper.store.textnorm import normalize
from tests.engines import Other, sqlite_only
from tests.synthetic import article, hit_of, ids




# -- normalisation -------------------------------------------------------------------------------

@pytest.mark.parametrize("variant, plain", [
    ("الإمارات", "الامارات"), ("أحمد", "احمد"), ("آمال", "امال"), ("ٱلله", "الله"),
    ("دَاعِش", "داعش"), ("مُحَمَّدٌ", "محمد"), ("هٰذا", "هذا"),
    ("الإمـــارات", "الامارات"),                # tatweel
    ("مستشفى", "مستشفي"), ("مدرسة", "مدرسه"),
    ("٢٠١٥", "2015"), ("۱۴۰۳", "1403"), ("٣٫٥", "3.5"),
    ("Café ÉTÉ", "cafe ete"), ("Straße", "strasse"), ("ZÜRICH", "zurich"),
    ("ا\u0654", "ا"),                            # hamza typed as a separate mark, folded like أ
    ("کتاب", "كتاب"), ("علی", "علي"),             # keheh and Farsi yeh from Persian keyboards
])
def test_normalize_variants(variant, plain):
    assert normalize(variant) == plain


def test_normalize_keeps_token_boundaries():
    # A stand-alone tatweel line or mark stays one token (snippets depend on token positions).
    assert normalize("ــــ خبر") == "ـ خبر"
    assert normalize(None) is None and normalize("") == ""
    assert normalize("ؤ ئ ء") == "ؤ ئ ء"        # not in the list: left alone


def test_prepare_query_keeps_syntax():
    assert prepare_query('"الإمارات العربية" OR دَاعِش NOT Café') == '"الامارات العربيه" OR داعش NOT cafe'
    assert prepare_query("title:الإمارات*") == "title:الامارات*"
    assert prepare_query("COVID-19 C++", quote=True) == '"covid-19" "c++"'
    assert prepare_query('say "hi"', quote=True) == '"say" """hi"""'


# -- Arabic variants find each other, both ways ------------------------------------------------------

VARIANTS = [
    ("الامارات", "الإمارات"), ("الإمارات", "الامارات"),
    ("داعش", "دَاعِش"), ("دَاعِش", "داعش"),
    ("الامارات", "الإمـــارات"),
    ("مستشفي", "مستشفى"), ("مستشفى", "مستشفي"),
    ("مدرسه", "مدرسة"), ("مدرسة", "مدرسه"),
    ("2015", "٢٠١٥"), ("٢٠١٥", "2015"), ("1403", "۱۴۰۳"),
    ("القران", "القُرْآن"), ("احمد", "أحمد"), ("cafe", "Café"), ("ZURICH", "Zürich"),
]


# One archive per engine holds every case, each under a URL of its own (article n = WRITTEN + i),
# and each case asserts on its own article: others that a variant also finds do not count.
UNRELATED, WRITTEN = 1, 1000


@pytest.fixture(scope="module")
def cases(shared_db_target):
    with Archive.open(shared_db_target) as archive:
        archive.save(article(UNRELATED, "خبر آخر", "لا شيء هنا"))
        for i, (query, written) in enumerate(VARIANTS):
            archive.save(article(WRITTEN + i, "خبر", f"في النص كلمة {written} بين كلمات أخرى"))
        yield archive


@pytest.mark.parametrize("query, written", VARIANTS)
def test_variant_found(cases, query, written):
    hits = search(cases, query, limit=10_000)
    mine = hit_of(hits, WRITTEN + VARIANTS.index((query, written)))
    assert mine is not None, f"{query} does not find {written}"
    assert hit_of(hits, UNRELATED) is None
    # The snippet shows the word as the page wrote it, highlighted.
    assert f"[{written}]" in mine.snippet


def test_snippet_aligned_after_decorative_tatweel_and_marks(archive):
    archive.save(article(1, "t", "ـــــــ ً قال مُتحدّث إن دَاعِش انسحب"))
    assert "[دَاعِش]" in search(archive, "داعش")[0].snippet


def test_title_searched_too(archive):
    archive.save(article(1, "أمطار غزيرة في دبي", "نص"))
    assert ids(search(archive, "امطار")) == [1]
    assert ids(search(archive, "title:دبي")) == [1]
    assert ids(search(archive, "text:دبي")) == []


def test_query_syntax(archive):
    archive.save(article(1, "a", "كأس العالم في قطر"))
    archive.save(article(2, "b", "العالم العربي"))
    archive.save(article(3, "c", "كأس آسيا"))
    assert ids(search(archive, '"كاس العالم"')) == [1]
    assert sorted(ids(search(archive, "قطر OR اسيا"))) == [1, 3]
    assert ids(search(archive, "كاس NOT قطر")) == [3]
    assert sorted(ids(search(archive, "العا*"))) == [1, 2]


# -- order and filters ---------------------------------------------------------------------------------

def test_newest_first_then_undated(archive):
    archive.save(article(1, "a", "مطر", "2015-09-27T18:32:00+04:00"))
    archive.save(article(2, "b", "مطر", None))
    archive.save(article(3, "c", "مطر", "2024-01-02"))
    archive.save(article(4, "d", "مطر", "2020-05-01T08:00:00+03:00"))
    assert ids(search(archive, "مطر")) == [3, 4, 1, 2]
    assert ids(search(archive, "مطر", limit=2)) == [3, 4]


def test_rank_puts_the_title_match_first(archive):
    archive.save(article(1, "أخبار", "تحدث التقرير عن الاقتصاد والاقتصاد", "2024-01-02"))
    archive.save(article(2, "الاقتصاد الإماراتي", "نص قصير", "2020-01-01"))
    archive.save(article(3, "رياضة", "كرة القدم", "2024-06-01"))
    hits = search(archive, "الاقتصاد", rank=True)
    assert ids(hits) == [2, 1]
    assert hits[0].score <= hits[1].score  # bm25: lower is better
    assert ids(search(archive, "الاقتصاد")) == [1, 2]


def test_site_and_date_filters(archive):
    archive.save(article(1, "a", "نفط", "2023-12-31T23:30:00+04:00", site="gulf"))
    archive.save(article(2, "b", "نفط", "2024-01-01", site="gulf"))
    archive.save(article(3, "c", "نفط", "2024-03-05T10:00:00+02:00", site="levant"))
    archive.save(article(4, "d", "نفط", None, site="gulf"))
    assert ids(search(archive, "نفط", site="levant")) == [3]
    assert ids(search(archive, "نفط", since="2024-01-01")) == [3, 2]
    assert ids(search(archive, "نفط", until="2024-01-01")) == [2, 1]
    assert ids(search(archive, "نفط", since="2024-01-01", until="2024-01-01")) == [2]
    with pytest.raises(BadQuery):
        search(archive, "نفط", since="yesterday")


# -- the index stays right through every write ---------------------------------------------------------

def test_update_through_the_store_replaces_the_indexed_text(archive):
    archive.save(article(1, "عنوان", "النص القديم عن الانتخابات"))
    assert ids(search(archive, "الانتخابات")) == [1]
    outcome = archive.save(article(1, "عنوان", "النص الجديد عن الميزانية"))
    assert outcome.outcome == "updated"   # the store kept the old version as a revision
    assert ids(search(archive, "الانتخابات")) == []
    assert ids(search(archive, "الميزانية")) == [1]
    assert pending_count(archive) == 0


@sqlite_only
def test_writes_from_other_tools_need_no_python_function(archive, tmp_path):
    """Datasette, the sqlite3 shell or sqlite-utils have no normalize(): their writes must work."""
    archive.save(article(1, "سياسة", "الرئيس يزور المدينة"))
    archive.save(article(2, "اقتصاد", "البنك المركزي"))
    refresh(archive)
    other = sqlite3.connect(archive.path)
    with other:
        other.execute("UPDATE articles SET text = 'الرئيس يفتتح المستشفى' WHERE id = 1")
        other.execute("DELETE FROM articles WHERE id = 2")
        other.execute("INSERT INTO articles (url, title, text) VALUES ('https://x.ae/3', 'جديد', 'مدرسة البنك')")
        # REPLACE deletes the old row without delete triggers: still caught.
        other.execute("INSERT OR REPLACE INTO articles (id, url, title, text) "
                      "VALUES (3, 'https://x.ae/3', 'جديد', 'ملعب')")
    other.close()
    assert ids(search(archive, "يزور")) == []
    assert ids(search(archive, "المستشفي")) == [1]
    assert ids(search(archive, "البنك")) == []
    assert ids(search(archive, "مدرسه")) == []
    assert ids(search(archive, "ملعب")) == [3]


def test_random_writes_match_a_brute_force_search(archive):
    """Any sequence of saves, updates, raw SQL edits and deletes leaves the index equal to the truth."""
    rng = random.Random(5)
    words = ["الإمارات", "الامارات", "دَاعِش", "مدرسة", "مستشفى", "٢٠١٥", "2015", "نفط", "قطر", "Café"]
    other = Other(archive)
    for step in range(120):
        n = rng.randint(1, 12)
        text = " ".join(rng.choice(words) for _ in range(4))
        action = rng.random()
        if action < 0.6:
            archive.save(article(n, f"t{n}", text))
        elif action < 0.8:
            other.execute("UPDATE articles SET text = ? WHERE id = ?", [text, n])
        else:
            other.execute("DELETE FROM url_aliases WHERE article_id = ?", [n])
            other.execute("DELETE FROM revisions WHERE article_id = ?", [n])
            other.execute("DELETE FROM articles WHERE id = ?", [n])
        if step % 10 == 0:
            refresh(archive)  # sometimes drained mid-way, sometimes many changes queued
    other.close()
    for word in {normalize(w) for w in words}:
        truth = sorted(row["id"] for row in archive.query("SELECT id, text FROM articles")
                       if word in normalize(row["text"]).split())
        assert sorted(ids(search(archive, f'"{word}"', limit=100))) == truth, word


@sqlite_only
def test_rebuild_restores_an_index_filled_with_raw_text(archive):
    archive.save(article(1, "t", "الإمارات"))
    refresh(archive)
    # What `sqlite-utils rebuild-fts` would do: index the raw text of the content table.
    with archive.transaction() as tx:
        tx.execute("INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')")
    assert ids(search(archive, "الامارات", exact=True)) == []   # the exact index, which it rebuilt
    assert rebuild(archive) == 1
    assert ids(search(archive, "الامارات", exact=True)) == [1]
    assert ids(search(archive, "الامارات")) == [1]


@sqlite_only
def test_datasette_and_sqlite_utils_see_the_index(archive):
    archive.save(article(1, "t", "الإمارات تستضيف القمة"))
    refresh(archive)
    table = sqlite_utils.Database(archive.path).table("articles")   # as they open it: a file
    assert table.detect_fts() == "articles_fts"
    # The query Datasette's search box runs (unnormalised input, escaped as a phrase).
    found = table.db.execute(
        "SELECT id FROM articles WHERE rowid IN "
        "(SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)", ['"الامارات"']).fetchall()
    assert found == [(1,)]


# -- errors and the CLI --------------------------------------------------------------------------------

@pytest.mark.parametrize("query", ["COVID-19", '"unterminated', "(a", "a AND", "-x", "!!!"])
def test_malformed_query_is_one_line_with_quoting_advice(cases, query):
    with pytest.raises(BadQuery) as caught:
        search(cases, query)
    message = str(caught.value)
    assert "\n" not in message and "double quotes" in message and "--quote" in message


def test_quote_option_searches_punctuation_as_written(archive):
    archive.save(article(1, "t", "لقاح COVID-19 الجديد"))
    assert ids(search(archive, "COVID-19", quote=True)) == [1]


def test_cli_search(archive):
    archive.save(article(1, "الإمارات تستضيف القمة", "قالت مصادر إن الإمارات تستضيف", "2024-02-01"))
    archive.save(article(2, "طقس", "أمطار", "2024-03-01"))
    runner = CliRunner()
    db = archive.target
    result = runner.invoke(cli, ["search", "الامارات", "--db", db])
    assert result.exit_code == 0
    assert "https://news.example.ae/a/1" in result.output and "[الإمارات]" in result.output
    result = runner.invoke(cli, ["search", "الامارات", "--json", "--db", db])
    assert [json.loads(line)["id"] for line in result.output.splitlines()] == [1]
    result = runner.invoke(cli, ["search", "امطار OR الامارات", "--csv", "--db", db])
    lines = result.output.splitlines()
    assert lines[0].startswith("id,published") and len(lines) == 3 and lines[1].startswith("2,")


def test_cli_errors(archive, tmp_path):
    archive.save(article(1, "t", "x"))
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "COVID-19", "--db", archive.target])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "double quotes" in result.stderr
    result = runner.invoke(cli, ["search", "x", "--since", "May", "--db", archive.target])
    assert result.exit_code == 2
    missing = tmp_path / "typo.db"
    result = runner.invoke(cli, ["search", "x", "--db", str(missing)])
    assert result.exit_code == 2 and not missing.exists()
    result = runner.invoke(cli, ["search", "غائب", "--db", archive.target])
    assert result.exit_code == 0 and "No matches" in result.stderr
