"""Pages made to look unseen: the corpus with the evidence a publisher's own conventions give taken away.

Rules written on the corpus can lean on what its publishers happen to call things. On a site nobody
tuned for, the class and id names are other words: `--perturb names` renames every class and id
token of a page to a meaningless one (the same token to the same name within the page, so the
page's structure and its repeated blocks stay as they were). `--perturb nometa` removes the
page's JSON-LD scripts, so the body must stand without a machine-readable copy. Neither is a
substitute for pages of unseen publishers; both show whether the extractor fails gracefully when
one kind of evidence is missing, which is the failure that hurts on them (issue 12).
"""
from __future__ import annotations

import hashlib
import re

_ATTR = re.compile(rb"""(\s(?:class|id)\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_JSONLD = re.compile(rb"""<script[^>]*application/ld\+json[^>]*>.*?</script\s*>""", re.IGNORECASE | re.DOTALL)


def _token(word: bytes, salt: bytes) -> bytes:
    return b"x" + hashlib.blake2s(salt + word, digest_size=5).hexdigest().encode()


def scramble_names(html: bytes, salt: bytes = b"") -> bytes:
    """Every class and id token renamed consistently within the page."""
    def rename(match: re.Match) -> bytes:
        value = match.group(2) if match.group(2) is not None else match.group(3)
        renamed = b" ".join(_token(w, salt) for w in value.split())
        return match.group(1) + b'"' + renamed + b'"'
    return _ATTR.sub(rename, html)


def without_jsonld(html: bytes) -> bytes:
    return _JSONLD.sub(b"", html)


PERTURBATIONS = {"names": scramble_names, "nometa": without_jsonld}
