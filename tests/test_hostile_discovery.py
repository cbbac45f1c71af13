"""Hostile feeds and sitemaps: nothing expanded, nothing read from disk or network, loops stop, memory flat.

tests/test_discover.py checks that a small entity declaration is refused; here the real attacks:
a ten-level billion laughs, external entities aimed at a local file (whose content must never
appear) and at a server on 127.0.0.1 (which must never be asked), parameter entities, an external
DTD and XInclude. Then sitemap indexes that point at themselves or at each other, a 50,000-URL
sitemap parsed in a child process whose peak memory is measured, and malformed documents, which
give what could be read plus one warning line.
"""
from __future__ import annotations

import gzip
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scraper.crawl.discover import discover_site
from scraper.crawl.feeds import FeedError, parse_feed, parse_sitemap
from scraper.fetch.http import FetchOptions
from scraper.crawl.politeness import PoliteClient, Politeness
from scraper.profiles import Profile

REPO = Path(__file__).resolve().parents[1]
SITEMAP_NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def laughs(levels: int = 10) -> str:
    """The classic entity bomb: 10 levels of 10 copies expand to 10**10 'lol's (about 30 GB)."""
    decls = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{("&lol%d;" % (n - 1)) * 10}">' for n in range(1, levels + 1)]
    return f'<?xml version="1.0"?><!DOCTYPE r [{"".join(decls)}]>', f"&lol{levels};"


def bomb_feed() -> bytes:
    head, ref = laughs()
    return (f"{head}<rss><channel><item><title>{ref}</title><link>https://example.com/news/1/x</link>"
            f"</item></channel></rss>").encode()


def bomb_sitemap() -> bytes:
    head, ref = laughs()
    return f"{head}<urlset {SITEMAP_NS}><url><loc>https://example.com/news/{ref}</loc></url></urlset>".encode()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def client() -> PoliteClient:
    return PoliteClient(FetchOptions(retries=0, timeout=5, total_timeout=10), Politeness(0.0))


def answer(body: bytes, ctype: str = "application/xml", status: int = 200):
    def route(h):
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
    return route


def site(raw_server, **sources) -> Profile:
    return Profile(name="hostile", domains=("127.0.0.1",), article_url=r"/news/\d+", delay=0.0,
                   **{k: tuple(raw_server.url(p) for p in v) for k, v in sources.items()})


# --- entity expansion and external entities -------------------------------------------------------

@pytest.mark.parametrize("parse, doc", [(parse_feed, bomb_feed), (parse_sitemap, bomb_sitemap)],
                         ids=["feed", "sitemap"])
@pytest.mark.parametrize("packed", [False, True], ids=["plain", "gzip"])
def test_billion_laughs_is_refused_at_once_without_expanding(parse, doc, packed):
    body = doc()
    if packed:
        body = gzip.compress(body)
    before, began = peak_rss_mb(), time.monotonic()
    # The behaviour, not a library's wording: refused at once, one line, nothing of the bomb shown.
    with pytest.raises(FeedError) as err:
        parse(body, "https://example.com/hostile.xml")
    assert time.monotonic() - began < 2
    assert peak_rss_mb() - before < 50          # expanded, it would be gigabytes
    assert "\n" not in str(err.value) and "lol" not in str(err.value)


@pytest.fixture
def secret(tmp_path) -> Path:
    """A local file, and beside it a DTD declaring an entity whose value is just as secret."""
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT", encoding="utf-8")
    (tmp_path / "secret.dtd").write_text('<!ENTITY leak "TOP-SECRET-CONTENT from the DTD">', encoding="utf-8")
    return path


