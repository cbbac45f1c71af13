"""robots.txt checks: our rules (scraper/crawl/robotstxt.py) against protego, side by side in one process.

    python bench/robots.py [--urls 400] [--repeat 5]

Each file is a robots.txt of 100,000 rules cut at the 500 KiB a run reads (about 18,000 rules),
plus an ordinary one. For each: the time to read it, to build our index (on the first check),
and a check's median over ``--repeat`` rounds of ``--urls`` URLs (news URLs, URLs under a rule's
prefix, URLs a wildcard rule matches), ours and protego's alternating; every answer compared.
The last file is built to defeat our index (rules of one-letter parts that every URL contains):
there a check tries each such rule, as protego always does.
"""
from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import time
from pathlib import Path

from protego import Protego

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scraper.crawl.robots import MAX_ROBOTS_BYTES  # noqa: E402
from scraper.crawl.robotstxt import RobotsRules  # noqa: E402

AGENT = "scraper/1.0 (+https://example.org/bot)"


def capped(rules: list[str]) -> str:
    whole = "\n".join(["User-agent: *", *rules]).encode()
    return whole[:MAX_ROBOTS_BYTES].decode("utf-8", "replace")


def files() -> dict[str, str]:
    rnd = random.Random(11)
    token = lambda k: "".join(rnd.choice("abcdefghij") for _ in range(k))     # noqa: E731
    combos = list(itertools.product("abcdefghij-/0123456789", repeat=4))
    rnd.shuffle(combos)
    return {
        "ordinary (12 rules)": "User-agent: *\nDisallow: /admin/\nDisallow: /search\nDisallow: /*?print=\n"
                               "Disallow: /*.pdf$\nAllow: /search/about\nDisallow: /tag/*/feed\nDisallow: /cart\n"
                               "User-agent: GPTBot\nDisallow: /\nUser-agent: scraper\nDisallow: /private/\n"
                               "Allow: /private/open/\nCrawl-delay: 1\nSitemap: https://example.com/sitemap.xml\n",
        "prefixes /section{i}/page": capped([f"Disallow: /section{i}/page" for i in range(100_000)]),
        "wildcards /*/p{i}/x$": capped([f"Disallow: /*/p{i}/x$" for i in range(100_000)]),
        "wildcards /*{4}*{3}, a third Allow": capped(
            [f"{'Allow' if i % 3 == 0 else 'Disallow'}: /*{token(4)}*{token(3)}" for i in range(100_000)]),
        "built to defeat the index /*a*b*c*d": capped(
            [f"{'Allow' if i % 2 else 'Disallow'}: /*{a}*{b}*{c}*{d}" for i, (a, b, c, d) in enumerate(combos)]),
    }


def urls(n: int) -> list[str]:
    rnd = random.Random(5)
    slug = lambda: "".join(rnd.choice("abcdefghij-") for _ in range(30))    # noqa: E731
    return ([f"https://example.com/news/{rnd.randint(1, 10 ** 6)}/{slug()}" for _ in range(n // 2)]
            + [f"https://example.com/section{rnd.randint(1, 9)}/page/{slug()}" for _ in range(n // 4)]
            + [f"https://example.com/x/p{rnd.randint(1, 20_000)}/x" for _ in range(n - n // 2 - n // 4)])


def per_check(check, asked: list[str]) -> tuple[float, list[bool]]:
    began = time.perf_counter()
    answers = [check(url, AGENT) for url in asked]
    return (time.perf_counter() - began) / len(asked), answers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    asked = urls(args.urls)
    print(f"{'file':38} {'rules':>7} {'read: ours / protego':>22} {'index':>8} "
          f"{'a check: ours':>14} {'protego':>10} {'ratio':>7}  answers")
    for name, text in files().items():
        began = time.perf_counter()
        ours = RobotsRules.parse(text)
        read_ours = time.perf_counter() - began
        began = time.perf_counter()
        theirs = Protego.parse(text)
        read_theirs = time.perf_counter() - began
        began = time.perf_counter()
        ours.allowed(asked[0], AGENT)          # builds the index
        index = time.perf_counter() - began
        theirs.can_fetch(asked[0], AGENT)      # builds protego's (its prefix tuple)
        group = ours.group_for(AGENT)
        mine, protego, same = [], [], True
        for _ in range(args.repeat):
            seconds, a = per_check(ours.allowed, asked)
            mine.append(seconds)
            seconds, b = per_check(theirs.can_fetch, asked)
            protego.append(seconds)
            same = same and a == b
        m, p = statistics.median(mine), statistics.median(protego)
        print(f"{name:38} {len(group.rules) if group else 0:>7,} {read_ours * 1e3:>9.0f} / {read_theirs * 1e3:>5.0f} ms "
              f"{index * 1e3:>5.0f} ms {m * 1e3:>11.4f} ms {p * 1e3:>7.3f} ms {p / m:>6.0f}x  "
              f"{'identical' if same else 'DIFFERENT'} ({sum(a)} of {len(a)} allowed)")


if __name__ == "__main__":
    main()
