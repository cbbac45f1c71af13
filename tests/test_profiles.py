"""Site profiles: the built-in alittihad profile, profile_for(url), and user sites.toml files."""
from __future__ import annotations

import pytest

from scraper.errors import ConfigError
from scraper.profiles import Profile, load_profiles, profile_for


def write(tmp_path, text: str):
    path = tmp_path / "sites.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_builtin_alittihad_profile():
    p = load_profiles()["alittihad"]
    assert isinstance(p, Profile)
    assert p.domains == ("alittihad.ae",)
    assert (p.timezone, p.language, p.delay) == ("Asia/Dubai", "ar", 1.0)
    assert p.article[0] == "div.article-content-editor" and p.paragraphs == "p"
    assert p.title[0] == "header h1" and p.tags == ("div.article-tags a",)
    assert "https://www.alittihad.ae/" in p.start
    assert str(p.tz) == "Asia/Dubai"


@pytest.mark.parametrize("url, is_article", [
    ("https://www.alittihad.ae/news/%D8%A7%D9%84%D8%B9%D8%A7%D9%84%D9%85/4456163/slug", True),
    ("https://alittihad.ae/news/world/4456163", True),
    ("http://www.alittihad.ae/details.php?id=58213&y=2018", True),
    ("http://www.alittihad.ae/details.php?y=2018&id=58213", True),
    ("https://www.alittihad.ae/", False),
    ("https://www.alittihad.ae/section/emirates", False),
    ("https://www.alittihad.ae/news/world", False),
    ("https://example.com/news/world/4456163", False),
])
def test_article_url_pattern(url, is_article):
    assert load_profiles()["alittihad"].is_article(url) is is_article


@pytest.mark.parametrize("url, name", [
    ("https://www.alittihad.ae/news/x/1/y", "alittihad"),
    ("https://alittihad.ae/news/x/1/y", "alittihad"),
    ("https://m.alittihad.ae/news/x/1/y", "alittihad"),
    ("https://notalittihad.ae/news/x/1/y", None),
    ("https://example.com/", None),
    ("not a url", None),
    (None, None),
])
def test_profile_for(url, name):
    found = profile_for(url)
    assert (found.name if found else None) == name


def test_user_file_adds_a_site_and_overrides_a_builtin(tmp_path):
    path = write(tmp_path, """
[sites.example]
start = ["https://www.example.com/", "https://www.example.com/world/"]
feeds = ["https://www.example.com/rss.xml"]
article = '^https://www\\.example\\.com/news/\\d+/'
timezone = "Africa/Cairo"
delay = 2
content = ["div.story"]
drop = [".ad"]

[sites.alittihad]
delay = 3.5
feeds = ["https://www.alittihad.ae/feed.xml"]
""")
    profiles = load_profiles(path)
    example = profiles["example"]
    assert example.domains == ("example.com",)          # from the start URLs
    assert example.article == ("div.story",) and example.delay == 2.0
    assert example.is_article("https://www.example.com/news/12/x")
    assert profile_for("https://example.com/news/1/", profiles) is example
    merged = profiles["alittihad"]
    assert merged.delay == 3.5 and merged.feeds == ("https://www.alittihad.ae/feed.xml",)
    assert merged.timezone == "Asia/Dubai" and merged.title[0] == "header h1"   # the rest is kept
    assert load_profiles()["alittihad"].delay == 1.0                            # built-in untouched


@pytest.mark.parametrize("body, words", [
    ("[sites.x]\nstart = ['https://x.example/']\narticle = '(unclosed'", ["article", "regular expression"]),
    ("[sites.x]\nstart = ['https://x.example/']\ntimezone = 'Mars/Olympus'", ["timezone", "Mars/Olympus"]),
    ("[sites.x]\nstart = ['https://x.example/']\ncontent = ['div[']", ["content", "CSS selector"]),
    ("[sites.x]\nstart = ['https://x.example/']\ncolour = 'red'", ["colour", "unknown key"]),
    ("[sites.x]\nstart = ['ftp://x.example/']", ["start", "http"]),
    ("[sites.x]\nstart = ['https://x.example/']\ndelay = -1", ["delay"]),
    ("[sites.x]\ntimezone = 'UTC'", ["domains"]),
    ("[sites]\nx = 3", ["[sites.x]", "table"]),
    ("[sites.x\nstart = 1", ["TOML"]),
    ("[other]\na = 1", ["other", "[sites.NAME]"]),
])
def test_invalid_user_file_names_file_and_key(tmp_path, body, words):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_profiles(path)
    message = str(info.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_missing_user_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_profiles(tmp_path / "nope.toml")


def test_load_profiles_returns_a_fresh_mapping():
    first = load_profiles()
    first.pop("alittihad")
    assert "alittihad" in load_profiles()


def test_a_site_without_content_selectors_is_generic_with_its_time_zone(tmp_path):
    from pathlib import Path

    from scraper.extract import extract

    profiles = load_profiles(write(tmp_path, """
[sites.gulfdaily]
domains = ["gulfdaily.example"]
start = ["https://gulfdaily.example/"]
timezone = "Asia/Riyadh"
"""))
    page = (Path(__file__).parent / "fixtures" / "pages" / "no_machine_date.html").read_text("utf-8")
    article = extract(page, "https://gulfdaily.example/news/1", profiles=profiles)
    # No selectors to break: plain "generic", not "profile:gulfdaily+generic" (which flags a redesign).
    assert article.extractor == "generic" and article.site == "gulfdaily"
    assert article.published == "2019-03-12T10:45:00+03:00"   # the printed local time, in Riyadh


@pytest.mark.parametrize("body, named", [
    ('[sites.a]\ndomains = ["news.example"]\n[sites.b]\ndomains = ["news.example"]\ntimezone = "Asia/Tokyo"\n',
     ("[sites.b]", "'a'", "news.example")),
    ('[sites.ittihad]\ndomains = ["alittihad.ae"]\n', ("[sites.ittihad]", "'alittihad'", "[sites.alittihad]")),
])
def test_two_sites_claiming_one_domain_is_a_config_error(tmp_path, body, named):
    # Only the first would ever be used for the domain's pages: the second's time zone and rules
    # were ignored without a word.
    config = tmp_path / "sites.toml"
    config.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_profiles(config)
    assert all(word in str(error.value) for word in named) and "\n" not in str(error.value)


def test_overriding_a_builtin_site_under_its_own_name_is_not_a_conflict(tmp_path):
    config = tmp_path / "sites.toml"
    config.write_text('[sites.alittihad]\ndomains = ["alittihad.ae"]\ntimezone = "Asia/Dubai"\n', encoding="utf-8")
    assert profile_for("https://www.alittihad.ae/news/x/1/y", load_profiles(config)).name == "alittihad"


def test_sites_whose_feeds_share_a_host_are_not_a_conflict(tmp_path):
    # Domains read off feeds and start pages (none named): two sites' feeds on one feed host is common.
    config = tmp_path / "sites.toml"
    config.write_text('[sites.a]\nfeeds = ["https://feeds.example/a.xml"]\n'
                      '[sites.b]\nfeeds = ["https://feeds.example/b.xml"]\n', encoding="utf-8")
    assert {"a", "b"} <= set(load_profiles(config))
