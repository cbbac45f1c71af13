"""Learned site templates: a generated site without a profile whose boilerplate the generic path leaks."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import hashlib

import pytest
from hypothesis import given, settings, strategies as st

from scraper.extract import templates
from scraper.extract.boilerplate import fold, normalize_space
from scraper.extract.article import extract, parse_html
from scraper.models import Page
from scraper.store import Archive
from scraper.pipeline import learn_site, template_for
from scraper.profiles import site_of
from scraper.store.site_templates import TABLE
from scraper.extract.templates import SiteTemplate, learn_template, strip_template

SITE = "khaleej-news.test"
WEEKDAYS = ["الأحد", "الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت"]
MONTHS = ["يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو"]
ARTICLES = [
    ("افتتاح مستشفى جديد في الشارقة", [
        "افتتحت هيئة الصحة مستشفى جديدا في إمارة الشارقة يضم ثلاثمئة سرير وقسما للطوارئ.",
        "ويضم المستشفى أقساما متخصصة في أمراض القلب والأورام وطب الأطفال.",
        "وقال مدير الهيئة إن المشروع يأتي ضمن خطة لتوسيع الخدمات الصحية في الإمارات الشمالية.",
        "ومن المتوقع أن يستقبل المستشفى أول مرضاه مطلع الشهر المقبل بعد اكتمال التجهيزات."]),
    ("ارتفاع صادرات التمور إلى الأسواق الآسيوية", [
        "سجلت صادرات التمور المحلية ارتفاعا ملحوظا خلال الربع الأول من العام الجاري.",
        "وأرجع مسؤولون في غرفة التجارة الزيادة إلى الطلب المتنامي في الأسواق الآسيوية.",
        "وأشاروا إلى أن المزارعين استفادوا من برامج الدعم الحكومي لتحسين جودة الإنتاج.",
        "وتخطط الغرفة لتنظيم معرض دولي للتمور في الخريف المقبل بمشاركة عشرات الشركات."]),
    ("منتخب الشباب يتأهل إلى نهائي البطولة", [
        "تأهل منتخب الشباب لكرة القدم إلى نهائي البطولة الخليجية بعد فوزه في نصف النهائي.",
        "وسجل هدفي المباراة لاعب الوسط في الشوط الثاني وسط حضور جماهيري كبير.",
        "وأشاد المدرب بروح الفريق وقال إن اللاعبين نفذوا الخطة التكتيكية بدقة عالية.",
        "ويلتقي المنتخب في المباراة النهائية مع الفائز من لقاء الفريقين الآخرين يوم الجمعة."]),
    ("إطلاق منصة رقمية لخدمات الإسكان", [
        "أطلقت وزارة الإسكان منصة رقمية تتيح للمواطنين تقديم طلبات السكن إلكترونيا.",
        "وتختصر المنصة الإجراءات من أسابيع إلى أيام قليلة بحسب بيان الوزارة.",
        "وتتيح الخدمة متابعة حالة الطلب والتواصل مع الموظفين دون الحاجة إلى زيارة المراكز.",
        "وأكدت الوزارة أن المنصة ستضاف إليها خدمات أخرى خلال الأشهر المقبلة."]),
    ("مهرجان للكتاب يستقطب آلاف الزوار", [
        "استقطب مهرجان الكتاب السنوي آلاف الزوار في يومه الأول من مختلف الإمارات.",
        "ويشارك في المهرجان أكثر من مئتي دار نشر عربية وأجنبية تعرض أحدث إصداراتها.",
        "وتتضمن الفعاليات ندوات أدبية وورش عمل للأطفال وأمسيات شعرية يومية.",
        "وقال المنظمون إن دورة هذا العام تشهد مشاركة واسعة من الكتاب الشباب."]),
    ("تمديد ساعات عمل المكتبات العامة", [
        "قررت دائرة الثقافة تمديد ساعات عمل المكتبات العامة حتى منتصف الليل خلال فترة الامتحانات.",
        "ويأتي القرار استجابة لطلبات الطلبة الذين يبحثون عن أماكن هادئة للمذاكرة.",
        "وأوضحت الدائرة أن المكتبات ستوفر خدمة الإنترنت المجانية وقاعات للدراسة الجماعية."]),
    ("حملة للتبرع بالدم في الجامعات", [
        "انطلقت في الجامعات حملة للتبرع بالدم بمشاركة واسعة من الطلبة وأعضاء الهيئة التدريسية.",
        "وقال منظمو الحملة إن الهدف جمع ألفي وحدة دم لدعم مخزون بنوك الدم في المستشفيات.",
        "وتستمر الحملة أسبوعين تتنقل خلالها وحدات متنقلة بين الكليات المختلفة."]),
    ("بدء موسم الهجرة للطيور في المحميات", [
        "رصد باحثون وصول أسراب من الطيور المهاجرة إلى المحميات الطبيعية في الساحل الشرقي.",
        "وقالت هيئة البيئة إن أعداد الطيور هذا الموسم تفوق ما سجل في السنوات الماضية.",
        "ودعت الهيئة الزوار إلى احترام قواعد المحميات وعدم الاقتراب من أماكن التعشيش."]),
]
# The site's boilerplate. The "most read" cards carry their link on the card (data-href), so their
# headlines are plain paragraphs in the article's column: the generic path keeps them.
MOST_READ = ["الأرصاد تتوقع أمطارا متفرقة على المناطق الشرقية نهاية الأسبوع",
             "بلدية المدينة تعلن عن مواعيد جديدة لجمع النفايات في الأحياء السكنية",
             "هيئة الطرق تفتتح جسرا جديدا لتخفيف الازدحام عند مدخل المدينة"]
MASTHEAD = "أخبار الخليج صحيفة يومية مستقلة"
PRAYER_TITLE = "أوقات الصلاة في دبي"
FOOTER = ["صحيفة أخبار الخليج تصدر عن دار الخليج للطباعة والنشر والتوزيع في دبي.",
          "للاشتراك والإعلان اتصلوا بقسم التوزيع على الرقم 04 355 0000"]
BOILERPLATE = [MASTHEAD, PRAYER_TITLE, "الأكثر تداولاً", *MOST_READ, *FOOTER]
BANNER = "تنبيه: تعطل مؤقت في خدمة الاشتراكات الإلكترونية"


def site_page(i: int, *, banner: bool = False) -> str:
    """Page ``i`` of the site: its own article, the day's masthead date and prayer times, the same chrome."""
    title, paragraphs = ARTICLES[i]
    day = 10 + i
    prayers = "".join(f"<li><b>{name}</b> <i>{h:02d}:{(m + 3 * i) % 60:02d}</i></li>" for name, h, m in (
        ("الفجر", 5, 12), ("الظهر", 12, 20), ("العصر", 15, 41), ("المغرب", 18, 22), ("العشاء", 19, 40)))
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    cards = "".join(f"<div class='item' data-href='/news/{900 + k}'><p>{h}</p></div>"
                    for k, h in enumerate(MOST_READ))
    alert = f"<div class='alert'>{BANNER}</div>" if banner else ""
    return f"""<!DOCTYPE html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>{title} | أخبار الخليج</title></head><body>
<div class="masthead"><div class="today">{WEEKDAYS[i % 7]} {day} {MONTHS[i % 7]} 2024 - {MASTHEAD}</div></div>
<nav class="menu"><ul><li><a href="/local">محليات</a></li><li><a href="/eco">اقتصاد</a></li></ul></nav>
<div class="wrap">
<div class="salat-box"><h4>{PRAYER_TITLE}</h4><ul>{prayers}</ul></div>
<div class="col-main post-{4456200 + i}">
{alert}<h1>{title}</h1>
<div class="byline">{day} {MONTHS[i % 7]} 2024</div>
{body}
<div class="box-b"><h4>الأكثر تداولاً</h4>{cards}</div>
</div></div>
<footer class="site-foot"><p>{FOOTER[0]}</p><p>{FOOTER[1]}</p></footer>
</body></html>"""


