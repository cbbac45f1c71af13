"""Does a WARC file end on a complete record? Asked before appending to it (`--warc x.warc`): after
a partial record (a run killed mid-write, a copy cut short) whatever is appended cannot be read
either, so such a file is refused rather than grown.

Only the file's tail is read: the last record starts within the last ``WINDOW`` bytes (a record
of ours holds at most a 10 MB body). From each place a record could start there, latest first,
the records are followed to the end of the file; the file is whole when one such chain ends
exactly at its last byte. A gzipped WARC is a chain of gzip members, one a record.
"""
from __future__ import annotations

import os
import re
import zlib
from pathlib import Path

WINDOW = 32 * 1024 * 1024
_GZIP = b"\x1f\x8b\x08"
_RECORD = re.compile(rb"(?:^|\r\n\r\n)(WARC/1\.[01]\r\n)")
_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n", re.IGNORECASE)


def ends_whole(path: str | os.PathLike) -> bool:
    """True when the (non-empty) WARC file ends on a complete record, or when its last record
    starts before the window (too big to be one of ours: not checked)."""
    path = Path(path)
    size = path.stat().st_size
    start = max(0, size - WINDOW)
    with open(path, "rb") as f:
        f.seek(start)
        tail = f.read()
    if _head(path) == b"\x1f\x8b":
        candidates = [m.start() for m in re.finditer(re.escape(_GZIP), tail)]
        follow = _members_to_end
    else:
        candidates = [m.start(1) for m in _RECORD.finditer(tail)]
        follow = _records_to_end
    if not candidates:
        return start > 0
    return any(follow(memoryview(tail)[at:]) for at in reversed(candidates))


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(2)


def _records_to_end(data) -> bool:
    """Plain records from the start of ``data`` to its very end, each as long as it says."""
    data = bytes(data)
    at = 0
    while at < len(data):
        if not data.startswith(b"WARC/1.", at):
            return False
        headers_end = data.find(b"\r\n\r\n", at)
        if headers_end < 0:
            return False
        length = _LENGTH.search(data[at:headers_end + 2])
        if length is None:
            return False
        at = headers_end + 4 + int(length.group(1))
        if data[at:at + 4] != b"\r\n\r\n":
            return False
        at += 4
    return at == len(data)


def _members_to_end(data) -> bool:
    """Complete gzip members from the start of ``data`` to its very end, each one whole record."""
    rest = bytes(data)
    while rest:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            record = inflate.decompress(rest)
        except zlib.error:
            return False
        if not inflate.eof or not _records_to_end(record):
            return False
        rest = inflate.unused_data
    return True
