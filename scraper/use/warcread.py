"""Cutting a WARC file into its records, in bounded memory, trusting nothing in it.

warcio reads a header line whole however long it is (a 1 GiB line took 3.2 GB) and takes a
record's Content-Length on faith (10^12 swallowed the next record without a word; a file cut short
gave its last article with a fifth of its text missing). So the framing is ours: every line is read
up to a cap (the rest of a longer one is skipped, never held), a record's block is read only when it
fits the page cap (a bigger one is skipped in pieces), and a record counts only when its block is
followed by the blank line that ends it. warcio still parses each record we hand it, from memory.

What is wrong with one record (an overlong header line, a block that does not end where its
Content-Length says) is a ``RawRecord`` with a ``problem``: the records after it are read on.
What leaves no way to find the next record (a file cut in a record, a Content-Length past the
end of the file, gzip data that does not inflate) raises ``WarcDamage`` naming the record.
"""
from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass
from typing import BinaryIO, Iterator

from ..errors import ScraperError

MAX_LINE = 64 * 1024          # a WARC header line; real ones are under 1 KiB (long URLs included)
MAX_HEADER = 256 * 1024       # a WARC header block; an HTTP header block is held to it too (warc.py)
_CHUNK = 64 * 1024            # read and inflated at a time
_END = b"\r\n\r\n"            # what follows every record's block (WARC 1.1 section 4)


class WarcDamage(ScraperError):
    """The file cannot be read past this point (damaged or cut short)."""


@dataclass(frozen=True)
class RawRecord:
    offset: int                          # where the record starts (gzip: the member holding its start)
    headers: dict[str, str]              # WARC header names lower-cased; a repeated name: the first
    head: bytes                          # the header block as read, for warcio's parser
    length: int                          # its Content-Length
    block: bytes | None                  # the block; None when over the cap it was read with
    problem: str | None = None           # why this record cannot be trusted (then it is not used)

    @property
    def name(self) -> str:
        """How a message names it: its offset and WARC-Record-ID."""
        rid = self.headers.get("warc-record-id")
        return f"record at byte {self.offset:,}" + (f" ({rid[:100]})" if rid else "")


class _Source:
    """The file's bytes (inflated member by member when gzipped), read forward through a buffer
    that never holds more than what was asked for plus one chunk."""

    def __init__(self, stream: BinaryIO, gzipped: bool):
        self._f, self._gz = stream, gzipped
        self._buf, self._at = bytearray(), 0      # unread bytes start at self._buf[self._at]
        self._pos = 0                             # position (inflated) of self._buf[0]
        self._z, self._raw, self._raw_pos = None, b"", 0
        self._members: deque[tuple[int, int]] = deque()   # (inflated start, file offset) of members
        self.cut = False                          # the last gzip member ends early

    @property
    def position(self) -> int:
        return self._pos + self._at

    def offset(self, position: int) -> int:
        """The file offset that names a byte read (by its inflated position): itself, or the
        start of its gzip member."""
        if not self._gz:
            return position
        while len(self._members) > 1 and self._members[1][0] <= position:
            self._members.popleft()
        return self._members[0][1] if self._members else self._raw_pos

    def _fill(self) -> bool:
        """Append at most _CHUNK bytes to the buffer; False at the end of the data."""
        if self._at > _CHUNK:      # drop what was read
            del self._buf[:self._at]
            self._pos, self._at = self._pos + self._at, 0
        if not self._gz:
            data = self._f.read(_CHUNK)
            self._buf += data
            return bool(data)
        while True:
            if self._z is None:
                if not self._raw:
                    self._raw = self._f.read(_CHUNK)
                    self._raw_pos += len(self._raw)
                    if not self._raw:
                        return False
                start = self._raw_pos - len(self._raw)
                if not (self._raw[:2] == b"\x1f\x8b"[:len(self._raw)]):
                    raise WarcDamage(f"byte {start:,}: not gzip data (another file appended?)")
                self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._members.append((self._pos + len(self._buf), start))
            try:
                out = self._z.decompress(self._raw, _CHUNK)
            except zlib.error:
                raise WarcDamage(f"byte {self._members[-1][1]:,}: the gzip member does not inflate") from None
            if self._z.eof:
                self._raw, self._z = self._z.unused_data, None
            else:
                self._raw = self._z.unconsumed_tail
                if not out and not self._raw:
                    more = self._f.read(_CHUNK)
                    self._raw_pos += len(more)
                    if not more:
                        self.cut = True
                        return False
                    self._raw = more
            if out:
                self._buf += out
                return True

    def readline(self, limit: int) -> tuple[bytes, bool]:
        """(the next line up to ``limit`` bytes, whether it was longer); the rest of a longer
        line is skipped piece by piece, never held."""
        while (end := self._buf.find(b"\n", self._at, self._at + limit)) < 0:
            if len(self._buf) - self._at >= limit:
                line = bytes(self._buf[self._at:self._at + limit])
                self._at += limit
                self._skip_line()
                return line, True
            if not self._fill():
                line = bytes(self._buf[self._at:])
                self._at = len(self._buf)
                return line, False
        line = bytes(self._buf[self._at:end + 1])
        self._at = end + 1
        return line, False

    def _skip_line(self) -> None:
        while (end := self._buf.find(b"\n", self._at)) < 0:
            self._at = len(self._buf)
            if not self._fill():
                return
        self._at = end + 1

    def read(self, n: int) -> bytes:
        while len(self._buf) - self._at < n and self._fill():
            pass
        data = bytes(self._buf[self._at:self._at + n])
        self._at += len(data)
        return data

    def skip(self, n: int) -> int:
        """Pass over ``n`` bytes without holding them; how many there were."""
        done = 0
        while done < n:
            if self._at >= len(self._buf) and not self._fill():
                break
            step = min(n - done, len(self._buf) - self._at)
            self._at += step
            done += step
        return done

    def unread(self, data: bytes) -> None:
        """Put back bytes just read (the next record found inside a block that ran over)."""
        self._buf[self._at:self._at] = data     # noqa: the buffer then starts earlier in the data
        self._pos -= len(data)


