"""Soak benchmark: the real archiver against local hosts where 5 % of the answers are faulty.

    python bench/soak.py                       # 10,000 pages, 8 hosts, 5 % faulty
    python bench/soak.py --pages 2000 --hosts 4 --max-minutes 5

Local news hosts (127.0.0.2, 127.0.0.3, ...: loopback addresses, so that each is a host of its
own to the archiver's politeness, which keys hosts by name and not by port) list their articles
in a sitemap and a feed. One article in twenty answers with a fault, the kinds in rotation:
timeouts, a body trickling one byte a second, resets mid-body, a short body, truncated gzip, a
gzip bomb, redirect loops and long chains, a redirect to ftp://, an empty body, binary as
text/html, 401, 403, 404, 410, and 429/503 with Retry-After in seconds and as a date (those two
answer properly the second time). A child process runs `scraper.crawl.run.run_archive` (the
function behind `scraper archive`) and reports its peak RSS at 1,000 pages and at the end.

Afterwards the database is checked: every URL is either archived or has a failed row in the
fetch log with its reason, none is archived twice or has two final rows, nothing is lost, and
each fault kind ended as expected. Exit 0 when every check holds, 1 otherwise.
"""
from __future__ import annotations

import argparse
import gzip
import http.server
import json
import multiprocessing
import resource
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.synthetic import prose  # noqa: E402  (needs the repository root on the path)

CLIENT_TIMEOUT = 2.0    # seconds per connect/read in the soak run (the CLI's default is 20)
TOTAL_TIMEOUT = 6.0     # seconds per page in all: the trickling host is stopped by this
FAULT_EVERY = 20        # one article in twenty: 5 %

# kind -> (what the archive must end with, a word its error must contain, the queue state)
FAULTS = {
    "timeout": ("failed", "no data from the server", "pending"),
    "trickle": ("failed", "in total", "pending"),
    "reset": ("failed", "connection", "pending"),
    "short_body": ("failed", "before the end of the body", "pending"),
    "truncated_gzip": ("failed", "truncated", "pending"),
    "gzip_bomb": ("failed", "cap", "gave_up"),
    "redirect_loop": ("failed", "redirect loop", "gave_up"),
    "redirect_chain": ("failed", "more than 5 redirects", "gave_up"),
    "other_scheme": ("failed", "redirected to ftp://", "gave_up"),
    "empty": ("failed", "empty page", "pending"),     # no article yet: retried on a later run
    "binary": ("failed", "binary", "gave_up"),
    "http_401": ("failed", "HTTP 401", "gave_up"),
    "http_403": ("failed", "HTTP 403", "gave_up"),
    "http_404": ("failed", "HTTP 404", "gave_up"),
    "http_410": ("failed", "HTTP 410", "gave_up"),
    "http_429_seconds": ("archived", "", "done"),
    "http_503_date": ("archived", "", "done"),
}
KINDS = list(FAULTS)


