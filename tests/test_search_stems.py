"""Arabic stems in search: each clitic and affix family, what must not match, Datasette's exact index, snippets, the upgrade."""
from __future__ import annotations

import random
import sqlite3
from contextlib import closing

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from tests.engines import Other, sqlite_only

from cli import cli
from scraper.store import migrations
from scraper.store.search import (FTS_TABLE, STATE_TABLE, STEM_TABLE, TOKENIZE, pending_count, prepare_query,
                            refresh, search)
from scraper.store.stems import SIGNATURE, stem_text, stem_word
from scraper.store import Archive
from scraper.store.textnorm import normalize
from tests.synthetic import article, hit_of, ids




# -- every family of attached words finds the plain word, and the other way round ---------------------

FAMILIES = [
    # the article and the clitics before it
    ("حكومة", "الحكومة"), ("حكومة", "والحكومة"), ("حكومة", "فالحكومة"), ("حكومة", "بالحكومة"),
    ("حكومة", "للحكومة"), ("حكومة", "كالحكومة"), ("حكومة", "وبالحكومة"), ("حكومة", "وللحكومة"),
    # prepositions on an indefinite noun
    ("كتاب", "بكتاب"), ("مصر", "بمصر"),
    # plural, dual, sound masculine plural, feminine
    ("حكومة", "حكومات"), ("حكومة", "الحكومات"), ("حكومة", "والحكومات"),
    ("وزير", "الوزيران"), ("وزير", "الوزيرين"),
    ("معلم", "المعلمون"), ("معلم", "والمعلمين"), ("معلم", "معلمة"), ("معلم", "المعلمات"),
    # relational adjective (nisba)
    ("حكومة", "الحكومية"), ("مصر", "المصري"),
    # pronoun suffixes
    ("كتاب", "كتابه"), ("كتاب", "كتابها"), ("كتاب", "كتابهم"), ("كتاب", "كتابنا"), ("حكومة", "حكومتها"),
    # a root starting with و: the definite form finds the bare one (Snowball alone split them)
    ("وزير", "الوزير"), ("الوزارة", "وزارة"), ("ولاية", "الولاية"), ("وكالة", "والوكالة"),
    ("الوزير", "وزيرها"), ("فريق", "فريقها"), ("وزارة", "وزارتها"),
    ("فلسطين", "بفلسطين"), ("الفلسطيني", "بالفلسطينيين"),
    # with normalisation: hamza, tashkeel, tatweel, ta marbuta written ه
    ("الإمارات", "والامارات"), ("حكومة", "وَالحُكُومَةُ"), ("حكومة", "بالحكـــومة"), ("حكومه", "للحكومة"),
    ("مستشفى", "المستشفي"), ("رئيس", "والرئيس"),
]


# A light stemmer keeps patterns apart: book, writer, library and books are different words;
# peace and Islam, world and science too.
APART = [("كتاب", "كاتب"), ("كتاب", "مكتبة"), ("كتاب", "كتب"), ("سلام", "الإسلام"),
         ("عالم", "العلم"), ("وزير", "وزارة"), ("وزير", "الوزراء"), ("حكومة", "الحكم"),
         ("حكومة", "محكمة"), ("مدرسة", "مدارس")]

# One archive per engine holds every case of both tables, each under URLs of its own (numbers below),
# and each case asserts on its own articles: the others' words never stand in its way, since a case
# looks only for its own URLs among the hits, and every hit is asked for (LIMIT).
UNRELATED, WRITTEN, PLAIN, OTHER = 1, 1000, 2000, 3000
LIMIT = 10_000


@pytest.fixture(scope="module")
def cases(shared_db_target):
    with Archive.open(shared_db_target) as archive:
        archive.save(article(UNRELATED, "خبر آخر", "لا شيء هنا عن ذلك"))
        for i, (query, written) in enumerate(FAMILIES):
            archive.save(article(WRITTEN + i, "خبر", f"قالت المصادر إن {written} أعلنت شيئا اليوم"))
            archive.save(article(PLAIN + i, "ثالث", f"نص فيه {query} وحدها"))
        for i, (query, other) in enumerate(APART):
            archive.save(article(OTHER + i, "خبر", f"تحدث التقرير عن {other} أمس"))
        yield archive