def url(i: int) -> str:
    return f"https://{SITE}/news/{100 + i}"


PAGES = [site_page(i) for i in range(len(ARTICLES))]


def same_blocks(a: SiteTemplate, b: SiteTemplate) -> bool:
    """The same blocks seen as often (previews are the first page's text, which depends on order)."""
    return {(x.path, x.text_hash, x.pages) for x in a.blocks} == {(x.path, x.text_hash, x.pages) for x in b.blocks}


def text_of(tree) -> str:
    return normalize_space(tree.find("body").text_content())


@pytest.fixture(scope="module")
def template() -> SiteTemplate:
    return learn_template(PAGES)


def test_the_generic_path_alone_leaks_the_sites_boilerplate():
    # The premise of the feature: without a profile the generic extractor keeps chrome.
    for i, html in enumerate(PAGES):
        article = extract(html, url(i))
        assert article.extractor == "generic"
        leaked = [s for s in BOILERPLATE if s in article.text]
        assert leaked, f"page {i}: the generic path kept no boilerplate, the test proves nothing"
        assert MOST_READ[0] in article.text


def test_with_the_learned_template_nothing_leaks_and_every_paragraph_is_kept(template):
    for i, html in enumerate(PAGES):
        article = extract(html, url(i), template=template)
        for s in BOILERPLATE:
            assert s not in article.text, (i, s)
        assert article.text.split("\n\n") == ARTICLES[i][1]
        assert article.title == ARTICLES[i][0]
        assert article.published and article.published.startswith(f"2024-0{i % 7 + 1}-{10 + i}")
        # masthead, menu, prayer times, most read, footer
        assert article.provenance["template"] == "5 learned template block(s) removed"


