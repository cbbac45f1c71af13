"""`scraper archive --log-file F` ends the log with one line saying how the run ended: its sites,
saved, updated, failed, deferred, duration and exit code; also when the run stops at --max-time
and on Ctrl-C (issue 10 §4). A real local site, real runs in a subprocess for Ctrl-C."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from cli import EXIT_INTERRUPTED, EXIT_OK, cli
from tests.test_crash import ARTICLES, LocalSite

ROOT = Path(__file__).resolve().parent.parent
END = re.compile(r"end of run (\d+): (\d+) sites, (\d+) saved, (\d+) updated, (\d+) failed, (\d+) deferred, "
                 r"([\d.]+) s, exit (\d+)(?: \((.+)\))?$")


def last_line(log: Path) -> re.Match:
    lines = log.read_text(encoding="utf-8").splitlines()
    found = END.search(lines[-1])
    assert found, lines[-3:]
    assert sum(1 for line in lines if END.search(line)) == 1
    return found


def test_a_run_ends_its_log_with_a_summary(tmp_path):
    site = LocalSite()
    try:
        config = site.sites_toml(tmp_path)
        result = CliRunner().invoke(cli, ["archive", "--config", str(config), "--log-file", str(tmp_path / "run.log"),
                                          "--db", str(tmp_path / "a.db")])
        assert result.exit_code == EXIT_OK, result.output
    finally:
        site.close()
    run, sites, saved, updated, failed, deferred, seconds, code, how = last_line(tmp_path / "run.log").groups()
    assert (run, sites, saved, updated, failed, deferred, code, how) == \
        ("1", "1", str(ARTICLES), "0", "0", "0", "0", None)
    assert 0 < float(seconds) < 120


def test_a_run_cut_by_its_time_limit_says_so_and_what_it_deferred(tmp_path):
    site = LocalSite(latency=0.3)
    try:
        config = site.sites_toml(tmp_path)
        result = CliRunner().invoke(cli, ["archive", "--config", str(config), "--max-time", "2s",
                                          "--log-file", str(tmp_path / "run.log"), "--db", str(tmp_path / "a.db")])
    finally:
        site.close()
    _, _, saved, _, failed, deferred, seconds, code, how = last_line(tmp_path / "run.log").groups()
    assert int(code) == result.exit_code and how == "the time limit was reached"
    assert int(saved) < ARTICLES and int(deferred) == ARTICLES - int(saved) - int(failed) > 0
    assert float(seconds) < 30


def test_ctrl_c_still_ends_the_log_with_a_summary(tmp_path):
    site = LocalSite(latency=0.5)
    try:
        config = site.sites_toml(tmp_path)
        run = subprocess.Popen([sys.executable, "cli.py", "archive", "--config", str(config), "--workers", "1",
                                "--log-file", str(tmp_path / "run.log"), "--db", str(tmp_path / "a.db")],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        log = tmp_path / "run.log"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not log.exists() or " saved " not in log.read_text(encoding="utf-8")):
            time.sleep(0.1)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        site.close()
    assert run.returncode == EXIT_INTERRUPTED and b"Traceback" not in stderr, stderr
    _, sites, saved, _, _, _, _, code, how = last_line(log).groups()
    assert (sites, code, how) == ("1", str(EXIT_INTERRUPTED), "interrupted") and int(saved) >= 1
