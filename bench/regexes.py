"""Why the sites file's URL regexes run on RE2: Python's re, the regex module (with a timeout) and
google-re2 on patterns users write that backtrack, and on ordinary article links.

    python bench/regexes.py

Python's re is timed on shorter links (its time doubles with each letter: the issue's 36 letters
would take hours); the regex module is timed with a 2 s timeout, as it would be used.
"""
from __future__ import annotations

import random
import re
import string
import time

import re2
import regex

ISSUE = r"^https?://example\.com/news/([a-z0-9]+-?)+(\.html)?$"
EVIL = [  # (pattern, the text that makes a backtracking engine explode)
    (ISSUE, "https://example.com/news/" + "a" * 36 + "!"),
    (r"^(a|aa)+$", "a" * 40 + "!"),
    (r"(x+x+)+y", "x" * 30),
]
OPTIONS = re2.Options()
OPTIONS.log_errors = False


def timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began




def main() -> None:
    print("backtracking patterns (one search each):")
    for pattern, text in EVIL:
        r2 = re2.compile(pattern, options=OPTIONS)
        began = time.perf_counter()
        try:
            regex.compile(pattern).search(text, timeout=2.0)
            rx = f"{(time.perf_counter() - began) * 1000:.2f} ms"
        except TimeoutError:
            rx = f"timeout after {time.perf_counter() - began:.2f} s"
        print(f"  {pattern!r} on {len(text)} chars: re2 {timed(lambda: r2.search(text)) * 1000:.3f} ms, "
              f"regex(timeout=2s) {rx}")
    print("Python's re on the issue's pattern, by link length (36 letters in the issue):")
    compiled = re.compile(ISSUE)
    for letters in (18, 20, 22, 24):
        text = "https://example.com/news/" + "a" * letters + "!"
        print(f"  {letters} letters: {timed(lambda: compiled.search(text)):.2f} s")
    rng = random.Random(1)
    links = ["https://example.com/news/" + "-".join(
        "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9)))
        for _ in range(rng.randint(2, 8))) + rng.choice(["", ".html", "/", "?x=1"]) for _ in range(10_000)]
    typical = r"^https://example\.com/news/[a-z0-9-]+(\.html)?$"
    print(f"on {len(links):,} ordinary links (µs a link; Python's re is left out of the issue's pattern:"
          " on the links that do not match it, it backtracks for minutes too):")
    for name, compile_ in (("re", re.compile), ("regex", regex.compile),
                           ("re2", lambda p: re2.compile(p, options=OPTIONS))):
        row = []
        for pattern in (typical, ISSUE):
            if name == "re" and pattern == ISSUE:
                row.append("-")
                continue
            compiled = compile_(pattern)
            row.append(f"{timed(lambda: [compiled.search(u) for u in links]) / len(links) * 1e6:.2f}")
        print(f"  {name}: {row[0]} with {typical!r}, {row[1]} with the issue's pattern")

if __name__ == "__main__":
    main()
