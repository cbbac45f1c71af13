"""Bytes -> str for web pages: which encoding a page is in, and whether it is text at all.

The order follows what browsers do (WHATWG "encoding sniffing"), with one more rule that Arabic sites
need: a page whose declared charset cannot be right (the bytes do not decode strictly, or they are
valid multi-byte UTF-8 while the declaration names a one-byte legacy charset) falls through to the
next source instead of coming out as mojibake.
"""
from __future__ import annotations

import codecs
import re

import charset_normalizer

# A BOM is byte-level evidence written by the producer of the file, so (as in browsers) it wins even
# over the HTTP header: a header saying windows-1256 on a file that starts with EF BB BF is wrong.
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))

# WHATWG maps these labels to a superset that real pages rely on (a page "in iso-8859-1" uses
# curly quotes from windows-1252; "euc-kr" pages use windows-949 extensions); keyed by Python's
# codec name so every alias Python knows is covered.
_WHATWG_SUPERSETS = {
    "ascii": "cp1252", "iso8859-1": "cp1252", "iso8859-9": "cp1254", "iso8859-11": "cp874",
    "tis-620": "cp874", "euc_kr": "cp949", "gb2312": "gb18030", "gbk": "gb18030",
    "shift_jis": "cp932", "big5": "big5hkscs",
}
# WHATWG labels that Python's codec registry does not know.
_EXTRA_LABELS = {
    "iso-8859-6-e": "iso8859-6", "iso-8859-6-i": "iso8859-6", "csiso88596e": "iso8859-6",
    "csiso88596i": "iso8859-6", "iso-8859-8-e": "iso8859-8", "iso-8859-8-i": "iso8859-8",
    "csiso88598e": "iso8859-8", "csiso88598i": "iso8859-8", "logical": "iso8859-8",
    "windows-874": "cp874", "x-mac-roman": "mac-roman", "x-sjis": "cp932", "windows-31j": "cp932",
    "windows-949": "cp949", "x-gbk": "gb18030", "x-euc-jp": "euc_jp",
    **{f"x-cp125{d}": f"cp125{d}" for d in range(9)},
}
_ARABIC = ("cp1256", "iso8859_6")  # charset-normalizer's names

# Browsers look for <meta charset> in the first 1024 bytes; Arabic CMS pages often put long
# scripts and styles first, so we look a little further.
_PRESCAN_BYTES = 4096
_META = re.compile(rb"<meta\b[^>]*>", re.I)
_META_CHARSET = re.compile(rb"""\bcharset\s*=\s*["']?\s*([\w.:-]+)""", re.I)
_HTTP_EQUIV = re.compile(rb"""\bhttp-equiv\s*=\s*["']?\s*content-type""", re.I)
_XML_DECL = re.compile(rb"""^<\?xml[^>]*\bencoding\s*=\s*["']([\w.:-]+)["']""", re.I)
_TAG = re.compile(rb"<[^>]*>|&#?\w+;")

# Magic numbers of formats that are never a web page (first bytes of the body).
_MAGIC = (
    b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"%PDF-", b"PK\x03\x04",
    b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c", b"\x28\xb5\x2f\xfd",
    b"Rar!\x1a\x07", b"\x00\x00\x01\x00", b"II*\x00", b"MM\x00*", b"OggS", b"ID3", b"fLaC",
    b"\x1a\x45\xdf\xa3", b"\x7fELF", b"MZ\x90\x00", b"\xd0\xcf\x11\xe0", b"\x00asm", b"wOFF", b"wOF2",
    b"SQLite format 3\x00",
)
# Control bytes that never occur in text (tab, LF, FF, CR and ESC excluded), as in WHATWG's
# "binary data byte".
_BINARY_BYTES = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_SNIFF_BYTES = 8192


# Python's codecs that no page is written in: a label naming one («undefined», «idna») is unknown.
_NOT_PAGE_CODECS = frozenset(("undefined", "idna", "punycode", "raw-unicode-escape", "unicode-escape", "charmap"))


