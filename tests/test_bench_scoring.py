"""Tests of the benchmark's scoring rules (bench/scoring.py) on small hand-made texts, plus one run
of bench/extract.py on a one-page folder."""
from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

# bench/ is a folder of scripts beside the package, not installed: import it from the repository.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import scoring  # noqa: E402
from bench.corpus import CorpusPage, Truth  # noqa: E402
from bench.extractors import Prediction  # noqa: E402
from bench.run import score_page  # noqa: E402

ARABIC = "أفادت مصادر عسكرية عراقية اليوم بأن التعاون"   # 7 tokens -> 4 shingles


# --- body ------------------------------------------------------------------------------------

def test_tokens_are_unicode_word_runs():
    assert scoring.tokens("Hello, world! 2015") == ["Hello", "world", "2015"]
    assert scoring.tokens("«داعش».") == ["داعش"]
    assert scoring.tokens("") == [] and scoring.tokens(None) == []


def test_shingles_are_a_multiset_and_short_texts_one_shingle():
    assert scoring.shingles("x y z w x y z w")[("x", "y", "z", "w")] == 2
    assert scoring.shingles("one two") == {("one", "two"): 1}
    assert scoring.shingles("  ,. ") == {}


def test_identical_texts_score_one():
    counts = scoring.body_counts(ARABIC, ARABIC)
    assert (counts.precision, counts.recall, counts.f1) == (1.0, 1.0, 1.0)
    score = scoring.body_score([counts])
    assert (score.precision, score.recall, score.f1) == (1.0, 1.0, 1.0)


def test_disjoint_texts_score_zero():
    counts = scoring.body_counts("a b c d e", "v w x y z")
    assert (counts.precision, counts.recall, counts.f1) == (0.0, 0.0, 0.0)
    assert scoring.body_score([counts]).f1 == 0.0


def test_partial_overlap_by_hand():
    # truth abcd bcde cdef; prediction abcd bcde cdex: tp 2, fp 1, fn 1, normalised by 4
    counts = scoring.body_counts("a b c d e f", "a b c d e x")
    assert (counts.tp, counts.fp, counts.fn) == (0.5, 0.25, 0.25)
    assert counts.precision == pytest.approx(2 / 3) and counts.recall == pytest.approx(2 / 3)
    # a prediction that stops early: abcd bcde of abcd bcde cdef -> P 1, R 2/3
    short = scoring.body_counts("a b c d e f", "a b c d e")
    assert (short.precision, short.recall) == (1.0, pytest.approx(2 / 3))


def test_repeated_shingles_count_as_a_multiset():
    counts = scoring.body_counts("x y z w x y z w", "x y z w")   # 5 true shingles, 1 predicted
    assert counts.precision == 1.0 and counts.recall == pytest.approx(1 / 5)


def test_arabic_prediction_missing_its_last_words():
    truth = ARABIC + " بين العراق وسوريا"                  # 10 tokens -> 7 shingles
    counts = scoring.body_counts(truth, ARABIC)            # the first 4 of them
    assert counts.precision == 1.0 and counts.recall == pytest.approx(4 / 7)


def test_case_is_kept_as_in_the_reference_metric():
    assert scoring.body_counts("Hello big wide world", "hello big wide world").tp == 0


def test_averages_are_over_pages_then_harmonic_mean():
    pages = [scoring.body_counts("a b c d e f", "a b c d e"),      # P 1,   R 2/3
             scoring.body_counts("a b c d e f", "a b c d e x")]    # P 2/3, R 2/3
    score = scoring.body_score(pages)
    assert score.precision == pytest.approx(5 / 6) and score.recall == pytest.approx(2 / 3)
    assert score.f1 == pytest.approx(20 / 27)


def test_empty_prediction_costs_recall_not_precision():
    empty = scoring.body_counts("a b c d e", "")
    assert (empty.tp, empty.fp, empty.fn) == (0.0, 0.0, 1.0)
    assert empty.precision is None and empty.recall == 0.0
    score = scoring.body_score([scoring.body_counts("a b c d e", "a b c d e"), empty])
    assert score.precision == 1.0 and score.recall == 0.5
    assert score.f1 == pytest.approx(2 / 3)


