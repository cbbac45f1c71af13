"""Real `scraper worker` processes for the tests and benchmarks: started, and always stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class Workers:
    """``with Workers(url, 2) as workers:`` runs two worker processes (stderr kept in files)."""

    def __init__(self, url: str, count: int, *args: str):
        self.url, self.count, self.args = url, count, args
        self.procs: list[subprocess.Popen] = []
        self._logs = tempfile.TemporaryDirectory()

    def start(self, n: int = 1) -> None:
        for _ in range(n):
            log = open(Path(self._logs.name) / f"worker-{len(self.procs)}.log", "w")
            self.procs.append(subprocess.Popen(
                [sys.executable, str(ROOT / "cli.py"), "worker", "--workers-at", self.url, "-v", *self.args],
                stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}))
            log.close()

    def ready(self, timeout: float = 60) -> None:
        """Wait until every worker process says it serves its queues (imports take seconds on a
        loaded machine: a test that wants both to take part starts its work only then)."""
        deadline = time.monotonic() + timeout
        while not all("Starting worker" in self.log(i) for i in range(len(self.procs))):
            if time.monotonic() > deadline or any(proc.poll() is not None for proc in self.procs):
                raise AssertionError("a worker did not start: " + " | ".join(self.log(i)[-500:] for i in range(len(self.procs))))
            time.sleep(0.1)

    def log(self, index: int) -> str:
        return (Path(self._logs.name) / f"worker-{index}.log").read_text()

    def __enter__(self) -> "Workers":
        self.start(self.count)
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._logs.cleanup()
