"""Dates as news pages print them (Arabic first) and as machines write them, to ISO 8601.

Month names are data (``MONTH_NAMES``): one line per language or region, twelve slots, ``/`` between
spellings of one month, ``_`` for a space. They are normalised like the page text (hamza, tatweel,
diacritics, accents, case, digits), so ``أغسطس``/``اغسطس`` or ``févr``/``fevr`` need one entry each.
A naive local time takes the site's time zone; a Hijri date beside the Gregorian one is skipped.
"""
from __future__ import annotations

import email.utils
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import DateError

MONTH_NAMES = {
    "ar": "يناير فبراير مارس أبريل مايو يونيو/يونيه يوليو/يوليه أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
    "ar-levant": "كانون_الثاني/كانون_ثاني شباط آذار نيسان أيار حزيران تموز آب أيلول "
                 "تشرين_الأول/تشرين_أول تشرين_الثاني/تشرين_ثاني كانون_الأول/كانون_أول",
    "ar-dz-tn": "جانفي فيفري مارس أفريل ماي جوان جويلية أوت سبتمبر أكتوبر نوفمبر ديسمبر",
    "ar-ma": "يناير فبراير مارس أبريل ماي يونيو يوليوز غشت شتنبر أكتوبر نونبر دجنبر",
    "en": "january/jan february/feb march/mar april/apr may june/jun july/jul august/aug "
          "september/sept/sep october/oct november/nov december/dec",
    "fr": "janvier/janv février/févr/fév mars avril/avr mai juin juillet/juil août "
          "septembre/sept octobre/oct novembre/nov décembre/déc",
    "de": "januar/jänner/jan februar/feb märz/maerz april/apr mai juni/jun juli/jul august/aug "
          "september/sep oktober/okt november/nov dezember/dez",
    "es": "enero/ene febrero/feb marzo/mar abril/abr mayo/may junio/jun julio/jul agosto/ago "
          "septiembre/setiembre/sep octubre/oct noviembre/nov diciembre/dic",
    "it": "gennaio/gen febbraio/feb marzo/mar aprile/apr maggio/mag giugno/giu luglio/lug "
          "agosto/ago settembre/set ottobre/ott novembre/nov dicembre/dic",
    "pt": "janeiro/jan fevereiro/fev março/mar abril/abr maio/mai junho/jun julho/jul agosto/ago "
          "setembro/set outubro/out novembro/nov dezembro/dez",
    "nl": "januari/jan februari/feb maart/mrt april/apr mei juni/jun juli/jul augustus/aug "
          "september/sep oktober/okt november/nov december/dec",
    "tr": "ocak şubat mart nisan mayıs haziran temmuz ağustos eylül ekim kasım aralık",
    "id": "januari februari maret april mei juni juli agustus september oktober november desember",
    "ru": "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
}
# Hijri months: a Hijri date is blanked out before the search, so none of its numbers is ever read
# as Gregorian, and a time printed beyond it («22 مارس 2018 الموافق 5 رجب 1439هـ، 10:15») still
# reaches the Gregorian date.
HIJRI_MONTHS = ("محرم صفر ربيع_الأول ربيع_أول ربيع_الآخر ربيع_الثاني ربيع_ثاني جمادى_الأولى جمادى_الآخرة "
                "جمادى_الثانية رجب شعبان رمضان شوال ذو_القعدة ذي_القعدة ذو_الحجة ذي_الحجة")
# Words allowed between a date and its time (or a time and its date): «نشر في: ... الساعة 18:32».
CONNECTORS = ("الساعة الساعه ساعة في عند على الموافق آخر_تحديث اخر_تحديث تحديث محدث نشر "
              "at on à um alle ore às om kl saat pukul в updated update last_updated published")
