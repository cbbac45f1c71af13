"""Titles without the site's or section's name behind any separator, judged from the page's own evidence
(its site-name fields, its host, its home link, its menus), and with the visible headline's typography."""
from __future__ import annotations

from scraper.extract import extract
from scraper.extract.parse import parse_html
from scraper.extract.title import choose_title, page_names, strip_site_name

HEADLINE = "وزارة الصحة تطلق حملة وطنية للتطعيم ضد الإنفلونزا الموسمية"
STORY = "".join(f"<p>فقرة رقم {i} من نص الخبر، وفيها ما يكفي من الكلمات لتكون فقرة من متن المقال.</p>"
                for i in range(5))


def page(head: str, body_top: str = "", h1: str | None = None) -> str:
    h1_html = f"<h1>{h1}</h1>" if h1 else ""
    return (f"<html lang='ar'><head>{head}</head><body>{body_top}"
            f"<article>{h1_html}{STORY}</article></body></html>")


def test_full_width_colon_and_double_colon_separate_the_site_name():
    assert strip_site_name(f"الرمال：{HEADLINE}", ["الرمال"]) == HEADLINE
    assert strip_site_name(f"{HEADLINE}｜الرمال", ["الرمال"]) == HEADLINE
    assert strip_site_name(f"صحيفة الرافدين :: {HEADLINE}", ["صحيفة الرافدين"]) == HEADLINE
    assert strip_site_name(f"صحيفة الرافدين::{HEADLINE}", ["صحيفة الرافدين"]) == HEADLINE


def test_a_section_between_the_headline_and_the_site_name_goes_with_it():
    title = f"{HEADLINE} | صحة | منصة المدار"
    assert strip_site_name(title, ["منصة المدار"], sections=["صحة"]) == HEADLINE
    assert strip_site_name(f"منصة المدار - صحة - {HEADLINE}", ["منصة المدار"], sections=["صحة"]) == HEADLINE
    # Without a site name cut, a section's name at an end may be the headline's own kicker: kept.
    assert strip_site_name("Brexit: Johnson resigns as leader", [], sections=["Brexit"]) \
        == "Brexit: Johnson resigns as leader"
    # A part that is no known section stays: «Headline | Other words | Site» loses only the site.
    assert strip_site_name(f"{HEADLINE} | تقرير خاص | منصة المدار", ["منصة المدار"], sections=["صحة"]) \
        == f"{HEADLINE} | تقرير خاص"


def test_the_home_links_name_is_the_sites_name_whatever_the_address_says():
    home = ("<header><a class='logo' href='/'><img src='/logo.png' alt='جريدة الفجر الجديد'></a>"
            "<nav><a href='/national'>وطني</a><a href='/sport'>رياضة</a></nav></header>")
    head = (f"<title>جريدة الفجر الجديد - {HEADLINE}</title>"
            f"<meta property='og:title' content='جريدة الفجر الجديد - {HEADLINE}'>")
    a = extract(page(head, home), "https://www.alfajr-aljadid.dz/national/123")
    assert a.title == HEADLINE
    # Without the home link nothing on the page says «جريدة الفجر الجديد» is the site: kept whole.
    a = extract(page(head), "https://www.alfajr-aljadid.dz/national/123")
    assert a.title == f"جريدة الفجر الجديد - {HEADLINE}"


def test_a_menus_section_and_the_og_site_name_cut_from_a_pipe_title():
    menu = "<nav class='main-menu'><a href='/eco'>اقتصاد</a><a href='/health'>صحة</a></nav>"
    head = (f"<meta property='og:title' content='{HEADLINE} | صحة | منصة المدار'>"
            "<meta property='og:site_name' content='منصة المدار'>")
    assert extract(page(head, menu), "https://almadar.example/health/1").title == HEADLINE


def test_page_names_reads_home_links_and_navigation():
    tree = parse_html("<html><body><a href='https://www.site.example/'>موقع المثال</a>"
                      "<a href='index.php' title='الصفحة الأولى'><img alt='شعار الموقع'></a>"
                      "<a href='https://other.example/'>موقع آخر</a><a href='/?page=2'>التالي</a>"
                      "<div class='breadcrumb'><a href='/'>الرئيسية</a><a href='/world'>عربي ودولي</a></div>"
                      "<nav><a href='/sport'>رياضة</a><a href='/x'>عنوان خبر طويل جدا يزيد على ست كلمات هنا</a></nav>"
                      "</body></html>")
    aliases, sections = page_names(tree, "https://site.example/world/1")
    assert aliases == ["موقع المثال", "الصفحة الأولى", "شعار الموقع", "الرئيسية"]
    assert sections == ["الرئيسية", "عربي ودولي", "رياضة"]


def test_the_menus_are_read_only_when_a_sections_name_is_asked(monkeypatch):
    """A title whose last part is the home link's name is settled by the aliases alone; the menus
    (a scan of every class and id) are read only to tell a section's name between headline and site."""
    from scraper.extract import title as title_module

    html = page("<title>%s - موقع المثال</title>" % HEADLINE,
                "<a href='https://site.example/'>موقع المثال</a><nav><a href='/world'>عربي ودولي</a></nav>")
    read = []
    real = title_module._section_names
    monkeypatch.setattr(title_module, "_section_names", lambda tree: read.append(1) or real(tree))
    assert extract(html, "https://site.example/a/1").title == HEADLINE
    assert read == []
    html = page("<title>%s | عربي ودولي | موقع المثال</title>" % HEADLINE,
                "<a href='https://site.example/'>موقع المثال</a><nav><a href='/world'>عربي ودولي</a></nav>")
    assert extract(html, "https://site.example/a/1").title == HEADLINE
    assert read == [1]


def test_the_visible_headlines_quotes_when_another_copy_prints_them_too():
    straight, curly = 'Minister says "no deal" on talks', "Minister says “no deal” on talks"
    got = choose_title([("meta:og:title", straight), ("json-ld", curly), ("h1", curly)], [])
    assert got == (curly, "meta:og:title (as the h1 and json-ld print it)")
    arabic_og, arabic_h1 = 'الوزير: "لا اتفاق" قبل الانتخابات', "الوزير: «لا اتفاق» قبل الانتخابات"
    got = choose_title([("meta:og:title", arabic_og), ("meta:twitter:title", arabic_h1), ("h1", arabic_h1)], [])
    assert got[0] == arabic_h1


def test_the_h1_alone_does_not_change_the_typography():
    straight, curly = "Kohberger's lawyers", "Kohberger’s lawyers"
    assert choose_title([("meta:og:title", straight), ("h1", curly)], [])[0] == straight
    # A JSON-LD copy holding the entity went through the same display filter as the <h1>.
    assert choose_title([("meta:og:title", straight), ("json-ld", "Kohberger&#8217;s lawyers"),
                         ("h1", curly)], [])[0] == straight
    # The <h1>'s markup glued a kicker to the headline: spaces lost, not the page's typography.
    assert choose_title([("meta:og:title", "Kicker: the headline"), ("h1", "Kicker:the headline")],
                        [])[0] == "Kicker: the headline"


def test_a_copy_differing_in_words_is_not_typography():
    got = choose_title([("meta:og:title", "Minister says no deal"), ("json-ld", "Minister says “no deal”"),
                        ("h1", "Minister says “no deal”")], [])
    assert got == ("Minister says no deal", "meta:og:title")
