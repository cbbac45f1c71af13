"""What distributed workers report of a batch of work to the command that handed it out.

A batch is one `scraper archive` run, one WARC import or one re-extraction spread over workers
(scraper/workers/). Each worker adds to the batch's counters (``add``: one upsert, so workers on
many machines add at once without losing a count) and writes one-line notes (failures, problems),
which the command reads in the order written (``notes_after``) while it waits, then ``forget``s.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .archive import Archive


@dataclass(frozen=True)
class Note:
    id: int
    kind: str          # e.g. "failed", "problem", "error", "crashed"
    text: str


def add(archive: Archive, batch: str, counts: Mapping[str, int]) -> None:
    """Add ``counts`` to the batch's counters (one statement each: workers add every page)."""
    with archive.transaction() as tx:
        tx.executemany("INSERT INTO work_tallies (batch, name, n) VALUES (?, ?, ?) "
                       "ON CONFLICT (batch, name) DO UPDATE SET n = work_tallies.n + excluded.n",
                       [(batch, name, int(n)) for name, n in counts.items() if n])


def take(archive: Archive, batch: str, name: str, n: int = 1) -> int:
    """Add ``n`` to one counter and return its new total, in one transaction (a shared budget)."""
    with archive.transaction() as tx:
        tx.execute("INSERT INTO work_tallies (batch, name, n) VALUES (?, ?, ?) "
                   "ON CONFLICT (batch, name) DO UPDATE SET n = work_tallies.n + excluded.n", [batch, name, n])
        return tx.scalar("SELECT n FROM work_tallies WHERE batch = ? AND name = ?", [batch, name])


def read(archive: Archive, batch: str) -> dict[str, int]:
    return {row["name"]: row["n"] for row in
            archive.query("SELECT name, n FROM work_tallies WHERE batch = ? ORDER BY name", [batch])}


def note(archive: Archive, batch: str, kind: str, text: str) -> None:
    with archive.transaction() as tx:
        tx.execute("INSERT INTO work_notes (batch, kind, note) VALUES (?, ?, ?)", [batch, kind, text])


def notes_after(archive: Archive, batch: str, after: int = 0) -> list[Note]:
    """The batch's notes written after note ``after``, oldest first."""
    return [Note(row["id"], row["kind"], row["note"]) for row in archive.query(
        "SELECT id, kind, note FROM work_notes WHERE batch = ? AND id > ? ORDER BY id", [batch, after])]


def forget(archive: Archive, batch: str) -> None:
    """The command has read everything: the batch's counters and notes go."""
    with archive.transaction() as tx:
        tx.execute("DELETE FROM work_tallies WHERE batch = ?", [batch])
        tx.execute("DELETE FROM work_notes WHERE batch = ?", [batch])