def fault_of(n: int, hosts: int) -> str | None:
    """The fault article ``n`` answers with, if any: one in twenty on every host, kinds in rotation."""
    i, host = divmod(n, hosts)            # article n is the i-th article of host n % hosts
    if i % FAULT_EVERY != FAULT_EVERY // 2:
        return None
    return KINDS[(i // FAULT_EVERY * hosts + host) % len(KINDS)]


def article(n: int) -> bytes:
    paragraphs = "".join(f"<p>{p}</p>" for p in prose(n))
    return (f'<html lang="ar"><head><meta charset="utf-8"><title>الخبر رقم {n}</title></head><body>'
            f"<h1>الخبر رقم {n}</h1><article>{paragraphs}</article></body></html>").encode()


# --- the hosts (in a child process) ------------------------------------------------------------

def _bomb() -> bytes:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(z.compress(bytes(1 << 20)) for _ in range(64)) + z.flush()   # 64 MB -> ~64 KB


def serve(hosts: int, port: int, pages: int, ready) -> None:
    """One threaded HTTP server per host address; article n lives on host n % hosts."""
    bomb, asked, asked_lock = _bomb(), set(), threading.Lock()

    def first_time(n: int) -> bool:
        with asked_lock:
            new = n not in asked
            asked.add(n)
            return new

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def send(self, status, body=b"", ctype="text/html; charset=utf-8", **headers):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), str(value))
            if "Content_Length" not in headers:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            host = int(self.server.server_address[0].rsplit(".", 1)[1]) - 2
            base = f"http://127.0.0.{host + 2}:{port}"
            mine = range(host, pages, hosts)
            if self.path == "/sitemap.xml":
                locs = "".join(f"<url><loc>{base}/news/{n}/story</loc></url>" for n in mine)
                return self.send(200, f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}'
                                      f"</urlset>".encode(), "application/xml")
            if self.path == "/rss.xml":   # the newest 50 again, with tracking parameters: one row each
                items = "".join(f"<item><link>{base}/news/{n}/story?utm_source=rss#top</link></item>"
                                for n in list(mine)[-50:])
                return self.send(200, f"<rss><channel>{items}</channel></rss>".encode(), "application/rss+xml")
            if self.path.startswith("/hop/"):
                _, _, n, hop = self.path.split("/")
                target = f"/hop/{n}/{int(hop) + 1}" if int(hop) < 8 else f"/news/{n}/story?end"
                return self.send(302, Location=target)
            if not self.path.startswith("/news/"):
                return self.send(404, b"not here", "text/plain")   # robots.txt: everything allowed
            n = int(self.path.split("/")[2])
            kind = fault_of(n, hosts) if not self.path.endswith("?end") else None
            if kind is None:
                return self.send(200, article(n))
            self.close_connection = True
            # http_410 -> fault_410, http_429_seconds -> fault_429, reset -> fault_reset
            getattr(self, "fault_" + (kind.split("_")[1] if kind.startswith("http_") else kind))(n, kind)

        def fault_timeout(self, n, kind):
            time.sleep(CLIENT_TIMEOUT + 1.5)

        def fault_trickle(self, n, kind):
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body><p>")
            for _ in range(int(TOTAL_TIMEOUT) + 4):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(1.0)

        def fault_reset(self, n, kind):
            body = article(n)
            self.wfile.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}"
                             f"\r\n\r\n".encode() + body[:len(body) // 3])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

        def fault_short_body(self, n, kind):
            body = article(n)
            self.send(200, body[:len(body) // 2], Content_Length=len(body))

        def fault_truncated_gzip(self, n, kind):
            self.send(200, gzip.compress(article(n))[:-40], Content_Encoding="gzip")

        def fault_gzip_bomb(self, n, kind):
            self.send(200, bomb, Content_Encoding="gzip")

        def fault_redirect_loop(self, n, kind):
            self.send(301, Location=self.path)

        def fault_redirect_chain(self, n, kind):
            self.send(302, Location=f"/hop/{n}/1")

        def fault_other_scheme(self, n, kind):
            self.send(302, Location=f"ftp://127.0.0.1/news/{n}")

        def fault_empty(self, n, kind):
            self.send(200, b"")

        def fault_binary(self, n, kind):
            self.send(200, b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16)

        def fault_401(self, n, kind):
            status = int(kind.split("_")[1])
            self.send(status, b"no", "text/plain")

        fault_403 = fault_404 = fault_410 = fault_401

        def fault_429(self, n, kind):
            if not first_time(n):
                return self.send(200, article(n))
            self.send(429, b"slow down", "text/plain", Retry_After=1)

        def fault_503(self, n, kind):
            if not first_time(n):
                return self.send(200, article(n))
            when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=2), usegmt=True)
            self.send(503, b"busy", "text/plain", Retry_After=when)

        def log_message(self, *args):
            pass

    for host in range(hosts):
        server = http.server.ThreadingHTTPServer((f"127.0.0.{host + 2}", port), Handler)
        server.daemon_threads = True
        server.handle_error = lambda request, address: None   # clients giving up are the point
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ready.set()
    threading.Event().wait()


# --- the archive run (in a child process, so that its peak RSS is its own) ----------------------

def child(args) -> None:
    from scraper.crawl.run import Reporter, RunOptions, run_archive
    from scraper.fetch.http import FetchOptions

    class Progress(Reporter):
        done = 0

        def outcome(self, url, status, detail=None):
            self.done += 1
            if self.done in (1000, args.pages) or self.done % 2000 == 0:
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(json.dumps({"pages": self.done, "peak_rss_mb": round(rss, 1),
                                  "seconds": round(time.monotonic() - began, 1)}), flush=True)

    config = Path(args.workdir) / "sites.toml"
    config.write_text("".join(
        f"[sites.h{h}]\nsitemaps = ['http://127.0.0.{h + 2}:{args.port}/sitemap.xml']\n"
        f"feeds = ['http://127.0.0.{h + 2}:{args.port}/rss.xml']\narticle = '/news/'\ndelay = 0\n\n"
        for h in range(args.hosts)))
    options = RunOptions(config=config, workers=args.workers, sites=tuple(f"h{h}" for h in range(args.hosts)),
                         fetch=FetchOptions(timeout=CLIENT_TIMEOUT, total_timeout=TOTAL_TIMEOUT,
                                            retries=1, backoff=0.2, retry_after_cap=5.0))
    began = time.monotonic()
    report = run_archive(Path(args.workdir) / "soak.db", options, Progress())
    print(json.dumps({"counts": report.counts, "exit_code": report.exit_code,
                      "seconds": round(time.monotonic() - began, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


# --- the checks ---------------------------------------------------------------------------------

def check(db: Path, pages: int, hosts: int, port: int) -> tuple[list[str], dict]:
    """Every URL archived or failed with its reason, once; returns (failed checks, per-kind table)."""
    url = lambda n: f"http://127.0.0.{n % hosts + 2}:{port}/news/{n}/story"   # noqa: E731
    conn = sqlite3.connect(db)
    problems = []
    if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
        problems.append("integrity_check failed")
    archived = Counter(row[0] for row in conn.execute("SELECT url FROM articles"))
    finals = Counter(row[0] for row in conn.execute(
        "SELECT url FROM fetch_log WHERE outcome NOT IN ('retried', 'discovery') AND url LIKE '%/news/%'"))
    failed = {}
    for u, error in conn.execute("SELECT url, error FROM fetch_log WHERE outcome = 'failed'"):
        failed[u] = error   # a redirect's failure is logged on its last hop; its error names the URL
        if error and error.startswith("http://") and ": " in error:
            failed.setdefault(error.split(": ", 1)[0], error)
    queue = dict(conn.execute("SELECT url, state FROM queue"))
    dupes = conn.execute("SELECT count(*) - count(DISTINCT content_hash) FROM articles").fetchone()[0]
    if dupes or any(n > 1 for n in archived.values()):
        problems.append(f"{dupes} articles archived twice")
    if extra := set(archived) - {url(n) for n in range(pages)}:
        problems.append(f"{len(extra)} unexpected article rows, e.g. {sorted(extra)[0]}")
    table: dict[str, Counter] = {}
    for n in range(pages):
        u, kind = url(n), fault_of(n, hosts) or "none"
        expected, reason, state = FAULTS.get(kind, ("archived", "", "done"))
        row = table.setdefault(kind, Counter())
        row["urls"] += 1
        if u in archived:
            row["archived"] += 1
        elif u in failed:
            row["failed"] += 1
        else:
            row["lost"] += 1
            problems.append(f"lost: {u} ({kind}) is neither archived nor in the fetch log")
        if finals[u] > 1 and u in archived:
            problems.append(f"{u} has {finals[u]} final fetch-log rows")
        got = "archived" if u in archived else "failed"
        if got != expected:
            problems.append(f"{u} ({kind}): {got}, expected {expected}: {failed.get(u)}")
        elif expected == "failed" and reason not in (failed.get(u) or ""):
            problems.append(f"{u} ({kind}): error {failed.get(u)!r} does not say {reason!r}")
        else:
            row["as expected"] += 1
        row["queue " + str(queue.get(u))] += 1
        if queue.get(u) != state:
            problems.append(f"{u} ({kind}): queue state {queue.get(u)}, expected {state}")
    return problems, table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--max-minutes", type=float, default=30.0, help="stop the run after this long")
    parser.add_argument("--keep", help="copy the soak database here afterwards")
    parser.add_argument("--without", action="append", default=[], choices=list(FAULTS), metavar="KIND",
                        help="leave this fault kind out of the rotation (repeatable)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0

    KINDS[:] = [kind for kind in KINDS if kind not in args.without]   # before the hosts start
    faulty = sum(1 for n in range(args.pages) if fault_of(n, args.hosts))
    print(f"{args.pages:,} pages on {args.hosts} hosts, {faulty} faulty ({100 * faulty / args.pages:.1f} %, "
          f"{len(KINDS)} kinds in rotation), {args.workers} workers", flush=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.hosts, port, args.pages, ready), daemon=True)
    server.start()
    ready.wait(10)
    lines = []
    try:
        with tempfile.TemporaryDirectory() as workdir:
            cmd = [sys.executable, __file__, "--child", "--pages", str(args.pages), "--hosts", str(args.hosts),
                   "--workers", str(args.workers), "--port", str(port), "--workdir", workdir]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
            timer = threading.Timer(args.max_minutes * 60, proc.kill)
            timer.start()
            for line in proc.stdout:
                lines.append(json.loads(line))
                if "counts" not in lines[-1]:
                    print(f"  {lines[-1]['pages']:>6,} pages  peak RSS {lines[-1]['peak_rss_mb']:6.1f} MB"
                          f"  {lines[-1]['seconds']:7.1f} s", flush=True)
            proc.wait()
            timer.cancel()
            if proc.returncode != 0 or not lines or "counts" not in lines[-1]:
                print(f"the run did not finish (exit {proc.returncode}; limit {args.max_minutes:g} min)")
                return 1
            problems, table = check(Path(workdir) / "soak.db", args.pages, args.hosts, port)
            if args.keep:
                import shutil
                shutil.copy(Path(workdir) / "soak.db", args.keep)
    finally:
        server.terminate()

    final = lines[-1]
    print(f"run: {final['seconds']:.0f} s, exit {final['exit_code']}, "
          + ", ".join(f"{v} {k}" for k, v in final["counts"].items() if v))
    print(f"{'kind':<18}{'urls':>7}{'archived':>10}{'failed':>8}{'lost':>6}  queue")
    for kind in ["none", *KINDS]:
        row = table.get(kind)
        if row:
            states = ", ".join(f"{k[6:]} {v}" for k, v in row.items() if k.startswith("queue "))
            print(f"{kind:<18}{row['urls']:>7}{row['archived']:>10}{row['failed']:>8}{row['lost']:>6}"
                  f"  {states}")
    at = {line["pages"]: line["peak_rss_mb"] for line in lines if "counts" not in line}
    first = at.get(1000, min(at.values()) if at else 0.0)
    print(f"peak RSS: {first:.1f} MB at 1,000 pages, {final['peak_rss_mb']:.1f} MB at {args.pages:,} "
          f"(growth {final['peak_rss_mb'] - first:+.1f} MB)")
    for problem in problems[:20]:
        print("FAILED CHECK:", problem)
    print("all checks passed" if not problems else f"{len(problems)} checks failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
