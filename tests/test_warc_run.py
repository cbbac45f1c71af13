"""`scraper archive --warc` writes every exchange of the run that had an answer: robots.txt, feeds,
sitemaps and start pages as well as the articles (issue 10 §4: only the articles were written, though
the README said every exchange); a replay or an audit needs them. Checked with warcio, digests too."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from cli import EXIT_OK, cli
from tests.test_crash import article_html
from tests.synthetic import SiteHandler, serve

ARTICLES = 4


class Site:
    """robots.txt, a start page, an RSS feed and a sitemap, each naming the articles."""

    def __init__(self):
        site = self

        class Handler(SiteHandler):
            def do_GET(self):
                links = [f"{site.base}/news/{n}/story" for n in range(ARTICLES)]
                if self.path == "/robots.txt":
                    self.send(200, b"User-agent: *\nAllow: /\n", "text/plain")
                elif self.path == "/":
                    anchors = "".join(f'<a href="{u}">story</a>' for u in links[:2])
                    self.send(200, f"<html><body>{anchors}</body></html>".encode(), "text/html; charset=utf-8")
                elif self.path == "/rss.xml":
                    items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in links[1:3])
                    self.send(200, f"<rss><channel>{items}</channel></rss>".encode(), "application/rss+xml")
                elif self.path == "/sitemap.xml":
                    urls = "".join(f"<url><loc>{u}</loc></url>" for u in links[2:])
                    self.send(200, ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                    f"{urls}</urlset>").encode(), "application/xml")
                elif self.path.startswith("/news/"):
                    self.send(200, article_html(int(self.path.split("/")[2])), "text/html; charset=utf-8")
                else:
                    self.send(404, b"not here", "text/plain")

        self.server = serve(Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def sites_toml(self, folder: Path) -> Path:
        path = folder / "sites.toml"
        path.write_text(f'[sites.local]\nstart = ["{self.base}/"]\nfeeds = ["{self.base}/rss.xml"]\n'
                        f'sitemaps = ["{self.base}/sitemap.xml"]\narticle = "/news/"\ndelay = 0\n',
                        encoding="utf-8")
        return path

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_archive_writes_every_exchange_to_the_warc(tmp_path):
    site = Site()
    try:
        config = site.sites_toml(tmp_path)
        warc = tmp_path / "run.warc.gz"
        result = CliRunner().invoke(cli, ["archive", "--config", str(config), "--warc", str(warc),
                                          "--db", str(tmp_path / "a.db")])
        assert result.exit_code == EXIT_OK, result.output
    finally:
        site.close()
    responses, requests = [], []
    with open(warc, "rb") as stream:
        for record in ArchiveIterator(stream, check_digests=True, verify_http=True):   # raises on a bad one
            uri = record.rec_headers.get_header("WARC-Target-URI")
            if record.rec_type == "response":
                assert record.http_headers.get_statuscode() == "200"
                assert record.content_stream().read()
                responses.append(uri)
            elif record.rec_type == "request":
                requests.append(uri)
    wanted = [f"{site.base}/robots.txt", f"{site.base}/", f"{site.base}/rss.xml", f"{site.base}/sitemap.xml",
              *(f"{site.base}/news/{n}/story" for n in range(ARTICLES))]
    assert sorted(responses) == sorted(wanted)         # each exchange once
    assert sorted(requests) == sorted(wanted)
