"""Extraction on fixture pages: golden records, the seed's clean record, broken profiles, dates, titles."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scraper import extract as extract_from_package
from scraper.extract.boilerplate import chrome_reason, clean_paragraphs
from scraper.errors import ExtractionError
from scraper.extract import extract, extract_page
from scraper.extract.trace import Trace
from scraper.models import Page
from scraper.profiles import load_profiles
from scraper.extract.title import choose_title, strip_site_name

PAGES = Path(__file__).parent / "fixtures" / "pages"
GOLDEN = sorted(p.stem for p in PAGES.glob("*.json"))
SEED = json.loads((PAGES / "alittihad_article.json").read_text(encoding="utf-8"))
SEED_URL = SEED["url"]
SEED_HTML = (PAGES / "alittihad_article.html").read_text(encoding="utf-8")

# The seed article's clean record, written out by hand from ../shared/seed (README and the text):
SEED_TITLE = "تعاون استخباراتي بين العراق وسوريا وروسيا وإيران للقضاء على «داعش»"
SEED_FIRST = "أفادت مصادر عسكرية عراقية اليوم الأحد أن ممثلين عن دائرة الاستخبارات العسكرية"
SEED_LAST = "اجتماعاً دولياً حول التصدي لتنظيم «داعش»."
SEED_NBSP_PARAGRAPH = "وكان المسؤولون الذين تحدثوا إلى صحيفة نيويورك تايمز"


def golden(name: str) -> dict:
    return json.loads((PAGES / f"{name}.json").read_text(encoding="utf-8"))


def broken(**changes):
    """The built-in profiles with the alittihad profile's selectors changed (a site redesign)."""
    profiles = load_profiles()
    profiles["alittihad"] = dataclasses.replace(profiles["alittihad"], **changes)
    return profiles


ALL_BROKEN = dict(article=("div.renamed-body",), title=("h1.renamed",), published=(".renamed-date",),
                  modified=(), author=(), section=(), tags=(), drop=())


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_record(name):
    case = golden(name)
    article = extract((PAGES / f"{name}.html").read_bytes(), case["url"])
    assert article.to_dict() == case["record"]
    for s in case["must_contain"]:
        assert s in article.text
    for s in case["must_not_contain"]:
        assert s not in article.text and s not in (article.title or ""), s


def test_seed_record_is_exactly_the_clean_one():
    a = extract(SEED_HTML, SEED_URL)
    assert a.title == SEED_TITLE
    assert a.published == "2015-09-27T18:32:00+04:00"   # not the masthead's 2024-03-28, nor 2024
    assert a.modified is None
    paragraphs = a.text.split("\n\n")
    assert len(paragraphs) == 12
    assert paragraphs[0].startswith(SEED_FIRST) and paragraphs[-1].endswith(SEED_LAST)
    assert paragraphs[10].startswith(SEED_NBSP_PARAGRAPH)  # its leading NBSP is gone
    assert all(p == p.strip() and p and "\u00a0" not in p for p in paragraphs)
    assert a.site == "alittihad" and a.extractor == "profile:alittihad" and a.language == "ar"
    assert a.word_count == len(re.findall(r"\w+", a.text))
    assert a.content_hash == hashlib.sha256(f"{a.title}\n\n{a.text}".encode()).hexdigest()
    assert a.tags == ["العراق", "سوريا", "روسيا", "إيران", "داعش"]
    assert a.section == "عربي ودولي"
    assert a.provenance["text"] == "profile:div.article-content-editor p"
    assert a.provenance["published"].startswith("profile:")


def test_package_level_extract_and_bytes_equal_str():
    assert extract_from_package is extract
    assert extract(SEED_HTML.encode("utf-8"), SEED_URL) == extract(SEED_HTML, SEED_URL)


@pytest.mark.parametrize("changes", [dict(article=("div.renamed-body",)), ALL_BROKEN],
                         ids=["content-selector-broken", "every-selector-broken"])
def test_broken_profile_falls_back_to_generic_and_says_so(changes):
    a = extract(SEED_HTML, SEED_URL, profiles=broken(**changes))
    assert a.extractor == "profile:alittihad+generic"
    assert a.provenance["text"] == "generic:trafilatura"
    assert a.title == SEED_TITLE
    assert a.published == "2015-09-27T18:32:00+04:00"
    assert a.text == SEED["record"]["text"]
    for s in SEED["must_not_contain"]:
        assert s not in a.text and s not in a.title, s


def _without_self_address(html: str) -> str:
    return re.sub(r'\s*<(link rel="canonical"|meta property="og:url")[^>]*>', "", html)