def external_documents(secret: Path, spy: str) -> dict[str, bytes]:
    """Documents that would read ``secret`` or ask the ``spy`` URL if any external entity were loaded."""
    file_url, dtd_url = secret.as_uri(), secret.with_suffix(".dtd").as_uri()
    return {
        "general_file": f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{file_url}">]>'
                        f"<rss><channel><item><title>&x;</title><link>https://example.com/news/1</link>"
                        f"</item></channel></rss>",
        "general_http": f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{spy}/general">]>'
                        f"<urlset {SITEMAP_NS}><url><loc>https://example.com/news/&x;</loc></url></urlset>",
        "parameter_http": f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{spy}/parameter"> %p;]>'
                          f"<urlset {SITEMAP_NS}><url><loc>https://example.com/news/1</loc></url></urlset>",
        "parameter_file": f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{dtd_url}"> %p;]>'
                          f"<rss><channel><item><title>&leak;</title><link>https://example.com/news/1</link>"
                          f"</item></channel></rss>",
        "external_dtd_file": f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{dtd_url}">'
                             f"<rss><channel><item><title>&leak;</title><link>https://example.com/news/1</link>"
                             f"</item></channel></rss>",
        "external_dtd": f'<?xml version="1.0"?><!DOCTYPE urlset SYSTEM "{spy}/dtd">'
                        f"<urlset {SITEMAP_NS}><url><loc>https://example.com/news/1</loc></url></urlset>",
        "public_dtd": f'<?xml version="1.0"?><!DOCTYPE rss PUBLIC "-//x//y" "{spy}/public">'
                      f"<rss><channel><item><title>t</title><link>https://example.com/news/1</link>"
                      f"</item></channel></rss>",
        "xinclude": f'<rss xmlns:xi="http://www.w3.org/2001/XInclude"><channel><item>'
                    f'<title><xi:include href="{file_url}" parse="text"/></title>'
                    f"<link>https://example.com/news/1</link></item></channel></rss>",
    }


@pytest.mark.parametrize("name", ["general_file", "general_http", "parameter_http", "parameter_file",
                                  "external_dtd_file", "external_dtd", "public_dtd", "xinclude"])
@pytest.mark.parametrize("parse", [parse_feed, parse_sitemap], ids=["feed", "sitemap"])
def test_external_entities_and_dtds_are_never_read(raw_server, secret, name, parse):
    spy = raw_server.url("/spy")
    body = external_documents(secret, spy)[name].encode()
    try:
        result = parse(body, "https://example.com/hostile.xml")
    except FeedError as exc:
        result = str(exc)
    time.sleep(0.05)    # a request, had one been sent, would have arrived by now
    assert not [p for p in raw_server.requests if p.startswith("/spy")], raw_server.requests
    assert "TOP-SECRET-CONTENT" not in repr(result)


def test_discovery_reports_a_hostile_feed_and_keeps_the_other_sources(raw_server, secret):
    spy = raw_server.url("/spy")
    good = f"<rss><channel><item><link>{raw_server.url('/news/1')}</link></item></channel></rss>".encode()
    raw_server.route("/bomb.xml", answer(bomb_feed()))
    raw_server.route("/xxe.xml", answer(external_documents(secret, spy)["general_file"].encode()))
    raw_server.route("/sitemap.xml", answer(bomb_sitemap()))
    raw_server.route("/good.xml", answer(good))
    profile = site(raw_server, feeds=("/bomb.xml", "/xxe.xml", "/good.xml"), sitemaps=("/sitemap.xml",))
    result = discover_site(profile, client())
    assert list(result.found) == [raw_server.url("/news/1")]
    assert len(result.problems) == 3 and all("\n" not in p and "lol" not in p for p in result.problems)
    assert "TOP-SECRET-CONTENT" not in repr(result)


# --- sitemap indexes that loop ------------------------------------------------------------------