@pytest.mark.parametrize("query, written", FAMILIES)
def test_family_found_and_highlighted(cases, query, written):
    i = FAMILIES.index((query, written))
    hits = search(cases, query, limit=LIMIT)
    mine = hit_of(hits, WRITTEN + i)
    assert mine is not None, f"{query} does not find {written}"
    assert hit_of(hits, UNRELATED) is None
    # The snippet highlights the word as the page wrote it, not a neighbour.
    assert f"[{written}]" in mine.snippet
    # And the other way round: searching the attached form finds the plain one.
    assert hit_of(search(cases, written, limit=LIMIT), PLAIN + i) is not None, f"{written} does not find {query}"


# -- precision: what must not match ------------------------------------------------------------------

@pytest.mark.parametrize("query, other", APART)
def test_different_words_stay_apart(cases, query, other):
    i = APART.index((query, other))
    assert hit_of(search(cases, query, limit=LIMIT), OTHER + i) is None, f"{query} finds {other}"
    assert hit_of(search(cases, other, limit=LIMIT), OTHER + i) is not None, f"{other} does not find itself"


# What it conflates or misses, stated here so the README's list stays true.
KNOWN_CONFLATED = [("مصر", "المصرية"), ("مدرسة", "المدرس"), ("دولة", "الدول"), ("مال", "مالي")]
KNOWN_MISSED = [("قال", "وقال"), ("مصر", "ومصر"), ("مصر", "لمصر"), ("حكومة", "حكومته"), ("سيارة", "سياراتهم"),
                ("فلسطين", "الفلسطيني"), ("بنوك", "البنوك"), ("مدينة", "مدن")]


@pytest.mark.parametrize("query, other", KNOWN_CONFLATED)
def test_known_conflations(query, other):
    assert stem_word(normalize(query)) == stem_word(normalize(other))


@pytest.mark.parametrize("query, other", KNOWN_MISSED)
def test_known_misses(query, other):
    # A bare و/ف is kept (it is as often a root letter); ل on a short word, the pronoun after ة,
    # the noun فلسطين against its adjective, broken plurals.
    assert stem_word(normalize(query)) != stem_word(normalize(other))


def test_exact_searches_written_forms_only(archive):
    archive.save(article(1, "a", "بيان والحكومة"))
    archive.save(article(2, "b", "بيان الحكومة"))
    assert sorted(ids(search(archive, "الحكومة"))) == [1, 2]
    assert ids(search(archive, "الحكومة", exact=True)) == [2]
    assert "[الحكومة]" in search(archive, "الحكومة", exact=True)[0].snippet


def test_latin_words_are_not_stemmed(archive):
    archive.save(article(1, "a", "Elections in Egypt"))
    assert ids(search(archive, "elections")) == [1]
    assert ids(search(archive, "election")) == []


# -- query syntax over stems -------------------------------------------------------------------------

def test_phrases_and_operators(archive):
    archive.save(article(1, "a", "اجتمعت والحكومة المصرية مع البنوك"))
    archive.save(article(2, "b", "الحكومات العربية والمصارف"))
    archive.save(article(3, "c", "للحكومة بيان عن المدارس"))
    assert ids(search(archive, '"حكومة مصرية"')) == [1]            # phrase, both words stemmed
    assert ids(search(archive, '"مصرية حكومة"')) == []             # order still counts
    assert sorted(ids(search(archive, "حكومة"))) == [1, 2, 3]
    assert sorted(ids(search(archive, "حكومة NOT عربية"))) == [1, 3]
    assert sorted(ids(search(archive, "المصرية OR مدارس"))) == [1, 3]
    assert ids(search(archive, "حكومة AND مدارس")) == [3]
    assert ids(search(archive, "NEAR(حكومة البنوك, 3)")) == [1]
    assert ids(search(archive, "NEAR(حكومة مدارس, 1)")) == []
    assert ids(search(archive, "title:a")) == [1]
    assert sorted(ids(search(archive, "الحكو*"))) == [1, 2, 3]     # a prefix loses its article only
    assert ids(search(archive, "والبن*")) == [1]


