"""Extraction in worker processes: the same records as in-process, a killed worker or a page past its
time limit costs that page alone (tried again next run), and no process outlives the run."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scraper.crawl.extractors import ProcessStage
from scraper.crawl.run import Reporter, run_archive
from scraper.errors import ExtractionAborted
from scraper.pipeline import page_to_article
from tests.test_run_workers import feed_site  # noqa: F401  (the fixture)
from tests.synthetic import process_alive

ROOT = Path(__file__).resolve().parents[1]


def pid_extract(page, profiles, template, listing):
    """The real extraction, signed with the process that ran it."""
    article = page_to_article(page, profiles, template, listing)
    return article.replace(extractor=f"{article.extractor} pid={os.getpid()}")


def dies_on_3(page, profiles, template, listing):
    """The real extraction, except that the worker holding page 3 is killed by SIGKILL."""
    if "/news/3/" in page.url:
        os.kill(os.getpid(), signal.SIGKILL)
    return page_to_article(page, profiles, template, listing)


def hangs_on_2(page, profiles, template, listing):
    if "/news/2/" in page.url:
        time.sleep(120)
    return page_to_article(page, profiles, template, listing)


def warmth(page, profiles, template, listing):
    """The real extraction, signed with what the worker had before it: whether trafilatura's justext
    stoplist was built, and how many objects were out of the garbage collector's reach."""
    import gc

    from trafilatura import external

    state = f"stoplist={external.JT_STOPLIST is not None} frozen={gc.get_freeze_count()}"
    return page_to_article(page, profiles, template, listing).replace(extractor=state)


def records(db: Path) -> dict[str, tuple]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT url, title, published, text, content_hash, extractor FROM articles").fetchall()
    return {row[0]: row[1:] for row in rows}