WEEKDAYS = ("الأحد الاثنين الإثنين الثلاثاء الأربعاء الخميس الجمعة السبت sunday monday tuesday "
            "wednesday thursday friday saturday sun mon tue tues wed thu thur thurs fri sat "
            "dimanche lundi mardi mercredi jeudi vendredi samedi")
# A time right after a prayer name is the prayer-times widget, never a publication time.
PRAYERS = "الفجر الشروق الظهر العصر المغرب العشاء fajr sunrise dhuhr zuhr asr maghrib isha"
AM_WORDS = "am a.m. ص صباحا صباح فجرا"
PM_WORDS = "pm p.m. م مساء مساءا ظهرا عصرا"
# Zone abbreviations that mean one offset; ambiguous ones (AST, IST) are left to the site's zone.
ZONE_HOURS = {"est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6, "pst": -8, "pdt": -7,
              "bst": 1, "cet": 1, "cest": 2, "eet": 2, "eest": 3, "msk": 3, "gst": 4}
# A date line's label, weekday, byline or «آخر تحديث» part fits in this many words; more is a passage.
LABEL_WORDS = 8
# The web's news starts in the 1990s; the window also drops placeholders (0001-01-01, epoch 0).
YEARS = range(1990, 2101)


@dataclass(frozen=True)
class ParsedDate:
    """A date found in a page. ``value`` is 00:00 when ``has_time`` is False; ``has_offset`` says
    the text itself stated the UTC offset (Z, GMT+4, +04:00), not the site's time zone."""

    value: datetime
    has_time: bool
    has_offset: bool


_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "0123456789" * 2)
_LETTERS = str.maketrans({"ى": "ي", "ی": "ي", "ة": "ه", "ک": "ك", "ٱ": "ا", "ı": "i", "ـ": None,
                          "،": ",", "٫": ".", "−": "-", "–": "-", "—": "-"})


def _normalise(text: str) -> str:
    """One spelling per word: Arabic-Indic/Persian digits to ASCII, hamza seats, harakat,
    tatweel and Latin accents dropped (NFKD then no marks), ى/ة folded, lower case."""
    text = unicodedata.normalize("NFKD", text.translate(_DIGITS).casefold())
    text = "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Cf"))
    return text.translate(_LETTERS)


def _alternation(words) -> str:
    """Longest first, so «مايو» wins over «ماي» and «sept» over «sep»."""
    forms = sorted({_normalise(w.replace("_", " ")) for w in words}, key=len, reverse=True)
    return "|".join(re.escape(f).replace(r"\ ", r"\s+") for f in forms)


def _month_table() -> dict[str, int]:
    table: dict[str, int] = {}
    for lang, line in MONTH_NAMES.items():
        slots = line.split()
        assert len(slots) == 12, f"{lang}: {len(slots)} months"
        for number, slot in enumerate(slots, 1):
            for name in slot.split("/"):
                key = _normalise(name.replace("_", " "))
                assert table.setdefault(key, number) == number, f"{name} names two months"
    return table