def test_learned_blocks_are_the_sites_chrome_and_never_the_article(template):
    assert template.pages == len(PAGES) and not template.empty
    previews = " ".join(b.preview for b in template.blocks)
    for s in (MASTHEAD, PRAYER_TITLE, MOST_READ[0], FOOTER[0][:40]):
        assert s[:40] in previews
    for title, paragraphs in ARTICLES:
        assert title not in previews
        assert not any(p[:40] in previews for p in paragraphs)
    # The body paragraphs' path recurs on every page, with different text each time: not template.
    assert not template.has_path("div.wrap/div.col-main/p")
    assert not template.has_path("div.wrap/div.col-main")


def test_masthead_date_and_prayer_times_differ_per_page_and_still_match(template):
    # Each page has another weekday, day, month and prayer minutes: the masked text is one block.
    for i, html in enumerate(PAGES):
        tree = parse_html(html)
        assert strip_template(tree, template) == 5   # masthead, menu, prayer times, most read, footer
        text = text_of(tree)
        assert WEEKDAYS[i % 7] not in text and PRAYER_TITLE not in text and MASTHEAD not in text
        for p in ARTICLES[i][1]:
            assert p in text


def test_a_page_of_the_site_not_learned_from_is_stripped_too():
    template = learn_template(PAGES[:5])
    tree = parse_html(PAGES[5])
    assert strip_template(tree, template) == 5
    assert all(p in text_of(tree) for p in ARTICLES[5][1])


def test_below_min_pages_the_template_is_empty():
    template = learn_template(PAGES[:2])
    assert template.empty and template.pages == 2
    tree = parse_html(PAGES[0])
    assert strip_template(tree, template) == 0
    assert MOST_READ[0] in text_of(tree)
    assert learn_template(PAGES[:3], min_pages=4).empty


def test_a_block_below_min_share_is_kept_and_at_min_share_is_stripped():
    # On 2 of 5 pages (40% < 60%) the banner is news of the day, not the site's template.
    two = [site_page(i, banner=i < 2) for i in range(5)]
    tree = parse_html(two[0])
    strip_template(tree, learn_template(two))
    assert BANNER in text_of(tree)
    # On 3 of 5 pages (60%) it is.
    three = [site_page(i, banner=i < 3) for i in range(5)]
    tree = parse_html(three[0])
    strip_template(tree, learn_template(three))
    assert BANNER not in text_of(tree)
    assert all(p in text_of(tree) for p in ARTICLES[0][1])


