"""Export: every record with every column, JSON Lines and CSV, UTF-8, filters, the CLI's files."""
from __future__ import annotations

import csv
import hashlib
import io
import json

import pytest
from click.testing import CliRunner

from cli import cli
from scraper.use.export import ExportFilter, export
from scraper.models import Article
from scraper.store import Archive

RECORDS = [
    dict(n=1, site="gulf", title="الإمارات، اليوم", text="سطر أول\n\nسطر ثانٍ، مع \"اقتباس\"",
         published="2024-01-05T10:00:00+04:00", tags=["سياسة", "a, b"], author="مراسل"),
    dict(n=2, site="gulf", title="Café", text="ÉTÉ", published="2023-12-31", tags=[], author=None),
    dict(n=3, site="levant", title="بلا تاريخ", text="نص", published=None, tags=["x"], author=None),
]


@pytest.fixture
def archive(db_target):
    with Archive.open(db_target) as opened:
        for r in RECORDS:
            opened.save(Article(url=f"https://news.example.ae/a/{r['n']}", site=r["site"], title=r["title"],
                                text=r["text"], published=r["published"], tags=r["tags"], author=r["author"],
                                content_hash=hashlib.sha256(r["text"].encode()).hexdigest()))
        yield opened


def rows(archive):
    return [dict(row) for row in archive.query("SELECT * FROM articles ORDER BY id")]


def test_jsonl_has_every_column_of_every_record(archive):
    out = io.StringIO()
    assert export(archive, out, "jsonl") == 3
    exported = [json.loads(line) for line in out.getvalue().splitlines()]
    stored = rows(archive)
    assert [list(e) for e in exported] == [archive.columns("articles")] * 3
    for e, s in zip(exported, stored):
        assert e == {**s, "tags": json.loads(s["tags"])}
    assert exported[0]["tags"] == ["سياسة", "a, b"]
    assert exported[0]["published"] == "2024-01-05T10:00:00+04:00"
    assert exported[0]["fetched_at"].endswith("+00:00")        # ISO with offset
    assert "الإمارات" in out.getvalue()                          # not \u-escaped


def test_csv_round_trips(archive):
    out = io.StringIO(newline="")
    assert export(archive, out, "csv") == 3
    parsed = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert parsed[0] == archive.columns("articles")
    records = [dict(zip(parsed[0], line)) for line in parsed[1:]]
    stored = rows(archive)
    assert records[0]["text"] == stored[0]["text"]                # newlines, commas, quotes intact
    assert json.loads(records[0]["tags"]) == ["سياسة", "a, b"]
    assert records[2]["published"] == "" and records[1]["author"] == ""
    assert records[1]["word_count"] == str(stored[1]["word_count"])


def test_filters(archive):
    def exported_ids(selection):
        out = io.StringIO()
        export(archive, out, "jsonl", selection)
        return [json.loads(line)["id"] for line in out.getvalue().splitlines()]

    from datetime import date
    assert exported_ids(ExportFilter(site="levant")) == [3]
    assert exported_ids(ExportFilter(since=date(2024, 1, 1))) == [1]
    assert exported_ids(ExportFilter(until=date(2023, 12, 31))) == [2]
    assert exported_ids(ExportFilter(site="gulf", since=date(2023, 12, 31))) == [1, 2]


def test_unknown_format(archive):
    with pytest.raises(ValueError):
        export(archive, io.StringIO(), "xml")


def test_cli_writes_a_complete_file(archive, tmp_path):
    target = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["export", "--format", "csv", "--bom", "-o", str(target),
                                      "--db", archive.target])
    assert result.exit_code == 0, result.output
    assert "3 records" in result.stderr
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and "الإمارات".encode() in raw
    assert not (tmp_path / "out.csv.part").exists()
    assert len(list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))) == 4


def test_cli_stdout_is_utf8_jsonl(archive):
    result = CliRunner().invoke(cli, ["export", "--site", "gulf", "--db", archive.target])
    assert result.exit_code == 0
    lines = result.stdout_bytes.decode("utf-8").splitlines()
    assert [json.loads(line)["site"] for line in lines] == ["gulf", "gulf"]


def test_cli_refuses_a_missing_archive(tmp_path):
    result = CliRunner().invoke(cli, ["export", "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and not (tmp_path / "none.db").exists()
