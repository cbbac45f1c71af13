"""`scraper discover` over a sitemap of many URLs: each URL once with every listing that named it,
in memory that does not grow with the sitemap (the URLs wait in a scratch table on disk)."""
from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from scraper.models import Found
from scraper.store.scratch import FoundSet
from tests.synthetic import serve_files
from tests.test_warc_damage import PEAK   # the child's own peak RSS

ROOT = Path(__file__).resolve().parent.parent


def test_found_urls_are_kept_once_each_with_every_listing_in_first_found_order():
    with FoundSet() as found:
        found.add([Found("https://a.example/1", "feed", "https://a.example/rss"),
                   Found("https://a.example/2", "sitemap", "https://a.example/s.xml", also=["feed https://a.example/rss"])])
        found.add([Found("https://a.example/1", "sitemap", "https://a.example/s.xml"),
                   Found("https://a.example/3", "start-page", "https://a.example/")])
        assert list(found) == [
            ("https://a.example/1", ["feed https://a.example/rss", "sitemap https://a.example/s.xml"]),
            ("https://a.example/2", ["sitemap https://a.example/s.xml", "feed https://a.example/rss"]),
            ("https://a.example/3", ["start-page https://a.example/"])]
        assert len(found) == 3


def discover_peak(tmp_path: Path, n: int) -> tuple[float, list[str]]:
    """Peak RSS (MB) of `scraper discover` over a feed and a gzipped sitemap of ``n`` URLs, and its lines."""
    files = {}

    server = serve_files(files, "application/rss+xml")
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        files["/rss.xml"] = f"<rss><channel><item><link>{base}/n/7</link></item></channel></rss>".encode()
        urls = "".join(f"<url><loc>{base}/n/{i}</loc></url>" for i in range(n))
        files["/s.xml.gz"] = gzip.compress(
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode())
        config = tmp_path / f"sites{n}.toml"
        config.write_text(f'[sites.big]\nfeeds = ["{base}/rss.xml"]\nsitemaps = ["{base}/s.xml.gz"]\n'
                          f"article = '/n/\\d+$'\ndelay = 0\n", encoding="utf-8")
        out = tmp_path / f"out{n}.txt"
        with open(out, "wb") as stdout:
            done = subprocess.run([sys.executable, "-c", PEAK, "discover", "big", "--all", "--config", str(config),
                                   "--db", str(tmp_path / "none.db")], cwd=ROOT, stdout=stdout,
                                  stderr=subprocess.PIPE, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        (peak,) = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("PEAK ")]
        return peak / 1024, out.read_text(encoding="utf-8").splitlines()
    finally:
        server.shutdown()
        server.server_close()


def test_discover_memory_does_not_grow_with_a_sitemap_of_60000_urls(tmp_path):
    small, lines = discover_peak(tmp_path, 3_000)
    assert len(lines) == 3_000
    big, lines = discover_peak(tmp_path, 60_000)
    assert len(lines) == 60_000 and len({line.split("\t")[0] for line in lines}) == 60_000
    (seven,) = [line.split("\t") for line in lines if line.split("\t")[0].endswith("/n/7")]
    assert [listing.split()[0] for listing in seven[1:]] == ["feed", "sitemap"]   # both listings, one line
    # Held in a dict, 57,000 more URLs cost 18 MB (before: 53.4 MB for 3,000, 71.2 MB for 60,000).
    assert big - small < 8, f"{small:.0f} MB for 3,000 URLs, {big:.0f} MB for 60,000"
