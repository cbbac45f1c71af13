"""The wall clock, in one place: every moment the scraper records comes from a ``Clock`` passed in.

A run (``RunOptions.clock``), the archive (``Archive.open(clock=...)``) and the fetcher
(``fetch(clock=...)``) each take one, ``utc_now`` by default, so a test moves time for all of them
at once instead of patching ten calls to ``datetime.now``. Durations are not the wall clock's:
they use ``time.monotonic``, which never jumps.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """Now, timezone-aware UTC: the default Clock and the only call to ``datetime.now``."""
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """A moment as the archive stores it: UTC, ISO 8601, to the second (a naive one is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