def test_empty_truth_and_empty_prediction_are_left_out():
    nothing = scoring.body_counts("", "")
    assert nothing.precision is None and nothing.recall is None and nothing.f1 == 1.0
    assert scoring.body_score([nothing, scoring.body_counts("a b c d", "a b c d")]).f1 == 1.0
    all_failed = scoring.body_score([scoring.body_counts("a b c d", None)] * 3)
    assert (all_failed.precision, all_failed.recall, all_failed.f1) == (None, 0.0, 0.0)


# --- title -----------------------------------------------------------------------------------

def test_title_folds_nfkc_and_whitespace_but_keeps_case():
    assert scoring.title_matches("Ｎｅｗｓ  today", " News\u00a0today\n")
    assert scoring.title_matches("لا تعاون", "\ufefb تعاون")         # lam-alef ligature
    assert not scoring.title_matches("News today", "news today")
    assert not scoring.title_matches("News today", "News today - Site")
    assert not scoring.title_matches("News", None)


# --- publication time ------------------------------------------------------------------------

@pytest.mark.parametrize("truth, prediction, expected", [
    ("2015-09-27 18:32:00+04:00", "2015-09-27T14:32:00Z", (True, True)),          # same instant
    ("2015-09-27 18:32:41.5+04:00", "2015-09-27T18:32:00+04:00", (True, True)),   # to the minute
    ("2015-09-27 18:32:00+04:00", "2015-09-27T18:33:00+04:00", (False, True)),
    ("2015-09-27 18:32:00+04:00", "2015-09-27T18:32:00+00:00", (False, True)),    # wrong offset
    ("2015-09-27 18:32:00+04:00", "2015-09-27", (False, True)),                   # date only
    ("2015-09-27 18:32:00+04:00", "2015-09-28", (False, False)),
    ("2015-09-27 01:30:00+04:00", "2015-09-26T21:30:00Z", (True, True)),          # UTC day before
    ("2015-09-27 01:30:00+04:00", "2015-09-26T22:30:00Z", (False, True)),         # truth's day in its offset
    ("2024-04-24 00:00:00", "2024-04-24", (True, True)),                          # both date-only
    ("2024-04-24 00:00:00", "2024-04-24T10:00:00+02:00", (False, True)),
    ("2023-04-28 13:53:25", "2023-04-28T13:53:00+00:00", (True, True)),           # naive: wall clock
    ("2023-04-28 13:53:25", "2023-04-28T15:53:00+02:00", (False, True)),
    (None, None, (True, True)),                                                   # no date: say none
    (None, "2013-08-28", (False, False)),
    ("2015-09-27 18:32:00+04:00", None, (False, False)),
    ("2015-09-27 18:32:00+04:00", "27 Sept 2015", (False, False)),                # unparseable
])
def test_time_matches(truth, prediction, expected):
    assert scoring.time_matches(truth, prediction) == expected


# --- author ----------------------------------------------------------------------------------

def test_author_sets_fold_case_and_space_and_split_strings():
    assert scoring.author_matches(["Birgit Baumann", "Jan Marchart"], "jan  marchart; BIRGIT Baumann")
    assert scoring.author_matches(["A. Smith", "B. Jones"], "A. Smith and B. Jones")
    assert scoring.author_matches(["محمد علي", "أحمد حسن"], "محمد علي و أحمد حسن")
    assert scoring.author_matches(["Smith, John"], ["smith, john"])   # truth items are whole names
    assert scoring.author_matches([], None)
    assert not scoring.author_matches(["A. Smith"], None)
    assert not scoring.author_matches(["A. Smith", "B. Jones"], "A. Smith")


# --- boilerplate leaks -----------------------------------------------------------------------

def test_markers_file_has_the_arabic_and_english_markers():
    markers = scoring.load_markers()
    for marker in ("مواقيت الصلاة", "جميع الحقوق محفوظة", "أبرز الأخبار", "عدد اليوم",
                   "اقرأ أيضا", "شارك", "All rights reserved", "Cookie", "Related articles"):
        assert marker in markers
    assert not any(m.startswith("#") for m in markers)