def test_site_without_profile_uses_generic_path_with_no_chrome():
    a = extract(_without_self_address(SEED_HTML), "https://mirror.example/news/3835123")
    assert a.extractor == "generic" and a.site == "mirror.example"
    assert a.title == SEED_TITLE
    assert a.text == SEED["record"]["text"]
    # No profile, no time zone: the printed local time stays naive rather than getting a wrong offset.
    assert a.published == "2015-09-27T18:32:00"


def test_a_copy_served_elsewhere_takes_the_profile_of_the_site_it_names():
    # A mirror, a saved page or a local test server: <link rel=canonical> names the site.
    a = extract(SEED_HTML, "http://127.0.0.1:8000/news/world/1/x")
    assert a.extractor == "profile:alittihad" and a.site == "alittihad"
    assert a.published == "2015-09-27T18:32:00+04:00"
    assert a.text == SEED["record"]["text"]


def test_masthead_date_is_never_the_publication_date():
    page = SEED_HTML.replace('<span class="article-date">27 سبتمبر 2015 18:32</span>', "")
    for profiles in (None, broken(**ALL_BROKEN)):
        a = extract(page, SEED_URL, profiles=profiles)
        assert a.published is None and a.modified is None   # null rather than 2024-03-28


def test_last_updated_line_is_modified_not_published():
    page = SEED_HTML.replace("27 سبتمبر 2015 18:32", "الأحد، 27 أيلول 2015، آخر تحديث 18:32 (GMT+0400)")
    a = extract(page, SEED_URL, profiles=broken(**ALL_BROKEN))
    assert a.published is None
    assert a.modified == "2015-09-27T18:32:00+04:00"


def test_extract_page_uses_final_url_for_the_profile():
    page = Page(url="https://short.example/a1", final_url=SEED_URL, status=200,
                headers={"Content-Type": "text/html; charset=utf-8"}, body=SEED_HTML.encode(),
                html=SEED_HTML, encoding="utf-8", fetched_at=datetime.now(timezone.utc))
    a = extract_page(page)
    assert (a.url, a.final_url, a.site, a.extractor) == (page.url, SEED_URL, "alittihad", "profile:alittihad")


def test_saved_page_without_url_finds_its_profile_from_canonical():
    a = extract(SEED_HTML)
    assert a.url is None and a.site == "alittihad" and a.extractor == "profile:alittihad"


def test_charset_from_http_header_when_page_declares_none():
    body = (PAGES / "windows1256_undeclared.html").read_bytes()
    a = extract(body, "https://alwaha.example/news/8812", {"content-type": "text/html; charset=windows-1256"})
    assert a.to_dict() == golden("windows1256_undeclared")["record"]


def test_br_layout_on_the_generic_path():
    html = (PAGES / "br_paragraphs.html").read_text(encoding="utf-8")
    a = extract(html, "https://elsewhere.example/details.php?id=58213")
    assert a.extractor == "generic"
    assert a.text.split("\n\n") == golden("br_paragraphs")["record"]["text"].split("\n\n")


@pytest.mark.parametrize("html", [
    "", "   ", "<html><body></body></html>",
    "<html><body><nav><a href='/'>الرئيسية</a></nav><footer>جميع الحقوق محفوظة 2024©</footer></body></html>",
])
def test_no_article_text_raises(html):
    with pytest.raises(ExtractionError):
        extract(html, "https://example.com/x")


def test_xml_declaration_in_a_str_is_accepted():
    html = '<?xml version="1.0" encoding="utf-8"?>\n' + SEED_HTML.split("\n", 1)[1]
    assert extract(html, SEED_URL).text == SEED["record"]["text"]


# --- titles ------------------------------------------------------------------------------------

def test_site_name_suffix_and_prefix_are_cut():
    assert strip_site_name("Headline of the day - The Daily", ["The Daily"]) == "Headline of the day"
    assert strip_site_name("الاتحاد | خبر اليوم المهم", ["الاتحاد"]) == "خبر اليوم المهم"
    assert strip_site_name("Story text – Site – 30.01.2024", [], ["Story text"]) == "Story text"


def test_headline_with_dash_or_quotes_stays_whole():
    assert strip_site_name("Kyiv - a city under fire", ["example.com"]) == "Kyiv - a city under fire"
    title = "تعاون استخباراتي للقضاء على «داعش»"
    assert strip_site_name(title, ["الاتحاد"], [title + " - الاتحاد"]) == title


