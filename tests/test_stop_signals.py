"""SIGTERM and SIGHUP end a command as Ctrl-C does (commands/stopping.py): cron's
`timeout 10m scraper archive` sends SIGTERM to the whole process group, systemd and `kill` to the
command. Real runs in a subprocess against a slow site on 127.0.0.1: the run row is closed with
143 (129 for SIGHUP), the log ends with its summary, what was saved is kept, no process is left,
and the next run archives the rest. `nohup` (SIGHUP ignored) is left as the user set it."""
from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scraper import exit_codes
from scraper.commands.stopping import stopping_on_signals
from scraper.errors import Terminated
from tests.test_crash import ARTICLES, LocalSite
from tests.test_extract_workers import _gone, _session
from tests.test_run_log import last_line

ROOT = Path(__file__).resolve().parent.parent


def _saved(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    except sqlite3.Error:
        return 0


def _as_from_a_terminal(ignore_hangup: bool = False):
    """For the child: SIGTERM and SIGHUP at their defaults, whatever the test runner inherited (a
    suite started under nohup ignores SIGHUP, and its children would too); SIGHUP ignored with
    ``ignore_hangup``, as nohup does."""
    def set_signals():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_IGN if ignore_hangup else signal.SIG_DFL)
    return set_signals


def _start(args: list[str], started: list | None = None, **kwargs) -> subprocess.Popen:
    kwargs.setdefault("preexec_fn", _as_from_a_terminal())
    run = subprocess.Popen([sys.executable, "cli.py", *args], cwd=ROOT, start_new_session=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    if started is not None:     # for a ready() that looks at the process
        started.append(run)
    return run


def _when(ready, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not ready():
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.05)


def _stopped(args: list[str], ready, *, sig: int = signal.SIGTERM, group: bool = False, settle: float = 0.0,
             **popen) -> tuple[subprocess.Popen, bytes, float]:
    """Run the command, send ``sig`` once ``ready()`` (and ``settle`` seconds more), to it or
    (``group``) to its whole process group as `timeout` and a terminal do: the process, its
    stderr, and the seconds it took to end after the signal."""
    run = _start(args, **popen)
    try:
        _when(ready)
        time.sleep(settle)
        if group:
            os.killpg(run.pid, sig)
        else:
            run.send_signal(sig)
        began = time.monotonic()
        _, stderr = run.communicate(timeout=60)
        return run, stderr, time.monotonic() - began
    finally:
        run.kill()


@pytest.mark.parametrize("to", ["the run", "its process group"])
def test_sigterm_ends_a_run_as_ctrl_c_does_with_exit_143(tmp_path, to):
    site = LocalSite(latency=0.3)
    db, log = tmp_path / "a.db", tmp_path / "run.log"
    try:
        config = site.sites_toml(tmp_path)
        args = ["archive", "--config", str(config), "--db", str(db), "--workers", "1",
                "--extract-workers", "2", "--log-file", str(log)]
        # Into the run: a few articles saved, the fork server and its workers up. To the run as
        # systemd and `kill PID` send it, or to its group as cron's `timeout` does.
        started: list[subprocess.Popen] = []
        run, stderr, _ = _stopped(args, lambda: _saved(db) >= 2 and len(_session(started[0].pid)) >= 3,
                                  group=to != "the run", started=started)
        assert run.returncode == exit_codes.TERMINATED == 143, stderr
        assert b"Traceback" not in stderr and b"Stopped by SIGTERM: what was already saved is kept." in stderr, stderr
        assert _gone(run.pid) == []                     # the fork server and its workers ended with it
        kept = _saved(db)
        with sqlite3.connect(db) as conn:
            ended, code, problems = conn.execute("SELECT ended_at, exit_code, problems FROM runs").fetchone()
        assert ended is not None and code == 143 and "SIGTERM" in problems
        _, _, saved, _, _, _, _, code, how = last_line(log).groups()
        assert (code, how) == ("143", "stopped by SIGTERM") and int(saved) >= 2 and kept >= 2
        # Nothing lost: the next run archives the rest.
        site.latency = 0.0
        again = _start(args)
        _, stderr = again.communicate(timeout=120)
        assert again.returncode == exit_codes.OK, stderr
        assert _saved(db) == ARTICLES
    finally:
        site.close()


@pytest.mark.parametrize("nohup", [False, True])
def test_sighup_ends_a_run_with_129_unless_the_user_said_nohup(tmp_path, nohup):
    site = LocalSite(latency=0.2)
    db = tmp_path / "a.db"
    try:
        config = site.sites_toml(tmp_path)
        # As nohup does: SIGHUP ignored before the command starts; then the terminal closes.
        run, stderr, _ = _stopped(["archive", "--config", str(config), "--db", str(db), "--workers", "1",
                                   "--extract-workers", "1"], lambda: _saved(db) >= 1, sig=signal.SIGHUP, group=True,
                                  preexec_fn=_as_from_a_terminal(ignore_hangup=nohup))
    finally:
        site.close()
    assert b"Traceback" not in stderr, stderr
    with sqlite3.connect(db) as conn:
        (code,) = conn.execute("SELECT exit_code FROM runs").fetchone()
    if nohup:
        assert run.returncode == code == exit_codes.OK and _saved(db) == ARTICLES, stderr
    else:
        assert run.returncode == code == exit_codes.HANGUP == 129 and b"Stopped by SIGHUP" in stderr
        assert 1 <= _saved(db) < ARTICLES


def test_sigterm_in_fetch_keeps_what_was_saved(tmp_path):
    site = LocalSite(latency=0.3)
    db = tmp_path / "a.db"
    try:
        run, stderr, _ = _stopped(["fetch", *(site.url(n) for n in range(ARTICLES)), "--db", str(db)],
                                  lambda: _saved(db) >= 2)
    finally:
        site.close()
    assert run.returncode == 143 and b"Traceback" not in stderr, stderr
    assert stderr.decode().strip().splitlines()[-1] == "Stopped by SIGTERM: what was already saved is kept."
    assert 2 <= _saved(db) < ARTICLES


def test_the_handlers_are_the_callers_again_after_the_command():
    """In-process (click's CliRunner in tests, a program that calls the CLI): the signals are as
    they were after the command; inside, SIGTERM raises Terminated once, and a second one would
    kill (its default), the way out of a clean-up that hangs."""
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    with pytest.raises(Terminated) as stopped:
        with stopping_on_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)           # the handler runs at once, in this (the main) thread
    assert stopped.value.exit_code == 143 and stopped.value.name == "SIGTERM"
    assert isinstance(stopped.value, KeyboardInterrupt)       # every Ctrl-C path handles it
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before


