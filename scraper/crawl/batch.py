"""Many targets of `scraper fetch` at once: hosts side by side, extraction on every core, one writer.

The steps are pipeline.py's, those ``record_one`` takes for one target: ``admit`` (the URL checks,
`skipped`), ``load``, ``context_for`` and ``page_to_article``, ``record_extracted``. Here they run
as the cron run's do (run.py): loading on a HostScheduler (scheduler.py: ``workers`` hosts at once,
one request at a time per host, each host's targets in the order given, and between two of them
no delay but what the fetcher itself waits out (retries, a Retry-After up to its cap), exactly as
one by one), extraction on the extraction
stage (extractors.py: worker processes, one per core, for a batch of EXTRACT_IN_PROCESS_BELOW
targets or more; a thread of this process for fewer), and all that touches the archive or the WARC
file in the caller's thread, the archive's one door.

The records are those one by one gives. A page is extracted with its site's template only once
every target given before it on its host is stored, since that template is learned from them; a
host's pages are fetched in the order given, so this holds up that host's line alone. A URL given
twice is checked for `skipped` once the first one is done. Outcomes go to ``report`` in the order
given, each as soon as it and every one before it are done. Pages between loading and storing are
bounded (the scheduler's ``max_open``), so memory stays flat however many targets.
"""
from __future__ import annotations

import dataclasses
import queue as stdlib_queue
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from ..errors import FetchError, ScraperError, UnsupportedURL
from ..fetch.deadline import cut_requests
from ..fetch.http import FetchOptions
from ..models import Article, FetchAttempt, Page
from ..pipeline import (Admitted, Outcome, admit, context_for, is_local, load, load_failed, page_to_article,
                        record_extracted)
from ..profiles import Profile
from ..store.archive import Archive
from ..urls import canonicalize, parse_url
from . import extractors
from .forker import Forker
from .politeness import DEFAULT_WORKERS, Politeness, host_of
from .run import PAGES_WAITING
from .scheduler import Crashed, HostScheduler

# From this many targets the extraction stage is worker processes (one per core), below it a
# thread of this process: starting the fork server and its workers costs about what extracting
# EXTRACT_IN_PROCESS_BELOW corpus pages on a second core saves (README, Measurements).
EXTRACT_IN_PROCESS_BELOW = 20


@dataclass(frozen=True)
class BatchOptions:
    fetch: FetchOptions = FetchOptions()
    refresh: bool = False                        # fetch again what is archived
    profiles: Mapping[str, Profile] | None = None
    workers: int = DEFAULT_WORKERS              # hosts fetched at the same time
    extract_workers: int = 0                    # processes extracting pages (0 or 1: a thread here)
    on_page: Callable[[Page], None] | None = None   # every page loaded, after it is recorded (--warc)


def extract_workers_for(targets: int, asked: int | None) -> int:
    """The extraction processes for a batch of ``targets``: as ``asked``, else one per usable core
    from EXTRACT_IN_PROCESS_BELOW targets on, and none (a thread of this process) below."""
    if asked is not None:
        return asked
    return extractors.usable_cores() if targets >= EXTRACT_IN_PROCESS_BELOW else 0


@dataclass
class _Item:
    """One target's way through the batch."""
    index: int                 # its place in the order given
    target: str
    host: str | None = None    # its host, for a URL: its page waits for the host's earlier targets
    key: str | None = None     # its canonical URL: a URL given again waits for the first
    twin: bool = False         # the same URL as a target given before it
    admitted: Admitted | None = None
    page: Page | None = None   # loaded, until recorded
    attempts: list[FetchAttempt] = field(default_factory=list)
    outcome: Outcome | None = None


@dataclass
class _Loaded:
    """What a fetch thread made of a target: its page, or why there is none."""
    page: Page | None = None
    error: ScraperError | None = None
    attempts: list[FetchAttempt] = field(default_factory=list)


def record_many(targets: Sequence[str], archive: Archive, options: BatchOptions,
                report: Callable[[Outcome], None], *, forker: Forker | None = None) -> None:
    """Record every target (``record_one``'s steps, see the docstring); ``report`` each outcome in
    the order given. ``forker`` (extractors.forker_for, taken before any thread started) forks
    the extraction workers. Store errors, Ctrl-C and the stop signals raise, as for one target:
    what was stored is kept, and no worker process is left."""
    _Batch(targets, archive, options, report, forker).run()


