"""WARC: pages fetched from a real local server written to a WARC and read back by import-warc give the
same records; foreign (Common Crawl style) WARCs; capture order; damaged files; the writer itself."""
from __future__ import annotations

import gzip
import io
import threading
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from cli import cli
from scraper.extract import extract_page
from scraper.fetch.http import FetchOptions, fetch
from scraper.models import ARTICLE_FIELDS, Page
from scraper.store import Archive
from scraper.use.warc import WarcWriter

PARAGRAPH = "قال مسؤول في وزارة الاقتصاد إن النمو تجاوز التوقعات خلال الربع الأخير من العام الماضي"


def article_html(title: str, extra: str, published: str = "2024-01-05T10:00:00+04:00") -> str:
    return (f'<html lang="ar"><head><meta charset="{{charset}}"><title>{title}</title>'
            f'<meta property="article:published_time" content="{published}"></head>'
            f"<body><article><h1>{title}</h1><p>{PARAGRAPH}</p><p>{extra}</p></article></body></html>")


RECORD_COLUMNS = [f for f in ARTICLE_FIELDS] + ["fetched_at", "http_status", "etag", "last_modified"]


def records(db_path) -> dict[str, dict]:
    with Archive.open(db_path) as archive:
        return {row["url"]: {c: row[c] for c in RECORD_COLUMNS}
                for row in archive.query("SELECT * FROM articles")}


@pytest.fixture
def site(httpserver):
    """Three article pages: gzip-encoded UTF-8, windows-1256, and one behind a redirect; and a 404."""
    first = article_html("الإمارات تستضيف القمة", "وأضاف أن القمة ستعقد في أبوظبي").replace("{charset}", "utf-8")
    httpserver.expect_request("/news/1").respond_with_data(
        gzip.compress(first.encode()), headers={"Content-Encoding": "gzip", "ETag": '"v1"',
                                                "Content-Type": "text/html; charset=utf-8"})
    second = article_html("أسعار النفط", "ارتفعت الأسعار في الأسواق العالمية").replace("{charset}", "windows-1256")
    httpserver.expect_request("/news/2").respond_with_data(
        second.encode("windows-1256"), content_type="text/html; charset=windows-1256",
        headers={"Last-Modified": "Fri, 05 Jan 2024 08:00:00 GMT"})
    httpserver.expect_request("/old/3").respond_with_data("", status=301, headers={"Location": "/news/3"})
    third = article_html("الطقس", "أمطار على الساحل الشرقي").replace("{charset}", "utf-8")
    httpserver.expect_request("/news/3").respond_with_data(third, content_type="text/html; charset=utf-8")
    return httpserver


def test_fetched_pages_round_trip_through_a_warc(site, tmp_path):
    warc_path = tmp_path / "crawl.warc.gz"
    with Archive.open(tmp_path / "first.db") as archive, WarcWriter(warc_path) as warc:
        for path in ("/news/1", "/news/2", "/old/3"):
            page = fetch(site.url_for(path), FetchOptions(retries=0))
            archive.save(extract_page(page), page)
            warc.write_page(page)
    result = CliRunner().invoke(cli, ["import-warc", str(warc_path), "--db", str(tmp_path / "second.db")])
    assert result.exit_code == 0, result.output
    assert "3 saved" in result.stderr
    original, imported = records(tmp_path / "first.db"), records(tmp_path / "second.db")
    assert len(original) == 3 and imported == original
    assert any("أبوظبي" in r["text"] for r in imported.values())      # gzip body stored decoded
    assert any("ارتفعت" in r["text"] for r in imported.values())      # windows-1256 decoded again


@pytest.mark.skipif("--warc" not in [p.opts[0] for p in cli.commands["fetch"].params],
                    reason="`fetch --warc` is wired into the fetch command by the lead")
