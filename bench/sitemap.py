"""Peak memory of `scraper archive` reading huge sitemaps: a sitemap of 1 million URLs, and an index
over 3 such sitemaps (3 million), served gzipped from 127.0.0.1; the run queues them (--max 0: no
article is fetched). Each run is a child process, so its peak RSS is its own.

    python bench/sitemap.py [--millions 1 3]

Run it with PYTHONPATH pointing at another checkout to measure that code the same way.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))
from tests.synthetic import serve_files  # noqa: E402

PER_FILE = int(os.environ.get("SITEMAP_PER_FILE", 1_000_000))


def child(db: str, config: str) -> None:
    from datetime import timedelta

    from scraper.crawl.run import RunOptions, run_archive

    began = time.perf_counter()
    kw = {"max_time": None} if "max_time" in RunOptions.__dataclass_fields__ else {}
    report = run_archive(db, RunOptions(config=Path(config), max_new=0, recheck_after=timedelta(days=999), **kw))
    # VmHWM starts afresh at exec; ru_maxrss counts the parent this child was forked from, which
    # held the generated sitemaps (247 MB "for 1M URLs" was that parent's peak).
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    print(json.dumps({"seconds": round(time.perf_counter() - began, 1), "peak_mb": round(peak, 1),
                      "discovered": report.counts["discovered"]}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--millions", type=int, nargs="+", default=[1, 3],
                        help="sitemaps of SITEMAP_PER_FILE URLs (default 1,000,000) in each run")
    args = parser.parse_args()
    files = {}

    server = serve_files(files)
    base = f"http://127.0.0.1:{server.server_port}"
    for part in range(max(args.millions)):
        urls = "".join(f"<url><loc>{base}/n/{part * PER_FILE + i}</loc></url>" for i in range(PER_FILE))
        files[f"/part{part}.xml.gz"] = gzip.compress(
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode(), 6)
    for millions in args.millions:
        children = "".join(f"<sitemap><loc>{base}/part{p}.xml.gz</loc></sitemap>" for p in range(millions))
        files[f"/index{millions}.xml"] = (f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                          f"{children}</sitemapindex>").encode()
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "sites.toml"
            config.write_text(f'[sites.big]\nsitemaps = ["{base}/index{millions}.xml"]\n'
                              f"article = '/n/\\d+$'\ndelay = 0\n", encoding="utf-8")
            db = str(Path(folder) / "a.db")
            out = subprocess.run([sys.executable, __file__, "--child", db, str(config)], capture_output=True,
                                 text=True, env={**os.environ})
            if out.returncode != 0:
                print(out.stderr[-2000:])
                continue
            figures = json.loads(out.stdout.strip().splitlines()[-1])
            with sqlite3.connect(db) as conn:
                queued = conn.execute("SELECT count(*) FROM queue").fetchone()[0]
            print(f"{millions} x {PER_FILE:,} URLs: {figures['seconds']} s, peak RSS {figures['peak_mb']} MB, "
                  f"{queued:,} queued")
    server.shutdown()


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
