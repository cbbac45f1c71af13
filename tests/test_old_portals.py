"""Layouts of old portals the generic path reads as a reader sees them: a page-wide WebForms <form>,
layout tables, menu and form tables, text laid out with <br><br>, a headline without <h1>, a date above it."""
from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from scraper.extract import extract
from scraper.extract.content import (drop_widget_tables, paragraphs_from_breaks, unwrap_layout_tables,
                                     unwrap_page_forms)
from scraper.extract.parse import parse_html
from scraper.extract.trace import Trace

SENTENCES = [f"الفقرة رقم {i} من نص الخبر الطويل تتحدث عن موضوع مهم للقراء في المنطقة كلها اليوم." for i in range(1, 8)]


def test_a_form_holding_the_page_is_unwrapped_and_a_comment_form_is_not():
    tree = parse_html("<html><body><form id='aspnetForm'><div>" + "نص طويل " * 100 +
                      "</div><form class='comment'><textarea></textarea></form></form></body></html>")
    assert unwrap_page_forms(tree) == 1
    assert [f.get("class") for f in tree.iter("form")] == ["comment"]


def test_layout_tables_become_blocks_and_data_tables_stay():
    tree = parse_html("<html><body><table id='layout'><tr><td>" + "نص الخبر " * 60 + "</td></tr></table>"
                      "<table id='data'><tr><td>المرشح</td><td>الأصوات</td></tr><tr><td>أ</td><td>120</td></tr></table>"
                      "<table id='outer'><tr><td><table id='inner'><tr><td>x</td></tr></table></td></tr></table>"
                      "</body></html>")
    assert unwrap_layout_tables(tree) == 2
    assert [t.get("id") for t in tree.iter("table")] == ["data", "inner"]


def test_menu_and_form_tables_are_dropped_and_data_tables_kept():
    tree = parse_html("<html><body><table id='menu'><tr><td><a href='/'>الرئيسية</a></td><td><a href='/a'>سياسة</a>"
                      "</td></tr></table><table id='form'><tr><td>الاسم:</td><td><input name='n'></td></tr></table>"
                      "<table id='data'><tr><td>المرشح</td><td><a href='/x'>أ</a> 120 صوتا</td></tr></table></body></html>")
    trace = Trace()
    assert drop_widget_tables(tree, trace) == 2
    assert [r.rule for r in trace.removals] == ["generic: a menu table (its text is link text)",
                                                "generic: a form's table (it holds inputs)"]
    assert [t.get("id") for t in tree.iter("table")] == ["data"]


def test_text_laid_out_with_double_breaks_gets_paragraphs():
    first, second = "الفقرة الأولى " * 20, "الفقرة الثانية فيها <b>كلمة</b> بارزة " * 8
    tree = parse_html(f"<html><body><span id='body'>{first}<br><br>{second}<br>سطر ثان<br /><br />"
                      "الفقرة الثالثة</span></body></html>")
    assert paragraphs_from_breaks(tree) == 3
    ps = tree.xpath("//span[@id='body']/p")
    assert [p.text_content().split()[:2] for p in ps] == [["الفقرة", "الأولى"], ["الفقرة", "الثانية"],
                                                         ["الفقرة", "الثالثة"]]
    assert ps[1].find("b") is not None and ps[1].find("br") is not None   # a single break stays inside


def test_the_date_above_a_headline_without_h1():
    html = ("<html><body><div class='itemHeader'><span class='date'>الإثنين, 12 فيفري 2024 15:05</span>"
            "<h2 class='itemTitle'>عنوان الخبر الرئيسي اليوم</h2></div>"
            f"<div class='itemFullText'>{''.join(f'<p>{s}</p>' for s in SENTENCES)}</div></body></html>")
    a = extract(html.replace("<html>", "<html><head><meta property='og:title' content='عنوان الخبر الرئيسي اليوم'>"
                             "</head>", 1), "https://www.example.tn/item/1")
    assert a.published == "2024-02-12T15:05:00+01:00"
    assert a.provenance["published"].startswith("date line (above the headline)")


_PIECES = st.lists(st.one_of(st.just("<br>"), st.just("<br><br>"), st.just("<b>كلمة</b>"), st.just("<div>كتلة</div>"),
                             st.text(alphabet="ابتثجحخ دذرزسش", min_size=1, max_size=80)), min_size=1, max_size=30)


def _words(tree) -> list[str]:
    """The words as a reader sees them: a <br> and the edges of a block separate words (itertext()
    alone would glue the last word of one paragraph to the first of the next)."""
    from lxml import etree

    from scraper.extract.parse import BLOCK_TAGS

    parts = []
    for event, el in etree.iterwalk(tree, events=("start", "end")):
        breaks = el.tag == "br" or el.tag in BLOCK_TAGS
        if event == "start":
            parts += [" " if breaks else "", el.text or ""]
        else:
            parts += [" " if breaks else "", el.tail or ""]
    return "".join(parts).split()


@settings(max_examples=150, deadline=None)
@given(_PIECES)
@example(['<br>', '<br>', '<b>كلمة</b>', ' ', '<b>كلمة</b>'])   # a space between two <b>s was dropped
def test_giving_paragraphs_to_br_text_loses_and_adds_no_text(pieces):
    html = "<html><body><span id='s'>" + "".join(pieces) + ("نص " * 80) + "</span></body></html>"
    tree = parse_html(html)
    before = _words(tree)
    paragraphs_from_breaks(tree)
    assert _words(tree) == before
