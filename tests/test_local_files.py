"""Saved pages get the same checks as fetched bodies (issues 10.3, 11.3); `fetch` exits 3 when most
URLs failed (issue 10.4); a page served as text/html with a NUL byte is HTML (WHATWG sniffing).

Before: `scraper fetch /bin/ls --url ...` saved the ELF binary as an article, `extract rand.bin`
printed a garbage record, `fetch typo.html --url http://...` fetched the URL from the network and
said `saved`, `extract adir` said "no such file", and a 1 GiB file reached 2.1 GB of memory before
it was refused.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st
from click.testing import CliRunner

from cli import EXIT_FAILED, EXIT_OK, EXIT_SOME_FAILED, cli
from scraper.charset import looks_binary, sniffs_as_html
from scraper.errors import NotHTML, TooLarge, UnsupportedURL
from scraper.fetch.http import FetchOptions, fetch, load_file
from scraper.store import Archive
from tests.synthetic import prose

ROOT = Path(__file__).resolve().parent.parent
PARAGRAPHS = prose(3, paragraphs=3)
PAGE = ("<html><head><title>Harbour vote</title></head><body><article><h1>Harbour vote</h1>"
        + "".join(f"<p>{p}</p>" for p in PARAGRAPHS) + "</article></body></html>").encode()


def run(*args, **kw):
    return CliRunner().invoke(cli, list(map(str, args)), **kw)


@pytest.fixture
def random_file(tmp_path):
    path = tmp_path / "rand.bin"
    path.write_bytes(os.urandom(20000))
    return path


def test_an_executable_given_to_fetch_is_refused_and_nothing_is_stored(tmp_path):
    db = tmp_path / "a.db"
    result = run("fetch", sys.executable, "--url", "https://example.com/news/1", "--db", db)
    assert result.exit_code == EXIT_FAILED, result.output
    assert "binary data, not an HTML page" in result.stderr
    with Archive.open(db) as archive:
        assert archive.scalar("SELECT count(*) FROM articles") == 0
        assert archive.scalar("SELECT outcome FROM fetch_log") == "failed"


@pytest.mark.parametrize("name", ["rand.bin", "rand.html", "-"])
def test_random_bytes_are_refused_by_extract(tmp_path, name):
    body = os.urandom(20000)
    if name == "-":
        result = run("extract", "-", input=body)
    else:
        (tmp_path / name).write_bytes(body)
        result = run("extract", tmp_path / name)
    assert result.exit_code == EXIT_SOME_FAILED and result.stdout == ""
    assert result.stderr.startswith("Error:") and "binary data" in result.stderr


def test_a_missing_file_with_url_is_an_error_and_nothing_is_fetched(tmp_path, httpserver):
    httpserver.expect_request("/news/1").respond_with_data(PAGE, content_type="text/html")
    db = tmp_path / "a.db"
    result = run("fetch", tmp_path / "typo.html", "--url", httpserver.url_for("/news/1"), "--db", db)
    assert result.exit_code == EXIT_FAILED and "no such file" in result.stderr, result.output
    assert httpserver.log == []
    without_url = run("fetch", "typo.html", "--db", db)
    assert without_url.exit_code == EXIT_FAILED and "no such file" in without_url.stderr
    a_url_with_url = run("fetch", httpserver.url_for("/news/1"), "--url", "https://example.com/x", "--db", db)
    assert a_url_with_url.exit_code == EXIT_FAILED and "no file" in a_url_with_url.stderr
    assert httpserver.log == []


def test_a_directory_is_said_to_be_one(tmp_path):
    result = run("extract", tmp_path)
    assert result.exit_code == EXIT_SOME_FAILED and "is a directory" in result.stderr
    fetched = run("fetch", tmp_path, "--url", "https://example.com/x", "--db", tmp_path / "a.db")
    assert "is a directory" in fetched.stderr
    missing = run("extract", tmp_path / "nothing.html")
    assert missing.exit_code == EXIT_SOME_FAILED and "no such file" in missing.stderr


def test_a_saved_page_still_works_and_several_files_go_on_after_a_bad_one(tmp_path, random_file):
    good = tmp_path / "page.html"
    good.write_bytes(PAGE)
    result = run("extract", random_file, good, "--url", "https://example.com/news/1")
    assert result.exit_code == EXIT_SOME_FAILED
    assert json.loads(result.stdout)["text"].split("\n\n") == PARAGRAPHS


def test_a_big_file_is_refused_from_its_size_before_it_is_read(tmp_path):
    big = tmp_path / "big.html"
    with open(big, "wb") as f:
        f.truncate(1 << 30)          # 1 GiB, sparse: no disk used, but read() would take 1 GiB
    with pytest.raises(TooLarge, match="1,073,741,824 bytes"):
        load_file(big)
    # In a process limited to 300 MB of address space, fetch and extract refuse it in one line.
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (300 << 20, 300 << 20)); "
            "sys.argv = ['scraper'] + sys.argv[1:]; from cli import cli; cli()")
    for args in (["extract", str(big)], ["fetch", str(big), "--url", "https://example.com/1",
                                         "--db", str(tmp_path / "a.db")]):
        done = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode in (EXIT_SOME_FAILED, EXIT_FAILED), done.stderr
        assert "over the cap" in done.stderr and "Traceback" not in done.stderr


def test_a_nul_byte_in_a_page_served_as_html_is_html(httpserver, tmp_path):
    with_nul = PAGE.replace(b"</h1>", b"</h1>\x00", 1)
    httpserver.expect_request("/nul").respond_with_data(with_nul, content_type="text/html; charset=utf-8")
    httpserver.expect_request("/random").respond_with_data(os.urandom(20000), content_type="text/html")
    page = fetch(httpserver.url_for("/nul"), FetchOptions(retries=0))
    assert "\x00" in page.html          # the bytes as received; the parser drops the NUL
    db = tmp_path / "a.db"
    result = run("fetch", httpserver.url_for("/nul"), httpserver.url_for("/random"), "--db", db)
    assert "saved" in result.stderr and "binary data" in result.stderr
    with Archive.open(db) as archive:
        text = archive.get(httpserver.url_for("/nul"))["text"]
    assert "\x00" not in text and text.split("\n\n") == PARAGRAPHS
    with pytest.raises(NotHTML):
        fetch(httpserver.url_for("/random"), FetchOptions(retries=0))


def test_the_sniffing_rule():
    text = PAGE.replace(b"</h1>", b"</h1>\x00", 1)
    assert looks_binary(text) and not looks_binary(text, declared_html=True)
    assert looks_binary(os.urandom(8192), declared_html=True)
    assert looks_binary(b"\x7fELF" + PAGE, declared_html=True)


def test_fetch_exit_codes_follow_the_table(tmp_path, httpserver):
    for i in range(3):
        httpserver.expect_request(f"/news/{i}").respond_with_data(
            PAGE.replace(b"Harbour", f"Harbour {i}".encode()), content_type="text/html")
        httpserver.expect_request(f"/gone/{i}").respond_with_data(b"gone", status=410)
    db = tmp_path / "a.db"
    good = [httpserver.url_for(f"/news/{i}") for i in range(3)]
    bad = [httpserver.url_for(f"/gone/{i}") for i in range(3)]
    assert run("fetch", good[0], "--db", db).exit_code == EXIT_OK
    assert run("fetch", good[1], good[2], bad[0], "--db", db).exit_code == EXIT_SOME_FAILED   # 1 of 3
    assert run("fetch", bad[0], "--db", db).exit_code == EXIT_FAILED                         # 1 of 1
    assert run("fetch", good[0], *bad, "--db", db).exit_code == EXIT_FAILED                  # 3 of 4


def test_a_file_uri_and_a_gzipped_page_still_load(tmp_path):
    import gzip

    plain = tmp_path / "saved page.html"
    plain.write_bytes(PAGE)
    packed = tmp_path / "p.html.gz"
    packed.write_bytes(gzip.compress(PAGE))
    assert load_file(plain.resolve().as_uri()).body == PAGE
    assert load_file(packed).body == PAGE
    with pytest.raises(UnsupportedURL, match="no such file"):
        load_file(tmp_path / "none.html")


def test_extract_takes_the_sites_file_with_config(tmp_path):
    """The profile guide checks one's own profile before archiving: extract --config applies it."""
    page = tmp_path / "page.html"
    page.write_bytes(PAGE.replace(b"<article>", b"<article><div class='story'>").replace(
        b"</article>", b"</div><p>Share this story with your friends on every network</p></article>"))
    config = tmp_path / "sites.toml"
    config.write_text('[sites.mine]\ndomains = ["example.com"]\ncontent = ["div.story"]\n')
    url = "https://example.com/news/1"
    record = json.loads(run("extract", page, "--url", url, "--config", config).stdout)
    assert record["extractor"] == "profile:mine" and record["site"] == "mine"
    assert record["text"].split("\n\n") == PARAGRAPHS
    shown = run("extract", "--explain", page, "--url", url, "--config", config)
    assert shown.exit_code == EXIT_OK and "profile content `div.story p`" in shown.stdout
    assert json.loads(run("extract", page, "--url", url).stdout)["extractor"] == "generic"
    missing = run("extract", page, "--config", tmp_path / "none.toml")
    assert missing.exit_code == 2 and "no such sites file" in missing.output