_MONTHS = _month_table()
_LETTER_BEFORE, _LETTER_AFTER = r"(?<![^\W\d_])", r"(?![^\W\d_])"   # a letter, not a digit
_MONTH = rf"{_LETTER_BEFORE}(?:{_alternation(_MONTHS)}){_LETTER_AFTER}\.?"
_HIJRI_MONTH = rf"{_LETTER_BEFORE}(?:{_alternation(HIJRI_MONTHS.split())}){_LETTER_AFTER}"
_HIJRI_MARK = rf"\s*ه(?:جري\w*)?{_LETTER_AFTER}"          # «هـ» loses its tatweel when normalised
# «2018م» is the Gregorian era mark. (Hijri years, ~1440, are outside YEARS.)
_YEAR = rf"(?P<y>\d{{4}})(?!\d)(?:\s*م{_LETTER_AFTER})?"
_DAY = r"(?<!\d)(?P<d>\d{1,2})(?!\d)"
_SEP = r"\s*[,./\-]?\s*(?:del?\s+)?"
_DATE_PATTERNS = [re.compile(p) for p in (
    # 27 سبتمبر 2015 / 28 آب/اغسطس 2013 / 28 آب (أغسطس) 2013 / 27 de septiembre de 2015 / 1er mars
    rf"{_DAY}(?:st|nd|rd|th|er|º|°|\.)?{_SEP}"
    rf"(?P<m>{_MONTH})(?:\s*[/(\-]\s*{_MONTH}\s*\)?)?{_SEP}{_YEAR}",
    rf"(?P<m>{_MONTH})\s*{_DAY}(?:st|nd|rd|th)?\s*,?\s*{_YEAR}",            # September 27, 2015
    r"(?<![\d.:/\-])(?P<y>\d{4})(?P<s>[/.\-])(?P<m>\d{1,2})(?P=s)(?P<d>\d{1,2})(?!\d)",
    rf"(?<![\d.:/\-]){_DAY}(?P<s>[/.\-])(?P<m>\d{{1,2}})(?P=s){_YEAR}",      # 27/09/2015, day first
)]
_HIJRI = re.compile(
    rf"(?:(?<!\d)\d{{1,2}}\s*,?\s*{_HIJRI_MONTH}(?:\s*\d{{3,4}})?|{_HIJRI_MONTH}\s*\d{{3,4}})"
    rf"(?:{_HIJRI_MARK})?"
    rf"|(?<!\d)\d{{1,4}}[/.\-]\d{{1,2}}[/.\-]\d{{1,4}}{_HIJRI_MARK}")


def _words(line: str) -> str:
    return _alternation(line.split())


_CLOCK = r"(?<!\d)(?P<H>\d{1,2})\s*[:h]\s*(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,]\d+)?)?(?!\d)"
_AMPM = rf"(?:\s*(?:(?P<am>{_words(AM_WORDS)})|(?P<pm>{_words(PM_WORDS)})){_LETTER_AFTER})?"
# «(GMT+0400)», «UTC+3», «بتوقيت غرينتش», «EDT», or a bare «+04:00» / «-0430» (two-digit hours only,
# so the «- 28» of a following date is not read as an offset).
_OFFSET = (rf"(?:\s*\(?\s*(?:(?P<utc>gmt|utc|z|(?:ب?توقيت\s+)?[غج]رين?ي?تش)|(?P<abbr>{'|'.join(ZONE_HOURS)}))"
           rf"{_LETTER_AFTER}(?:\s*(?P<sign>[+-])\s*(?P<oh>\d{{1,2}})(?::?(?P<om>\d{{2}}))?)?"
           rf"|\s*(?P<sign2>[+-])(?P<oh2>\d{{2}}):?(?P<om2>\d{{2}})(?!\d))?\s*\)?")
_TIME = _CLOCK + _AMPM + _OFFSET
_GAP = rf"(?:[\s,:|/@(\-·•t]|(?:{_words(CONNECTORS)}){_LETTER_AFTER})*"       # «t»: ISO 8601
_TIME_AFTER = re.compile(_GAP + _TIME)
_GAP_BEFORE = rf"(?:[\s,:|/@(\-·•]|(?:{_words(CONNECTORS + ' ' + WEEKDAYS)}){_LETTER_AFTER})*"
_TIME_BEFORE = re.compile(rf"{_TIME}{_GAP_BEFORE}$")   # «18:32 - الأحد 27 سبتمبر 2015»
_PRAYER_BEFORE = re.compile(rf"(?:{_words(PRAYERS)})\s*:?\s*$")
_EPOCH = re.compile(r"-?\d{9,13}(?:\.\d+)?")
_ISO_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")


def _zone(tz: str | tzinfo | None) -> tzinfo | None:
    if tz is None or isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {tz!r}") from exc


