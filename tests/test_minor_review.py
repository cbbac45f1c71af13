"""Smaller findings of a new user's review: `stats` does not list URLs that failed validation as
sites, and Ctrl-C says what each command leaves (a reading command saves nothing to keep)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from cli import EXIT_INTERRUPTED, cli
from scraper.commands.common import INTERRUPTED_SAYS
from tests.test_crash import LocalSite

ROOT = Path(__file__).resolve().parent.parent


def test_stats_counts_invalid_urls_apart_not_as_sites(tmp_path):
    db = tmp_path / "a.db"
    runner = CliRunner()
    runner.invoke(cli, ["fetch", "http://a b.com/x", "http://xn--zz/", f"http://{'a' * 64}.com/", "--db", str(db)])
    result = runner.invoke(cli, ["stats", "--db", str(db)])
    sites = [line for line in result.stdout.splitlines() if not line.startswith(("total", " "))]
    assert sites == [], result.stdout
    assert "3 failed that are no valid URL" in result.stdout
    as_json = runner.invoke(cli, ["stats", "--json", "--db", str(db)])
    assert '"invalid_urls": 3' in as_json.stdout


def test_every_ctrl_c_message_names_a_real_command():
    callbacks = {command.callback.__name__ for command in cli.commands.values()}
    assert set(INTERRUPTED_SAYS) <= callbacks


def test_ctrl_c_in_discover_does_not_claim_to_keep_anything(tmp_path):
    slow = LocalSite(latency=30.0)
    try:
        config = tmp_path / "sites.toml"
        config.write_text(f'[sites.slow]\nstart = ["{slow.base}/news/1/story"]\narticle = "/news/"\ndelay = 0\n',
                          encoding="utf-8")
        run = subprocess.Popen([sys.executable, "cli.py", "discover", "slow", "--config", str(config),
                                "--db", str(tmp_path / "a.db")], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(2)
        run.send_signal(signal.SIGINT)
        _, stderr = run.communicate(timeout=60)
    finally:
        slow.close()
    assert run.returncode == EXIT_INTERRUPTED, stderr
    assert stderr.decode().strip().splitlines()[-1] == "Interrupted."