TEXT = ("قالت مصادر مطلعة إن الخبر نص عادي بلا وسوم. " * 30).encode()


@pytest.mark.parametrize("name", ["seed.txt", "notes", "-"])
def test_plain_text_is_not_a_page_whether_a_file_or_standard_input(tmp_path, name):
    """As text/plain over HTTP is refused, so is a local file (or standard input) whose bytes do
    not start as an HTML page (WHATWG's rule for an undeclared type); a file named .html is declared."""
    if name == "-":
        result = run("extract", "-", "--url", "https://example.com/news/1", input=TEXT)
    else:
        (tmp_path / name).write_bytes(TEXT)
        result = run("extract", tmp_path / name, "--url", "https://example.com/news/1")
    assert result.exit_code == EXIT_SOME_FAILED and result.stdout == "", result.output
    assert result.stderr.startswith("Error:") and "HTML page" in result.stderr
    (tmp_path / "page.txt").write_bytes(b"\xef\xbb\xbf\n  <!DOCTYPE html>" + PAGE)   # a BOM, whitespace
    assert run("extract", tmp_path / "page.txt", "--url", "https://example.com/news/1").exit_code == EXIT_OK


def test_fetch_of_a_file_url_to_a_text_file_saves_nothing(tmp_path):
    text = tmp_path / "passwd"
    text.write_bytes(b"root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n")
    db = tmp_path / "a.db"
    result = run("fetch", text.resolve().as_uri(), "--db", db)
    assert result.exit_code == EXIT_FAILED and "HTML page" in result.stderr, result.output
    with Archive.open(db) as archive:
        assert archive.scalar("SELECT count(*) FROM articles") == 0
        assert archive.scalar("SELECT outcome FROM fetch_log") == "failed"


def test_an_undeclared_http_body_must_start_as_a_page(httpserver):
    httpserver.expect_request("/text").respond_with_data(TEXT, headers={"Content-Type": ""})
    httpserver.expect_request("/page").respond_with_data(PAGE, headers={"Content-Type": ""})
    options = FetchOptions(timeout=5, retries=0)
    with pytest.raises(NotHTML):
        fetch(httpserver.url_for("/text"), options)
    assert fetch(httpserver.url_for("/page"), options).body == PAGE


@given(st.binary(max_size=400), st.sampled_from([b"", b" \n\t", b"\xef\xbb\xbf"]),
       st.sampled_from([b"<html>", b"<!DOCTYPE HTML ", b"<p>", b"<!--", b"<Body>"]))
def test_sniffing_takes_a_page_start_and_never_text_without_a_tag(rest, lead, start):
    assert sniffs_as_html(lead + start + rest)
    assert not sniffs_as_html(rest.replace(b"<", b""))
