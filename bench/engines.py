"""SQLite against PostgreSQL: save throughput of 1, 2 and 4 writer processes, and search latency.

    python bench/engines.py [--pg postgresql://postgres@127.0.0.1/postgres] [--articles 400] [--search 5000]

Each writer process opens the archive and saves its own articles (Arabic text of about 3,000
characters and a 20 KB raw page each, as `scraper fetch` saves them: one transaction an article);
articles/s is all writers' articles over the wall time from the first start to the last end. The
PostgreSQL archive is a new database made for each measurement (the server given by --pg, an
admin URL); the SQLite one a new file in a temporary folder. Then one archive of --search
articles on each engine, and the median time of a set of queries (newest first and --rank), the
index built first. Side by side in one run: compare the ratios, not the absolute times.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.synthetic import prose  # noqa: E402

WRITER = """
import hashlib, sys, time
from datetime import datetime, timezone
from scraper.models import Article, Page
from scraper.store import Archive
from tests.synthetic import prose
target, k, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with Archive.open(target, busy_timeout=120) as archive:
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(n):
        url = f"https://news.example.ae/w{k}/{i}"
        text = "\\n\\n".join(prose(k * 100000 + i, paragraphs=6, words=60))
        body = ("<html><body>" + text.replace("\\n\\n", "</p><p>") + "<div>" + "x" * 16000 + "</div></body></html>").encode()
        page = Page(url=url, final_url=url, status=200, headers={"Content-Type": "text/html; charset=utf-8"},
                    body=body, html=body.decode(), encoding="utf-8", fetched_at=datetime.now(timezone.utc))
        archive.save(Article(url=url, site="gulf", title=f"خبر {k} {i}", text=text,
                             content_hash=hashlib.sha256(text.encode()).hexdigest()), page)
"""

QUERIES = ["الحكومة", "المشروع", "وزير", "الاقتصاد OR التعليم", '"القطاع الخاص"', "الصحة NOT النقل",
           "تطوير*", "NEAR(الحكومة الاستثمار, 5)", "المستشفى الميناء", "السياحة"]


def new_pg(admin: str) -> str:
    import psycopg

    name = f"scraper_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(admin)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


def drop_pg(admin: str, url: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')


def writers(target: str, processes: int, articles: int) -> float:
    """Articles per second of ``processes`` writers saving ``articles`` each into ``target``."""
    from scraper.store import Archive

    Archive.open(target).close()                 # the schema first: the writers race to save, not to migrate
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, target, str(k), str(articles)], cwd=ROOT, env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for k in range(processes)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    start = time.perf_counter()
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    for p in procs:
        p.wait()
        assert p.returncode == 0
    return processes * articles / (time.perf_counter() - start)


def fill(target: str, n: int) -> None:
    from scraper.models import Article
    from scraper.store import Archive
    from scraper.store.search import refresh

    with Archive.open(target) as archive:
        for i in range(n):
            text = "\n\n".join(prose(i, paragraphs=5, words=50))
            archive.save(Article(url=f"https://news.example.ae/s/{i}", site="gulf" if i % 3 else "levant",
                                 title=" ".join(prose(i + 10**6, paragraphs=1, words=8)), text=text,
                                 published=f"20{10 + i % 15}-0{1 + i % 9}-1{i % 10}",
                                 content_hash=hashlib.sha256(text.encode()).hexdigest()))
        refresh(archive)


def latency(target: str, rank: bool, repeat: int = 3) -> float:
    from scraper.store import Archive
    from scraper.store.search import search

    times = []
    with Archive.open(target) as archive:
        for _ in range(repeat):
            for query in QUERIES:
                start = time.perf_counter()
                search(archive, query, rank=rank)
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", default=os.environ.get("SCRAPER_TEST_PG") or "postgresql://postgres@127.0.0.1/postgres")
    parser.add_argument("--articles", type=int, default=400, help="articles each writer saves")
    parser.add_argument("--search", type=int, default=5000, help="articles in the archive searched")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        print(f"save throughput ({args.articles} articles a writer, articles/s of all writers together)")
        print("| writers | SQLite | PostgreSQL | PostgreSQL / SQLite |\n|---|---|---|---|")
        for processes in (1, 2, 4):
            lite = writers(str(Path(folder) / f"w{processes}.db"), processes, args.articles)
            url = new_pg(args.pg)
            try:
                pg = writers(url, processes, args.articles)
            finally:
                drop_pg(args.pg, url)
            print(f"| {processes} | {lite:.0f} | {pg:.0f} | {pg / lite:.2f} |", flush=True)
        print(f"\nsearch latency ({args.search} articles, {len(QUERIES)} queries x 3, median ms)")
        print("| | SQLite | PostgreSQL |\n|---|---|---|")
        lite = str(Path(folder) / "search.db")
        url = new_pg(args.pg)
        try:
            for target in (lite, url):
                fill(target, args.search)
            for rank in (False, True):
                print(f"| {'ranked' if rank else 'newest first'} | {latency(lite, rank):.1f} | {latency(url, rank):.1f} |")
        finally:
            drop_pg(args.pg, url)


if __name__ == "__main__":
    main()