def test_fetch_command_writes_a_warc_that_imports_to_the_same_records(site, tmp_path, db_target):
    """Fetched into a file, imported into an archive of each engine: the same records."""
    warc_path = tmp_path / "crawl.warc"
    runner = CliRunner()
    urls = [site.url_for(p) for p in ("/news/1", "/news/2", "/old/3")]
    result = runner.invoke(cli, ["fetch", *urls, "--warc", str(warc_path), "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["import-warc", str(warc_path), "--db", db_target])
    assert result.exit_code == 0
    assert records(db_target) == records(tmp_path / "a.db")


# -- others' WARCs ---------------------------------------------------------------------------------

def foreign_warc(path, captures) -> None:
    """A WARC as crawlers write it: raw bytes as received (gzip, chunked), requests, revisits."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, status, ctype, body, when, encode in captures:
            headers = [("Content-Type", ctype)]
            payload = body
            if encode:
                compressed = gzip.compress(body)
                payload = b"%x\r\n%s\r\n0\r\n\r\n" % (len(compressed), compressed)
                headers += [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]
            date = {"WARC-Date": when}
            writer.write_record(writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""), length=0, warc_headers_dict=date,
                http_headers=StatusAndHeaders("GET / HTTP/1.1", [("Host", "x")], is_http_request=True)))
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(payload), warc_headers_dict=date,
                http_headers=StatusAndHeaders(f"{status} X", headers, protocol="HTTP/1.1")))
        writer.write_record(writer.create_revisit_record(
            "https://cc.example/news/1", "sha1:AAAA", "https://cc.example/news/1", "2024-03-01T00:00:00Z"))


def html_bytes(title, extra, charset="utf-8"):
    return article_html(title, extra).replace("{charset}", charset).encode(charset)


def test_common_crawl_style_warc(tmp_path):
    path = tmp_path / "CC-NEWS.warc.gz"
    foreign_warc(path, [
        ("https://cc.example/news/1", 200, "text/html; charset=UTF-8",
         html_bytes("خبر أول", "تفاصيل الخبر الأول"), "2024-02-10T12:30:00Z", True),
        ("https://cc.example/logo.png", 200, "image/png", b"\x89PNG\r\n", "2024-02-10T12:31:00Z", False),
        ("https://cc.example/missing", 404, "text/html", b"<p>not found</p>", "2024-02-10T12:32:00Z", False),
        ("https://cc.example/tag/x", 200, "text/html", b"<html><body><nav>x</nav></body></html>",
         "2024-02-10T12:33:00Z", False),
    ])
    db = tmp_path / "cc.db"
    result = CliRunner().invoke(cli, ["import-warc", str(path), "-v", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 saved" in result.stderr and "1 not HTML" in result.stderr and "1 HTTP 404" in result.stderr
    assert "1 no article" in result.stderr
    (record,) = records(db).values()
    assert record["title"] == "خبر أول" and "تفاصيل" in record["text"]
    assert record["fetched_at"] == "2024-02-10T12:30:00+00:00"        # the capture's date, not today
    assert record["published"] == "2024-01-05T10:00:00+04:00"


def test_an_older_capture_never_replaces_a_newer_one(tmp_path):
    path = tmp_path / "two.warc.gz"
    url = "https://cc.example/news/9"
    foreign_warc(path, [
        (url, 200, "text/html", html_bytes("عنوان", "النسخة الأحدث"), "2024-05-02T00:00:00Z", False),
        (url, 200, "text/html", html_bytes("عنوان", "النسخة الأقدم"), "2024-05-01T00:00:00Z", False),
    ])
    result = CliRunner().invoke(cli, ["import-warc", str(path), "--db", str(tmp_path / "a.db")])
    assert "1 older than archived" in result.stderr
    (record,) = records(tmp_path / "a.db").values()
    assert "الأحدث" in record["text"]


def test_a_damaged_file_keeps_what_was_read(tmp_path):
    good = tmp_path / "good.warc.gz"
    foreign_warc(good, [("https://cc.example/news/5", 200, "text/html", html_bytes("خبر", "نص الخبر"),
                         "2024-02-10T12:30:00Z", False)])
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(good.read_bytes() + b"WARC/1.0\r\nthis is not a record")
    result = CliRunner().invoke(cli, ["import-warc", str(damaged), "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 1 and "damaged.warc.gz" in result.stderr
    assert len(records(tmp_path / "a.db")) == 1
    truncated = tmp_path / "truncated.warc.gz"
    truncated.write_bytes(good.read_bytes()[:len(good.read_bytes()) // 2])
    result = CliRunner().invoke(cli, ["import-warc", str(truncated), "--db", str(tmp_path / "b.db")])
    assert result.exit_code == 1 and "truncated" in result.stderr
    result = CliRunner().invoke(cli, ["import-warc", str(tmp_path / "none.warc"), "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 2


# -- the writer ------------------------------------------------------------------------------------

def page(n: int, body: bytes = b"<html><p>x</p></html>") -> Page:
    url = f"https://news.example/a/{n}"
    return Page(url=url, final_url=url, status=200, headers={"Content-Type": "text/html", "Content-Encoding": "br"},
                body=body, html="", encoding="utf-8", fetched_at=datetime(2024, 1, 1, tzinfo=timezone.utc),
                request_headers={"User-Agent": "scraper-test"})


def read(path) -> list:
    with open(path, "rb") as f:
        return [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.content_stream().read(),
                 r.http_headers.to_str() if r.http_headers else "") for r in ArchiveIterator(f)]


def test_writer_is_thread_safe_and_appends(tmp_path):
    path = tmp_path / "out.warc"
    with WarcWriter(path) as warc:
        threads = [threading.Thread(target=lambda k=k: [warc.write_page(page(k * 100 + i)) for i in range(25)])
                   for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    with WarcWriter(path) as warc:          # a second run appends, no second warcinfo
        warc.write_page(page(999, "<p>مرحبا</p>".encode()))
    recs = read(path)
    kinds = [r[0] for r in recs]
    assert kinds.count("warcinfo") == 1 and kinds.count("response") == 101 and kinds.count("request") == 101
    last = [r for r in recs if r[0] == "response"][-1]
    assert last[2] == "<p>مرحبا</p>".encode()
    # The body is stored decoded, so the headers must not claim an encoding any more.
    assert "\nContent-Encoding: br" not in last[3] and "X-Archive-Orig-Content-Encoding: br" in last[3]
    request = [r for r in recs if r[0] == "request"][-1]
    assert "User-Agent: scraper-test" in request[3] and "Host: news.example" in request[3]


def test_local_file_is_a_resource_record(tmp_path):
    path = tmp_path / "local.warc.gz"
    with WarcWriter(path) as warc:
        warc.write_page(Page(url="/tmp/a.html", final_url="file:///tmp/a.html", status=200, headers={},
                             body=b"<html></html>", html="", encoding="utf-8",
                             fetched_at=datetime(2024, 1, 1, tzinfo=timezone.utc)))
    assert [r[:3] for r in read(path)][1] == ("resource", "file:///tmp/a.html", b"<html></html>")
