"""Export of the archive's records as JSON Lines or CSV, streamed in constant memory.

Every column of ``articles`` is written (new columns added by later migrations included), in the
table's order; ``tags`` is a list in JSON Lines and a JSON array string in CSV (one cell, no
ambiguity with commas in tags). Dates are written as stored: ISO 8601 (``published`` with the
page's UTC offset, times of the archive in UTC). Output is UTF-8 whatever the locale.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterator, TextIO

from ..store.archive import Archive

FORMATS = ("jsonl", "csv")
_JSON_COLUMNS = {"tags"}  # stored as JSON text, exported as what they are


@dataclass(frozen=True)
class ExportFilter:
    """Which records: a site, and inclusive published days (as the page wrote them)."""

    site: str | None = None
    since: date | None = None
    until: date | None = None


def iter_records(archive: Archive, selection: ExportFilter = ExportFilter()) -> Iterator[dict[str, Any]]:
    """Records one at a time, by id, from one read snapshot (the export is consistent even while
    a cron run writes), in constant memory (Archive.records)."""
    for record in archive.records(site=selection.site, since=selection.since, until=selection.until):
        for name in _JSON_COLUMNS & record.keys():
            record[name] = json.loads(record[name]) if record[name] else []
        yield record


def write_jsonl(records: Iterator[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False))
        out.write("\n")
        count += 1
    return count


def write_csv(records: Iterator[dict[str, Any]], out: TextIO, names: list[str]) -> int:
    """RFC 4180 CSV with a header row; ``out`` must be opened with newline=''."""
    writer = csv.writer(out)
    writer.writerow(names)
    count = 0
    for record in records:
        writer.writerow(["" if record[n] is None
                         else json.dumps(record[n], ensure_ascii=False) if n in _JSON_COLUMNS
                         else record[n] for n in names])
        count += 1
    return count


def export(archive: Archive, out: TextIO, fmt: str = "jsonl", selection: ExportFilter = ExportFilter()) -> int:
    """Write the selected records to ``out`` in ``fmt``; return how many."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    records = iter_records(archive, selection)
    if fmt == "jsonl":
        return write_jsonl(records, out)
    return write_csv(records, out, archive.columns("articles"))