def _calendar_date(m: re.Match) -> date | None:
    """The match's date if it exists and falls in YEARS; day first, unless only month first works."""
    year = int(m["y"])
    if year not in YEARS:
        return None
    month = _MONTHS[re.sub(r"\s+", " ", m["m"].rstrip("."))] if not m["m"].isdigit() else int(m["m"])
    # 09/27/2015 can only be month first; 2015-13-01 is not read as year-day-month.
    swap = m["m"].isdigit() and m.start("d") < m.start("m")
    orders = [(int(m["d"]), month)] + ([(month, int(m["d"]))] if swap else [])
    for d, mo in orders:
        try:
            return date(year, mo, d)
        except ValueError:
            continue
    return None


def _first_date(norm: str) -> tuple[re.Match, date] | None:
    """The earliest real date any pattern finds (a pattern's impossible matches are passed over)."""
    firsts = [next(((m, d) for m in p.finditer(norm) if (d := _calendar_date(m))), None)
              for p in _DATE_PATTERNS]
    return min(filter(None, firsts), key=lambda found: found[0].start(), default=None)


def _clock(m: re.Match) -> tuple[int, int, int, tzinfo | None] | None:
    """(hour, minute, second, stated offset or None) from a _TIME match; None if impossible."""
    hour, minute, second = int(m["H"]), int(m["M"]), int(m["S"] or 0)
    if m["pm"] and hour < 12:
        hour += 12
    elif m["am"] and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset = None
    if m["utc"] or m["abbr"]:
        hours = ZONE_HOURS.get(m["abbr"] or "", 0)
        if m["sign"]:
            hours = int(m["oh"]) + int(m["om"] or 0) / 60
            hours = -hours if m["sign"] == "-" else hours
        offset = hours
    elif m["sign2"]:
        offset = (int(m["oh2"]) + int(m["om2"]) / 60) * (-1 if m["sign2"] == "-" else 1)
    if offset is not None:
        if abs(offset) > 14:
            return None
        offset = timezone(timedelta(hours=offset))
    return hour, minute, second, offset


def _time_near(norm: str, date_match: re.Match) -> tuple[tuple | None, int, int]:
    """The clock printed right after (or else right before) the date, and the span date+time."""
    start, end = date_match.span()
    after = _TIME_AFTER.match(norm, end)
    if after and (clock := _clock(after)):
        return clock, start, after.end()
    before = _TIME_BEFORE.search(norm, max(0, start - 60), start)
    if before and not _PRAYER_BEFORE.search(norm, max(0, before.start() - 20), before.start()):
        if clock := _clock(before):
            return clock, before.start(), end
    return None, start, end


def _result(day: date, clock, zone: tzinfo | None) -> ParsedDate:
    hour, minute, second, offset = clock or (0, 0, 0, None)
    tz = offset if offset is not None else zone
    value = datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=tz)
    return ParsedDate(value, has_time=clock is not None, has_offset=offset is not None)


def _scan(text: str, tz) -> tuple[ParsedDate, int] | None:
    """The first date in ``text`` and how many words stand outside it (Hijri dates not counted)."""
    zone = _zone(tz)
    norm = _HIJRI.sub(lambda m: " " * len(m.group()), _normalise(text or ""))
    found = _first_date(norm)
    if found is None:
        return None
    clock, start, end = _time_near(norm, found[0])
    other_words = len(re.findall(r"[^\W_]+", norm[:start] + " " + norm[end:]))
    return _result(found[1], clock, zone), other_words


def find_date(text: str, tz: str | tzinfo | None = None) -> ParsedDate | None:
    """The first Gregorian date (with its time and offset, if printed beside it) in ``text``,
    or None when the text has no full date (day, month and year)."""
    found = _scan(text, tz)
    return found[0] if found else None


