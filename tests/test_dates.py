"""scraper.dates: printed dates (Arabic first) and machine dates, to the record's ISO 8601 form."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from scraper.dates import (
    MONTH_NAMES, ParsedDate, find_date, parse_date, parse_iso_like, to_iso,
)


def iso(text, tz=None):
    found = find_date(text, tz)
    return None if found is None else to_iso(found)


# The lines the brief and the seed name, verbatim.
@pytest.mark.parametrize("text, tz, expected", [
    ("27 سبتمبر 2015 18:32", "Asia/Dubai", "2015-09-27T18:32:00+04:00"),          # the seed
    ("نشر في: 27 سبتمبر 2015 18:32", "Asia/Dubai", "2015-09-27T18:32:00+04:00"),
    # CNN Arabic: the stated offset wins over the site's zone
    ("الأربعاء، 28 آب/اغسطس 2013، آخر تحديث 14:00 (GMT+0400)", "Europe/London", "2013-08-28T14:00:00+04:00"),
    # the old Al Ittihad masthead: the Hijri date is skipped, there is no time
    ("الخميس 04 رجب 1439هـ - 22 مارس 2018م", "Asia/Dubai", "2018-03-22"),
])
def test_brief_lines(text, tz, expected):
    assert iso(text, tz) == expected


def test_seed_page_first_date_is_the_masthead_without_a_prayer_time():
    # find_date takes the first date; the masthead is followed by prayer times, never glued to them.
    page = "الخميس 28 مارس 2024 أبوظبي الإمارات\nمواقيت الصلاة\nالفجر 04:52 الظهر 12:20\n"
    assert iso(page, "Asia/Dubai") == "2024-03-28"
    assert iso(page + "العشاء 19:45 الخميس 28 مارس 2024", "Asia/Dubai") == "2024-03-28"


GULF = "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر".split()
LEVANT = ["كانون الثاني", "شباط", "آذار", "نيسان", "أيار", "حزيران", "تموز", "آب", "أيلول",
          "تشرين الأول", "تشرين الثاني", "كانون الأول"]
ALGERIA = "جانفي فيفري مارس أفريل ماي جوان جويلية أوت سبتمبر أكتوبر نوفمبر ديسمبر".split()
MOROCCO = "يناير فبراير مارس أبريل ماي يونيو يوليوز غشت شتنبر أكتوبر نونبر دجنبر".split()


@pytest.mark.parametrize("names", [GULF, LEVANT, ALGERIA, MOROCCO], ids=["gulf", "levant", "dz", "ma"])
def test_every_arabic_month_of_every_region(names):
    got = [iso(f"الأحد 9 {name} 2016") for name in names]
    assert got == [f"2016-{month:02d}-09" for month in range(1, 13)]


@pytest.mark.parametrize("text, expected", [
    ("5 ابريل 2016", "2016-04-05"), ("5 إبريل 2016", "2016-04-05"), ("5 اغسطس 2016", "2016-08-05"),
    ("5 أغسطس 2016", "2016-08-05"), ("5 اكتوبر 2016", "2016-10-05"), ("5 يونية 2016", "2016-06-05"),
    ("5 يونيه 2016", "2016-06-05"), ("5 يولية 2016", "2016-07-05"), ("5 اذار 2016", "2016-03-05"),
    ("5 ايار 2016", "2016-05-05"), ("5 اب 2016", "2016-08-05"), ("5 ايلول 2016", "2016-09-05"),
    ("5 تشرين الاول 2016", "2016-10-05"), ("5 تشرين اول 2016", "2016-10-05"),
    ("5 كانون الاول 2016", "2016-12-05"), ("5 كانون  الثاني 2016", "2016-01-05"),
    ("5 أبريـــل 2016", "2016-04-05"),                       # tatweel
    ("28 آب (أغسطس) 2013", "2013-08-28"), ("28 أغسطس/آب 2013", "2013-08-28"),
    ("28 تموز - يوليو 2013", "2013-07-28"), ("5 ماي 2016", "2016-05-05"), ("5 مايو 2016", "2016-05-05"),
])
def test_spellings_hamza_and_double_names(text, expected):
    assert iso(text) == expected


@pytest.mark.parametrize("text, tz, expected", [
    ("٢٧ سبتمبر ٢٠١٥ ١٨:٣٢", "Asia/Dubai", "2015-09-27T18:32:00+04:00"),        # Arabic-Indic
    ("۲۷ سبتمبر ۲۰۱۵ ۱۸:۳۲", "Asia/Dubai", "2015-09-27T18:32:00+04:00"),        # Persian
    ("٢٧/٠٩/٢٠١٥", None, "2015-09-27"),
    ("الأحد، 27 سبتمبر، 2015", None, "2015-09-27"),                               # Arabic commas
    ("27 سبتمبر 2015م 06:32 م", None, "2015-09-27T18:32:00"),                    # era «م», then PM «م»
    ("27 سبتمبر 2015 الساعة 6:32 مساءً", "Asia/Riyadh", "2015-09-27T18:32:00+03:00"),
    ("27 سبتمبر 2015 9:05 صباحاً", None, "2015-09-27T09:05:00"),
    ("27 سبتمبر 2015 12:15 ص", None, "2015-09-27T00:15:00"),
    ("27 سبتمبر 2015 12:15 م", None, "2015-09-27T12:15:00"),
    ("27 سبتمبر 2015 18:32 م", None, "2015-09-27T18:32:00"),                      # 24h hour wins
    ("27 سبتمبر 2015 14:00 بتوقيت غرينتش", "Asia/Dubai", "2015-09-27T14:00:00+00:00"),
    ("27 سبتمبر 2015 14:00 توقيت جرينتش", "Asia/Dubai", "2015-09-27T14:00:00+00:00"),
    ("27 سبتمبر 2015 18:32 +04:00", None, "2015-09-27T18:32:00+04:00"),
    ("27 سبتمبر 2015 18:32 -0430", None, "2015-09-27T18:32:00-04:30"),
    ("27 سبتمبر 2015 14:00 GMT", None, "2015-09-27T14:00:00+00:00"),
    ("Sunday, 27 September 2015 14:00 UTC+3", None, "2015-09-27T14:00:00+03:00"),
    ("Sept. 27, 2015 at 6:32 PM EDT", "Asia/Dubai", "2015-09-27T18:32:00-04:00"),
    ("18:32 - الأحد 27 سبتمبر 2015", "Asia/Dubai", "2015-09-27T18:32:00+04:00"),   # time first
    ("27 سبتمبر 2015 18:32:07", None, "2015-09-27T18:32:07"),
])
def test_digits_times_and_offsets(text, tz, expected):
    assert iso(text, tz) == expected


@pytest.mark.parametrize("text, expected", [
    ("27/09/2015", "2015-09-27"), ("27.09.2015", "2015-09-27"), ("27-09-2015", "2015-09-27"),
    ("2015-09-27", "2015-09-27"), ("2015/09/27", "2015-09-27"), ("7/9/2015", "2015-09-07"),
    ("09/27/2015", "2015-09-27"),                 # day first, unless only month first exists
    ("الأحد 27-09-2015 - 18:32", "2015-09-27T18:32:00"),
    ("2015-09-27T18:32:00.123456789Z", "2015-09-27T18:32:00+00:00"),
    ("2015-09-27 18:32:00", "2015-09-27T18:32:00"),
])
def test_numeric_dates(text, expected):
    assert iso(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("الخميس 04 رجب 1439هـ الموافق 22 مارس 2018م 10:15", "2018-03-22T10:15:00"),
    ("1 رمضان 1445 هـ - 11 مارس 2024", "2024-03-11"),
    # the Hijri date is blanked, so the time beyond it still belongs to the Gregorian date
    ("22 مارس 2018 الموافق 5 رجب 1439هـ، 10:15", "2018-03-22T10:15:00"),
    ("10:15 - 5 رجب 1439هـ - 22 مارس 2018", "2018-03-22T10:15:00"),
    ("15 ذو القعدة 1440 هجري / 18 يوليو 2019", "2019-07-18"),
    ("12 ربيع الأول 1445 هـ", None), ("4 رجب 1439هـ", None), ("1439/07/04هـ", None),
    ("04/07/1439 هـ", None), ("5 جمادى الآخرة 1440", None),
])
def test_hijri_is_never_taken(text, expected):
    assert iso(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("September 27, 2015 6:32 pm", "2015-09-27T18:32:00"), ("Sep 27th, 2015", "2015-09-27"),
    ("27 Jan. 2015", "2015-01-27"), ("1er mars 2015", "2015-03-01"),
    ("3 févr. 2015 à 18h32", "2015-02-03T18:32:00"), ("le 14 août 2019", "2019-08-14"),
    ("24. März 2015 um 18:32 Uhr", "2015-03-24T18:32:00"), ("3. Jänner 2015", "2015-01-03"),
    ("27 de septiembre de 2015", "2015-09-27"), ("5 mayo del 2016", "2016-05-05"),
    ("27 settembre 2015 ore 18:32", "2015-09-27T18:32:00"), ("3 gen 2015", "2015-01-03"),
    ("27 de setembro de 2015 às 18:32", "2015-09-27T18:32:00"), ("2 março 2015", "2015-03-02"),
    ("27 september 2015 om 18:32", "2015-09-27T18:32:00"), ("3 mrt 2015", "2015-03-03"),
    ("27 Eylül 2015", "2015-09-27"), ("27 Agustus 2015", "2015-08-27"),
    ("27 сентября 2015 г.", "2015-09-27"),
])
def test_european_and_other_languages(text, expected):
    assert iso(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("27 July 2015 18:32", "2015-07-27T18:32:00+02:00"),      # CEST
    ("27 January 2015 18:32", "2015-01-27T18:32:00+01:00"),   # CET
    ("25.10.2015 01:30", "2015-10-25T01:30:00+02:00"),        # the morning clocks go back
    ("26.10.2015 01:30", "2015-10-26T01:30:00+01:00"),
])
def test_dst_aware_zone(text, expected):
    assert iso(text, "Europe/Berlin") == expected
    assert iso(text, ZoneInfo("Europe/Berlin")) == expected    # a tzinfo works like a name


@pytest.mark.parametrize("text", [
    "جميع الحقوق محفوظة لمركز الاتحاد للأخبار 2024©", "جميع الحقوق محفوظة 2024©",
    "الفجر 04:52", "مواقيت الصلاة الفجر 04:52 الظهر 12:20 العصر 15:40",
    "سبتمبر 2015", "27 سبتمبر", "September 2015", "",
    "27/13/2015", "32/01/2015", "30 فبراير 2015", "31 نيسان 2016", "2015-13-01",   # impossible
    "27 سبتمبر 1989", "27 سبتمبر 2101", "12/05/1985",                  # outside 1990..2100
    "قتل 27 شخصا في 2015 بحسب التقرير", "version 1.2.3, build 2015",
])
def test_no_date(text):
    assert find_date(text) is None
    with pytest.raises(ValueError):
        parse_date(text)


def test_time_is_not_taken_across_unrelated_words():
    # only separators and connector words («الساعة», «آخر تحديث», «at») may stand between
    assert iso("27 سبتمبر 2015 أبوظبي 18:32", "Asia/Dubai") == "2015-09-27"
    assert iso("27 سبتمبر 2015 | آخر تحديث: 28 سبتمبر 2015 10:00") == "2015-09-27"


def test_parse_date_marks_what_was_printed():
    p = parse_date("27 سبتمبر 2015 18:32", "Asia/Dubai")
    assert p == ParsedDate(datetime(2015, 9, 27, 18, 32, tzinfo=ZoneInfo("Asia/Dubai")), True, False)
    assert parse_date("27 سبتمبر 2015 18:32 GMT+4").has_offset
    naive = parse_date("27 سبتمبر 2015 18:32")
    assert naive.value.tzinfo is None and to_iso(naive) == "2015-09-27T18:32:00"
    day = parse_date("27 سبتمبر 2015", "Asia/Dubai")
    assert (day.has_time, day.value.hour, to_iso(day)) == (False, 0, "2015-09-27")
    full = parse_date("27 سبتمبر 2015", "Asia/Dubai", default_time=True)
    assert (full.has_time, to_iso(full)) == (True, "2015-09-27T00:00:00+04:00")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.has_time = False


@pytest.mark.parametrize("line", [
    "نشر في: الأحد 27 سبتمبر 2015 18:32", "تاريخ النشر: 27/09/2015 - 18:32",
    "Last updated on Sunday, 27 September 2015 18:32", "بقلم: محمد أحمد علي | 27 سبتمبر 2015 18:32",
    "نشر 27 سبتمبر 2015 18:32 - تحديث 28 سبتمبر 2015 10:00",       # two dates: the first is taken
])
def test_parse_date_accepts_a_date_line_with_its_label(line):
    assert to_iso(parse_date(line, "Asia/Dubai")) == "2015-09-27T18:32:00+04:00"


def test_parse_date_refuses_a_passage_that_find_date_searches():
    passage = ("أفادت مصادر عسكرية عراقية اليوم الأحد 27 سبتمبر 2015 أن ممثلين عن دائرة الاستخبارات "
               "العسكرية العراقية سيشاركون في اجتماعات لتنسيق التعاون")
    with pytest.raises(ValueError, match="more than a date"):
        parse_date(passage)
    assert iso(passage, "Asia/Dubai") == "2015-09-27"


def test_unknown_time_zone_is_a_value_error():
    with pytest.raises(ValueError, match="time zone"):
        parse_date("27 سبتمبر 2015", "Mars/Olympus")


@pytest.mark.parametrize("text, expected, has_time, has_offset", [
    ("2015-09-27T18:32:00+04:00", "2015-09-27T18:32:00+04:00", True, True),
    ("2015-09-27T18:32:00+0400", "2015-09-27T18:32:00+04:00", True, True),
    ("2015-09-27T14:32:00.123456789Z", "2015-09-27T14:32:00+00:00", True, True),
    ("2015-09-27T18:32", "2015-09-27T18:32:00+04:00", True, False),
    ("2015-09-27 18:32:00", "2015-09-27T18:32:00+04:00", True, False),
    ("2015/09/27 18:32:00 +04:00", "2015-09-27T18:32:00+04:00", True, True),
    ("2015-09-27", "2015-09-27", False, False),
    ("Sun, 27 Sep 2015 18:32:00 +0400", "2015-09-27T18:32:00+04:00", True, True),
    ("Sun, 27 Sep 2015 14:32:00 GMT", "2015-09-27T14:32:00+00:00", True, True),
    ("Sun, 27 Sep 2015 14:32:00 -0000", "2015-09-27T14:32:00+00:00", True, True),
    ("1443364320", "2015-09-27T14:32:00+00:00", True, True),
    ("1443364320000", "2015-09-27T14:32:00+00:00", True, True),
    ("٢٠١٥-٠٩-٢٧T١٨:٣٢:٠٠", "2015-09-27T18:32:00+04:00", True, False),
])
def test_parse_iso_like(text, expected, has_time, has_offset):
    p = parse_iso_like(text, "Asia/Dubai")
    assert (to_iso(p), p.has_time, p.has_offset) == (expected, has_time, has_offset)


@pytest.mark.parametrize("text", ["", "   ", "not a date", "0001-01-01T00:00:00", "0", "2015-13-01",
                                  "1970-01-01T00:00:00Z", "99999999999999",
                                  "27 سبتمبر 2015 18:32"])   # printed dates are parse_date's
def test_parse_iso_like_rejects(text):
    with pytest.raises(ValueError):
        parse_iso_like(text)


def test_to_iso_forms():
    aware = datetime(2015, 9, 27, 18, 32, tzinfo=ZoneInfo("Asia/Dubai"))
    assert to_iso(aware) == "2015-09-27T18:32:00+04:00"
    assert to_iso(datetime(2015, 9, 27, 18, 32, 5, 999)) == "2015-09-27T18:32:05"
    assert to_iso(datetime(2015, 9, 27, 14, 32, tzinfo=timezone.utc)) == "2015-09-27T14:32:00+00:00"
    assert to_iso(ParsedDate(aware, has_time=False, has_offset=False)) == "2015-09-27"


# Every spelling in the data table is found by the one regex built from it.
SPELLINGS = [(lang, month, name.replace("_", " "))
             for lang, line in MONTH_NAMES.items()
             for month, slot in enumerate(line.split(), 1) for name in slot.split("/")]


@pytest.mark.parametrize("lang, month, name", SPELLINGS)
def test_every_spelling_in_the_table(lang, month, name):
    assert iso(f"9 {name} 2016") == f"2016-{month:02d}-09"


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 12, 31, 23, 59)),
       st.sampled_from([GULF, LEVANT, ALGERIA, MOROCCO]), st.booleans(), st.booleans())
def test_round_trip_printed_arabic_dates(moment, names, indic, twelve_hour):
    if twelve_hour:
        suffix = "ص" if moment.hour < 12 else "م"
        clock = f"{(moment.hour % 12) or 12}:{moment.minute:02d} {suffix}"
    else:
        clock = f"{moment.hour:02d}:{moment.minute:02d}"
    text = f"الأحد، {moment.day} {names[moment.month - 1]} {moment.year} - {clock}"
    if indic:
        text = text.translate(ARABIC_INDIC)
    # a wall time the DST change repeats is its first occurrence (fold=0)
    expected = moment.replace(second=0, microsecond=0, fold=0, tzinfo=ZoneInfo("Africa/Cairo"))
    assert iso(text, "Africa/Cairo") == expected.isoformat(timespec="seconds")


def test_dates_only_in_data_attributes_are_a_last_resort():
    from scraper.extract import extract

    story = "".join(f"<p>الفقرة رقم {n} من نص الخبر الكامل الذي نشرته الصحيفة صباح اليوم في موقعها.</p>"
                    for n in range(6))
    body = (f"<article data-re-deploy-dt='2026.01.29 18:49' data-deploy-dt='2026.01.29 18:40'>"
            f"<h1>عنوان الخبر الرئيسي اليوم</h1>{story}</article>")
    a = extract(f"<html><body>{body}</body></html>", "https://news.example/a/1")
    assert (a.published, a.modified) == ("2026-01-29T18:40:00", "2026-01-29T18:49:00")
    assert a.provenance["published"] == "[data-deploy-dt]"
    # A printed date wins; the attributes are not read then.
    printed = body.replace("<h1>", "<time datetime='2026-01-28T09:00:00+09:00'>28.01.2026</time><h1>")
    assert extract(f"<html><body>{printed}</body></html>", "https://news.example/a/1").published \
        == "2026-01-28T09:00:00+09:00"
    # Attributes that are not named for a date are not dates.
    other = body.replace("data-deploy-dt", "data-article-id").replace("data-re-deploy-dt", "data-count")
    assert extract(f"<html><body>{other}</body></html>", "https://news.example/a/1").published is None
