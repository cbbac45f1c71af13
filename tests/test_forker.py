"""The extraction workers' fork server forked from the run's own process (scraper/crawl/forker.py).

A Forker is only made by a process with one thread, so its own tests run in a fresh interpreter
(``in_child``), never in pytest's process, which holds test servers' threads; the cron run's use
of it is tested through the CLI, as cron runs it."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from scraper.crawl import extractors
from scraper.crawl.forker import Forker, ForkUnavailable, why_not
from tests.test_extract_workers import _gone, _session
from tests.test_run_workers import feed_site  # noqa: F401  (the fixture)

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(why_not() is not None and "threads" not in why_not(),
                                reason="no fork with pidfd here")

# Targets run in the workers (imported there by name, from the forker's copy of this module).


def echo(conn) -> None:
    """Answer each message with what the worker is: its pid and parent, and whether the module the
    forker preloaded was there before the worker ran (it never imports it itself)."""
    while True:
        message = conn.recv()
        conn.send({"message": message, "pid": os.getpid(), "parent": os.getppid(),
                   "preloaded": "xml.dom.minidom" in sys.modules})


def fails(conn) -> None:
    raise RuntimeError("a bug in the worker")


def in_child(script: str, timeout: float = 60) -> dict:
    """Run ``script`` in a fresh interpreter (one thread) and return the JSON it prints last."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_workers_are_forks_of_the_forker_warm_with_what_it_preloaded():
    seen = in_child("""
        import json, os, sys
        from scraper.crawl.forker import Forker
        from tests.test_forker import echo
        forker = Forker.start(["xml.dom.minidom"])
        forker.load()
        workers = [forker.spawn(echo) for _ in range(2)]
        answers = []
        for n, (process, conn) in enumerate(workers):
            conn.send(n)
            answers.append(conn.recv())
        alive = [process.is_alive() for process, _ in workers]
        for process, conn in workers:
            conn.close()                 # a worker whose caller closes its end exits, cleanly
            process.join(10)
        print(json.dumps({"main": os.getpid(), "forker": forker.pid, "answers": answers, "alive": alive,
                          "codes": [process.exitcode for process, _ in workers],
                          "main_preloaded": "xml.dom.minidom" in sys.modules}))
        forker.close()
    """)
    assert [a["message"] for a in seen["answers"]] == [0, 1]
    assert all(a["parent"] == seen["forker"] != seen["main"] for a in seen["answers"])
    assert all(a["preloaded"] for a in seen["answers"]) and not seen["main_preloaded"]
    assert seen["alive"] == [True, True] and seen["codes"] == [0, 0]


def test_a_workers_exit_code_reaches_the_caller_killed_or_failed():
    seen = in_child("""
        import json, signal
        from scraper.crawl.forker import Forker
        from tests.test_forker import echo, fails
        forker = Forker.start()
        killed, kept = forker.spawn(echo)      # its connection kept open: it would exit on EOF
        failed, _ = forker.spawn(fails)
        killed.kill()
        killed.join(10)
        failed.join(10)
        print(json.dumps({"killed": killed.exitcode, "failed": failed.exitcode,
                          "alive": [killed.is_alive(), failed.is_alive()]}))
        forker.close()
    """)
    assert seen == {"killed": -signal.SIGKILL, "failed": 1, "alive": [False, False]}


def test_the_forker_and_its_workers_end_with_their_caller_even_killed():
    """kill -9 of the caller: the forker and every worker see their sockets closed and exit."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from scraper.crawl.forker import Forker
        from tests.test_forker import echo
        forker = Forker.start()
        workers = [forker.spawn(echo) for _ in range(2)]
        print("ready", flush=True)
        time.sleep(120)
    """)], cwd=ROOT, stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        assert len(_session(proc.pid)) == 4          # the caller, the forker, 2 workers
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
    assert _gone(proc.pid) == []