def test_prepare_query_for_stems():
    assert prepare_query('"وَالحُكومة المصرية" OR كتابها NOT Café', stem=True) == '"حكوم مصر" OR كتاب NOT cafe'
    assert prepare_query("title:الحكومات", stem=True) == "title:حكوم"
    assert prepare_query("البورص* والحكومة", stem=True) == "بورص* حكوم"


def test_ranked_search_uses_the_stems(archive):
    archive.save(article(1, "أخبار", "بيان للحكومة", "2024-01-02"))
    archive.save(article(2, "الحكومة والحكومات", "الحكومة تجتمع", "2020-01-01"))
    for n in range(3, 8):
        archive.save(article(n, "رياضة", "كرة القدم"))
    hits = search(archive, "حكومة", rank=True)
    assert ids(hits) == [2, 1] and hits[0].score < hits[1].score


# -- stems never move token boundaries -----------------------------------------------------------------

def _token_offsets(text: str) -> list[int]:
    """Where FTS5 itself (our tokenizer) sees each token of ``text``: (position) list."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize=\"{TOKENIZE}\")")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
    db.execute("INSERT INTO t (x) VALUES (?)", [text])
    return sorted(offset for (offset,) in db.execute("SELECT offset FROM v"))


def test_stem_text_keeps_every_token_position():
    rng = random.Random(7)
    pieces = ["والحكومة", "حكومات", "وَالحُكومَةُ", "ـــــ", "ً", "2024", "٢٠٢٤", "Café", "COVID-19", "سياراتهم",
              "و", "ال", "لل", "ب", "حكومة2024", "abcالحكومة", "، ", ".", "«الوزير»", "فلسطين"]
    for _ in range(200):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        original = _token_offsets(text)
        assert _token_offsets(stem_text(normalize(text))) == original, text


# -- Datasette and sqlite-utils keep the exact index ----------------------------------------------------

@sqlite_only
def test_datasette_and_sqlite_utils_find_plain_spellings(archive):
    archive.save(article(1, "t", "قالت الحكومة إن الإمارات تستضيف القمة"))
    archive.save(article(2, "t", "بيان للحكومة"))
    refresh(archive)
    db = Database(archive.path)                   # as Datasette and sqlite-utils open it: the file
    table = db.table("articles")
    assert table.detect_fts() == FTS_TABLE        # not the stems table: it is found first, always
    # The query Datasette's search box runs (what the user typed, as a phrase): the plain
    # spelling (no hamza, ه for ة, as the README says) finds the written form, and only it.
    for typed in ('"الحكومه"', '"الامارات"'):
        found = db.execute(
            f"SELECT id FROM articles WHERE rowid IN (SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH ?)",
            [typed]).fetchall()
        assert found == [(1,)], typed
    # sqlite-utils' own search (the `sqlite-utils search` command calls it).
    assert [row["id"] for row in table.search("الامارات")] == [1]
    # Datasette hides FTS tables and their shadow tables: the stems index is one of them.
    hidden = {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE rootpage = 0 AND sql LIKE '%VIRTUAL TABLE%USING FTS%'")}
    assert {FTS_TABLE, STEM_TABLE} <= hidden


# -- the index stays right, and the upgrade ---------------------------------------------------------------

def test_random_writes_keep_both_indexes_equal_to_a_brute_force_search(archive):
    rng = random.Random(11)
    words = ["الحكومة", "والحكومة", "حكومات", "كتاب", "كتابها", "كاتب", "الوزير", "وزير", "مدرسة", "Café"]
    other = Other(archive)
    for step in range(100):
        n = rng.randint(1, 10)
        text = " ".join(rng.choice(words) for _ in range(4))
        if rng.random() < 0.6:
            archive.save(article(n, f"t{n}", text))
        elif rng.random() < 0.7:
            other.execute("UPDATE articles SET text = ? WHERE id = ?", [text, n])
        else:
            other.execute("DELETE FROM url_aliases WHERE article_id = ?", [n])
            other.execute("DELETE FROM revisions WHERE article_id = ?", [n])
            other.execute("DELETE FROM articles WHERE id = ?", [n])
        if step % 9 == 0:
            refresh(archive)
    other.close()
    rows = [(row["id"], row["text"]) for row in archive.query("SELECT id, text FROM articles")]
    for word in words:
        exact, stem = normalize(word), stem_text(normalize(word))
        truth = sorted(aid for aid, text in rows if exact in normalize(text).split())
        assert sorted(ids(search(archive, f'"{word}"', exact=True, limit=100))) == truth, word
        truth = sorted(aid for aid, text in rows if stem in stem_text(normalize(text)).split())
        assert sorted(ids(search(archive, f'"{word}"', limit=100))) == truth, word


def test_migration_upgrades_an_archive_built_before_it(tmp_path):
    path = tmp_path / "old.db"
    names = [name for name, _ in migrations.MIGRATIONS]
    before = migrations.MIGRATIONS[:names.index("search_002_stems")]
    # The archive as the previous release left it: every migration up to this one, rows written
    # and indexed (exact forms only), the queue drained.
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        migrations.migrate(db, before)
        db.execute("BEGIN")
        db.execute("INSERT INTO articles (id, url, title, text) VALUES "
                   "(1, 'https://x.ae/1', 'بيان', 'قالت والحكومة إن'), (2, 'https://x.ae/2', 'خبر', 'الحكومات العربية')")
        db.execute(f"INSERT INTO {FTS_TABLE} (rowid, title, text) SELECT id, title, text FROM articles")
        db.execute("DELETE FROM _search_pending")
        db.execute("COMMIT")
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [STEM_TABLE]).fetchone()
    with Archive.open(path) as upgraded:
        assert "search_002_stems" in upgraded.migrations()
        assert pending_count(upgraded) == 2         # every existing row queued for the new index
        hits = search(upgraded, "حكومة")
        assert sorted(ids(hits)) == [1, 2] and "[والحكومة]" in {h.snippet.split()[1] for h in hits}
        assert pending_count(upgraded) == 0
        assert ids(search(upgraded, "والحكومة", exact=True)) == [1]   # the exact index rebuilt too
        # And it keeps up with writes after the upgrade.
        upgraded.save(article(3, "جديد", "بالحكومة"))
        assert sorted(ids(search(upgraded, "حكومة"))) == [1, 2, 3]


@sqlite_only
def test_another_stemmer_rebuilds_the_index(archive):
    archive.save(article(1, "a", "والحكومة"))
    archive.save(article(2, "b", "كتابها"))
    refresh(archive)
    # As if another stemmer version had built this index: its stems are not ours to delete.
    with archive.transaction() as tx:
        tx.execute(f"UPDATE {STATE_TABLE} SET value = 'arabic rules-0 other-1.0' WHERE key = 'stemmer'")
        tx.execute(f"INSERT INTO {STEM_TABLE} ({STEM_TABLE}) VALUES ('delete-all')")
        tx.execute(f"INSERT INTO {STEM_TABLE} (rowid, title, text) VALUES (1, 'ا', 'ب'), (2, 'ا', 'ج')")
    assert refresh(archive) == 2
    assert archive.scalar(f"SELECT value FROM {STATE_TABLE} WHERE key = 'stemmer'") == SIGNATURE
    assert ids(search(archive, "حكومة")) == [1] and ids(search(archive, "كتاب")) == [2]
    assert ids(search(archive, "ب")) == []
    assert refresh(archive) == 0          # the same stemmer: nothing to do


def test_cli_exact_option(archive):
    archive.save(article(1, "a", "قالت والحكومة", "2024-02-01"))
    archive.save(article(2, "b", "قالت الحكومة", "2024-01-01"))
    runner = CliRunner()
    result = runner.invoke(cli, ["search", "الحكومة", "--db", archive.target])
    assert result.exit_code == 0 and "[والحكومة]" in result.output and "[الحكومة]" in result.output
    result = runner.invoke(cli, ["search", "الحكومة", "--exact", "--db", archive.target])
    assert result.exit_code == 0 and "[والحكومة]" not in result.output and "[الحكومة]" in result.output
