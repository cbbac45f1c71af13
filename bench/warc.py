"""Peak memory and time of `scraper import-warc` on WARC files with one huge header line (issue 11:
a 1 GiB WARC header line took 3.2 GB, a 1 GiB HTTP header line 971 MB), against warcio's own
reader (what import-warc used before) reading the same kind of file with a shorter line (its
readline joins the line piece by piece: 191 s for 64 MiB). Each reader runs in a child process, so
its peak RSS is its own (os.wait4).

    python bench/warc.py [--mib 1024] [--peer-mib 16] [--no-peer]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))
from tests.test_warc_damage import PEAK, html, record, url  # noqa: E402

PIECE = b"a" * (1 << 20)


def long_warc_header(path: Path, mib: int) -> None:
    with open(path, "wb") as f:
        f.write(record(1) + b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:long>\r\nX-Long: ")
        for _ in range(mib):
            f.write(PIECE)
        f.write(b"\r\n" + record(2).split(b"\r\n", 3)[3] + record(3))


def long_http_header(path: Path, mib: int) -> None:
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Long: "
    with open(path, "wb") as f:
        f.write(record(1) + (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:long>\r\n"
                             f"WARC-Date: 2024-02-10T12:30:00Z\r\nWARC-Target-URI: {url(2)}\r\n"
                             f"Content-Type: application/http\r\nContent-Length: "
                             f"{len(http) + mib * len(PIECE) + 4 + len(html(2))}\r\n\r\n").encode() + http)
        for _ in range(mib):
            f.write(PIECE)
        f.write(b"\r\n\r\n" + html(2) + b"\r\n\r\n" + record(3))


PEER = """
import sys
from warcio.archiveiterator import ArchiveIterator
with open(sys.argv[1], "rb") as f:
    for r in ArchiveIterator(f):
        r.content_stream().read(10_000_001)
"""


def measure(argv: list[str], script: str = PEAK) -> tuple[float, float, int, str]:
    """`scraper ARGV` (or ``script`` with ARGV) in a child process: seconds, peak RSS (MB: the
    child's own VmHWM, which starts afresh at exec), exit code, stderr."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, *argv], cwd=ROOT, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    peak = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK ")][-1]
    err = "\n".join(line for line in done.stderr.splitlines() if not line.startswith("PEAK "))
    return time.perf_counter() - began, int(peak) / 1024, done.returncode, err


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024, help="the long line's size (MiB)")
    parser.add_argument("--peer-mib", type=int, default=16, help="the long line's size for warcio's reader")
    parser.add_argument("--no-peer", action="store_true", help="skip warcio's reader")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for name, make in (("WARC header line", long_warc_header), ("HTTP header line", long_http_header)):
            path = Path(folder) / "long.warc"
            make(path, args.mib)
            ours = measure(["import-warc", str(path), "--db", str(Path(folder) / f"{name}.db")])
            line = (f"{args.mib} MiB {name}: import-warc {ours[0]:.1f} s, peak RSS {ours[1]:.0f} MB, "
                    f"exit {ours[2]} ({ours[3].strip().splitlines()[-1]})")
            print(line, flush=True)
            if not args.no_peer and name.startswith("WARC"):
                make(path, args.peer_mib)
                ours = measure(["import-warc", str(path), "--db", str(Path(folder) / "p.db")])
                peer = measure([str(path)], PEAK.split("sys.argv =")[0] + PEER)
                print(f"  {args.peer_mib} MiB {name}: import-warc {ours[0]:.1f} s, peak RSS {ours[1]:.0f} MB; "
                      f"warcio's reader {peer[0]:.1f} s (x{peer[0] / ours[0]:.0f}), peak RSS {peer[1]:.0f} MB "
                      f"(x{peer[1] / ours[1]:.1f})", flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