def test_a_process_running_threads_gets_no_forker():
    """A fork copies only the forking thread, and any lock another thread holds at that moment
    stays held in the child forever: with a second thread running, no Forker, and the stage uses
    multiprocessing's forkserver (a fresh interpreter) instead."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert "threads" in why_not()
        with pytest.raises(ForkUnavailable):
            Forker.start()
        with extractors.forker_for(2) as forker:
            assert forker is None
    finally:
        stop.set()
        thread.join()


def _tree(sid: int) -> dict[int, tuple[int, str]]:
    """{pid: (parent pid, command line)} of the live processes of session ``sid``."""
    tree = {}
    for pid in _session(sid):
        try:
            parent = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode()
        except (FileNotFoundError, ProcessLookupError):
            continue
        tree[pid] = (parent, cmdline)
    return tree


def _records(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, title, published, text, content_hash, extractor FROM articles").fetchall()
    return {row[0]: row[1:] for row in rows}


def _archive(options, db: Path, workers: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "cli.py", "archive", "--db", str(db), "--config", str(options.config),
                             "--site", "local", "--quiet", "--extract-workers", str(workers)],
                            cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_workers(proc: subprocess.Popen, count: int = 2) -> dict[int, tuple[int, str]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tree = _tree(proc.pid)
        if sum(parent != proc.pid and pid != proc.pid for pid, (parent, _) in tree.items()) >= count:
            return tree
        time.sleep(0.02)
    raise AssertionError(f"the workers never started: {_tree(proc.pid)}")


def test_the_cron_run_forks_its_workers_from_a_fork_of_itself_with_the_same_records(feed_site, tmp_path):
    site, options = feed_site(30)
    site.latency = 0.1          # 3 s of fetching: time to look at the processes
    proc = _archive(options, tmp_path / "forked.db", 2)
    try:
        tree = _wait_for_workers(proc)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    (forker,) = [pid for pid, (parent, _) in tree.items() if parent == proc.pid]
    assert tree[forker][1] == tree[proc.pid][1]          # a fork of the run, not a fresh interpreter
    # Workers are the forker's children and start nothing of their own (each new worker used to
    # run `ldconfig -p` on its first page: memory.py).
    assert all(parent == forker for pid, (parent, _) in tree.items() if pid not in (proc.pid, forker)), \
        [(pid, parent, line[-40:]) for pid, (parent, line) in tree.items()]
    assert not any("resource_tracker" in line or "forkserver" in line for _, line in tree.values())
    assert _gone(proc.pid) == []
    # The same records as extraction in the run's own process.
    site.latency = 0.0
    here = _archive(options, tmp_path / "here.db", 1)
    _, err = here.communicate(timeout=60)
    assert here.returncode == 0, err
    forked, local = _records(tmp_path / "forked.db"), _records(tmp_path / "here.db")
    assert len(forked) == 30 and forked == local


def test_a_run_whose_forker_is_killed_goes_on_with_multiprocessings_fork_server(feed_site, tmp_path):
    site, options = feed_site(40)
    site.latency = 0.1
    proc = _archive(options, tmp_path / "a.db", 2)
    try:
        tree = _wait_for_workers(proc)
        (forker,) = [pid for pid, (parent, _) in tree.items() if parent == proc.pid]
        os.kill(forker, signal.SIGKILL)
        _, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert len(_records(tmp_path / "a.db")) == 40       # workers replaced every 10 pages: by the forkserver
    assert _gone(proc.pid) == []


def test_no_fork_to_be_had_leaves_the_stage_its_forkserver_and_nothing_frozen():
    """fork() failing (EAGAIN: out of processes; ENOMEM) is no forker, not a failed run."""
    seen = in_child("""
        import errno, gc, json, os
        from scraper.crawl import extractors
        def no_fork():
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        os.fork = no_fork
        with extractors.forker_for(2) as forker:
            print(json.dumps({"forker": forker is not None, "frozen": gc.get_freeze_count()}))
    """)
    assert seen == {"forker": False, "frozen": 0}


def test_a_forker_that_does_not_answer_is_killed_and_said_gone():
    seen = in_child("""
        import json, os, signal, time
        from scraper.crawl.forker import Forker
        from tests.test_forker import echo
        forker = Forker.start(answer_within=1.0)
        os.kill(forker.pid, signal.SIGSTOP)          # stopped: it will never answer
        began = time.monotonic()
        try:
            forker.spawn(echo)
            gone = False
        except OSError:
            gone = True
        took = time.monotonic() - began
        _, status = os.waitpid(forker.pid, 0)        # it was killed: reaped at once
        print(json.dumps({"gone": gone, "took": took, "code": os.waitstatus_to_exitcode(status)}))
    """)
    assert seen["gone"] and seen["took"] < 5 and seen["code"] == -signal.SIGKILL


@pytest.mark.parametrize("how", ["time limit", "ctrl-c"])
def test_a_run_ends_on_time_and_on_ctrl_c_though_its_fork_server_hangs(feed_site, tmp_path, how):
    """The fork server stopped (SIGSTOP) mid-run: replacing a worker waits for it (30 s, then it is
    killed), but the run's time limit and Ctrl-C end the run all the same, leaving nothing behind."""
    site, options = feed_site(200)
    site.latency = 0.05
    argv = ([sys.executable, "cli.py", "archive", "--db", str(tmp_path / "a.db"), "--config", str(options.config),
             "--site", "local", "--quiet", "--extract-workers", "2"]
            + (["--max-time", "4s"] if how == "time limit" else []))
    began = time.monotonic()
    proc = subprocess.Popen(argv, cwd=ROOT, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        tree = _wait_for_workers(proc)
        (forker,) = [pid for pid, (parent, _) in tree.items() if parent == proc.pid]
        os.kill(forker, signal.SIGSTOP)
        if how == "ctrl-c":
            time.sleep(3)        # the workers' 10 pages each are done: the stage waits on the forker
            os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert time.monotonic() - began < 22, "the run waited for its fork server"
    assert proc.returncode == (130 if how == "ctrl-c" else 0), err
    assert _gone(proc.pid) == []
    assert 0 < len(_records(tmp_path / "a.db")) < 200



def test_a_forker_that_cannot_fork_says_so_and_lives_on():
    """fork() failing in the forker (EAGAIN) is an OSError for that request, not a dead forker
    and a traceback: its next request is answered."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import errno, json, os
        from scraper.crawl.forker import Forker
        from tests.test_forker import echo
        real_fork, caller, refusals = os.fork, os.getpid(), [1]
        def fork():                          # in the forker (not the caller): the first fork fails
            if os.getpid() != caller and refusals[0]:
                refusals[0] -= 1
                raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
            return real_fork()
        os.fork = fork
        forker = Forker.start()
        try:
            forker.spawn(echo)
            first = "forked"
        except OSError:
            first = "refused"
        worker, conn = forker.spawn(echo)
        conn.send("again")
        print(json.dumps({"first": first, "then": conn.recv()["message"]}))
        conn.close()
        forker.close()
    """)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"first": "refused", "then": "again"}
    assert "Traceback" not in done.stderr