def queue_states(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT url, state FROM queue"))


def test_worker_processes_give_the_records_extraction_in_process_gives(feed_site, tmp_path):
    site, options = feed_site(12)
    options.extract, options.extract_workers = pid_extract, 2
    assert run_archive(tmp_path / "pool.db", options).counts["saved"] == 12
    pooled = records(tmp_path / "pool.db")
    pids = {row[-1].rsplit("pid=", 1)[1] for row in pooled.values()}
    assert str(os.getpid()) not in pids and pids      # every page was extracted in another process
    options.extract_workers = 1
    assert run_archive(tmp_path / "here.db", options).counts["saved"] == 12
    here = records(tmp_path / "here.db")
    assert {row[-1].rsplit("pid=", 1)[1] for row in here.values()} == {str(os.getpid())}
    strip = lambda rows: {url: row[:-1] for url, row in rows.items()}   # noqa: E731
    assert strip(pooled) == strip(here)


def test_a_killed_worker_costs_its_page_a_retry_on_the_next_run_never_the_run(feed_site, tmp_path):
    site, options = feed_site(8)
    options.extract, options.extract_workers = dies_on_3, 2
    seen = []

    class Seen(Reporter):
        def outcome(self, url, status, detail=None):
            seen.append((url, status, detail))

    report = run_archive(tmp_path / "a.db", options, Seen())
    assert report.counts["saved"] == 7 and report.counts["failed"] == 1
    (failed,) = [(url, detail) for url, status, detail in seen if status == "failed"]
    assert failed[0] == site.url(3) and "worker died" in failed[1] and "signal 9" in failed[1]
    assert queue_states(tmp_path / "a.db")[site.url(3)] == "pending"   # retryable: left for a later run
    # The very next run (a cron line every 5 minutes: no wait for a retry delay) saves it.
    options.extract = page_to_article
    again = run_archive(tmp_path / "a.db", options)
    assert again.counts["saved"] == 1 and set(records(tmp_path / "a.db")) == {site.url(n) for n in range(1, 9)}


def test_a_page_that_kills_its_worker_every_time_is_given_up_after_the_usual_tries(feed_site, tmp_path):
    site, options = feed_site(4)
    options.extract, options.extract_workers, options.max_tries = dies_on_3, 2, 3
    outcomes = []
    for _ in range(4):     # back to back, as fast as a cron line could start them
        report = run_archive(tmp_path / "a.db", options)
        outcomes.append((report.counts["failed"], report.counts["gave_up"]))
    assert outcomes == [(1, 0), (1, 0), (0, 1), (0, 0)]     # each run tried it, until the third try
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("SELECT state, tries FROM queue WHERE url = ?", [site.url(3)]).fetchone() == ("gave_up", 3)


def test_a_page_past_the_time_limit_is_given_up_for_this_run(feed_site, tmp_path):
    site, options = feed_site(6)
    options.extract, options.extract_workers, options.extract_time_limit = hangs_on_2, 2, 3.0
    began = time.monotonic()
    report = run_archive(tmp_path / "a.db", options)
    assert time.monotonic() - began < 30       # not the page's 120 s
    assert report.counts["saved"] == 5 and report.counts["failed"] == 1
    assert queue_states(tmp_path / "a.db")[site.url(2)] == "pending"
    # "tried again on the next": the very next run, not one after a retry delay.
    options.extract = page_to_article
    assert run_archive(tmp_path / "a.db", options).counts["saved"] == 1
    assert queue_states(tmp_path / "a.db")[site.url(2)] == "done"


def test_the_stage_replaces_dead_workers_and_ends_them_all():
    """Directly: a worker killed from outside mid-page (kill -9) is that page's outcome only, the
    next page gets a fresh worker, and close() leaves no worker process alive."""
    from scraper.fetch.http import page_from_bytes
    from tests.test_archive import article_html

    outcomes = {}
    stage = ProcessStage(2, hangs_on_2, None, lambda job, outcome: outcomes.setdefault(job, outcome))
    try:
        page = lambda n: page_from_bytes(article_html(n), "x.html", f"https://example.org/news/{n}/story")  # noqa: E731
        stage.submit(2, page(2))
        deadline = time.monotonic() + 30
        while 2 not in stage.holding() and time.monotonic() < deadline:
            time.sleep(0.02)
        first = stage.pids()
        killed = stage.holding()[2]
        os.kill(killed, signal.SIGKILL)    # the worker extracting page 2 (which hangs), for real
        deadline = time.monotonic() + 30
        while 2 not in outcomes and time.monotonic() < deadline:
            time.sleep(0.02)
        assert isinstance(outcomes[2], ExtractionAborted) and "signal 9" in str(outcomes[2])
        for n in (4, 5, 6):
            stage.submit(n, page(n))
        while len(outcomes) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [outcomes[n].url for n in (4, 5, 6)] == [f"https://example.org/news/{n}/story" for n in (4, 5, 6)]
        alive = stage.pids()
        assert killed not in alive and len(alive) == 2      # replaced; the other worker kept
    finally:
        stage.close()
    assert alive and not any(process_alive(pid) for pid in alive + first)


def _shared_mb(pid: int) -> float:
    """Memory the process shares with others (the fork server's pages it has not written to), MB."""
    fields = dict(line.split()[:2] for line in open(f"/proc/{pid}/smaps_rollup") if line.strip().endswith("kB"))
    return (int(fields["Shared_Clean:"]) + int(fields["Shared_Dirty:"])) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/smaps_rollup"), reason="reads /proc/PID/smaps_rollup")
def test_workers_start_warm_and_share_what_the_fork_server_loaded():
    """A worker's first page finds what the extractor loads on first use already built (the justext
    stoplist of every language, 27 MB a worker before) and the fork server's objects frozen, so
    the workers share those pages rather than each copying them (about 22 MB shared before, 58 after)."""
    from scraper.fetch.http import page_from_bytes
    from tests.test_archive import article_html

    outcomes = {}
    stage = ProcessStage(2, warmth, None, lambda job, outcome: outcomes.setdefault(job, outcome))
    try:
        for n in (1, 2):
            stage.submit(n, page_from_bytes(article_html(n), "x.html", f"https://example.org/news/{n}/story"))
        deadline = time.monotonic() + 60
        while len(outcomes) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        shared = [_shared_mb(pid) for pid in stage.pids()]
    finally:
        stage.close()
    for n in (1, 2):
        state = dict(item.split("=") for item in outcomes[n].extractor.split())
        assert state["stoplist"] == "True" and int(state["frozen"]) > 10_000
    assert len(shared) == 2 and min(shared) > 40


def _session(sid: int) -> list[int]:
    """Live processes of session ``sid`` (the CLI started in a session of its own, its workers too)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry))
    return found


def _gone(sid: int, within: float = 10.0) -> list[int]:
    deadline = time.monotonic() + within
    while (left := _session(sid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("how", ["end", "ctrl-c", "kill-9"])
def test_no_process_of_the_run_outlives_it(feed_site, tmp_path, how):
    site, options = feed_site(40)
    site.latency = 0.0 if how == "end" else 0.2     # 8 s of fetching: the run is killed in its midst
    proc = subprocess.Popen([sys.executable, "cli.py", "archive", "--db", str(tmp_path / "a.db"),
                             "--config", str(options.config), "--site", "local", "--quiet",
                             "--extract-workers", "2"], cwd=ROOT, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if how != "end":
            deadline = time.monotonic() + 30
            while len(_session(proc.pid)) < 4 and time.monotonic() < deadline:   # the CLI, fork server, 2 workers
                time.sleep(0.02)
            assert len(_session(proc.pid)) >= 4, "the workers never started"
            if how == "ctrl-c":    # as a terminal does: to the whole foreground process group
                os.killpg(proc.pid, signal.SIGINT)
            else:
                os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    if how == "end":
        assert proc.returncode == 0, err
    elif how == "ctrl-c":
        assert proc.returncode == 130, err
    assert _gone(proc.pid) == []
