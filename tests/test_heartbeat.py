"""A worker's heartbeat process (scraper/workers/heartbeat.py) says once when the database does not
take its beats, goes on trying, and ends when its worker's pipe closes. A real closed port on
127.0.0.1 stands for the database that does not answer."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

HEARTBEAT = Path(__file__).resolve().parents[1] / "scraper" / "workers" / "heartbeat.py"


def test_beats_the_database_refuses_are_said_once_and_the_process_ends_with_its_worker():
    with socket.socket() as probe:        # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    beats = subprocess.Popen([sys.executable, str(HEARTBEAT), f"postgresql://nobody@127.0.0.1:{port}/none", "0.2"],
                             stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        beats.stdin.write(b"1\n")
        beats.stdin.flush()
        time.sleep(1.5)                   # several beats, every one refused
        beats.stdin.close()               # the worker is gone
        beats.wait(10)
        err = beats.stderr.read()
    finally:
        beats.kill()
    lines = err.decode().strip().splitlines()
    assert beats.returncode == 0
    assert len(lines) == 1 and lines[0].startswith("heartbeat: the database did not take the heartbeat"), lines