def test_kicker_shown_with_the_headline_is_not_cut_as_decoration():
    og, ld = "Nationale Demo / Der 9. Juli naht: Gewerkschaften zeigen Stärke", "Der 9. Juli naht: Gewerkschaften zeigen Stärke"
    # Only the shorter JSON-LD copy: the kicker reads as a prefix to cut.
    assert choose_title([("meta:og:title", og), ("json-ld", ld)], [])[0] == ld
    # The <h1> shows the same words whole (kicker span glued to the headline): nothing is cut.
    h1 = "Nationale DemoDer 9. Juli naht: Gewerkschaften zeigen Stärke"
    assert choose_title([("meta:og:title", og), ("json-ld", ld), ("h1", h1)], []) == (og, "meta:og:title")
    # A site name is still cut when the headline copies do not carry it, and when they do.
    assert choose_title([("meta:og:title", f"{ld} - Tageblatt.lu"), ("h1", ld)], ["tageblatt.lu"])[0] == ld
    assert choose_title([("meta:og:title", f"{ld} - Tageblatt.lu"), ("json-ld", f"{ld} - Tageblatt.lu")],
                        ["tageblatt.lu"])[0] == ld


def test_title_cut_short_by_an_unescaped_quote_is_no_evidence_and_glued_suffix_cut():
    cut = choose_title([("meta:og:title", "Sieger und"), ("h1", 'Sieger und "royaler Besuch"')], [])
    assert cut == ('Sieger und "royaler Besuch"', "h1")
    # The broken tag does not promote the <h1>'s text over the next source in order.
    cut = choose_title([("meta:og:title", "Sieger und"), ("json-ld", "Kinder-Marathon am Sonnabend"),
                        ("meta:twitter:title", "Sieger und"), ("h1", 'Sieger und "royaler Besuch"')], [])
    assert cut == ("Kinder-Marathon am Sonnabend", "json-ld")
    glued = choose_title([("meta:og:title", "도입 또다시 불발 친청계-정치ㅣ한국일보"),
                          ("json-ld", "도입 또다시 불발 친청계")], ["한국일보"])
    assert glued == ("도입 또다시 불발 친청계", "meta:og:title")


def test_choose_title_prefers_og_then_json_ld_and_unescapes():
    title, source = choose_title([("meta:og:title", "Kohberger&#8217;s case | Pundit"), ("json-ld", None),
                                  ("h1", "Kohberger’s case")], ["Pundit"])
    assert (title, source) == ("Kohberger’s case", "meta:og:title")
    assert choose_title([("meta:og:title", "Site"), ("h1", "Real headline")], ["site"]) == ("Real headline", "h1")
    assert choose_title([("title", "")], []) == (None, None)


def test_author_names_are_split_and_cleaned():
    from scraper.extract.metadata import clean_author
    assert clean_author("By Samya Kullab and Vasilisa Stepanenko") == "Samya Kullab, Vasilisa Stepanenko"
    assert clean_author("Elena Oberholzer (obe), Oliver Maksan (oma)") == "Elena Oberholzer, Oliver Maksan"
    assert clean_author("سارة المنصوري، خالد الحمادي".replace("،", ",")) == "سارة المنصوري, خالد الحمادي"
    assert clean_author("https://example.com/author/x") is None and clean_author("  ") is None


def test_user_profile_from_sites_toml_drives_extraction(tmp_path):
    config = tmp_path / "sites.toml"
    config.write_text("""
[sites.gulftoday]
domains = ["gulf-today.example"]
timezone = "Asia/Riyadh"
content = ["div.story-body"]
drop = ["div.story-body p:nth-child(4)"]
""", encoding="utf-8")
    html = (PAGES / "jsonld_only.html").read_bytes()
    a = extract(html, golden("jsonld_only")["url"], profiles=load_profiles(config))
    assert (a.site, a.extractor) == ("gulftoday", "profile:gulftoday")
    want = golden("jsonld_only")["record"]["text"].split("\n\n")
    assert want[2].startswith("وأضاف أن المرحلة الثانية")
    assert a.text.split("\n\n") == want[:2] + want[3:]       # the profile's drop rule removed it
    assert a.published == "2024-03-27T09:15:00+03:00"


# --- boilerplate ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "مواقيت الصلاة", "الفجر 04:52 الظهر 12:21 العصر 15:49 المغرب 18:28 العشاء 19:42",
    "جميع الحقوق محفوظة لمركز الاتحاد للأخبار 2024©", "اقرأ أيضاً: عنوان خبر آخر", "عدد اليوم",
    "شارك فيسبوك تويتر واتساب", "© 2024 Example News", "Read more: another story", "3 Minuten Lesezeit",
    "5 min read", "Les også: en annen sak",
])
def test_chrome_paragraphs_are_recognised(text):
    assert chrome_reason(text) is not None


def test_comment_policy_blurb_is_chrome_even_when_long():
    blurb = ("يرحب الموقع بتعليقات القراء ومناقشاتهم المفيدة حول الأخبار المنشورة، ولذلك نقوم بمراجعة التعليقات "
             "قبل نشرها على الصفحة. ننصح الجميع بقراءة إرشادات الاستخدام جيدا، مع العلم أن المشاركات تخضع "
             "لسياسة الخصوصية المعمول بها وشروط الاستخدام الخاصة بالموقع في كل الأحوال")
    assert len(re.findall(r"\w+", blurb)) > 30
    assert chrome_reason(blurb) is not None