def test_copies_of_one_article_count_once_and_never_make_it_template():
    # The archive may hold one story under two addresses: its text recurs, but it is not the site's.
    copies = [PAGES[0], PAGES[0].replace("<nav", "<!-- other address --><nav"), PAGES[1], PAGES[2]]
    assert learn_template(copies).pages == 3
    template = learn_template([PAGES[0], PAGES[0], PAGES[0], PAGES[1], PAGES[2]])
    assert template.pages == 3
    tree = parse_html(PAGES[0])
    strip_template(tree, template)
    assert all(p in text_of(tree) for p in ARTICLES[0][1])
    assert learn_template([PAGES[0]] * 4).empty


def test_pages_may_be_bytes_or_trees_and_unparseable_ones_do_not_count():
    as_bytes = [p.encode("utf-8") for p in PAGES[:3]]
    as_trees = [parse_html(p) for p in PAGES[3:5]]
    template = learn_template([*as_bytes, *as_trees, "   "])
    assert template.pages == 5
    assert template == learn_template(PAGES[:5])


def test_json_round_trip(template):
    again = SiteTemplate.from_json(template.to_json())
    assert again == template
    tree = parse_html(PAGES[0])
    assert strip_template(tree, again) == 5
    for bad in ("{}", "[1]", '{"version": 99, "pages": 1, "min_share": 0.6, "blocks": []}', "not json"):
        with pytest.raises(ValueError):
            SiteTemplate.from_json(bad)


def test_invalid_min_share_is_refused():
    with pytest.raises(ValueError):
        learn_template(PAGES, min_share=0)


# -- the archive side -----------------------------------------------------------------------------

def page_record(i: int) -> Page:
    html = PAGES[i]
    return Page(url=url(i), final_url=url(i), status=200,
                headers={"Content-Type": "text/html; charset=utf-8"}, body=html.encode("utf-8"),
                html=html, encoding="utf-8",
                fetched_at=datetime(2024, 3, 1, tzinfo=timezone.utc) + timedelta(hours=i))


def archive_with(path, count: int) -> Archive:
    archive = Archive.open(path)
    for i in range(count):
        page = page_record(i)
        archive.save(extract(page.html, page.url), page)
    return archive


def test_site_of_matches_the_extractors_site():
    assert site_of(url(0)) == SITE == extract(PAGES[0], url(0)).site
    assert site_of("https://www.alittihad.ae/news/x/1/y") == "alittihad"
    assert site_of(None) is None


def test_template_for_learns_from_the_archive_and_stores_it(tmp_path):
    with archive_with(tmp_path / "a.db", 5) as archive:
        assert template_for(archive, SITE, learn=False) is None
        template = template_for(archive, SITE)
        assert template is not None and template.pages == 5
        assert same_blocks(template, learn_template(PAGES[:5]))
        rows = archive.query(f"SELECT site, pages, articles FROM {TABLE}")
        assert rows == [{"site": SITE, "pages": 5, "articles": 5}]
        assert template_for(archive, SITE, learn=False) == template
        tree = parse_html(PAGES[0])
        assert strip_template(tree, template) == 5


def test_template_for_waits_for_min_pages_and_relearns_as_the_site_grows(tmp_path):
    def add(*pages):
        for i in pages:
            archive.save(extract(PAGES[i], url(i)), page_record(i))

    with archive_with(tmp_path / "a.db", 2) as archive:
        assert template_for(archive, SITE) is None
        assert archive.scalar(f"SELECT count(*) FROM {TABLE}") == 0
        add(2)
        assert template_for(archive, SITE).pages == 3
        add(3)
        assert template_for(archive, SITE).pages == 3                   # one more article: kept
        assert template_for(archive, SITE, relearn_every=1).pages == 4  # learned again
        add(4, 5, 6)
        assert template_for(archive, SITE).pages == 4
        add(7)
        assert template_for(archive, SITE).pages == 8                   # twice as many: learned again


