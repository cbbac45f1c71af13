"""Benchmark: `scraper archive` throughput against its politeness limit, and its memory at scale.

    python bench/archive.py                          # 1,000 then 10,000 pages, 20 hosts, 100 ms
    python bench/archive.py --pages 3000 --hosts 4 --delay 0.5 --latency 0.1 --workers 8
    python bench/archive.py --real ...               # real pages, against a Scrapy spider: bench/realpages.py

Local news hosts (127.0.0.2, 127.0.0.3, ... each a separate host to the archiver) answer every
article after a set latency and list their articles in a sitemap. A child process runs the real
archive run (discovery, queue, polite fetch, extract, store) and reports pages per second over
the fetch phase and its peak RSS. The limit the run cannot beat is the smaller of
``workers / latency`` (every worker always waiting on an answer) and
``hosts / (latency + delay)`` (each host one request at a time, `delay` between them):
the issue asks for at least 80 % of it, and for peak RSS at 10,000 pages within 50 MB of 1,000.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.synthetic import SiteHandler, serve as serve_handler  # noqa: E402  (needs the repository root on the path)

WORDS = ("أعلنت الحكومة اليوم عن خطة جديدة لتطوير قطاع الطاقة في المنطقة وقال الوزير إن المشروع "
         "يشمل مراحل متعددة تبدأ بدراسة الاحتياجات وتنتهي بالتنفيذ الكامل بمشاركة القطاع الخاص").split()


def article(host: int, n: int) -> bytes:
    text = " ".join(WORDS[(n + i * host) % len(WORDS)] for i in range(60))
    return (f'<html lang="ar"><head><meta charset="utf-8"><title>خبر {host}-{n}</title>'
            f'<meta property="article:published_time" content="2024-03-28T10:00:00+04:00"></head>'
            f'<body><h1>خبر {host}-{n}</h1><article><p>{text} ({host}/{n}).</p>'
            f'<p>{text[::-1]}</p></article></body></html>').encode()


def serve(hosts: int, port: int, pages: int, latency: float, ready) -> None:
    """In a child process: one threaded HTTP server per host address, all on ``port``."""
    per_host = -(-pages // hosts)

    def handler_for(host: int):
        class Handler(SiteHandler):
            def do_GET(self):
                status = 200
                if self.path == "/sitemap.xml":
                    count = min(per_host, pages - (host - 2) * per_host)
                    locs = "".join(f"<url><loc>http://127.0.0.{host}:{port}/news/{n}/a</loc></url>"
                                   for n in range(max(0, count)))
                    body, ctype = (f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                   f'{locs}</urlset>').encode(), "application/xml"
                elif self.path.startswith("/news/"):
                    time.sleep(latency)
                    body, ctype = article(host, int(self.path.split("/")[2])), "text/html; charset=utf-8"
                else:      # robots.txt included: missing means everything is allowed
                    status, body, ctype = 404, b"not here", "text/plain"
                self.send(status, body, ctype)
        return Handler

    servers = []
    for host in range(2, 2 + hosts):
        server = serve_handler(handler_for(host), f"127.0.0.{host}", port)
        server.handle_error = lambda request, address: None   # a client hanging up is no news
        servers.append(server)
    ready.set()
    threading.Event().wait()


def child(args) -> None:
    """One measured run, in its own process so its peak RSS is its own."""
    from scraper.crawl.run import Reporter, RunOptions, run_archive

    class Clock(Reporter):
        started = ended = 0.0
        done = 0

        def planned(self, total):
            self.started = time.monotonic()

        def outcome(self, url, status, detail=None):
            self.done += 1
            self.ended = time.monotonic()

    config = Path(args.workdir) / "sites.toml"
    config.write_text("".join(
        f"[sites.h{h}]\nsitemaps = ['http://127.0.0.{h}:{args.port}/sitemap.xml']\n"
        f"article = '/news/'\ndelay = {args.delay}\n\n" for h in range(2, 2 + args.hosts)))
    clock = Clock()
    began = time.monotonic()
    report = run_archive(Path(args.workdir) / f"bench-{args.pages}.db",
                         RunOptions(config=config, workers=args.workers,
                                    sites=tuple(f"h{h}" for h in range(2, 2 + args.hosts))), clock)
    print(json.dumps({
        "pages": clock.done, "saved": report.counts["saved"], "failed": report.counts["failed"],
        "fetch_seconds": clock.ended - clock.started, "run_seconds": time.monotonic() - began,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
    }))


def main() -> None:
    if "--real" in sys.argv:
        from bench.realpages import main as real
        sys.exit(real(sys.argv[1:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        args.pages = args.pages[0]
        child(args)
        return

    limit = min(args.workers / args.latency, args.hosts / (args.latency + args.delay))
    print(f"{args.hosts} hosts, latency {args.latency * 1000:.0f} ms, delay {args.delay:g} s, "
          f"{args.workers} workers: limit {limit:.1f} pages/s "
          f"(workers/latency {args.workers / args.latency:.1f}, "
          f"hosts/(latency+delay) {args.hosts / (args.latency + args.delay):.1f})")
    results = {}
    for pages in args.pages:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        ready = multiprocessing.Event()
        server = multiprocessing.Process(target=serve, args=(args.hosts, port, pages, args.latency, ready),
                                         daemon=True)
        server.start()
        ready.wait(10)
        try:
            with tempfile.TemporaryDirectory() as workdir:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", "--pages", str(pages), "--hosts", str(args.hosts),
                     "--latency", str(args.latency), "--delay", str(args.delay), "--workers",
                     str(args.workers), "--port", str(port), "--workdir", workdir],
                    check=True, capture_output=True, text=True).stdout
        finally:
            server.terminate()
        result = json.loads(out)
        rate = result["pages"] / result["fetch_seconds"]
        results[pages] = result
        print(f"{pages:>6} pages: {result['saved']} saved, {result['failed']} failed; "
              f"{rate:.1f} pages/s = {100 * rate / limit:.0f} % of the limit; whole run "
              f"{result['run_seconds']:.1f} s; peak RSS {result['peak_rss_mb']:.1f} MB; "
              f"{1000 * result['cpu_seconds'] / max(1, result['pages']):.1f} ms CPU per page")
    if len(results) >= 2:
        small, large = min(results), max(results)
        growth = results[large]["peak_rss_mb"] - results[small]["peak_rss_mb"]
        print(f"peak RSS growth from {small:,} to {large:,} pages: {growth:.1f} MB (must stay under 50)")


if __name__ == "__main__":
    main()