def test_long_paragraph_quoting_a_marker_is_kept():
    text = ("قال المتحدث إن عبارة جميع الحقوق محفوظة لم تعد تحمي المؤلفين وحدها في عصر الإنترنت، "
            "وإن القوانين الجديدة تمنح الكتاب والناشرين أدوات أوسع لملاحقة من ينسخ أعمالهم دون إذن "
            "ويعيد نشرها على المواقع والمنصات المختلفة")
    assert chrome_reason(text) is None
    assert chrome_reason("وصلى المصلون الفجر في المسجد الكبير") is None
    assert chrome_reason("The copyright dispute went to court on Monday.") is None


def test_clean_paragraphs_normalises_space_and_drops_empty():
    assert clean_paragraphs(["\u00a0 نص  أول ", "\u00a0", "", "  ", "نص\u200b ثان"]) == ["نص أول", "نص ثان"]


# --- generic path details ------------------------------------------------------------------------

SENTENCES = [f"الفقرة رقم {i} من نص الخبر الطويل تتحدث عن موضوع مهم للقراء في المنطقة كلها." for i in range(1, 9)]
BODY = "".join(f"<p>{s}</p>" for s in SENTENCES)


def page(head: str = "", article: str = "", after: str = "") -> str:
    return (f"<html lang='ar'><head><meta charset='utf-8'>{head}</head><body>"
            f"<div class='top'>الخميس 28 مارس 2024</div><article><h1>عنوان الخبر الرئيسي اليوم</h1>"
            f"{article}<div class='text'>{BODY}</div></article>{after}</body></html>")


def test_time_in_a_related_list_inside_the_article_is_not_the_date():
    related = ("<aside class='related'><h3>أخبار ذات صلة</h3><ul><li><a href='/x'>خبر آخر</a>"
               "<time datetime='2020-01-01T10:00:00+04:00'>1 يناير 2020</time></li></ul></aside>")
    a = extract(page(article=related), "https://news.example/a/1")
    assert a.published is None
    own = "<time datetime='2021-05-02T08:00:00+04:00'>2 مايو 2021</time>"
    assert extract(page(article=own + related), "https://news.example/a/1").published == "2021-05-02T08:00:00+04:00"


def test_json_ld_in_cdata_with_trailing_comma_is_read():
    ld = ('<script type="application/ld+json">//<![CDATA[\n{"@type": "NewsArticle", "headline": "عنوان الخبر الرئيسي اليوم",'
          ' "datePublished": "2022-02-03T04:05:00Z", "author": {"name": "كاتب"},}\n//]]></script>')
    a = extract(page(head=ld), "https://news.example/a/1")
    assert (a.published, a.author, a.provenance["published"]) == ("2022-02-03T04:05:00+00:00", "كاتب", "json-ld")


def test_chrome_classes_are_removed_but_not_a_wrapper_holding_the_article():
    html = page(after="<div class='newsletter-box'><p>اشترك الآن لتصلك الأخبار كل صباح إلى بريدك مجانا</p></div>")
    html = html.replace("<body>", "<body><div class='page has-cookie-banner'>").replace("</body>", "</div></body>")
    a = extract(html, "https://news.example/a/1")
    assert a.text.count("الفقرة رقم") == 8 and "اشترك" not in a.text
    # The writer's box under the story is about the writer, not the article.
    bio = ("<div class='writer-biography'><p>صحفي يغطي شؤون الطاقة "
           "والاقتصاد منذ عشرين عاما وعمل مراسلا في عواصم عربية وأوروبية عدة</p></div>")
    a = extract(page().replace("</article>", f"{bio}</article>"), "https://news.example/a/1")
    assert a.text.count("الفقرة رقم") == 8 and "صحفي يغطي" not in a.text


def test_visible_standfirst_from_meta_description_leads_the_text():
    lead = "ملخص الخبر كما كتبه المحرر في سطرين يسبقان النص الكامل للخبر المنشور اليوم"
    html = page(head=f'<meta name="description" content="{lead}">', article=f"<div class='lead'>{lead}</div>")
    a = extract(html, "https://news.example/a/1")
    assert a.text.startswith(lead + "\n\n")
    # The same words as a photo's caption are the picture's, not a standfirst.
    caption = (f"<figure><img src='/p.jpg'><figcaption><div class='text-caption'><span>{lead}</span> "
               "<span>© Agentur | Fotograf</span></div></figcaption></figure>")
    a = extract(page(head=f'<meta name="description" content="{lead}">', article=caption), "https://news.example/a/1")
    assert lead not in a.text


