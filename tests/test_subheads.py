"""Sub-headlines left out by the body extractor come back only where they sit between two kept paragraphs."""
from __future__ import annotations

import lxml.html

from scraper.extract.subheads import restore_subheadings

P1 = "Die Exporte nach Iran sind in den vergangenen fünf Jahren um mehr als die Hälfte gefallen."
P2 = "Mit Blick auf Deutschlands wichtigste Handelspartner liegt Iran inzwischen weit hinten."
P3 = "Exportiert wurden vor allem Maschinen, pharmazeutische und chemische Erzeugnisse."


def tree(body: str):
    return lxml.html.document_fromstring(f"<html><body><main>{body}</main></body></html>")


def wrapped(heading: str) -> str:
    """A CMS's layout: every block in its own wrapper, the heading too."""
    return (f"<div class='r'><div>{P1}</div></div><div class='b'><h2><span>{heading}</span></h2></div>"
            f"<script>googletag.cmd.push(function() {{}});</script><div class='r'><div>{P2}</div></div>"
            f"<div class='r'><div>{P3}</div></div>")


def test_a_heading_between_two_kept_paragraphs_comes_back_in_place():
    heading = "Wo liegt Iran im Handelspartner-Vergleich?"
    assert restore_subheadings(tree(wrapped(heading)), [P1, P2, P3]) == [P1, heading, P2, P3]


def test_headings_that_are_not_sub_headlines_stay_out():
    paragraphs = [P1, P2, P3]
    # A linked heading is a teaser for another page.
    linked = wrapped("<a href='/iran'>Mehr zum Thema Iran</a>")
    assert restore_subheadings(tree(linked), paragraphs) == paragraphs
    # A heading whose next text is not the next kept paragraph: a list of links, a caption.
    related = (f"<p>{P1}</p><h3>Mehr zum Thema</h3><ul><li>Erster Artikel über den Iran</li>"
               f"<li>Zweiter Artikel über den Handel</li></ul><p>{P2}</p><p>{P3}</p>")
    assert restore_subheadings(tree(related), paragraphs) == paragraphs
    captioned = (f"<p>{P1}</p><figure><h3>Handel mit Iran</h3><figcaption>Grafik: Statistisches "
                 f"Bundesamt, Angaben in Milliarden Euro</figcaption></figure><p>{P2}</p><p>{P3}</p>")
    assert restore_subheadings(tree(captioned), paragraphs) == paragraphs
    # Between two paragraphs that are not consecutive in the extraction (one was left out).
    assert restore_subheadings(tree(wrapped("Wo liegt Iran heute?")), [P1, P3]) == [P1, P3]
    # The headline again (a hidden second copy under the kept headline line) is not a sub-headline.
    title = "Deutschlands Handel mit Iran bricht ein"
    assert restore_subheadings(tree(wrapped(title)), paragraphs, [title]) == paragraphs
    # One word is a label, not a sub-headline.
    assert restore_subheadings(tree(wrapped("Hintergrund")), paragraphs) == paragraphs


def test_a_heading_the_extraction_kept_is_not_added_twice():
    heading = "Wo liegt Iran im Handelspartner-Vergleich?"
    assert restore_subheadings(tree(wrapped(heading)), [P1, heading, P2, P3]) == [P1, heading, P2, P3]