def test_leak_only_when_marker_is_not_in_the_truth():
    markers = ["مواقيت الصلاة", "Cookie"]
    assert scoring.leaked_markers(markers, "نص الخبر", "نص الخبر مواقيت الصلاة") == ["مواقيت الصلاة"]
    assert scoring.leaked_markers(markers, "عن مواقيت الصلاة في رمضان", "مواقيت الصلاة") == []
    assert scoring.leaked_markers(markers, "body", "COOKIE settings") == ["Cookie"]


def test_leak_markers_match_whole_words_across_arabic_spellings():
    assert scoring.leaked_markers(["اقرأ أيضا"], "الخبر", "الخبر اقرا ايضاً") == ["اقرأ أيضا"]
    assert scoring.leaked_markers(["شارك"], "الخبر", "شاركت الوزارة في المؤتمر") == []


# --- a page that raised gets no credit ------------------------------------------------------

def _page(published=None, authors=None):
    return CorpusPage("p", "news", "https://example.com/a", b"<html></html>",
                      Truth("T", published, authors, "a b c d e"))


def test_failed_page_scores_empty_and_earns_no_match():
    failed = score_page(_page(authors=[]), Prediction(), [], error="NotImplementedError: x")
    assert (failed.title_ok, failed.time_exact, failed.same_day, failed.author_ok) == (
        False, False, False, False)
    assert failed.body.recall == 0.0 and failed.body.precision is None
    answered = score_page(_page(authors=[]), Prediction(title="T", text="a b c d e"), [])
    assert (answered.title_ok, answered.time_exact, answered.author_ok) == (True, True, True)


# --- the command on a one-page folder --------------------------------------------------------

def test_benchmark_command_on_a_tiny_folder(tmp_path, capsys):
    from bench.extract import main
    paragraphs = [f"Paragraph {i} of the article tells the reader what happened in the city "
                  f"council on the evening of the vote number {i}." for i in range(8)]
    html = ("<html><head><title>Council votes - Daily</title>"
            '<meta property="article:published_time" content="2024-05-03T15:47:00+02:00">'
            "</head><body><nav>Home News Sport</nav><article><h1>Council votes</h1>"
            + "".join(f"<p>{p}</p>" for p in paragraphs)
            + "</article><footer>All rights reserved</footer></body></html>")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "page.html.gz").write_bytes(gzip.compress(html.encode()))
    (tmp_path / "site" / "page.json").write_text(json.dumps({
        "url": "https://example.com/council", "title": "Council votes",
        "published": "2024-05-03 15:47:00+02:00", "authors": [], "body": paragraphs}))
    out = tmp_path / "result.json"
    assert main([str(tmp_path / "site"), "--only", "trafilatura", "--json", str(out)]) == 0
    assert "trafilatura" in capsys.readouterr().out
    summary = json.loads(out.read_text())["summary"]["all"]["trafilatura"]
    assert summary["pages"] == 1 and summary["errors"] == 0
    assert summary["recall"] == 1.0 and summary["leak_pages"] == 0


def test_records_check_finds_a_changed_record(tmp_path, capsys):
    from bench.records import main
    body = "".join(f"<p>Paragraph {i} of the story says what the council decided on the vote.</p>"
                   for i in range(6))
    html = (f"<html><head><title>Council votes</title></head><body><article><h1>Council votes</h1>"
            f"{body}</article></body></html>")
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "page.html.gz").write_bytes(gzip.compress(html.encode()))
    (tmp_path / "news" / "page.json").write_text(json.dumps({"url": "https://example.com/council"}))
    saved = tmp_path / "records.jsonl"
    assert main(["--save", str(saved), "--corpus", str(tmp_path)]) == 0
    assert main(["--check", str(saved), "--corpus", str(tmp_path)]) == 0
    record = json.loads(saved.read_text())
    assert record["page"] == "page" and "council decided" in record["text"]
    saved.write_text(json.dumps({**record, "text": record["text"][:-1]}) + "\n")
    capsys.readouterr()
    assert main(["--check", str(saved), "--corpus", str(tmp_path)]) == 1
    assert "differs: page" in capsys.readouterr().out