def test_json_ld_article_body_is_evidence_for_what_it_holds_never_against_what_it_lacks():
    """A paragraph the articleBody lacks stays: publishers ship shortened copies (issue 12), so the
    copy cannot tell a paragraph it left out from one that is not the story."""
    story = " ".join(SENTENCES)
    ld = f'<script type="application/ld+json">{json.dumps({"@type": "NewsArticle", "articleBody": story})}</script>'
    extra = "<p>فقرة أخيرة من الخبر نفسه لم ينشرها الموقع في نسخته المختصرة عن الملاعب والجماهير والأهداف.</p>"
    html = page(head=ld).replace("</div></article>", extra + "</div></article>")
    trace = Trace()
    a = extract(html, "https://news.example/a/1", trace=trace)
    assert "الملاعب والجماهير" in a.text and a.text.count("الفقرة رقم") == 8
    assert not [d for d in trace.dropped if "articleBody" in d.rule]


# A box of its own inside the story: neither lexicon nor link rule knows its words.
_BOX = ("<div class='box'><p>رسائل الصباح تصلكم كل يوم أحد مع خلاصة الأسبوع كاملة من محررينا الكبار.</p>"
        "<p>أكثر من مئة ألف قارئ يتلقونها اليوم من كل مكان في المنطقة والعالم أيضا.</p></div>")


def _ld(body: str) -> str:
    return f'<script type="application/ld+json">{json.dumps({"@type": "NewsArticle", "articleBody": body})}</script>'


def test_a_whole_article_body_sets_aside_a_box_printed_apart_from_the_story():
    """Two kinds of evidence agree: the copy is the whole story (both ways), and the lines it lacks
    stand in an element of their own, not beside the story's paragraphs."""
    html = page(head=_ld(" ".join(SENTENCES))).replace("</div></article>", "</div>" + _BOX + "</article>")
    trace = Trace()
    a = extract(html, "https://news.example/a/1", trace=trace)
    assert a.text.split("\n\n") == SENTENCES
    assert len([d for d in trace.dropped if "articleBody" in d.rule]) == 2


def test_a_shortened_article_body_sets_aside_nothing_it_lacks():
    """The issue-12 shape: the copy holds the first paragraphs only; the box stays (no evidence)."""
    html = page(head=_ld(" ".join(SENTENCES[:2]))).replace("</div></article>", "</div>" + _BOX + "</article>")
    a = extract(html, "https://news.example/a/1")
    assert a.text.count("الفقرة رقم") == 8 and "رسائل الصباح" in a.text


def test_byline_and_date_line_kept_by_the_extractor_are_not_body():
    top = "<p>بقلم: محمد علي</p><p>الأحد 3 مارس 2024 - 10:15</p>"
    a = extract(page(article=f"<div class='text'>{top}</div>"), "https://news.example/a/1")
    assert "محمد علي" not in a.text and "مارس" not in a.text
    assert a.text.split("\n\n") == SENTENCES


def test_learned_site_template_is_stripped_before_the_body():
    from scraper.extract.templates import learn_template
    # Chrome no rule knows (the lexicon knows appeals such as «حمّلوا التطبيق»): only recurrence tells.
    promo = "<p class='promo'>عرض خاص للمشتركين الجدد: ثلاثة أشهر بنصف السعر مع كل اشتراك سنوي في الموقع</p>"

    topics = ["الاقتصاد", "الرياضة", "الصحة", "التعليم", "الطقس"]   # the text, not only numbers, differs

    def site_page(topic: str) -> str:
        story = "".join(f"<p>فقرة عن {topic} {'و' + topic * i}: تفاصيل جديدة يرويها مراسلنا عن {topic} في المدينة.</p>"
                        for i in range(1, 7))
        return (f"<html><head><title>{topic}</title></head><body><article><h1>عنوان خبر {topic}</h1>"
                f"<div class='text'>{story}{promo}</div></article></body></html>")

    pages = [site_page(t) for t in topics]
    assert "عرض خاص" in extract(pages[0], "https://nosite.example/1").text   # the generic path alone leaks it
    a = extract(pages[0], "https://nosite.example/1", template=learn_template(pages[1:]))
    assert "عرض خاص" not in a.text and a.text.count("فقرة عن الاقتصاد") == 6
    assert "template" in a.provenance


# --- rules that generalise across publishers (each tested on a hand-written page) ----------------

def with_block(block: str, head: str = "", h1: str = "عنوان الخبر الرئيسي اليوم") -> str:
    """A page whose story has ``block`` between its fourth and fifth paragraphs."""
    body = "".join(f"<p>{s}</p>" for s in SENTENCES[:4]) + block + "".join(f"<p>{s}</p>" for s in SENTENCES[4:])
    return (f"<html lang='ar'><head><meta charset='utf-8'>{head}</head><body><article><h1>{h1}</h1>"
            f"<div class='text'>{body}</div></article></body></html>")


TEASER = "وزير الخارجية يلتقي نظيره الفرنسي في باريس"


