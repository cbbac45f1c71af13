"""What an unchanged site costs a cron run: listing requests and body bytes, first run against later ones.

    python bench/listings.py            # two runs; --runs N for more

A local news site on 127.0.0.1 shaped like a real one: robots.txt with a Sitemap: line, a home page
(60 article links, an Atom feed named by <link rel=alternate>), an RSS feed of 50 items, and a
sitemap index over a news sitemap of 1,000 URLs and 12 monthly sitemaps of 1,000 URLs each. The
server sends ETag and Last-Modified and answers 304 when they match, as news CMSes and CDNs do.
Every run is `scraper archive --max 0`: discovery traffic only, no article fetched, so the numbers
are what the listing cache changes. The first run reads everything, which is what every run cost
before the cache (and still costs with `scraper discover`); later runs send the validators.
"""
from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.synthetic import SiteHandler, serve  # noqa: E402

SITEMAP = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
NEWS = 'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"'
MODIFIED = formatdate(1764460800, usegmt=True)


def site(base: str) -> dict[str, bytes]:
    pages = {"/robots.txt": f"User-agent: *\nDisallow: /private/\nSitemap: {base}/sitemap.xml\n"}
    links = "".join(f'<li><a href="/news/{n}/story">خبر رقم {n}</a></li>' for n in range(1, 61))
    pages["/"] = ('<html><head><link rel="alternate" type="application/atom+xml" href="/atom.xml"></head>'
                  f"<body><ul>{links}</ul></body></html>")
    pages["/rss.xml"] = "<rss version='2.0'><channel>" + "".join(
        f"<item><title>عنوان الخبر رقم {n}</title><link>{base}/news/{n}/story</link>"
        f"<pubDate>Mon, 30 Nov 2026 04:{n % 60:02d}:00 +0000</pubDate></item>" for n in range(1, 51)
    ) + "</channel></rss>"
    pages["/atom.xml"] = '<feed xmlns="http://www.w3.org/2005/Atom">' + "".join(
        f'<entry><title>خبر {n}</title><link href="{base}/news/{n}/story"/></entry>' for n in range(40, 80)
    ) + "</feed>"
    months = [f"/sitemap-2026-{m:02d}.xml" for m in range(12, 0, -1)]
    pages["/sitemap.xml"] = f"<sitemapindex {SITEMAP}>" + "".join(
        f"<sitemap><loc>{base}{p}</loc></sitemap>" for p in ["/sitemap-news.xml", *months]) + "</sitemapindex>"
    pages["/sitemap-news.xml"] = f"<urlset {SITEMAP} {NEWS}>" + "".join(
        f"<url><loc>{base}/news/{n}/story</loc><news:news><news:publication_date>2026-11-30T04:00:00Z"
        f"</news:publication_date><news:title>عنوان الخبر رقم {n}</news:title></news:news></url>"
        for n in range(1, 1001)) + "</urlset>"
    for i, path in enumerate(months):
        pages[path] = f"<urlset {SITEMAP}>" + "".join(
            f"<url><loc>{base}/news/{n}/story</loc><lastmod>2026-01-01</lastmod></url>"
            for n in range(1001 + i * 1000, 2001 + i * 1000)) + "</urlset>"
    return {path: text.encode() for path, text in pages.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2, help="runs in a row (default 2)")
    args = parser.parse_args()
    log: list[tuple[str, int, int]] = []     # (path, status, body bytes) of each request
    pages: dict[str, bytes] = {}

    class Handler(SiteHandler):
        def do_GET(self):
            body = pages.get(self.path)
            if body is None:
                log.append((self.path, 404, 0))
                self.send(404, b"", "text/plain")
                return
            etag = '"' + hashlib.sha1(body).hexdigest()[:12] + '"'
            match = self.headers.get("If-None-Match")
            if match == etag or (not match and self.headers.get("If-Modified-Since") == MODIFIED):
                log.append((self.path, 304, 0))
                self.send(304, b"", "text/plain", ETag=etag, Last_Modified=MODIFIED)
                return
            log.append((self.path, 200, len(body)))
            kind = "application/xml" if self.path.endswith(".xml") else "text/html"
            self.send(200, body, kind, ETag=etag, Last_Modified=MODIFIED)

    server = serve(Handler)
    base = f"http://127.0.0.1:{server.server_port}"
    pages.update(site(base))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "sites.toml").write_text(
            f'[sites.local]\nstart = ["{base}/"]\nfeeds = ["{base}/rss.xml"]\n'
            f"article = '^http://127\\.0\\.0\\.1:{server.server_port}/news/\\d+/'\ndelay = 0\n")
        db = str(Path(tmp) / "archive.db")
        for run in range(1, args.runs + 1):
            log.clear()
            done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "archive", "--db", db, "--site", "local",
                                   "--config", str(Path(tmp) / "sites.toml"), "--max", "0", "--quiet"],
                                  capture_output=True, text=True)
            rows.append((run, done.returncode, len(log), sum(s == 304 for _, s, _ in log),
                         sum(p == "/robots.txt" for p, _, _ in log), sum(b for _, _, b in log)))
    server.shutdown()
    print(f"{'run':>3}  {'exit':>4}  {'requests':>8}  {'304':>4}  {'robots.txt':>10}  {'body bytes':>11}  × run 1")
    first = rows[0][5] or 1
    for run, code, requests, not_modified, robots, size in rows:
        print(f"{run:>3}  {code:>4}  {requests:>8}  {not_modified:>4}  {robots:>10}  {size:>11,}  {size / first:.3f}")


if __name__ == "__main__":
    main()