def parse_date(text: str, tz: str | tzinfo | None = None, *, default_time: bool = False) -> ParsedDate:
    """Parse one printed date/time expression: a date line with at most a short label around it
    («نشر في: الأحد 27 سبتمبر 2015 18:32»), not a passage (search those with ``find_date``).

    A date without a time comes back at 00:00 with ``has_time=False``; with ``default_time=True``
    the caller accepts midnight as the time, so ``has_time`` is True and ``to_iso`` prints a full
    timestamp. Raises ValueError when the text holds no full date, or more than a date line.
    """
    scanned = _scan(text, tz)
    if scanned is None:
        raise DateError(f"no date in {text[:80]!r}")
    found, other_words = scanned
    if other_words > LABEL_WORDS:
        raise DateError(f"more than a date in {text[:80]!r}")
    if default_time and not found.has_time:
        return ParsedDate(found.value, has_time=True, has_offset=found.has_offset)
    return found


def parse_iso_like(text: str, tz: str | tzinfo | None = None) -> ParsedDate:
    """Parse a machine date (JSON-LD, OpenGraph, ``<time datetime>``, feeds): ISO 8601 with or
    without offset, 'YYYY-MM-DD HH:MM:SS', RFC 2822, epoch seconds or milliseconds. Printed dates
    are ``parse_date``'s. Raises DateError (a ValueError) for anything else, absurd years included."""
    zone = _zone(tz)
    raw = (text or "").strip().translate(_DIGITS)
    try:
        value, has_time = _machine_date(raw)
    except (OverflowError, OSError):   # a year past what datetime or the C library can hold
        raise DateError(f"year out of range in {raw[:80]!r}") from None
    if value is None:
        raise DateError(f"not a machine-readable date: {raw[:80]!r}")
    if value.year not in YEARS:
        raise DateError(f"year {value.year} out of range in {raw[:80]!r}")
    has_offset = value.tzinfo is not None
    if not has_offset:
        value = value.replace(tzinfo=zone)
    return ParsedDate(value, has_time=has_time, has_offset=has_offset)


def _machine_date(raw: str) -> tuple[datetime | None, bool]:
    """(the datetime ``raw`` writes, whether it gives a time); None when it is no machine date."""
    value, has_time = None, True
    if _EPOCH.fullmatch(raw):
        number = float(raw)
        seconds = number / 1000 if abs(number) >= 1e11 else number   # 1e11 s is the year 5138
        value = datetime.fromtimestamp(seconds, timezone.utc)
    else:
        iso = re.sub(r"^(\d{4})/(\d{1,2})/(\d{1,2})", r"\1-\2-\3", raw)
        iso = re.sub(r"\s+(?=[+-]\d{2}:?\d{2}$)", "", iso)   # «2015-09-27 18:32:00 +04:00»
        try:
            value = datetime.fromisoformat(iso)
            has_time = not _ISO_DATE_ONLY.fullmatch(iso)
        except ValueError:
            try:
                value = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                pass
            else:   # RFC 5322: «-0000» is UTC with the sender's zone unknown, not a local time
                if value.tzinfo is None and re.search(r"-0000\s*$", raw):
                    value = value.replace(tzinfo=timezone.utc)
    return value, has_time


def to_iso(p: ParsedDate | datetime) -> str:
    """``2015-09-27T18:32:00+04:00``; ``2015-09-27`` for a date alone; no offset when naive."""
    if isinstance(p, ParsedDate):
        if not p.has_time:
            return p.value.date().isoformat()
        p = p.value
    return p.isoformat(timespec="seconds")

def parse_timestamp(value: str | None, tz: ZoneInfo | None = None) -> datetime | None:
    """RFC 822 (RSS), ISO 8601 / W3C Datetime (Atom, sitemaps); a naive time takes ``tz`` (or UTC).

    None when absent or unreadable, and for a year outside YEARS (a feed's year 9999999999 or
    0001 is no publication date, and near datetime's limits it cannot even be converted to UTC).
    """
    if not value:
        return None
    value = value.strip()
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            return None
    if parsed.year not in YEARS:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz or timezone.utc)
    return parsed
