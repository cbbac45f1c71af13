"""Every site's discovery starts at once, however few --workers: a discovery thread mostly waits out
its host's delay, so sites beyond the thread count must not wait for other sites' delays."""
from __future__ import annotations

import socket
import threading
import time

from scraper.crawl.run import RunOptions, run_archive
from tests.test_archive import article_html
from tests.synthetic import SiteHandler, serve

SITES = 10
DELAY = 1.0     # robots.txt, then a delay, then the sitemap: a wave of sites costs at least this


def test_sites_beyond_the_worker_count_are_discovered_in_the_same_wave(tmp_path):
    asked: dict[str, float] = {}     # host -> when its sitemap was asked for
    lock = threading.Lock()

    class Handler(SiteHandler):
        def do_GET(self):
            host = self.server.server_address[0]
            if self.path == "/sitemap.xml":
                with lock:
                    asked[host] = time.monotonic()
                loc = f"http://{host}:{port}/news/1/story"
                return self.send(200, f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                                      f"<url><loc>{loc}</loc></url></urlset>".encode(), "application/xml")
            if self.path.startswith("/news/"):
                return self.send(200, article_html(1), "text/html; charset=utf-8")
            self.send(404, b"not here", "text/plain")

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hosts = [f"127.0.0.{n + 2}" for n in range(SITES)]
    servers = [serve(Handler, host, port) for host in hosts]
    try:
        config = tmp_path / "sites.toml"
        config.write_text("".join(f"[sites.s{n}]\nsitemaps = ['http://{host}:{port}/sitemap.xml']\n"
                                  f"article = '/news/'\ndelay = {DELAY}\n\n" for n, host in enumerate(hosts)))
        report = run_archive(tmp_path / "a.db", RunOptions(config=config, workers=2, extract_workers=1,
                                                           sites=tuple(f"s{n}" for n in range(SITES))))
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
    assert report.counts["saved"] == SITES
    # With one discovery thread per worker (2), the sitemaps came in 5 waves, a delay or more apart.
    assert max(asked.values()) - min(asked.values()) < 2 * DELAY
