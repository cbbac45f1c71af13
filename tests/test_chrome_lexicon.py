"""The Arabic chrome lexicon and the rules that use it: each kind of chrome goes on evidence of its kind
and its place (links, position in the story), and the story's own sentences that say the same words stay."""
from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.extract import extract
from scraper.extract.boilerplate import chrome_reason, is_label
from scraper.extract.chrome_lines import call_to_follow, placed_chrome_reason
from scraper.extract.lexicon import LEXICON, load
from scraper.extract.parse import parse_html
from scraper.extract.textfold import fold

SENTENCES = [f"الفقرة رقم {i} من نص الخبر الطويل تتحدث عن موضوع مهم للقراء في المنطقة كلها اليوم." for i in range(1, 8)]
URL = "https://news.example.com/a/1"


def story(before: str = "", middle: str = "", after: str = "") -> str:
    body = "".join(f"<p>{s}</p>" for s in SENTENCES[:4]) + middle + "".join(f"<p>{s}</p>" for s in SENTENCES[4:])
    return (f"<html lang='ar'><head><title>عنوان الخبر الرئيسي</title></head><body><article>"
            f"<h1>عنوان الخبر الرئيسي اليوم</h1><div class='text'>{before}{body}{after}</div></article></body></html>")


def text_of(html: str) -> str:
    return extract(html, URL).text


# --- lines judged alone ----------------------------------------------------------------------

@pytest.mark.parametrize("line", ["طباعة", "أرسل لصديق", "طباعة أرسل لصديق", "التعليقات (3)", "أضف تعليقك",
                                  "استطلاع الرأي", "النشرة البريدية", "آخر الأخبار", "الأكثر قراءة:",
                                  "عاجل:", "بيان صحفي", "محتوى مدفوع", "قد يعجبك أيضاً", "شارك فيسبوك واتساب"])
def test_a_widgets_label_alone_on_its_line_is_chrome(line):
    assert chrome_reason(line) is not None


@pytest.mark.parametrize("line", ["أصدرت الوزارة بيان صحفي اليوم", "التعليقات على القرار كانت سلبية",
                                  "عاجل من الحكومة إلى البرلمان"])
def test_a_sentence_holding_a_label_is_not_a_label(line):
    assert not is_label(fold(line))


@pytest.mark.parametrize("line", ["وام - منذ ساعتين", "القاهرة - أ ش أ - منذ 3 ساعات", "منذ ٥ دقائق",
                                  "رويترز قبل يومين"])
def test_a_credit_or_teaser_with_a_relative_time_is_chrome(line):
    assert chrome_reason(line).startswith("relative time")


def test_a_sentence_saying_two_hours_ago_is_the_story():
    sentence = "وقال شهود إن الحريق اندلع في المستودع منذ ساعتين وإن فرق الإطفاء ما زالت تعمل على إخماده"
    assert chrome_reason(sentence) is None


def test_disclaimer_of_opinion_pages():
    assert chrome_reason("المواد المنشورة تعبر عن آراء كتابها") is not None


# --- lines judged by their place and links ----------------------------------------------------

def test_an_appeal_to_follow_the_site_needs_a_form_addressing_the_reader_and_a_channel():
    assert call_to_follow(fold("تابعوا آخر أخبارنا عبر قناتنا على واتساب"))[0] == "تابعوا"
    assert call_to_follow(fold("لمتابعة أخبار الموقع على تطبيق نبض اضغط هنا")) is not None
    # «تابع» is also "he went on": no appeal; a ministry's channel reported is no appeal either.
    assert call_to_follow(fold("وتابع الوزير قائلا إن القناة الرسمية على تلغرام ستنشر التفاصيل")) is None
    assert call_to_follow(fold("أطلقت الوزارة قناة على تلغرام لنشر المستجدات الصحية")) is None


def test_a_linked_appeal_goes_wherever_it_sits():
    appeal = "<p>تابعوا آخر الأخبار عبر <a href='https://whatsapp.com/channel/x'>قناتنا على واتساب</a></p>"
    assert "واتساب" not in text_of(story(middle=appeal))


def test_an_unlinked_appeal_goes_at_the_storys_end_only():
    appeal = "<p>تابعوا آخر الأخبار عبر قناتنا على واتساب وتلغرام</p>"
    assert "واتساب" not in text_of(story(after=appeal))
    assert "واتساب" in text_of(story(middle=appeal))   # in the middle: a quote, maybe; kept


