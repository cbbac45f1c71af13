"""What the extraction stage's fork server holds before it forks a worker: the extractor, warm, frozen.

Imported by the fork server only (``extractors.PRELOAD``), for its side effect: every worker is a
fork of that process, so what the import loads here is in memory once, shared by all the workers,
instead of once per worker. Two things make the difference (measured on the corpus pages, 2
workers, 114 pages each: private memory of a worker at rest 75-81 MB before):

- What the extractor loads on first use rather than at import: trafilatura's justext stoplist
  (every language's words, ~150,000 strings, and justext's lower-cased frozenset of them: 27 MB
  of Python objects, built by each worker on its first page that needs justext), and whatever
  a first page compiles (regular expressions, XPath). ``warm()`` runs them here.
- The garbage collector: a collection in a worker writes to the header of every tracked object
  it scans, copying each page of the fork server's heap it touches into the worker. ``gc.freeze()``
  puts what the fork server holds out of the collector's reach, so it stays shared.
"""
from __future__ import annotations

import gc

from ..extract.article import extract
from ..errors import ExtractionError

# A page that goes down every path of the extractor a real article takes (metadata, JSON-LD,
# trafilatura, and justext, which trafilatura calls when its own text is short), small enough
# to cost the fork server a few milliseconds.
_WARM_PAGE = (
    '<html lang="en"><head><meta charset="utf-8"><title>Warm-up story - Example News</title>'
    '<meta property="og:title" content="Warm-up story">'
    '<meta property="article:published_time" content="2024-03-28T10:00:00+04:00">'
    '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Warm-up story",'
    ' "datePublished": "2024-03-28T10:00:00+04:00", "author": {"name": "A. Writer"}}</script>'
    '</head><body><nav><a href="/">Home</a> <a href="/world">World</a></nav>'
    '<article><h1>Warm-up story</h1><p class="byline">By A. Writer</p>'
    + "".join(f"<p>Paragraph {n} of the story says what happened in the town on that day, "
              "and what the people there made of it.</p>" for n in range(6))
    + '</article><footer>Copyright Example News</footer></body></html>')


def _justext_stoplist() -> None:
    """Build trafilatura's all-language justext stoplist and justext's frozenset of it, as their
    first use would (both cache what they build: the later uses find it)."""
    try:
        from justext.core import define_stoplist
        from trafilatura import external
    except ImportError:     # another version of either: its first use in a worker builds it
        return
    init = getattr(external, "jt_stoplist_init", None)
    if init is None:
        return
    define_stoplist(getattr(external, "JT_STOPLIST", None) or init())


def warm() -> None:
    _justext_stoplist()
    try:
        extract(_WARM_PAGE, "https://news.example/world/2024/03/28/warm-up-story")
    except ExtractionError:   # still warm: what it compiled on the way stays compiled
        pass
    gc.collect()
    gc.freeze()


warm()
