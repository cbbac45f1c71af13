"""Trafilatura's main content of a parsed page: through cascade.py where it may, else its public door.

cascade.py runs trafilatura's extraction cascade on our tree without the copies and XPath callbacks
whose result we never read (a third less time), by calling trafilatura's own stages in the order
its ``trafilatura_sequence`` does. That leans on trafilatura's internals. A release that changes
them must not break extraction, nor drift the records: once per process the code cascade.py
follows is compared with the installed trafilatura's (``cascade.changed_since_followed``), and
on any difference, or if cascade.py cannot even be imported, every page goes through the public
``trafilatura.bare_extraction`` instead: slower, the same records (tests/test_cascade.py holds the
two paths to the same result). The switch is logged once, as a warning.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Callable

from lxml import etree

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MainContent:
    """Trafilatura's main content of a page: its text and its body (``None``: it found none)."""

    text: str
    body: etree._Element | None


NOTHING = MainContent("", None)


def main_content(tree, url: str | None, fast: bool) -> MainContent:
    """What ``bare_extraction(tree, url=url, fast=fast, with_metadata=False, include_comments=False,
    include_tables=True, include_images=False, include_links=False)`` gives as text and body.
    ``tree`` is left as it is."""
    found = path()(tree, url, fast)
    return MainContent(*found) if found else NOTHING


def public(tree, url: str | None, fast: bool) -> tuple[str, etree._Element] | None:
    """The main content through trafilatura's public door."""
    # Imported here: trafilatura costs ~0.6 s, which commands that never extract (search, stats) skip.
    import trafilatura

    doc = trafilatura.bare_extraction(tree, url=url, fast=fast, with_metadata=False, include_comments=False,
                                      include_tables=True, include_images=False, include_links=False)
    return (doc.text, doc.body) if doc else None


@functools.cache
def path() -> Callable[..., tuple[str, etree._Element] | None]:
    """cascade.main_content when the installed trafilatura is the code it follows, else ``public``."""
    try:
        from . import cascade
        changed = cascade.changed_since_followed()
    except (ImportError, AttributeError) as error:   # a private name cascade.py reads is gone
        changed = [f"{type(error).__name__}: {error}"]
    if not changed:
        return cascade.main_content
    log.warning("the installed trafilatura is not the code scraper/extract/cascade.py follows (%s): "
                "extraction takes trafilatura's bare_extraction, slower, the same records", "; ".join(changed))
    return public