def index(*locs: str) -> bytes:
    return (f"<sitemapindex {SITEMAP_NS}>"
            + "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs) + "</sitemapindex>").encode()


def urlset(*locs: str) -> bytes:
    return (f"<urlset {SITEMAP_NS}>" + "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
            + "</urlset>").encode()


def test_a_sitemap_index_that_points_at_itself_is_read_once(raw_server):
    url = raw_server.url
    raw_server.route("/self.xml", answer(index(url("/self.xml"), url("/pages.xml"))))
    raw_server.route("/a.xml", answer(index(url("/b.xml"))))
    raw_server.route("/b.xml", answer(index(url("/a.xml"), url("/pages.xml"))))
    raw_server.route("/pages.xml", answer(urlset(url("/news/1"), url("/news/2"))))
    began = time.monotonic()
    result = discover_site(site(raw_server, sitemaps=("/self.xml", "/a.xml")), client())
    assert time.monotonic() - began < 10
    assert sorted(result.found) == [url("/news/1"), url("/news/2")]
    asked = [p for p in raw_server.requests if p != "/robots.txt"]
    assert asked.count("/self.xml") == 1 and asked.count("/a.xml") == 1 and asked.count("/b.xml") == 1
    assert asked.count("/pages.xml") == 1 and len(asked) <= 5
    assert not result.problems


def test_an_index_of_thousands_of_sitemaps_or_a_deep_chain_is_bounded(raw_server):
    url = raw_server.url
    raw_server.route("/wide.xml", answer(index(*(url(f"/part/{n}.xml") for n in range(5000)))))
    for n in range(5000):
        raw_server.route(f"/part/{n}.xml", answer(urlset(url(f"/news/{n}"))))
    for n in range(50):   # deep.xml -> deep/0 -> deep/1 -> ... each an index of the next
        raw_server.route(f"/deep/{n}.xml", answer(index(url(f"/deep/{n + 1}.xml"))))
    raw_server.route("/deep.xml", answer(index(url("/deep/0.xml"))))
    began = time.monotonic()
    result = discover_site(site(raw_server, sitemaps=("/wide.xml", "/deep.xml")), client())
    assert time.monotonic() - began < 20
    asked = [p for p in raw_server.requests if p != "/robots.txt"]
    assert len(asked) <= 25 and sum(p.startswith("/deep/") for p in asked) <= 5
    assert 1 <= len(result.found) <= 25


# --- a 50,000-URL sitemap, streamed -----------------------------------------------------------------

def big_news_sitemap(n: int) -> bytes:
    """A news sitemap of ``n`` URLs, each with three images and their captions, as real ones have."""
    image = ("<image:image><image:loc>https://example.com/img/{k}-{i}.jpg</image:loc>"
             "<image:caption>صورة رقم {i} من الخبر {k} في صفحة الأخبار المحلية</image:caption></image:image>")
    news = ("<news:news><news:publication><news:name>الاتحاد</news:name><news:language>ar</news:language>"
            "</news:publication><news:publication_date>2026-01-02T07:04:05+04:00</news:publication_date>"
            "<news:title>عنوان الخبر رقم {k}</news:title></news:news>")
    return (f'<urlset {SITEMAP_NS} xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" '
            'xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">'
            + "".join(f"<url><loc>https://example.com/news/{k}/story</loc>" + news.format(k=k)
                      + "".join(image.format(k=k, i=i) for i in range(3)) + "</url>" for k in range(n))
            + "</urlset>").encode()


# Run in a child: the document is read from a file, then the kernel's peak-RSS mark (VmHWM) is
# reset (clear_refs 5), so the peak measured afterwards is what parsing it costs, nothing earlier.
MEASURE = """
import sys, time
from pathlib import Path

def rss(field):
    line = next(l for l in open("/proc/self/status") if l.startswith(field))
    return int(line.split()[1]) / 1024

from lxml import etree
from scraper.crawl.feeds import parse_sitemap
body = Path(sys.argv[2]).read_bytes()
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    print("unsupported 0")
    sys.exit(0)
before = rss("VmRSS:")
began = time.monotonic()
if sys.argv[1] == "stream":
    pages, children = parse_sitemap(body, "https://example.com/sitemap.xml")
    assert len(pages) == 50_000 and not children and pages[-1].title == "عنوان الخبر رقم 49999"
else:
    tree = etree.fromstring(body)
print(rss("VmHWM:") - before, time.monotonic() - began)
"""


def measure(path: Path, *hows: str) -> dict[str, tuple[float, float]]:
    """{how: (MB the peak grew by, seconds)}: one child each, all at once (each has its own peak)."""
    children = {how: subprocess.Popen([sys.executable, "-c", MEASURE, how, str(path)], cwd=REPO, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE) for how in hows}
    measured = {}
    for how, child in children.items():
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        if out.startswith("unsupported"):
            pytest.skip("this kernel cannot reset the peak-RSS mark (/proc/self/clear_refs)")
        grown, elapsed = map(float, out.split())
        measured[how] = grown, elapsed
    return measured


def test_a_50000_url_news_sitemap_is_streamed_in_bounded_memory(tmp_path):
    path = tmp_path / "sitemap.xml"
    path.write_bytes(big_news_sitemap(50_000))
    measured = measure(path, "stream", "tree")
    (streamed, elapsed), (whole_tree, _) = measured["stream"], measured["tree"]
    assert elapsed < 30
    # The 50,000 results themselves take memory; a parser that held the whole document's tree
    # would need at least what lxml needs for that tree alone, and more.
    assert streamed < min(60, whole_tree / 3), f"streamed: {streamed:.0f} MB, a whole tree: {whole_tree:.0f} MB"


# --- malformed documents: what can be read, plus a warning ------------------------------------------

def truncated_sitemap(base: str, n: int = 200) -> bytes:
    whole = urlset(*(f"{base}/news/{k}" for k in range(n)))
    return whole[: whole.index(f"/news/{n // 2}<".encode())]


def broken_feed(base: str) -> bytes:
    items = "".join(f"<item><title>خبر {k}</title><link>{base}/news/{k}</link></item>" for k in range(10))
    return f"<rss><channel>{items}<item><title>bad & worse <b></title></channel>".encode()


def test_malformed_xml_gives_what_could_be_read_plus_one_warning(raw_server):
    base = raw_server.url("")
    raw_server.route("/cut.xml", answer(truncated_sitemap(base)))
    raw_server.route("/broken.xml", answer(broken_feed(base), "application/rss+xml"))
    result = discover_site(site(raw_server, sitemaps=("/cut.xml",), feeds=("/broken.xml",)), client())
    assert {f"{base}/news/{k}" for k in range(100)} <= set(result.found)
    assert len(result.problems) == 2 and all("\n" not in p for p in result.problems)
    assert any("cut.xml" in p for p in result.problems) and any("broken.xml" in p for p in result.problems)


@pytest.mark.parametrize("body", [
    b"", b"   ", b"\x00\x01\x02binary", b"<html><body><h1>404 Not Found</h1></body></html>",
    "<?xml version='1.0' encoding='windows-1256'?><urlset><url><loc>https://example.com/news/1</loc>"
    "</url></urlset>".encode("utf-8") + "<!-- عربي -->".encode("cp1256"),
    b"<urlset><url><loc>https://example.com/news/1</loc></url></urlset><urlset>",
    b"<urlset><url><loc>https://example.com/news/\x01</loc></url></urlset>",
    gzip.compress(b"<urlset><url><loc>https://example.com/news/1</loc></url></urlset>")[:-8],
    b"<rss><channel>" + b"<item>" * 100_000,
], ids=["empty", "blank", "binary", "html", "bad-encoding", "two-roots", "control-char", "cut-gzip",
        "deep"])
@pytest.mark.parametrize("parse", [parse_feed, parse_sitemap], ids=["feed", "sitemap"])
def test_junk_listings_give_a_list_or_a_feed_error(parse, body):
    began = time.monotonic()
    try:
        result = parse(body, "https://example.com/junk.xml")
    except FeedError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 500
    else:
        assert isinstance(result, (list, tuple))
    assert time.monotonic() - began < 5
