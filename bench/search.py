"""Benchmark: `scraper search` on a generated archive of 100,000 Arabic articles, and export's memory.

    python bench/search.py                      # builds /tmp/bench-search.db once, then measures
    python bench/search.py --articles 20000 --db /tmp/small.db

Prints the time to index the archive and the size of each index (the exact forms, the Arabic
stems), what stemming costs per article, then the median and worst time of a set of queries
(common, rare, phrases, prefixes, OR/NOT, spelling variants, site and date filters), newest first
and ranked, through the stems (the default) and with --exact, each query run several times through
the library call the CLI makes. Then recall and over-matching on families of Arabic word forms
(«حكومة»: «والحكومة», «حكومات»...), with and without stems, on a small archive of its own. Then
the peak RSS of `scraper export` over the whole archive and over a tenth of it: streaming means
they are close.
"""
from __future__ import annotations

import argparse
import itertools
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import snowballstemmer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scraper.models import Article  # noqa: E402
from scraper.store.search import FTS_TABLE, STEM_TABLE, refresh, search  # noqa: E402
from scraper.store.stems import stem_text, stem_word  # noqa: E402
from scraper.store.archive import Archive  # noqa: E402
from scraper.store.textnorm import normalize  # noqa: E402

# Real news words, some in several spellings (hamza, tashkeel, ta marbuta, alef maksura), so the
# index holds the variants the normalisation must merge.
COMMON = ("قال أعلن الحكومة الرئيس وزير الإمارات الامارات مصر السعودية العالم الاقتصاد النفط أسعار "
          "اليوم العام مدينة دبي أبوظبي القاهرة الرياض بيروت الدولة مجلس الأمن الأمم المتحدة "
          "مستشفى مستشفي مدرسة مدرسه الصحة التعليم الرياضة كرة القدم المنتخب دَاعِش داعش الحرب "
          "السلام المفاوضات الانتخابات البرلمان الشركة السوق الأسهم البورصة التضخم الطاقة المناخ "
          "الأمطار الطقس ٢٠٢٤ 2024 ٢٠٢٣ مليون مليار درهم دولار الإمـــارات القُدس القدس").split()
LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
SITES = ["alittihad", "alkhaleej", "albayan", "ahram", "annahar"]


def vocabulary(rng: random.Random, size: int = 30000) -> tuple[list[str], list[float]]:
    """Common words, then a long tail of pseudo-words, weighted like natural text (Zipf)."""
    words = list(COMMON)
    while len(words) < size:
        words.append("".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 8))))
    # Cumulative weights, computed once: rng.choices(weights=...) would redo it on every call.
    return words, list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(words))))