class _Batch:
    def __init__(self, targets: Sequence[str], archive: Archive, options: BatchOptions,
                 report: Callable[[Outcome], None], forker: Forker | None):
        self.archive, self.options, self.report, self.forker = archive, options, report, forker
        self.items = [_Item(i, target) for i, target in enumerate(targets)]
        self.events: stdlib_queue.Queue = stdlib_queue.Queue()
        self.lines: dict[str, deque[int]] = {}     # per host, its targets (first of each URL) in order
        self.held: dict[str, list[_Item]] = {}     # per host, pages waiting for its earlier targets
        self.twins: dict[str, deque[_Item]] = {}   # per URL, the targets naming it again, in order
        self.shown = 0                             # outcomes reported: every item before this one's
        for item in self.items:
            self._place(item)

    def _place(self, item: _Item) -> None:
        if is_local(item.target):
            return                   # a file has no host to wait in line for and is never skipped
        try:
            address = parse_url(item.target).text
        except UnsupportedURL:       # admit() says so
            return
        item.host, item.key = host_of(address), canonicalize(address)
        if item.key in self.twins:
            item.twin = True
            self.twins[item.key].append(item)
            return
        self.twins[item.key] = deque()
        self.lines.setdefault(item.host, deque()).append(item.index)

    def run(self) -> None:
        options = self.options
        self.stage = extractors.stage(
            options.extract_workers, page_to_article, options.profiles,
            lambda item, extracted: self.events.put(("extracted", item, extracted)),
            crashed=lambda exc: self.events.put(("broken", None, exc)), forker=self.forker)
        self.politeness = Politeness(0.0)          # closed as the command stops: nothing more begins
        self.fetcher = HostScheduler(
            self._load, self.politeness, lambda item, result: self.events.put(("loaded", item, result)),
            url_of=lambda item: item.admitted.address, workers=options.workers,
            max_open=options.workers + self.stage.workers + PAGES_WAITING)
        try:
            for item in self.items:
                if not item.twin:
                    self._admit(item)
            while self.shown < len(self.items):
                self._answer(*self.events.get())
        except BaseException:
            # Ctrl-C, a stop signal, a full disk: nothing more starts, and the requests in flight
            # end now (the process would wait for their threads; cut_requests spares those that
            # begin after it, so nothing may begin), and what they bring is not stored.
            self.politeness.close()
            self.fetcher.cancel()
            cut_requests()
            raise
        finally:
            self.fetcher.cancel()         # on an error or Ctrl-C: start nothing more
            self.stage.close(wait=False)  # every page is in (or the command is ending): workers end
        self.fetcher.close()

    # -- the fetch threads ------------------------------------------------------------------------

    def _load(self, item: _Item) -> _Loaded:
        loaded = _Loaded()
        if self.politeness.closed:   # handed out as the command stopped
            loaded.error = ScraperError(f"{item.target}: not fetched, the command is stopping")
            return loaded
        try:
            loaded.page = load(item.admitted, self.options.fetch, loaded.attempts)
        except FetchError as exc:
            loaded.error = exc
        return loaded

    # -- this thread ------------------------------------------------------------------------------

    def _admit(self, item: _Item) -> None:
        admitted = admit(item.target, self.archive, refresh=self.options.refresh)
        if isinstance(admitted, Outcome):
            self._finish(item, admitted)
            return
        item.admitted = admitted
        self.fetcher.add([item])

    def _answer(self, kind: str, item: _Item, payload) -> None:
        if kind == "admit":             # a URL given again, its first target done
            self._admit(item)
        elif kind == "loaded":
            if isinstance(payload, Crashed):
                raise payload.error
            if isinstance(payload, BaseException):   # a bug in loading: this target fails, the rest go on
                payload = _Loaded(error=ScraperError(f"{item.target}: {payload!r}"))
            item.attempts = payload.attempts
            if payload.error is not None:
                self.fetcher.settle()
                self._finish(item, load_failed(self.archive, item.admitted, payload.error, item.attempts))
                return
            item.page = payload.page
            if self._due(item):
                self._extract(item)
            else:
                self.held.setdefault(item.host, []).append(item)
        elif kind == "extracted":
            self._record(item, payload)
        else:   # "broken": a bug in the extraction stage itself
            raise payload

    def _due(self, item: _Item) -> bool:
        """Whether every target given before ``item`` on its host is done (its template is theirs)."""
        if item.host is None:
            return True
        line = self.lines[item.host]
        while line and self.items[line[0]].outcome is not None:
            line.popleft()
        return not line or line[0] >= item.index

    def _extract(self, item: _Item) -> None:
        template, listing = context_for(self.archive, item.page, self.options.profiles)
        # The extractor reads the decoded html: the bytes stay here, and the page crosses to a
        # worker process at half its size.
        self.stage.submit(item, dataclasses.replace(item.page, body=b""), template, listing)

    def _record(self, item: _Item, extracted: Article | ScraperError) -> None:
        page = item.page
        outcome = record_extracted(self.archive, page, extracted, attempts=item.attempts or [FetchAttempt.of_page(page)])
        # After the article and its attempt are stored: a WARC that cannot be written (a full disk)
        # stops the command but loses neither.
        if self.options.on_page is not None:
            self.options.on_page(page)
        self.fetcher.settle()         # stored: room for another page
        self._finish(item, dataclasses.replace(outcome, target=item.target))

    def _finish(self, item: _Item, outcome: Outcome) -> None:
        item.outcome, item.page = outcome, None
        while self.shown < len(self.items) and self.items[self.shown].outcome is not None:
            self.report(self.items[self.shown].outcome)
            self.shown += 1
        if item.key is not None and self.twins[item.key]:
            self.events.put(("admit", self.twins[item.key].popleft(), None))
        if item.host is not None:
            waiting = self.held.get(item.host, [])
            for ready in [held for held in waiting if self._due(held)]:
                waiting.remove(ready)
                self._extract(ready)