@pytest.mark.parametrize("block", [
    f"<p><a href='/news/2'>{TEASER}</a></p>",
    f"<h3><a href='https://news.example/news/2'>{TEASER}</a></h3>",
    f"<p><strong>سياسة:</strong> <a href='/news/2'>{TEASER}</a></p>",        # «label: linked headline»
    f"<p><a href='/news/2'><span>سياسة</span><span>{TEASER}</span></a></p>",  # kicker glued to headline
])
def test_a_paragraph_that_is_one_link_to_another_page_is_a_teaser(block):
    trace = Trace()
    a = extract(with_block(block), "https://news.example/a/1", trace=trace)
    assert "وزير الخارجية" not in a.text and a.text.split("\n\n") == SENTENCES
    assert "boilerplate: the whole paragraph is a link to another page" in [d.rule for d in trace.dropped]


def test_links_inside_sentences_in_page_anchors_and_live_blog_entries_are_kept():
    inline = f"<p>وقال المتحدث إن <a href='/news/2'>{TEASER}</a> غدا لبحث الملفات العالقة بين البلدين.</p>"
    assert "غدا لبحث الملفات" in extract(with_block(inline), "https://news.example/a/1").text
    anchor = f"<h3><a href='#part-2'>{TEASER}</a></h3>"            # a table of contents entry
    assert TEASER in extract(with_block(anchor), "https://news.example/a/1").text
    live = '<script type="application/ld+json">{"@type": "LiveBlogPosting", "headline": "x"}</script>'
    entry = f"<h3><a href='/live/1#post-2'>{TEASER}</a></h3>"     # a live blog's entry links to itself
    assert TEASER in extract(with_block(entry, head=live), "https://news.example/a/1").text


def test_photo_caption_lines_are_dropped():
    from lxml import html as lxml_html
    from scraper.extract.teasers import drop_captions
    tree = lxml_html.document_fromstring(
        "<html><body><figure><img src='a.jpg'><figcaption>صورة أرشيفية للبرلمان<br>تصوير: أحمد</figcaption>"
        "</figure><div class='media'><img src='b.jpg'><span class='img-caption'>Minister on Monday</span></div>"
        "<p>Minister on Monday said the talks would go on.</p></body></html>")
    dropped: list = []
    kept = drop_captions(tree, ["صورة أرشيفية للبرلمان", "تصوير: أحمد", "Minister on Monday",
                                 "Minister on Monday said the talks would go on."], dropped)
    assert kept == ["Minister on Monday said the talks would go on."]
    assert {why for _, why in dropped} == {"photo caption"}
    # A paragraph holding a picture and a short line: the line is its caption; an emoji image
    # inside a sentence is not a picture.
    tree = lxml_html.document_fromstring(
        "<html><body><p><img src='c.jpg' class='wp-image-1'><br><em>الوزير خلال المؤتمر الصحفي</em></p>"
        "<p>Talks go on <img class='emoji' src='e.svg' alt='🙂'> today.</p></body></html>")
    kept = drop_captions(tree, ["الوزير خلال المؤتمر الصحفي", "Talks go on today."], [])
    assert kept == ["Talks go on today."]


@pytest.mark.parametrize("text", ["Lesedauer: 4 Minuten", "Reading time: 3 min", "Image: Jane Doe",
                                  "Foto: dpa", "تصوير: أحمد علي", "Czytaj więcej",
                                  "Got a story? Email us at news@example.com", "• Email: jdoe@example.com"])
def test_more_chrome_lines_are_recognised(text):
    assert chrome_reason(text) is not None


def test_chrome_line_rules_spare_sentences():
    assert chrome_reason("Image of the week: the river after the storm, seen from the old bridge") is None
    assert chrome_reason("Reading time is what the new app measures for every user") is None
    assert chrome_reason("The ministry said complaints sent to help@ministry.example since March had "
                         "tripled, and that a new team of forty staff would answer them within two "
                         "working days from next month onwards, as promised in the budget.") is None


def test_article_html_inside_a_script_when_the_markup_has_no_text():
    story = "".join(f"<p>{s}</p>" for s in SENTENCES)
    content = (f"<div class='pic'><img src='x.jpg'>صورة من الأرشيف</div>{story[:len(story) // 2]}"
               f"<p>$$ARTICLEAD$$</p>{story[len(story) // 2:]}")
    state = json.dumps({"article": {"title": "t", "contentHtml": content, "teaser": "<b>قصير</b>"}})
    html = (f"<html><head><title>عنوان</title><script>window.__STATE__ = {state};</script></head>"
            f"<body><div id='root'></div></body></html>")
    a = extract(html, "https://spa.example/a/1")
    assert a.text.split("\n\n") == SENTENCES
    assert "script" in a.provenance["text"]
    no_html = json.dumps({"article": {"title": "t", "body": " ".join(SENTENCES)}})   # text, not HTML
    with pytest.raises(ExtractionError):
        extract(html.replace(state, no_html), "https://spa.example/a/1")