def build(path: Path, n: int) -> None:
    rng = random.Random(42)
    words, weights = vocabulary(rng)
    archive = Archive.open(path)
    start = time.perf_counter()
    batch = []
    for i in range(1, n + 1):
        body = rng.choices(words, cum_weights=weights, k=rng.randint(150, 450))
        text = "\n\n".join(" ".join(body[j:j + 40]) for j in range(0, len(body), 40))
        day = f"20{rng.randint(15, 24):02d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        published = f"{day}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00+04:00" if rng.random() > 0.05 else None
        batch.append((f"https://{SITES[i % 5]}.example/news/{i}", SITES[i % 5],
                      " ".join(rng.choices(words, cum_weights=weights, k=8)), text, published, len(body), f"h{i}"))
        if len(batch) == 5000 or i == n:
            with archive.transaction() as db:
                db.conn.executemany(
                    "INSERT INTO articles (url, site, title, text, published, word_count, content_hash, "
                    "fetched_at, tags) VALUES (?, ?, ?, ?, ?, ?, ?, '2024-12-01T00:00:00+00:00', '[]')", batch)
            batch = []
    print(f"generated {n:,} articles in {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    refresh(archive)
    elapsed = time.perf_counter() - start
    print(f"indexed them in {elapsed:.1f} s, {elapsed / n * 1000:.2f} ms an article "
          f"({path.stat().st_size / 1e6:.0f} MB database)")
    archive.close()


def index_sizes(path: Path) -> None:
    """Bytes of each FTS5 index (its shadow tables), from SQLite's dbstat."""
    archive = Archive.open(path)
    # An archive built before an upgrade has its backlog indexed here, once, not timed as a query.
    start = time.perf_counter()
    if done := refresh(archive):
        print(f"indexed {done:,} queued articles (an upgrade) in {time.perf_counter() - start:.1f} s")
    sizes = {row["part"]: row["bytes"] for row in archive.query(
        "SELECT CASE WHEN name LIKE ? THEN 'stems' WHEN name LIKE ? THEN 'exact' ELSE 'rest' END AS part, "
        "sum(pgsize) AS bytes FROM dbstat GROUP BY 1", [f"{STEM_TABLE}%", f"{FTS_TABLE}%"])}
    print(f"index size: exact forms {sizes.get('exact', 0) / 1e6:.0f} MB, stems {sizes.get('stems', 0) / 1e6:.0f} MB, "
          f"rest of the database {sizes.get('rest', 0) / 1e6:.0f} MB")
    # The Python side of indexing, on a sample: what the stems add to normalising.
    rows = [(row["title"], row["text"]) for row in
            archive.query("SELECT title, text FROM articles ORDER BY id DESC LIMIT 2000")]
    archive.close()
    start = time.perf_counter()
    normalised = [(normalize(title), normalize(text)) for title, text in rows]
    norm_time = time.perf_counter() - start
    start = time.perf_counter()
    for title, text in normalised:
        stem_text(title), stem_text(text)
    stem_time = time.perf_counter() - start
    print(f"per article ({len(rows):,} sampled, stem cache warm): normalise {norm_time / len(rows) * 1000:.2f} ms, "
          f"stem {stem_time / len(rows) * 1000:.2f} ms")


QUERIES = [
    dict(query="الامارات"), dict(query="الإمارات"), dict(query="داعش"), dict(query="مستشفى"),
    dict(query="مدرسة"), dict(query="2024"), dict(query="قال"), dict(query="النفط"),
    dict(query='"الأمم المتحدة"'), dict(query='"كرة القدم" المنتخب'), dict(query="البورص*"),
    dict(query="التضخم OR المناخ"), dict(query="الحرب NOT السلام"), dict(query="title:الاقتصاد"),
    dict(query="القدس", site="ahram"), dict(query="الطاقة", since="2024-01-01"),
    dict(query="دبي", since="2020-01-01", until="2020-12-31", site="albayan"),
    dict(query="غيرموجودابدا"),
]


def measure(path: Path, repeat: int) -> None:
    archive = Archive.open(path)
    count = archive.scalar("SELECT count(*) FROM articles")
    for exact, rank in itertools.product((False, True), (False, True)):
        times = []
        slowest = (0.0, "")
        for spec in QUERIES:
            for _ in range(repeat):
                start = time.perf_counter()
                search(archive, **spec, limit=20, rank=rank, exact=exact)
                elapsed = time.perf_counter() - start
                times.append(elapsed)
                slowest = max(slowest, (elapsed, spec["query"]))
        label = ("ranked      " if rank else "newest first") + (", exact" if exact else ", stems")
        print(f"search {label} over {count:,} articles: median {statistics.median(times) * 1000:.1f} ms, "
              f"p90 {sorted(times)[int(len(times) * 0.9)] * 1000:.1f} ms, "
              f"slowest {slowest[0] * 1000:.1f} ms ({slowest[1]}); {len(QUERIES)} queries x {repeat}")
    archive.close()


# (query, forms a researcher means by it, other words that must not match). The forms are the
# attached clitics (و ف ب ل ك ال), plurals, duals, the feminine, pronoun suffixes.
FAMILIES = [
    ("حكومة", "الحكومة والحكومة للحكومة بالحكومة فالحكومة وبالحكومة حكومات الحكومات والحكومات حكومته حكومتها",
     "حكم الحكم محكمة"),
    ("وزارة", "الوزارة والوزارة للوزارة بالوزارة وزارات الوزارات وزارته", "وزير الوزير وزراء"),
    ("الوزير", "وزير والوزير للوزير بالوزير وزيرها الوزيران الوزيرين", "وزارة زير"),
    ("مدرسة", "المدرسة والمدرسة للمدرسة بالمدرسة مدرستها", "مدارس"),
    ("المدارس", "مدارس والمدارس للمدارس بالمدارس", "مدرسة"),
    ("كتاب", "الكتاب والكتاب للكتاب بالكتاب كتابه كتابها كتابي", "كاتب الكاتب كتب مكتبة"),
    ("الإمارات", "الامارات والإمارات للإمارات بالإمارات فالإمارات", "امارة"),
    ("مستشفى", "المستشفى والمستشفى للمستشفى بالمستشفى مستشفيات المستشفيات", "شفاء"),
    ("الرئيس", "رئيس والرئيس للرئيس بالرئيس رئيسها", "رئاسة"),
    ("فلسطين", "بفلسطين وفلسطين لفلسطين الفلسطيني", "سطين"),
    ("بيت", "البيت والبيت للبيت بالبيت وبيت لبيت بيتها", "بيوت"),
    ("مصر", "ومصر لمصر بمصر فمصر", "مصري"),
    ("المعلم", "معلم المعلمون والمعلمين معلمة المعلمات", "علم العلم"),
    ("شركة", "الشركة والشركة للشركة بالشركة شركات الشركات شركتها", "شريك مشاركة"),
    ("مدينة", "المدينة والمدينة بالمدينة للمدينة مدن", "دين"),
    ("انتخابات", "الانتخابات والانتخابات بالانتخابات للانتخابات", "نخبة"),
    ("اقتصاد", "الاقتصاد والاقتصاد بالاقتصاد للاقتصاد", "قصد"),
    ("سلام", "السلام والسلام بالسلام للسلام", "اسلام الإسلام مسلم"),
    ("عالم", "العالم والعالم بالعالم للعالم", "علم العلم"),
    ("دولة", "الدولة والدولة بالدولة للدولة دولتها", "دول"),
    ("قال", "قالت وقال فقال", "قيل"),
]


def recall() -> None:
    """Each form and each other word in an article of its own; each query run with and without stems."""
    with tempfile.TemporaryDirectory() as tmp, Archive.open(Path(tmp) / "recall.db") as archive:
        docs: dict[str, int] = {}
        for query, forms, others in FAMILIES:
            for word in forms.split() + others.split():
                if word not in docs:
                    docs[word] = len(docs) + 1
                    archive.save(Article(url=f"https://x.example/{docs[word]}", site="x", title="خبر",
                                         text=f"جاء في النص {word} هنا", content_hash=word))
        for exact in (True, False):
            found = wanted = unwanted = 0
            missed, conflated = [], []
            for query, forms, others in FAMILIES:
                hits = {hit.id for hit in search(archive, query, exact=exact, limit=1000)}
                for word in forms.split():
                    wanted += 1
                    if docs[word] in hits:
                        found += 1
                    elif not exact:
                        missed.append(word)
                unwanted += len(others.split())
                conflated += [f"{query}={word}" for word in others.split() if docs[word] in hits]
            print(f"recall on {len(FAMILIES)} families of Arabic forms, {'exact' if exact else 'stems'}: "
                  f"{found}/{wanted} = {found / wanted:.2f}; other words matched {len(conflated)}/{unwanted}"
                  + (f"; missed: {' '.join(missed)}" if missed else "")
                  + (f"; matched: {' '.join(conflated)}" if conflated else ""))
    # The same families, word against word, for the library alone on our normalised text: what
    # the corrections in scraper/store/stems.py buy.
    library = snowballstemmer.stemmer("arabic")
    for name, stem in (("Snowball alone", lambda w: library.stemWord(normalize(w))),
                       ("scraper.store.stems", lambda w: stem_word(normalize(w)))):
        same = sum(stem(word) == stem(query) for query, forms, _ in FAMILIES for word in forms.split())
        wrong = sum(stem(word) == stem(query) for query, _, others in FAMILIES for word in others.split())
        print(f"  stems equal to the query's, {name}: forms {same}/{sum(len(f.split()) for _, f, _ in FAMILIES)}, "
              f"other words {wrong}/{sum(len(o.split()) for _, _, o in FAMILIES)}")


def export_rss(path: Path, *args: str) -> float:
    """Peak RSS (MB) of a `scraper export` child process writing to /dev/null."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run([sys.executable, str(ROOT / "cli.py"), "export", "--db", str(path), "-o", "/dev/null", *args],
                   check=True, stderr=subprocess.DEVNULL)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(peak, before) / 1024  # KB on Linux (the max over children so far: run small first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/bench-search.db"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-export", action="store_true", help="Skip the export memory measure.")
    args = parser.parse_args()
    if not args.db.exists():
        build(args.db, args.articles)
    index_sizes(args.db)
    measure(args.db, args.repeat)
    recall()
    if not args.no_export:
        small = export_rss(args.db, "--site", "alittihad", "--since", "2023-01-01")  # about a tenth
        full = export_rss(args.db, "--format", "csv")
        print(f"export peak RSS: {small:.0f} MB for a tenth of the archive, {full:.0f} MB for all of it")


if __name__ == "__main__":
    main()