def test_learn_site_reads_only_the_most_recent_pages(tmp_path):
    with archive_with(tmp_path / "a.db", 6) as archive:
        template = learn_site(archive, SITE, limit=3)
        assert template.pages == 3
        # Pages 3, 4, 5 were fetched last: learned from them.
        assert same_blocks(template, learn_template(PAGES[3:6]))
        assert learn_site(archive, "other.test").empty


def test_unreadable_stored_template_is_a_store_error(tmp_path):
    from scraper.errors import StoreError
    with archive_with(tmp_path / "a.db", 3) as archive:
        template_for(archive, SITE)
        with archive.transaction() as tx:
            tx.execute(f"UPDATE {TABLE} SET template = 'garbage'")
        with pytest.raises(StoreError, match="delete its row"):
            template_for(archive, SITE, learn=False)


def test_scraper_fetch_learns_the_template_and_later_pages_do_not_leak(tmp_path, httpserver):
    """End to end through the CLI: a site with no profile, served on 127.0.0.1."""
    from click.testing import CliRunner

    from cli import cli

    for i, html in enumerate(PAGES):
        httpserver.expect_request(f"/news/{i}").respond_with_data(
            html.encode("utf-8"), content_type="text/html; charset=utf-8")
    db = str(tmp_path / "archive.db")
    urls = [httpserver.url_for(f"/news/{i}") for i in range(len(PAGES))]
    first = CliRunner().invoke(cli, ["fetch", *urls[:4], "--db", db])
    assert first.exit_code == 0, first.output
    # Once the site has enough pages, the next fetch learns the template and strips it.
    last = CliRunner().invoke(cli, ["fetch", urls[-1], "--db", db])
    assert last.exit_code == 0, last.output
    archive = Archive.open(db)
    record = archive.get(urls[-1])
    assert not [b for b in BOILERPLATE if b in record["text"]]
    assert archive.scalar("SELECT count(*) FROM site_templates") == 1
    # The pages fetched before the template existed are mended by re-extraction.
    early = archive.get(urls[0])
    archive.close()
    assert [b for b in BOILERPLATE if b in early["text"]], "the generic path alone leaked before"
    assert CliRunner().invoke(cli, ["reextract", "--db", db]).exit_code == 0
    with Archive.open(db) as archive:
        assert not [b for b in BOILERPLATE if b in archive.get(urls[0])["text"]]


# -- the block hash: numbers and calendar words masked, each regex run only where it can match ----

_CALENDAR_SAMPLE = sorted(templates._CALENDAR)[:40]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_CALENDAR_SAMPLE), st.sampled_from(["١٢", "2024", "x1y", "مواقيت"]),
                          st.text(alphabet="ابتثجحخ دذرزسشصضطظعغفقكلمنهوي،.:-0123456789٠١٢٣", max_size=12)),
                max_size=12))
def test_the_block_hash_is_the_masked_texts_whatever_the_shortcuts(words):
    text = " ".join(words)
    masked = templates._CALENDAR_WORD.sub("~", templates._NUMBER.sub("0", fold(text)))
    expected = (hashlib.blake2b(masked.encode("utf-8"), digest_size=8).hexdigest()
                if templates._LETTER.search(masked) else None)
    assert templates.text_hash(text) == expected


def test_a_page_learned_from_again_is_not_read_again(monkeypatch):
    """Relearning as a site grows reads its latest pages again: their blocks are remembered by the
    page's digest, and the template is the one a first reading gives."""
    fresh = learn_template(PAGES[:6])
    monkeypatch.setattr(templates, "_seen", templates.OrderedDict())
    read = []
    real = templates._page_blocks
    monkeypatch.setattr(templates, "_page_blocks", lambda tree: read.append(1) or real(tree))
    learn_template(PAGES[:3])
    assert learn_template(PAGES[:6]) == fresh
    assert len(read) == 6, "a page already learned from was parsed again"
    assert learn_template([p.encode("utf-8") for p in PAGES[:6]]) == fresh   # bytes: the same digest
    assert len(read) == 6