def test_a_second_stop_signal_is_left_to_kill():
    seen = []
    with pytest.raises(Terminated):
        with stopping_on_signals():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            finally:
                seen = [signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)]
    assert seen == [signal.SIG_DFL, signal.SIG_DFL]


def test_readme_lists_every_exit_code():
    table = (ROOT / "README.md").read_text(encoding="utf-8").split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    listed = {int(code) for code in re.findall(r"^\| (\d+) \|", table, re.M)}
    named = {value for name, value in vars(exit_codes).items() if name.isupper() and isinstance(value, int)}
    assert listed == named


@pytest.mark.parametrize("stop, code", [(KeyboardInterrupt, 130), (lambda: Terminated(signal.SIGTERM), 143)])
def test_ctrl_c_while_click_reads_the_arguments_is_the_commands_line_and_code(tmp_path, monkeypatch, stop, code):
    """Ctrl-C lands while click converts `--max-time` (a few milliseconds in real life: here the
    conversion raises it): "Interrupted." and 130, as in the command, not click's "Aborted!" and 1."""
    from click.testing import CliRunner

    from cli import cli
    from scraper.commands import common

    def interrupted(*args):
        raise stop()
    monkeypatch.setattr(common.Duration, "convert", interrupted)
    result = CliRunner().invoke(cli, ["archive", "--max-time", "5m", "--db", str(tmp_path / "a.db")])
    assert result.exit_code == code and "Aborted" not in result.output, result.output
    assert result.stderr.strip() == ("Interrupted." if code == 130 else "Stopped by SIGTERM.")
    assert not (tmp_path / "a.db").exists()        # nothing was started


class Stubborn:
    """A host on 127.0.0.1 whose feed lists 3 articles and whose articles ``answer(handler)``
    answers: by default never (it waits until the site is closed), a request in flight the run
    cannot end. ``asked`` is set once an article has been asked for."""

    def __init__(self, answer=None):
        import threading

        from tests.synthetic import SiteHandler, serve

        self.release, self.asked = threading.Event(), threading.Event()
        answer = answer or (lambda handler: self.release.wait(60))
        site = self

        class Handler(SiteHandler):
            def do_GET(self):
                if self.path == "/rss.xml":
                    items = "".join(f"<item><link>{site.base}/news/{n}/story</link></item>" for n in range(3))
                    return self.send(200, f"<rss><channel>{items}</channel></rss>".encode(), "application/rss+xml")
                if self.path.startswith("/news/"):
                    site.asked.set()
                    return answer(self)
                self.send(404, b"no", "text/plain")

        self.server = serve(Handler)
        self.server.handle_error = lambda *args: None
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    sites_toml = LocalSite.sites_toml

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_stopped_run_ends_at_once_though_a_server_never_answers(tmp_path):
    """The fetch threads' requests are cut as the run stops: the process does not wait for the
    server's read timeout (20 s) at exit, long after its row and lock were closed (the next
    cron run could start beside it)."""
    site = Stubborn()
    db = tmp_path / "a.db"
    try:
        # Once the articles' requests are out, unanswered.
        run, stderr, took = _stopped(["archive", "--config", str(site.sites_toml(tmp_path)), "--db", str(db),
                                      "--extract-workers", "0"],
                                     lambda: _rows(db, "SELECT count(*) FROM queue") >= 3, settle=0.5)
    finally:
        site.close()
    assert run.returncode == 143 and b"Traceback" not in stderr, stderr
    assert took < 5, f"the process took {took:.1f} s to end after SIGTERM"
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT exit_code FROM runs").fetchone() == (143,)
        # Cut by the stop, not failed: no try is counted against the articles.
        assert conn.execute("SELECT sum(tries) FROM queue").fetchone() == (0,)


