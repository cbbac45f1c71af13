"""The peer of `bench/archive.py --real`: a small Scrapy spider that calls trafilatura on every article.

    python bench/spider.py --sitemap URL [--sitemap URL ...] --workers 8 --delay 0.5 --out items.jsonl

What a developer would write to archive news with off-the-shelf tools: a SitemapSpider over the
same sitemaps the archiver reads, trafilatura's `extract` with its metadata as JSON for each
article, the items written to a JSON-lines feed. Politeness as the archiver's: `--workers`
requests at once, one at a time per host, robots.txt obeyed. Scrapy counts its delay from one
request's start to the next, the archiver from one answer's end to the next request, so the bench
passes ``latency + delay`` here: both then ask a host at most once every latency + delay seconds.
The settings are the ones Scrapy's "broad crawls" advice gives a crawl over many hosts
(a scheduler that picks the least busy host, no cookies, quiet logs).

Prints one JSON line: the articles extracted and failed, and when the first article was handed
to the downloader and the last one finished (time.monotonic), for the bench to compute pages/s.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sitemap", action="append", required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds from one request's start to the next, per host")
    parser.add_argument("--out", required=True, help="the JSON-lines feed the items go to")
    args = parser.parse_args()

    import trafilatura
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess
    from scrapy.spiders import SitemapSpider

    seen = {"ok": 0, "failed": 0, "first": None, "last": None}

    def article_scheduled(request, spider):
        if "/news/" in request.url and seen["first"] is None:
            seen["first"] = time.monotonic()

    def done(ok: bool) -> None:
        seen["ok" if ok else "failed"] += 1
        seen["last"] = time.monotonic()

    class News(SitemapSpider):
        name = "news"
        sitemap_urls = args.sitemap
        sitemap_rules = [("/news/", "parse_article")]

        @classmethod
        def from_crawler(cls, crawler, *a, **kw):
            spider = super().from_crawler(crawler, *a, **kw)
            crawler.signals.connect(article_scheduled, signal=signals.request_scheduled)
            crawler.signals.connect(lambda failure, request, spider: done(False), signal=signals.spider_error)
            return spider

        def parse_article(self, response):
            record = trafilatura.extract(response.text, url=response.url, output_format="json",
                                         with_metadata=True)
            done(record is not None)
            if record is not None:
                yield {"url": response.url, "record": record}

    process = CrawlerProcess(settings={
        "CONCURRENT_REQUESTS": args.workers,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
        "DOWNLOAD_DELAY": args.delay,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "AUTOTHROTTLE_ENABLED": False,
        "ROBOTSTXT_OBEY": True,
        "RETRY_TIMES": 1,
        "DOWNLOAD_TIMEOUT": 20,
        "COOKIES_ENABLED": False,
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.DownloaderAwarePriorityQueue",
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "FEEDS": {args.out: {"format": "jsonlines", "encoding": "utf8"}},
    })
    process.crawl(News)
    process.start()
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
