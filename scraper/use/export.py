"""Export of the archive's records as JSON Lines or CSV, streamed in constant memory.

Every column of ``articles`` is written (new columns added by later migrations included), in the
table's order; ``tags`` is a list in JSON Lines and a JSON array string in CSV (one cell, no
ambiguity with commas in tags). Dates are written as stored: ISO 8601 (``published`` with the
page's UTC offset, times of the archive in UTC). Output is UTF-8 whatever the locale.
"""
from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from typing import Any, Iterator, TextIO

from sqlite_utils import Database

FORMATS = ("jsonl", "csv")
_JSON_COLUMNS = {"tags"}  # stored as JSON text, exported as what they are


class ExportFilter:
    """Which records: a site, and inclusive published days (as the page wrote them)."""

    def __init__(self, site: str | None = None, since: date | None = None, until: date | None = None):
        self.site, self.since, self.until = site, since, until

    def sql(self) -> tuple[str, dict[str, Any]]:
        where, params = [], {}
        if self.site is not None:
            where.append("site = :site")
            params["site"] = self.site
        if self.since is not None:
            where.append("published >= :since")
            params["since"] = self.since.isoformat()
        if self.until is not None:
            where.append("published < :before")
            params["before"] = (self.until + timedelta(days=1)).isoformat()
        return (" WHERE " + " AND ".join(where)) if where else "", params


def columns(db: Database) -> list[str]:
    return [column.name for column in db.table("articles").columns]


def iter_records(db: Database, selection: ExportFilter = ExportFilter()) -> Iterator[dict[str, Any]]:
    """Records one at a time, by id, from one read snapshot (the export is consistent even while
    a cron run writes). SQLite steps the cursor row by row, so memory does not grow with the
    archive."""
    names = columns(db)
    where, params = selection.sql()
    cursor = db.execute(f"SELECT {', '.join(f'[{n}]' for n in names)} FROM articles{where} ORDER BY id",
                        params)
    for row in cursor:
        record = dict(zip(names, row))
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


def export(db: Database, out: TextIO, fmt: str = "jsonl", selection: ExportFilter = ExportFilter()) -> int:
    """Write the selected records to ``out`` in ``fmt``; return how many."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    records = iter_records(db, selection)
    if fmt == "jsonl":
        return write_jsonl(records, out)
    return write_csv(records, out, columns(db))
