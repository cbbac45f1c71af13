"""fetch, load_file and get_page against real HTTP servers on 127.0.0.1 (no mocks)."""
from __future__ import annotations

import gzip
import socket
import struct
import threading
import time
import tracemalloc
import zlib
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest

from scraper.errors import (FetchError, FetchTimeout, HTTPStatusError, NetworkError, NotHTML, TooLarge,
                            TooManyRedirects, UnsupportedURL)
from scraper.fetch.http import DEFAULT_USER_AGENT, FetchOptions, fetch, get_page, load_file
from scraper.models import FetchAttempt

ARTICLE = (Path(__file__).parent / "fixtures" / "fetch" / "arabic-article.txt").read_text("utf-8")
HTML = f'<html lang="ar"><head><title>خبر</title></head><body><p>{ARTICLE}</p></body></html>'
FAST = FetchOptions(timeout=2, total_timeout=10, backoff=0.01)


class Sleeps(list):
    """An injected sleep that records the delays asked for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def answer(handler, head: str, body: bytes = b"") -> None:
    handler.wfile.write(head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body)
    handler.wfile.flush()


# --- the ordinary page, charsets, request headers ---------------------------------------------

def test_page_with_arabic_in_windows_1256_and_the_headers_sent(httpserver):
    httpserver.expect_request("/a").respond_with_data(
        HTML.encode("cp1256"), headers={"Content-Type": "text/html; charset=windows-1256", "ETag": '"v1"'})
    attempts = []
    page = fetch(httpserver.url_for("/a"), FAST, on_attempt=attempts.append)
    assert (page.status, page.html, page.encoding, page.etag) == (200, HTML, "windows-1256", '"v1"')
    assert page.body == HTML.encode("cp1256") and page.final_url == page.url
    assert page.fetched_at.tzinfo is not None and page.fetched_at.utcoffset() == timedelta(0)
    sent = httpserver.log[0][0].headers
    assert sent["User-Agent"] == DEFAULT_USER_AGENT == page.request_headers["User-Agent"]
    assert DEFAULT_USER_AGENT.startswith("scraper/") and "(+http" in DEFAULT_USER_AGENT
    assert attempts == [FetchAttempt(page.url, 200, None, len(page.body), attempts[0].elapsed, '"v1"', None)]


@pytest.mark.parametrize("content_type", ["text/html", None, "text/html; charset=utf-8"])
def test_iso_8859_6_page_without_or_with_a_wrong_charset(raw_server, content_type):
    head = "HTTP/1.0 200 OK" + (f"\nContent-Type: {content_type}" if content_type else "")
    page = fetch(raw_server.route("/a", lambda h: answer(h, head, HTML.encode("iso8859_6"))), FAST)
    assert (page.html, page.encoding) == (HTML, "iso-8859-6")


def test_custom_user_agent(httpserver):
    httpserver.expect_request("/a", headers={"User-Agent": "probe/1"}).respond_with_data(
        "<p>x</p>", content_type="text/html")
    assert fetch(httpserver.url_for("/a"), FetchOptions(user_agent="probe/1")).html == "<p>x</p>"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "raw-deflate", "two-gzip-members"])
def test_compressed_bodies_are_decoded(httpserver, coding):
    data = HTML.encode("utf-8")
    half = len(data) // 2
    body = {"gzip": gzip.compress(data), "deflate": zlib.compress(data),
            "raw-deflate": _raw_deflate(data),
            "two-gzip-members": gzip.compress(data[:half]) + gzip.compress(data[half:])}[coding]
    httpserver.expect_request("/a").respond_with_data(body, content_type="text/html", headers={
        "Content-Encoding": "gzip" if "gzip" in coding else "deflate"})
    page = fetch(httpserver.url_for("/a"), FAST)
    assert page.body == data and page.html == HTML


def _raw_deflate(data: bytes) -> bytes:
    z = zlib.compressobj(wbits=-15)
    return z.compress(data) + z.flush()


def test_an_encoding_we_did_not_ask_for_is_refused_without_retrying(httpserver):
    httpserver.expect_request("/a").respond_with_data(b"\x0b\x02\x80<p>", content_type="text/html",
                                                      headers={"Content-Encoding": "br"})
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'") as err:
        fetch(httpserver.url_for("/a"), FAST, sleep=Sleeps())
    assert not err.value.retryable and len(httpserver.log) == 1


def test_empty_body_is_an_empty_page(httpserver):
    httpserver.expect_request("/a").respond_with_data(b"", content_type="text/html")
    page = fetch(httpserver.url_for("/a"), FAST)
    assert (page.status, page.body, page.html) == (200, b"", "")


def test_conditional_get_304(httpserver):
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    httpserver.expect_request("/a", headers={"If-None-Match": '"v1"', "If-Modified-Since": stamp}
                              ).respond_with_data(b"", status=304, headers={"ETag": '"v1"'})
    page = fetch(httpserver.url_for("/a"), FAST, etag='"v1"', last_modified=stamp)
    assert (page.status, page.not_modified, page.body, page.etag) == (304, True, b"", '"v1"')
    assert page.request_headers["If-None-Match"] == '"v1"'


# --- what is refused ---------------------------------------------------------------------------

def test_image_content_type_is_refused(httpserver):
    httpserver.expect_request("/a.png").respond_with_data(b"\x89PNG\r\n\x1a\n", content_type="image/png")
    with pytest.raises(NotHTML, match="image/png"):
        fetch(httpserver.url_for("/a.png"), FAST)


def test_binary_served_as_html_is_refused_but_allowed_when_html_is_not_expected(httpserver):
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 4
    httpserver.expect_request("/a").respond_with_data(pdf, content_type="text/html")
    with pytest.raises(NotHTML, match="binary"):
        fetch(httpserver.url_for("/a"), FAST)
    page = fetch(httpserver.url_for("/a"), FetchOptions(expect_html=False))
    assert page.body == pdf


def test_feeds_pass_when_html_is_not_expected(httpserver):
    httpserver.expect_request("/feed").respond_with_data("<rss/>", content_type="application/rss+xml")
    with pytest.raises(NotHTML):
        fetch(httpserver.url_for("/feed"), FAST)
    assert fetch(httpserver.url_for("/feed"), FetchOptions(expect_html=False)).html == "<rss/>"


def test_missing_content_type_is_sniffed(raw_server):
    page = raw_server.route("/page", lambda h: answer(h, "HTTP/1.0 200 OK", b"<p>ok</p>"))
    image = raw_server.route("/img", lambda h: answer(h, "HTTP/1.0 200 OK", b"\xff\xd8\xff\xe0\0\x10JFIF\0"))
    assert fetch(page, FAST).html == "<p>ok</p>"
    with pytest.raises(NotHTML, match="binary"):
        fetch(image, FAST)


@pytest.mark.parametrize("url", ["ftp://example.com/a", "javascript:alert(1)", "http:///nohost"])
def test_unsupported_schemes(url):
    with pytest.raises(UnsupportedURL):
        fetch(url)


def test_size_cap_with_and_without_content_length(httpserver, raw_server):
    body = b"<p>" + b"x" * 2_000_000
    httpserver.expect_request("/big").respond_with_data(body, content_type="text/html")
    with pytest.raises(TooLarge, match="Content-Length"):
        fetch(httpserver.url_for("/big"), FetchOptions(max_bytes=1_000_000))
    url = raw_server.route("/stream", lambda h: answer(h, "HTTP/1.0 200 OK\nContent-Type: text/html", body))
    attempts = []
    with pytest.raises(TooLarge, match="1,000,000"):
        fetch(url, FetchOptions(max_bytes=1_000_000), on_attempt=attempts.append)
    assert attempts[0].status == 200 and "1,000,000" in attempts[0].error and attempts[0].bytes > 1_000_000
    assert fetch(url, FetchOptions(max_bytes=len(body))).body == body


def test_gzip_bomb_is_refused_without_expanding_in_memory(raw_server):
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    bomb = b"".join(z.compress(zeros) for _ in range(50)) + z.flush()  # 50 MB of zeros, ~50 KB
    assert len(bomb) < 100_000
    url = raw_server.route("/bomb", lambda h: answer(
        h, f"HTTP/1.0 200 OK\nContent-Type: text/html\nContent-Encoding: gzip\nContent-Length: {len(bomb)}",
        bomb))
    tracemalloc.start()
    try:
        with pytest.raises(TooLarge):
            fetch(url, FetchOptions(max_bytes=1 << 20))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak:,} bytes"


# --- redirects ---------------------------------------------------------------------------------

def test_redirect_chain_is_followed_and_recorded(httpserver):
    httpserver.expect_request("/a").respond_with_data("", status=301, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/c?x=1")})
    httpserver.expect_request("/c").respond_with_data("<p>here</p>", content_type="text/html")
    attempts = []
    page = fetch(httpserver.url_for("/a"), FAST, on_attempt=attempts.append)
    assert page.url == httpserver.url_for("/a") and page.final_url == httpserver.url_for("/c?x=1")
    assert [(a.url, a.status) for a in attempts] == [
        (httpserver.url_for("/a"), 301), (httpserver.url_for("/b"), 302),
        (httpserver.url_for("/c?x=1"), 200)]


def test_redirect_loop_and_long_chain_are_refused(httpserver):
    httpserver.expect_request("/a").respond_with_data("", status=302, headers={"Location": "/b"})
    httpserver.expect_request("/b").respond_with_data("", status=302, headers={"Location": "/a"})
    with pytest.raises(TooManyRedirects, match="loop"):
        fetch(httpserver.url_for("/a"), FAST)
    for n in range(7):
        httpserver.expect_request(f"/hop{n}").respond_with_data(
            "", status=307, headers={"Location": f"/hop{n + 1}"})
    httpserver.expect_request("/hop7").respond_with_data("<p>end</p>", content_type="text/html")
    with pytest.raises(TooManyRedirects, match="more than 5"):
        fetch(httpserver.url_for("/hop0"), FAST)
    assert fetch(httpserver.url_for("/hop0"), FetchOptions(max_redirects=7)).html == "<p>end</p>"


def test_redirect_to_another_scheme_is_refused(httpserver):
    httpserver.expect_request("/a").respond_with_data(
        "", status=302, headers={"Location": "ftp://127.0.0.1/file"})
    with pytest.raises(UnsupportedURL, match="redirected to ftp://"):
        fetch(httpserver.url_for("/a"), FAST)


# --- status codes and retries ------------------------------------------------------------------

def test_404_is_not_retried(httpserver):
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    sleeps = Sleeps()
    with pytest.raises(HTTPStatusError) as err:
        fetch(httpserver.url_for("/gone"), FAST, sleep=sleeps)
    assert (err.value.status, err.value.retryable, len(httpserver.log), sleeps) == (404, False, 1, [])
    assert str(err.value) == f"{httpserver.url_for('/gone')}: HTTP 404 NOT FOUND"


def test_503_then_200_honours_retry_after_seconds(httpserver):
    httpserver.expect_oneshot_request("/a").respond_with_data("busy", status=503, headers={"Retry-After": "7"})
    httpserver.expect_request("/a").respond_with_data("<p>ok</p>", content_type="text/html")
    sleeps, attempts = Sleeps(), []
    page = fetch(httpserver.url_for("/a"), FAST, sleep=sleeps, on_attempt=attempts.append)
    assert page.html == "<p>ok</p>" and sleeps == [7.0]
    assert [a.status for a in attempts] == [503, 200]


def test_429_honours_retry_after_as_an_http_date(httpserver):
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    httpserver.expect_oneshot_request("/a").respond_with_data("slow down", status=429,
                                                              headers={"Retry-After": when})
    httpserver.expect_request("/a").respond_with_data("<p>ok</p>", content_type="text/html")
    sleeps = Sleeps()
    assert fetch(httpserver.url_for("/a"), FetchOptions(total_timeout=60), sleep=sleeps).status == 200
    assert len(sleeps) == 1 and 27 <= sleeps[0] <= 30


def test_retry_after_beyond_the_cap_gives_up_at_once(httpserver):
    httpserver.expect_request("/a").respond_with_data("later", status=503, headers={"Retry-After": "3600"})
    sleeps = Sleeps()
    with pytest.raises(HTTPStatusError) as err:
        fetch(httpserver.url_for("/a"), FAST, sleep=sleeps)
    assert (err.value.status, err.value.retry_after, err.value.retryable) == (503, 3600.0, True)
    assert sleeps == [] and len(httpserver.log) == 1


def test_a_wait_past_the_total_timeout_is_not_made(httpserver):
    httpserver.expect_request("/a").respond_with_data("busy", status=503, headers={"Retry-After": "7"})
    sleeps = Sleeps()
    with pytest.raises(HTTPStatusError, match="503"):
        fetch(httpserver.url_for("/a"), FetchOptions(total_timeout=5), sleep=sleeps)
    assert sleeps == [] and len(httpserver.log) == 1


def test_retry_count_and_exponential_backoff_with_jitter(httpserver):
    httpserver.expect_request("/a").respond_with_data("down", status=502)
    sleeps = Sleeps()
    with pytest.raises(HTTPStatusError) as err:
        fetch(httpserver.url_for("/a"), FetchOptions(retries=3, backoff=1.0), sleep=sleeps)
    assert err.value.status == 502 and len(httpserver.log) == 4
    assert len(sleeps) == 3
    for n, delay in enumerate(sleeps):
        assert 2 ** n / 2 <= delay <= 2 ** n


def test_connection_reset_is_retried_then_succeeds(raw_server):
    calls = []

    def reset_once(h):
        calls.append(1)
        if len(calls) == 1:  # close with RST instead of FIN
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
            return
        answer(h, "HTTP/1.0 200 OK\nContent-Type: text/html", b"<p>ok</p>")

    attempts = []
    page = fetch(raw_server.route("/a", reset_once), FAST, sleep=Sleeps(), on_attempt=attempts.append)
    assert page.html == "<p>ok</p>"
    assert attempts[0].status is None and "reset" in attempts[0].error


def test_connection_refused_has_a_clean_message():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound but not listening: connections are refused
        with pytest.raises(NetworkError) as err:
            fetch(f"http://127.0.0.1:{port}/", FetchOptions(retries=1), sleep=Sleeps())
    message = str(err.value)
    assert "refused" in message.lower() and "object at 0x" not in message and "\n" not in message
    assert err.value.retryable and not isinstance(err.value, FetchTimeout)


# --- broken bodies and slow servers ------------------------------------------------------------

def test_wrong_content_length_is_a_truncated_body(raw_server):
    url = raw_server.route("/a", lambda h: answer(
        h, "HTTP/1.1 200 OK\nContent-Type: text/html\nContent-Length: 100\nConnection: close", b"<p>" * 10))
    with pytest.raises(NetworkError, match="before the end of the body"):
        fetch(url, FetchOptions(retries=0))


def test_truncated_gzip_is_refused(raw_server):
    data = gzip.compress(HTML.encode("utf-8"))[:-20]
    url = raw_server.route("/a", lambda h: answer(
        h, f"HTTP/1.0 200 OK\nContent-Type: text/html\nContent-Encoding: gzip\nContent-Length: {len(data)}",
        data))
    with pytest.raises(NetworkError, match="truncated"):
        fetch(url, FetchOptions(retries=0))


def test_slow_server_times_out(raw_server):
    def slow(h):
        time.sleep(1.5)
        answer(h, "HTTP/1.0 200 OK\nContent-Type: text/html", b"<p>late</p>")

    began = time.monotonic()
    with pytest.raises(FetchTimeout, match="0.5s"):
        fetch(raw_server.route("/slow", slow), FetchOptions(timeout=0.5, retries=0))
    assert time.monotonic() - began < 1.2


def test_a_body_that_stalls_times_out(raw_server):
    def stall(h):
        h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<p>first part")
        h.wfile.flush()
        time.sleep(1.5)

    with pytest.raises(FetchTimeout, match="no data from the server for 0.5s"):
        fetch(raw_server.route("/stall", stall), FetchOptions(timeout=0.5, retries=0))


def test_trickling_server_is_stopped_by_the_total_timeout(raw_server):
    stop = threading.Event()

    def trickle(h):
        h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<p>")
        while not stop.wait(0.1):
            h.wfile.write(b"x")
            h.wfile.flush()

    began = time.monotonic()
    try:
        with pytest.raises(FetchTimeout, match="in total"):
            fetch(raw_server.route("/t", trickle), FetchOptions(timeout=0.5, total_timeout=1.0))
    finally:
        stop.set()
    assert 0.9 < time.monotonic() - began < 2.0


# --- local files -------------------------------------------------------------------------------

def test_load_file_plain_and_gzipped(tmp_path):
    plain, packed = tmp_path / "page.html", tmp_path / "page.html.gz"
    plain.write_bytes(HTML.encode("cp1256"))
    packed.write_bytes(gzip.compress(HTML.encode("iso8859_6")))
    page = load_file(plain)
    assert (page.html, page.encoding, page.status) == (HTML, "windows-1256", 200)
    assert page.final_url == plain.resolve().as_uri()
    page = load_file(packed, url="https://example.com/news/1")
    assert (page.html, page.encoding, page.final_url) == (HTML, "iso-8859-6", "https://example.com/news/1")


def test_get_page_dispatches_on_the_target(tmp_path, httpserver):
    path = tmp_path / "saved page.html"
    path.write_text(HTML, "utf-8")
    httpserver.expect_request("/a").respond_with_data(HTML, content_type="text/html; charset=utf-8")
    assert get_page(str(path), FAST).html == HTML
    assert get_page(path.resolve().as_uri(), FAST, url="https://example.com/a").url == "https://example.com/a"
    assert load_file(path.resolve().as_uri()).html == HTML  # "saved%20page.html" decoded
    assert get_page(httpserver.url_for("/a"), FAST).final_url == httpserver.url_for("/a")
    for bad in ("ftp://example.com/a", str(tmp_path / "missing.html"), "not a url"):
        with pytest.raises(UnsupportedURL):
            get_page(bad, FAST)


def test_a_gzipped_file_that_inflates_past_the_cap_is_refused(tmp_path):
    import gzip as gz

    from scraper.errors import TooLarge
    from scraper.fetch.http import load_file

    bomb = tmp_path / "page.html.gz"
    with gz.open(bomb, "wb") as f:
        for _ in range(30):
            f.write(b"\0" * (1 << 20))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(TooLarge, match="inflates to more than"):
        load_file(bomb, max_bytes=1 << 20)
    small = tmp_path / "ok.html.gz"
    small.write_bytes(gz.compress("<html><body><p>نص</p></body></html>".encode()))
    assert "نص" in load_file(small).html