def test_speed_command_times_a_checkout_beside_today(tmp_path, capsys):
    from bench.extract_speed import main
    body = "".join(f"<p>Paragraph {i} of the story says what the council decided on the vote.</p>"
                   for i in range(6))
    (tmp_path / "news").mkdir()
    (tmp_path / "news" / "page.html.gz").write_bytes(gzip.compress(
        f"<html><body><article><h1>Council votes</h1>{body}</article></body></html>".encode()))
    (tmp_path / "news" / "page.json").write_text(json.dumps({"url": "https://example.com/council"}))
    repository = Path(__file__).resolve().parents[1]
    assert main(["--repeat", "1", "--corpus", str(tmp_path), "--before", str(repository)]) == 0
    out = capsys.readouterr().out
    assert all(f"CPU  {name}" in out for name in ("before", "scraper.extract", "trafilatura.extract"))
    assert main(["--corpus", str(tmp_path), "--before", str(tmp_path)]) == 2


# --- pages lost and the two halves -------------------------------------------------------------

def _result(page: str, f1_shingles: float):
    """A scored page whose body F1 is ``f1_shingles`` (tp share; the rest false negatives)."""
    from bench.run import PageResult
    body = scoring.BodyCounts(f1_shingles / (2 - f1_shingles), 0.0, 1 - f1_shingles / (2 - f1_shingles))
    return PageResult(page, "news", body, True, True, True, None, [], 1.0, None, None, None)


def test_pages_lost_and_pages_under_half_are_counted_against_trafilatura():
    from bench import report
    ours = [_result("a/X_2024_01_01", 0.90), _result("a/Y_2024_01_01", 0.40), _result("a/Z_2024_01_01", 0.97)]
    theirs = [_result("a/X_2024_01_01", 0.96), _result("a/Y_2024_01_01", 0.42), _result("a/Z_2024_01_01", 0.99)]
    scopes = report.summaries({"scraper": ours, "trafilatura": theirs})
    mine, reference = scopes["all"]["scraper"], scopes["all"]["trafilatura"]
    assert (mine.lost, mine.under_half) == (1, 1)       # X: 0.06 below; Y: under 0.5 but not 0.05 below
    assert (reference.lost, reference.under_half) == (None, 1)
    notes = "\n".join(report.failure_notes(scopes, {"scraper": ours, "trafilatura": theirs}))
    assert "a/X_2024_01_01 0.90 vs 0.96" in notes and "a/Y_2024_01_01 0.40 (trafilatura 0.42)" in notes


def test_the_halves_split_by_publisher_with_a_stable_hash():
    from bench import report
    from bench.run import half, publisher
    assert publisher("de/ZDF_2024_04_22") == publisher("de/ZDF_2025_11_07") == "ZDF"
    assert publisher("cnn_arabic_2013_08_28") == "cnn_arabic"
    # Every page of one publisher is in one half, and the halves do not depend on the run.
    assert half("de/ZDF_2024_04_22") == half("at/ZDF_2023_01_01") == "B"
    names = [f"x/P{i}_2024_01_01" for i in range(40)]
    assert {half(n) for n in names} == {"A", "B"}
    rows = [_result(n, 1.0) for n in names]
    scopes = report.summaries({"scraper": rows}, split=True)
    assert scopes["half A"]["scraper"].pages + scopes["half B"]["scraper"].pages == 40
    assert "half A" not in report.summaries({"scraper": rows})


def test_perturbed_pages_lose_their_names_or_json_ld_and_nothing_else():
    from lxml import html as lxml_html

    from bench.perturb import scramble_names, without_jsonld

    page = (b'<html><head><script type="application/ld+json">{"articleBody": "x"}</script></head>'
            b'<body><div class="article-body main" id=\'story\'><p class="lead">One.</p></div>'
            b'<div class="main share"><a href="/">Two</a></div></body></html>')
    scrambled = scramble_names(page)
    tree, before = lxml_html.fromstring(scrambled), lxml_html.fromstring(page)
    assert b"article-body" not in scrambled and b"share" not in scrambled and b"story" not in scrambled
    # The same name becomes the same token within the page: structure and repetition are kept.
    first, second = (el.get("class").split() for el in tree.xpath("//div"))
    assert first[1] == second[0] and len(set(first + second)) == 3
    assert tree.text_content() == before.text_content()
    assert b"ld+json" not in without_jsonld(page) and b"One." in without_jsonld(page)