def read_records(stream: BinaryIO, max_block: int) -> Iterator[RawRecord]:
    """The records of a WARC file (plain, or gzipped: per record or whole), a block over
    ``max_block`` bytes skipped unread."""
    gzipped = stream.read(2) == b"\x1f\x8b"
    stream.seek(0)
    source = _Source(stream, gzipped)
    junk_at, previous = None, "the file's start"
    while True:
        position = source.position
        line, long = source.readline(MAX_LINE)
        offset = source.offset(position)
        if junk_at is not None and (not line or line.startswith(b"WARC/")):
            yield RawRecord(junk_at, {}, b"", 0, None, problem=(
                f"bytes that are not a WARC record, after the {previous} and up to byte {offset:,}: "
                f"a wrong Content-Length or damage; passed over"))
            junk_at = None
        if not line:
            if source.cut:
                raise WarcDamage(f"byte {offset:,}: the gzip data ends in the middle of a member (cut short)")
            return
        if not line.strip() and not long:
            continue
        if not line.startswith(b"WARC/"):
            # Not where a record should start: a Content-Length that ended a block too early, or
            # bytes that are not a WARC file. Said once, then the next record is looked for.
            if junk_at is None:
                junk_at = offset
            continue
        record = _read_record(source, offset, line, long, max_block)
        previous = record.name
        yield record


def _read_record(source: _Source, offset: int, first: bytes, long: bool, max_block: int) -> RawRecord:
    head, headers = [first], {}
    problem = f"a WARC header line over {MAX_LINE // 1024} KiB; refused" if long else None
    size, name = len(first), None
    while True:
        line, long = source.readline(MAX_LINE)
        if not line:
            raise WarcDamage(f"record at byte {offset:,}: the file ends in its header (cut short)")
        if long and problem is None:
            problem = f"a WARC header line over {MAX_LINE // 1024} KiB; refused"
        if not line.strip() and not long:
            break
        size += len(line)
        if size > MAX_HEADER:
            problem = problem or f"a WARC header over {MAX_HEADER // 1024} KiB; refused"
            continue
        head.append(line)
        text = line.decode("utf-8", "replace")
        if text[:1] in " \t" and name:            # a folded line continues the header above
            headers[name] += " " + text.strip()
        elif ":" in text:
            name, value = text.split(":", 1)
            name = name.strip().lower()
            headers.setdefault(name, value.strip())
    raw = RawRecord(offset, headers, b"".join(head) + b"\r\n", 0, None, problem)
    length_text = headers.get("content-length", "")
    if not (length_text.isascii() and length_text.isdigit()):
        # No length, no way to know where the block ends: what follows is searched for the next record.
        return _with(raw, problem=f"Content-Length {length_text[:30]!r} is not a number; record passed over")
    length = int(length_text)
    if length > max_block:
        skipped = source.skip(length)
        if skipped < length:
            raise WarcDamage(f"{raw.name}: its Content-Length is {length:,} but the file ends "
                             f"{skipped:,} bytes later: cut short, or a wrong Content-Length "
                             f"(any record after it is inside those bytes, unread)")
        return _with(raw, length=length, ends=_ending(source, raw.name, length, b""))
    block = source.read(length)
    if len(block) < length:
        raise WarcDamage(f"{raw.name}: cut short ({len(block):,} of its {length:,} bytes); not imported")
    return _with(raw, length=length, block=block, ends=_ending(source, raw.name, length, block))


def _ending(source: _Source, name: str, length: int, block: bytes) -> str | None:
    """None when the block is followed by the record's end; else why not, the next record
    (when it is inside the block read) put back to be read."""
    end = source.read(len(_END))
    if end == _END:
        return None
    if end[:2] == b"\n\n":                 # a writer that ends lines with LF alone
        source.unread(end[2:])
        return None
    if len(end) < len(_END) and source.cut:
        raise WarcDamage(f"{name}: the gzip data ends in it (cut short); not imported")
    tail = block + end
    if (found := tail.find(b"\r\nWARC/", 0)) >= 0:
        source.unread(tail[found + 2:])
    else:
        source.unread(end)
    return (f"its block does not end where its Content-Length ({length:,}) says: a wrong "
            f"Content-Length or a damaged record; not imported")


def _with(raw: RawRecord, *, length: int = 0, block: bytes | None = None, ends: str | None = None,
          problem: str | None = None) -> RawRecord:
    return RawRecord(raw.offset, raw.headers, raw.head, length, block, raw.problem or problem or ends)
