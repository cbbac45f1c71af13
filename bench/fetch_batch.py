"""`scraper fetch -i urls.txt` of many corpus pages from several local hosts: before vs after.

    python bench/fetch_batch.py                               # 200 pages, 8 hosts, 100 ms, vs one by one
    python bench/fetch_batch.py --hosts 4 --repeat 5 --baseline ../old-checkout
    python bench/fetch_batch.py --threshold --pages 5 10 20 40 --latency 0   # where processes pay

Local hosts (127.0.0.2, 127.0.0.3, ...: bench/realpages.py's ``serve``) answer each article after
``--latency`` with a corpus page (../shared/corpus/news, real HTML of 20-300 KB), article n on host
n % hosts; the URL file lists them in that order (hosts interleaved), or host after host with
``--grouped``. Each contestant is `cli.py fetch -i urls.txt --db fresh.db` of a checkout, run in
its own process in turn (``--repeat`` rounds, rotated), timed from outside: wall seconds from
start to exit, medians shown, with the ratio to the first contestant. It must exit 0 with every
page saved, else the bench stops.

Contestants: ``baseline`` (``--baseline DIR``; default: commit BEFORE exported to a temporary
folder, the last one whose fetch took the URLs one by one) and ``this`` (this checkout). With ``--threshold``: this
checkout twice, extraction in this process (``--extract-workers 0``) and in one worker process
per core (``--extract-workers N``), for each ``--pages``: where starting the workers pays.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.realpages import serve  # noqa: E402
from scraper.crawl.extractors import usable_cores  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def urls(pages: int, hosts: int, port: int, grouped: bool) -> list[str]:
    order = sorted(range(pages), key=lambda n: (n % hosts, n)) if grouped else range(pages)
    return [f"http://127.0.0.{n % hosts + 2}:{port}/news/{n}/story" for n in order]


# The last commit whose `fetch` took its URLs one by one (the batch landed after it). Not "main":
# once the change has landed, main is this checkout, and the bench would compare it with itself.
BEFORE = "9e70566"


def baseline_checkout(folder: Path) -> Path:
    """Commit BEFORE, exported (the code before the change)."""
    subprocess.run(f"git -C {ROOT} archive {BEFORE} | tar -x -C {folder}", shell=True, check=True)
    return folder


def timed(root: Path, url_file: Path, workdir: Path, extra: list[str]) -> float:
    db = workdir / f"{time.monotonic_ns()}.db"
    began = time.monotonic()
    done = subprocess.run([sys.executable, str(root / "cli.py"), "fetch", "-i", str(url_file), "--db", str(db),
                           *extra], cwd=workdir, capture_output=True, text=True)
    seconds = time.monotonic() - began
    lines = done.stderr.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].endswith(" saved") or "failed" in lines[-1]:
        raise SystemExit(f"{root} {extra}: exit {done.returncode}\n{done.stderr[-2000:]}")
    db.unlink()
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[200])
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--grouped", action="store_true", help="URLs host after host, not interleaved")
    parser.add_argument("--baseline", type=Path, help=f"checkout to compare with (default: commit {BEFORE}, fetch one by one)")
    parser.add_argument("--threshold", action="store_true",
                        help="this checkout, extraction in this process vs in worker processes")
    args = parser.parse_args(argv)

    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.hosts, port, max(args.pages), args.latency,
                                                         None, ready), daemon=True)
    server.start()
    ready.wait(30)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.threshold:
            contestants = [("in-process", ROOT, ["--extract-workers", "0"]),
                           (f"{usable_cores()} processes", ROOT, ["--extract-workers", str(usable_cores())])]
        else:
            base = args.baseline or baseline_checkout(Path(tempfile.mkdtemp(dir=tmp)))
            contestants = [("baseline", base, []), ("this", ROOT, [])]
        print(f"{args.hosts} hosts, latency {args.latency * 1000:.0f} ms, "
              f"{'grouped' if args.grouped else 'interleaved'}, {args.repeat} rounds, {usable_cores()} cores")
        for pages in args.pages:
            url_file = workdir / f"urls-{pages}.txt"
            url_file.write_text("\n".join(urls(pages, args.hosts, port, args.grouped)) + "\n")
            times: dict[str, list[float]] = {name: [] for name, _, _ in contestants}
            for round_ in range(args.repeat):
                turn = contestants[round_ % len(contestants):] + contestants[:round_ % len(contestants)]
                for name, root, extra in turn:
                    times[name].append(timed(root, url_file, workdir, extra))
            first = statistics.median(times[contestants[0][0]])
            for name, _, _ in contestants:
                median = statistics.median(times[name])
                runs = " ".join(f"{t:.2f}" for t in times[name])
                print(f"{pages:>5} pages  {name:<12} median {median:6.2f} s  ({runs})  "
                      f"x{first / median:.2f} the {contestants[0][0]}'s speed")
    server.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