def _rows(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.Error:
        return 0


def test_a_stop_just_after_the_run_row_is_written_still_closes_it(tmp_path, monkeypatch):
    """SIGTERM (or Ctrl-C) landing after the row's INSERT committed, before its id came back: the
    row is found by its pid and start time and closed, not left open as if the run were killed."""
    from scraper.crawl.run import Reporter, RunOptions, run_archive
    from scraper.store import runstate

    site = LocalSite()
    try:
        config = site.sites_toml(tmp_path)
        written = runstate.start_run

        def write_then_stop(*args, **kwargs):
            written(*args, **kwargs)
            raise Terminated(signal.SIGTERM)
        monkeypatch.setattr(runstate, "start_run", write_then_stop)
        with pytest.raises(Terminated):
            run_archive(tmp_path / "a.db", RunOptions(config=config, max_time=None), Reporter())
    finally:
        site.close()
    with sqlite3.connect(tmp_path / "a.db") as conn:
        ended, code, problems = conn.execute("SELECT ended_at, exit_code, problems FROM runs").fetchone()
    assert ended is not None and code == 143 and "SIGTERM" in problems


def test_sigterm_closes_the_row_of_a_run_shared_among_workers(tmp_path, pg_url):
    """`archive --workers-at`: stopped while it waits for its jobs (no worker is running here),
    its row is closed with 143, not left open."""
    from scraper.store import Archive

    site = LocalSite()
    try:
        def has_run():
            try:
                with Archive.open(pg_url, create=False) as archive:
                    return bool(archive.query("SELECT id FROM runs"))
            except Exception:     # not created yet
                return False
        # Once its jobs are handed out, waiting for a worker.
        run, stderr, _ = _stopped(["archive", "--db", pg_url, "--workers-at", pg_url,
                                   "--config", str(site.sites_toml(tmp_path))], has_run, settle=1.0)
    finally:
        site.close()
    assert run.returncode == 143 and b"Traceback" not in stderr, stderr
    with Archive.open(pg_url, create=False) as archive:
        (row,) = archive.query("SELECT ended_at, exit_code, problems FROM runs")
    assert row["ended_at"] is not None and row["exit_code"] == 143 and "SIGTERM" in row["problems"]


def test_a_stopped_run_does_not_wait_out_a_retry_after(tmp_path):
    """A fetch waiting between two attempts (here a 503 with Retry-After: 25, under the run's cap
    of 30 s) is woken by the stop and tries no more: the process ends at once, not 25 s later."""
    def throttled(handler):
        handler.send_response(503)
        handler.send_header("Retry-After", "25")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    site = Stubborn(throttled)
    try:
        run, stderr, took = _stopped(["archive", "--config", str(site.sites_toml(tmp_path)),
                                      "--db", str(tmp_path / "a.db"), "--extract-workers", "0"],
                                     site.asked.is_set, settle=0.5)
    finally:
        site.close()
    assert run.returncode == 143 and b"Traceback" not in stderr, stderr
    assert took < 5, f"the process took {took:.1f} s to end after SIGTERM"


def test_an_error_writing_the_run_row_is_the_error_the_user_sees(tmp_path, monkeypatch):
    """An error in start_run (a full disk) wrote no row: nothing is looked up to close, so no
    second error (the database failing again) can stand in for the first."""
    from scraper.crawl.run import Reporter, RunOptions, run_archive
    from scraper.errors import DiskFull, StoreError
    from scraper.store import runstate

    def full(*args, **kwargs):
        raise DiskFull("the disk is full")

    def failing_again(*args, **kwargs):
        raise StoreError("the database failed again")
    monkeypatch.setattr(runstate, "start_run", full)
    monkeypatch.setattr(runstate, "unfinished_run", failing_again)
    site = LocalSite()
    try:
        with pytest.raises(DiskFull):
            run_archive(tmp_path / "a.db", RunOptions(config=site.sites_toml(tmp_path), max_time=None), Reporter())
    finally:
        site.close()