def normalize_encoding(label: str | None) -> str | None:
    """The codec a page labelled ``label`` really uses, as a name Python accepts; None if unknown.

    ``'ISO-8859-1'`` -> ``'windows-1252'`` (WHATWG), ``'arabic'`` -> ``'iso-8859-6'``,
    ``'CP1256'`` -> ``'windows-1256'``; labels of non-text codecs (``base64``) are unknown.
    """
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    try:
        info = codecs.lookup(_EXTRA_LABELS.get(label, label))
    except (LookupError, ValueError):   # ValueError: a label holding a NUL byte (a damaged header)
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_PAGE_CODECS:
        return None
    name = _WHATWG_SUPERSETS.get(info.name, info.name)
    if m := re.fullmatch(r"cp(125\d)", name):
        return f"windows-{m.group(1)}"
    if m := re.fullmatch(r"iso8859-(\d+)", name):
        return f"iso-8859-{m.group(1)}"
    return name


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str]:
    """Decode a page: returns ``(html, encoding)``, never raises on bad bytes.

    Sources in order: a BOM, the HTTP ``charset`` parameter, ``<meta charset>`` /
    ``<meta http-equiv=Content-Type>`` / the XML declaration near the top, then detection.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(encoding, errors="replace"), encoding
    for declared in (charset_from_content_type(content_type), _prescan(body)):
        encoding = normalize_encoding(declared)
        if encoding and (html := _decode_declared(body, encoding)) is not None:
            return html, encoding
    return _detect(body)


def charset_from_content_type(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    m = re.search(r"""charset\s*=\s*["']?([^"';,\s]+)""", content_type, re.I)
    return m.group(1) if m else None


def looks_binary(body: bytes, declared_html: bool = False) -> bool:
    """True when the bytes are clearly not a text document (an image, PDF, archive, executable...).

    ``declared_html``: the server said text/html (or a saved file is named .html). WHATWG's
    sniffing then takes the page for HTML (browsers render it, a stray NUL byte is dropped), so a
    NUL is no evidence by itself and control bytes pasted from a word processor are tolerated up to
    one in twenty; the magic numbers of binary formats and control bytes at the rate of binary data
    (random bytes: one in nine) still are, since an image or random bytes labelled text/html hold
    no article.
    """
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False  # UTF-16 text is full of NUL bytes
    head = body[:_SNIFF_BYTES].lstrip(b" \t\r\n")
    if head.startswith(_MAGIC) or head[4:12] in (b"ftypisom", b"ftypmp42") or (
            head.startswith(b"RIFF") and head[8:12] in (b"WEBP", b"WAVE", b"AVI ")):
        return True
    if b"\x00" in head and not declared_html:
        return True
    # A stray control byte or two happens in real pages (pasted from Word); compressed or binary
    # data has about one in ten.
    controls = len(head) - len(head.translate(None, _BINARY_BYTES))
    return controls > max(4, len(head) // (20 if declared_html else 50))


# WHATWG MIME Sniffing, "rules for identifying an unknown MIME type": an undeclared resource is
# HTML when, after leading whitespace, it starts with one of these tags (any case) followed by a
# space or ">"; a comment, or an XML declaration (XHTML), counts too.
_HTML_STARTS = re.compile(
    rb"[\t\n\x0c\r ]*(?:<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p)"
    rb"[ >]|<!--|<\?xml)", re.IGNORECASE)


def sniffs_as_html(body: bytes) -> bool:
    """True when bytes with no declared type are HTML by WHATWG's sniffing rule (a browser given
    them without a Content-Type would render them as a page, not show them as text)."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                       (codecs.BOM_UTF16_BE, "utf-16-be")):
        if body.startswith(bom):
            head = body[len(bom):len(bom) + 1024]
            body = head if codec == "utf-8" else head.decode(codec, "ignore").encode("utf-8")
            break
    return _HTML_STARTS.match(body) is not None


def _prescan(body: bytes) -> str | None:
    head = body[:_PRESCAN_BYTES]
    if m := _XML_DECL.match(head.lstrip()):
        return m.group(1).decode("ascii")
    for tag in _META.finditer(head):
        text = tag.group(0)
        if b"http-equiv" in text.lower() and not _HTTP_EQUIV.search(text):
            continue  # e.g. <meta http-equiv="refresh" content="0; url=...charset=...">
        if m := _META_CHARSET.search(text):
            label = m.group(1).decode("ascii")
            # A page cannot declare itself UTF-16 in ASCII bytes; WHATWG reads that as UTF-8.
            return "utf-8" if label.lower().startswith(("utf-16", "utf16")) else label
    return None


def _decode_declared(body: bytes, encoding: str) -> str | None:
    """The body decoded with a declared encoding, or None when the declaration cannot be right."""
    try:
        html = body.decode(encoding)
    except (UnicodeError, LookupError):     # UnicodeError: a codec that refuses to decode at all
        return _damaged_utf8(body, declared=True) if encoding == "utf-8" else None
    if not encoding.startswith("utf") and _is_utf8_text(body):
        # Valid multi-byte UTF-8 almost never happens by chance in legacy text (two Arabic letters
        # in a row in windows-1256 are already invalid UTF-8), while sites that moved to UTF-8 and
        # kept `<meta charset=windows-1256>` in their templates are common.
        return None
    return html


def _is_utf8_text(body: bytes) -> bool:
    if body.isascii():
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _damaged_utf8(body: bytes, declared: bool = False) -> str | None:
    """The body as UTF-8 when it is UTF-8 with a few broken sequences (a cut multi-byte character
    in a teaser is common), else None. Detectors read such pages as windows-1252 mojibake."""
    text = body.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", "ignore")) - broken
    # Legacy Arabic text read as UTF-8 is mostly broken sequences; real UTF-8 has under 2% of them.
    # A page that declares UTF-8 stays UTF-8 (as in browsers) while its valid characters outnumber
    # the broken ones four to one: a block pasted in windows-1256 must not turn it all to mojibake.
    return text if non_ascii > 0 and broken * (4 if declared else 50) <= non_ascii else None


def _detect(body: bytes) -> tuple[str, str]:
    if body.isascii():
        return body.decode("ascii"), "utf-8"
    if (html := _damaged_utf8(body)) is not None:  # also plain valid UTF-8
        return html, "utf-8"
    # Markup and entities are ASCII and only dilute the signal; detect on the text between tags.
    sample = _TAG.sub(b" ", body[:200_000])
    matches = list(charset_normalizer.from_bytes(sample))
    # Arabic first: ISO-8859-6 text also decodes as Thai (cp874) and the detector sometimes ranks
    # that a hair higher on long pages; the reverse never happens (Thai text uses bytes that
    # ISO-8859-6 leaves undefined), so a near-tie goes to the Arabic reading.
    arabic = [m for m in matches if m.encoding in _ARABIC and m.chaos <= matches[0].chaos + 0.1]
    match = min(arabic, key=lambda m: m.chaos) if arabic else (matches[0] if matches else None)
    encoding = normalize_encoding(match.encoding if match else None) or "windows-1252"
    return body.decode(encoding, errors="replace"), encoding
