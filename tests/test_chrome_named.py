"""content.chrome_named finds what the attribute scan it replaced found: each element whose class
or id holds a chrome word, in page order, with the first word of the attribute it names first."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from scraper.extract import content
from scraper.extract.parse import parse_html

_VALUES = st.lists(st.sampled_from([*content._CHROME_WORDS, "Cookie", "news", "letter", "x", "-", " "]),
                   max_size=3).map("".join)


def _by_attributes(tree) -> list[tuple]:
    """The plain way: every class and id attribute in document order, the first match per element."""
    found: dict = {}
    for a in tree.xpath("//@class | //@id"):
        if match := content._CHROME.search(a):
            found.setdefault(a.getparent(), match.group(0))
    return list(found.items())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.permutations(["class", "id"]), _VALUES, _VALUES, st.integers(0, 2),
                          st.integers(0, 3)), min_size=1, max_size=10))
def test_chrome_named_is_the_attribute_scan(elements):
    root = etree.Element("html", {"class": "cookie-root"})
    body = etree.SubElement(root, "body")
    parents = [body]
    for names, first, second, count, parent in elements:
        el = etree.SubElement(parents[min(parent, len(parents) - 1)], "div")
        for name, value in list(zip(names, (first, second)))[:count]:
            el.set(name, value)
        parents.append(el)
    tree = parse_html(etree.tostring(root, encoding="unicode", method="html"))
    assert content.chrome_named(tree) == _by_attributes(tree)


def test_the_attribute_named_first_gives_the_word():
    tree = parse_html('<html><body><div id="newsletter" class="cookie-bar">a</div>'
                      '<div class="ticker" id="prayer">b</div></body></html>')
    assert [word for _, word in content.chrome_named(tree)] == ["newsletter", "ticker"]