def test_visible_lead_is_not_added_twice():
    lead = "ملخص الخبر كما كتبه المحرر في سطرين يسبقان النص الكامل للخبر المنشور اليوم"
    meta = f'<meta name="description" content="{lead}">'
    kicker = "<p>تغطية مستمرة لتطورات الأحداث في المنطقة منذ الصباح الباكر وحتى المساء مع مراسلينا</p>"
    once = extract(with_block(f"{kicker}<p>{lead}</p>", head=meta), "https://news.example/a/1")
    assert once.text.count(lead) == 1     # shown once, kept once, even below the top three
    twice = with_block(f"<p>{lead}</p>", head=meta).replace("<h1>", f"<div class='lead'>{lead}</div><h1>")
    assert extract(twice, "https://news.example/a/1").text.count(lead) == 2   # the page prints it twice


def test_json_ld_headline_wins_when_twitter_title_sides_with_it():
    cands = lambda og, ld, tw: [("meta:og:title", og), ("json-ld", ld), ("meta:twitter:title", tw),  # noqa: E731
                                ("title", f"{ld} | Example News")]
    assert choose_title(cands("Social card title", "Real headline here", "Real headline here"),
                        ["Example News"]) == ("Real headline here", "json-ld")
    assert choose_title(cands("Social card title", "Real headline here", "Social card title"),
                        ["Example News"]) == ("Social card title", "meta:og:title")
    # The CMS's <meta name="title"> copying the JSON-LD headline verbatim is the same vote...
    with_meta = [("meta:og:title", "Social card title"), ("json-ld", "Real headline here"),
                 ("title", "Real headline here | Example News"), ("meta:title", "Real headline here")]
    assert choose_title(with_meta, ["Example News"]) == ("Real headline here", "json-ld")
    # So do the schema.org headline given again as microdata, and a newsletter or analytics title
    # field, even when twitter:title copies og:title.
    for voter in ("microdata:headline", "meta:sailthru.title", "meta:parsely-title", "meta:dc.title"):
        got = choose_title(cands("Social card title", "Real headline here", "Social card title")
                           + [(voter, "Real headline here")], ["Example News"])
        assert got == ("Real headline here", "json-ld"), voter
    # A field siding with og:title changes nothing.
    assert choose_title(cands("Social card title", "Real headline here", "Social card title")
                        + [("microdata:headline", "Social card title")], ["Example News"])[0] == "Social card title"
    # ... but a document-title pattern there («Kicker: - Headline») is not a copy of the headline.
    kicker = [("meta:og:title", "Headline here"), ("json-ld", "«Kicker»: Headline here"),
              ("h1", "Headline here"), ("meta:title", "«Kicker»: - Headline here")]
    assert choose_title(kicker, []) == ("Headline here", "meta:og:title")


def test_microdata_headline_on_the_page_sides_with_json_ld():
    real = "عنوان الخبر الرئيسي اليوم"
    head = ('<meta property="og:title" content="عنوان مختصر للمشاركة">'
            '<meta name="twitter:title" content="عنوان مختصر للمشاركة">'
            f'<script type="application/ld+json">{{"@type": "NewsArticle", "headline": "{real}"}}</script>')
    page_html = with_block("", head=head).replace("<h1>", "<h1 itemprop='headline'>")
    a = extract(page_html, "https://news.example/a/1")
    assert (a.title, a.provenance["title"]) == (real, "json-ld")
    # Without the microdata the share card's title stands (og:title first; twitter:title copies it).
    a = extract(with_block("", head=head), "https://news.example/a/1")
    assert a.title == "عنوان مختصر للمشاركة"


def test_meta_headline_unglues_a_section_suffix():
    got = choose_title([("meta:og:title", "عنوان الخبر كاملا اليوم-سياسةㅣالجريدة"),
                        ("meta:headline", "عنوان الخبر كاملا اليوم")], ["الجريدة"])
    assert got[0] == "عنوان الخبر كاملا اليوم"


def test_labelled_date_and_author_in_a_fact_list():
    facts = ("<ul class='facts'><li><strong>Datum</strong> 28.04.2023</li>"
             "<li><strong>Autorin/Autor</strong> Roman Beispiel</li></ul>")
    head = '<meta name="author" content="Example Welle (www.news.example)">'
    a = extract(with_block("", head=head).replace("</article>", f"</article>{facts}"), "https://www.news.example/a/1")
    assert a.published == "2023-04-28" and a.provenance["published"] == "labelled date"
    assert a.author == "Roman Beispiel"             # the publisher's name gave way to the labelled person