def test_the_storys_last_sentence_about_a_channel_stays():
    last = "<p>وأطلقت الوزارة قناة رسمية على تلغرام لنشر المستجدات الصحية وأرقام الطوارئ للمواطنين.</p>"
    assert "تلغرام" in text_of(story(after=last))


def test_a_long_paragraph_is_never_an_appeal():
    long = "تابعوا " + " ".join(["كلمة"] * 40) + " على واتساب"
    assert placed_chrome_reason(long, 9, 10, None) is None


def test_an_issuer_line_goes_at_the_ends_of_the_story_only():
    issuer = "<p>صادر عن: المكتب الإعلامي لوزارة الصحة</p>"
    assert "صادر عن" not in text_of(story(after=issuer))
    assert "صادر عن" in text_of(story(middle=issuer))


def test_a_line_of_menu_links_is_navigation_but_a_sentence_with_links_is_not():
    menu = ("<p><a href='/'>الرئيسية</a> | <a href='/politics'>سياسة</a> | <a href='/economy'>اقتصاد</a>"
            " | <a href='/sport'>رياضة</a></p>")
    assert "سياسة" not in text_of(story(middle=menu))
    sentence = ("<p>وقالت <a href='/who'>منظمة الصحة العالمية</a> إن التقرير الجديد لـ<a href='/unicef'>اليونيسف</a>"
                " يؤكد ارتفاع عدد الإصابات في المنطقة خلال الأسابيع الماضية.</p>")
    assert "منظمة الصحة العالمية" in text_of(story(middle=sentence))


def test_the_section_label_glued_to_the_headline_is_not_body():
    label = "<p><a href='/economy'>اقتصاد</a>عنوان الخبر الرئيسي اليوم</p>"
    assert "اقتصاد" not in text_of(story(before=label))


_ARABIC_WORDS = st.lists(st.sampled_from(
    "في من على إلى قال الوزير الحكومة الشركة العام المدينة تابعوا قناة واتساب منذ ساعتين طباعة التعليقات "
    "صادر عن نبض اضغط هنا النشرة المزيد الأخبار الأسعار الدولار".split()), min_size=61, max_size=120)


@settings(max_examples=200, deadline=None)
@given(_ARABIC_WORDS)
def test_a_paragraph_of_more_than_sixty_words_is_never_chrome_by_the_lexicon(words):
    text = " ".join(words)
    if not fold(text[:40]).startswith(LEXICON.leading):
        assert chrome_reason(text) is None
    assert placed_chrome_reason(text, 0, 1, None) is None


# --- the lexicon file -------------------------------------------------------------------------

def test_the_packaged_lexicon_has_every_kind_folded():
    for kind in (LEXICON.markers, LEXICON.leading, LEXICON.labels, LEXICON.call_verbs, LEXICON.channels,
                 LEXICON.issuers):
        assert kind and all(p == fold(p) for p in kind)
    assert LEXICON.relative_time.search(fold("منذ ساعتين"))


def test_a_broken_lexicon_fails_loudly():
    with pytest.raises(tomllib.TOMLDecodeError):
        load("[markers\nar = [")
    with pytest.raises(KeyError):
        load("[markers]\nar = []\n")


@pytest.mark.parametrize("line,kind", [
    ("الدولار: 47.35 جنيه", "price ticker"), ("الذهب عيار 21: 3,150 جنيه", "price ticker"),
    ("الأورو: 145.20 دج (الرسمي) — 240 دج (السوق الموازية)", "price ticker"),
    ("برنت 83.2$ ▲ الذهب 2,318$ ▼", "price ticker"),
    ("الرياض 24° غائم جزئياً", "weather ticker"), ("الكويت: العظمى 31 الصغرى 19", "weather ticker"),
    ("بغداد: ٣٤ درجة", "weather ticker")])
def test_ticker_lines_are_chrome(line, kind):
    assert chrome_reason(line) == kind


@pytest.mark.parametrize("line", ["ارتفع الدولار إلى 47 جنيها في البنوك", "سجلت الكويت 52 درجة",
                                  "وبلغت درجة الحرارة 45° في الظل أمس في البصرة وفق هيئة الأرصاد الجوية"])
def test_sentences_about_prices_and_heat_are_the_story(line):
    assert chrome_reason(line) is None


@pytest.mark.parametrize("line", ["اضغط هنا", "للمزيد اضغط هنا", "انقر هنا"])
def test_click_here_alone_is_a_links_call(line):
    assert chrome_reason(line).startswith("label")