def test_byline_names_fill_a_missing_author():
    byline = ("<div class='article-byline'><div><span>Jane Doe</span> <span>John Roe</span></div></div>"
              "<div class='image-author'>Photographer Name</div>")
    a = extract(with_block("").replace("</h1>", f"</h1>{byline}"), "https://news.example/a/1")
    assert a.author == "Jane Doe, John Roe" and a.provenance["author"] == "byline"
    linked = "<p>By <a rel='author' href='/people/jane'>Jane Doe</a></p>"
    assert extract(with_block("").replace("</h1>", f"</h1>{linked}"), "https://news.example/a/1").author == "Jane Doe"


def test_author_values_that_are_not_people():
    from scraper.extract.metadata import clean_author
    assert clean_author("chuck-ross") is None and clean_author("105092") is None
    assert clean_author("Corina Gall (cog.)") == "Corina Gall"
    # A by-word that also begins surnames stays on the name.
    assert clean_author("Di Maio") == "Di Maio" and clean_author("von Trotta") == "von Trotta"
    assert clean_author("بقلم أحمد علي") == "أحمد علي"
    head = '<meta property="og:site_name" content="Fox News"><meta name="author" content="Aaron Doe, Fox News">'
    assert extract(with_block("", head=head), "https://news.example/a/1").author == "Aaron Doe"
    head = '<meta property="og:site_name" content="WELT"><meta name="author" content="Ulrich Welter, Anna Roe">'
    assert extract(with_block("", head=head), "https://news.example/a/1").author == "Ulrich Welter, Anna Roe"


def test_a_person_named_elsewhere_beats_the_publisher_as_author():
    ld = ('<script type="application/ld+json">{"@type": "NewsArticle", "headline": "عنوان الخبر الرئيسي اليوم",'
          ' "author": {"@type": "Organization", "name": "Example News"}}</script>'
          '<meta property="og:site_name" content="Example News">')
    url = "https://news.example/a/1"
    # Another machine-readable field names the writer.
    a = extract(with_block("", head=ld + '<meta name="author" content="Jane Doe">'), url)
    assert (a.author, a.provenance["author"]) == ("Jane Doe", "meta:author")
    # ... but a credit line that names the site is not a person.
    a = extract(with_block("", head=ld + '<meta name="author" content="news.example, Frankfurt, Germany">'), url)
    assert a.author == "Example News"
    # A rel=author link, and a line that opens with a by-word, name the writer too.
    linked = "<p class='meta'>By <a rel='author' href='/people/jane'>Jane Doe</a></p>"
    assert extract(with_block("", head=ld).replace("</h1>", f"</h1>{linked}"), url).author == "Jane Doe"
    von = "<p class='reader-meta'> von <a href='/autoren/name/max-kolter'>Dr. Max Kolter</a> </p>"
    a = extract(with_block("", head=ld).replace("</h1>", f"</h1>{von}"), url)
    assert (a.author, a.provenance["author"]) == ("Dr. Max Kolter", "byline")
    # «By Example News with Agencies»: the site and a wire credit, no person; the publisher stays.
    agencies = "<div class='contributors'>By&nbsp;<b>Example News</b> with&nbsp;<b>Agencies</b></div>"
    assert extract(with_block("", head=ld).replace("</h1>", f"</h1>{agencies}"), url).author == "Example News"


def test_a_byline_line_anywhere_is_not_body():
    cards = "<p>von Anne Sophie Beispiel</p><p>By the river the old town keeps its market every Sunday morning.</p>"
    a = extract(with_block(cards), "https://news.example/a/1")
    assert "Anne Sophie" not in a.text and "By the river" in a.text


def test_ruby_readings_are_kept_as_the_page_prints_them_in_plain_text():
    sentence = ("尹氏は野党が政府高官や検事らへの<ruby><rb>弾劾</rb><rp>（</rp><rt>だんがい</rt><rp>）</rp></ruby>"
                "訴追案を提出している点などを挙げ、反国家行為だと指摘した。")
    html = with_block(f"<p>{sentence}</p>")
    assert "弾劾（だんがい）訴追案" in extract(html, "https://news.example/a/1").text


def test_the_metadata_cascade_is_a_typed_record():
    """The cascade hands the body step a frozen Metadata, not a dict with extra keys to pop."""
    from scraper.extract.metadata import Metadata, extract_metadata
    from scraper.extract.parse import parse_html

    case = golden("jsonld_only")
    meta = extract_metadata(parse_html((PAGES / "jsonld_only.html").read_text(encoding="utf-8")),
                            case["url"], None)
    assert isinstance(meta, Metadata)
    assert meta.title == case["record"]["title"] and meta.provenance["title"] == "json-ld"
    assert meta.tags == tuple(case["record"]["tags"]) and meta.live_blog is False
    assert meta.value("published") == case["record"]["published"] and meta.value("site") is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        meta.title = "changed"
