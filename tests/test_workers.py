"""Distributed workers (scraper/workers/): real `scraper worker` processes, real PostgreSQL, local hosts.

Each test starts worker processes against a new database, local news hosts on 127.0.0.x that
record when every request began and ended, and the command that hands the work out, all for
real: politeness holds across processes, a worker killed with kill -9 loses nothing and doubles
nothing, WARC files spread over workers give the records a local import gives.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.synthetic import SiteHandler, process_alive, prose, serve
from tests.workerprocs import ROOT, Workers

DELAY = 0.3


class Hosts:
    """Local news sites, one per address 127.0.0.2.., each a sitemap of ``pages`` articles
    answered after ``latency``; ``log`` holds (host, path, began, ended) of every request."""

    def __init__(self, count: int, pages: int, latency: float, spread: bool = False):
        """With ``spread``, the first host's sitemap lists ``pages`` articles on every host (one
        site on several hosts), and the others' list none."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.log: list[tuple[str, str, float, float]] = []
        guard = threading.Lock()
        port, log = self.port, self.log

        class Handler(SiteHandler):
            def do_GET(self):
                began = time.monotonic()
                host = self.server.server_address[0]
                if self.path == "/sitemap.xml":
                    on = (hosts if host == hosts[0] else []) if spread else [host]
                    locs = "".join(f"<url><loc>http://{h}:{port}/news/{n}/story</loc></url>"
                                   for h in on for n in range(pages))
                    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'.encode()
                    self.send(200, body, "application/xml")
                elif self.path.startswith("/news/"):
                    time.sleep(latency)
                    n = int(self.path.split("/")[2])
                    text = "".join(f"<p>{p}</p>" for p in prose(n + 100 * int(host.rsplit(".", 1)[1])))
                    body = (f'<html lang="ar"><head><meta charset="utf-8"><title>خبر {host} {n}</title></head>'
                            f'<body><h1>خبر {host} {n}</h1><article>{text}</article></body></html>').encode()
                    self.send(200, body, "text/html; charset=utf-8")
                elif self.path == "/robots.txt":
                    self.send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
                else:
                    self.send(404, b"not here", "text/plain")
                with guard:
                    log.append((host, self.path, began, time.monotonic()))

        hosts = self.hosts = [f"127.0.0.{2 + i}" for i in range(count)]
        self.servers = [serve(Handler, host, self.port) for host in hosts]

    def sites_file(self, folder: Path, delay: float) -> Path:
        path = folder / "sites.toml"
        path.write_text("".join(f"[sites.h{i}]\nsitemaps = ['http://{h}:{self.port}/sitemap.xml']\n"
                                f"article = '/news/'\ndelay = {delay}\n\n" for i, h in enumerate(self.hosts)))
        return path

    def close(self):
        for server in self.servers:
            server.shutdown()
            server.server_close()


def scraper(*args, **popen):
    return subprocess.Popen([sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def articles(url: str) -> list[tuple[str, str]]:
    from scraper.store import Archive

    with Archive.open(url, create=False) as archive:
        return [(row["url"], row["title"]) for row in archive.query("SELECT url, title FROM articles ORDER BY url")]


def test_politeness_holds_across_worker_processes(tmp_path, pg_url):
    hosts = Hosts(3, pages=5, latency=0.05)
    try:
        config = hosts.sites_file(tmp_path, DELAY)
        with Workers(pg_url, 2, "--fetchers", "2") as workers:
            workers.ready()
            run = scraper("archive", "--db", pg_url, "--workers-at", pg_url, "--config", str(config))
            out, err = run.communicate(timeout=90)
            assert run.returncode == 0, err
            logs = [workers.log(i) for i in range(2)]
    finally:
        hosts.close()
    assert len(articles(pg_url)) == 15
    assert all("Starting job" in log for log in logs), logs     # both processes did some of the work
    for host in hosts.hosts:
        asked = sorted((began, ended) for h, _, began, ended in hosts.log if h == host)
        assert len(asked) >= 7       # robots.txt, the sitemap, five articles
        for (_, ended), (began, _) in zip(asked, asked[1:]):
            # One request at a time, and the site's delay between the end of one and the next,
            # whichever process sent them (the server sees a request start no earlier than the
            # client sent it and end no later than the client saw the end).
            assert began - ended >= DELAY * 0.95, (host, began - ended)
    # The run is one row in `runs`, as a local run's: its counts and exit code.
    from scraper.store import Archive

    with Archive.open(pg_url) as archive:
        (row,) = archive.query("SELECT * FROM runs")
        assert (row["saved"], row["discovered"], row["exit_code"], row["ended_at"] is not None) == (15, 15, 0, True)
        assert archive.scalar("SELECT count(*) FROM queue WHERE state = 'done'") == 15
    # `scraper sites` sees what the workers did, as it sees a local run's work.
    sites = subprocess.run([sys.executable, str(ROOT / "cli.py"), "sites", "--db", pg_url, "--config", str(config)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert sites.stdout.count("5 articles; 0 queued, 0 given up; last run") == 3, sites.stdout


def _wait_for_articles(pg_url, run, count):
    """Until ``count`` articles are saved: the site's turn is certainly running then."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if run.poll() is None and _has_tables(pg_url) and len(articles(pg_url)) >= count:
            return
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} articles saved in 60 s")


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as listed:
        return [int(child) for child in listed.read().split()]


def test_a_site_on_several_hosts_takes_a_turn_on_each_host_at_once(tmp_path, pg_url):
    """One site whose articles live on three hosts: each host's turn is a job of its own under the
    host's lock, so the hosts are fetched at once (not one after the other under the site's first
    host), and each host still gets one request at a time with the site's delay between them."""
    hosts = Hosts(3, pages=4, latency=0.1, spread=True)
    try:
        config = tmp_path / "sites.toml"
        config.write_text(f"[sites.spread]\ndomains = {hosts.hosts!r}\n"
                          f"sitemaps = ['http://{hosts.hosts[0]}:{hosts.port}/sitemap.xml']\n"
                          f"article = '/news/'\ndelay = {DELAY}\n")
        with Workers(pg_url, 2, "--fetchers", "4") as workers:
            workers.ready()
            run = scraper("archive", "--db", pg_url, "--workers-at", pg_url, "--config", str(config))
            out, err = run.communicate(timeout=90)
            assert run.returncode == 0, err
    finally:
        hosts.close()
    assert len(articles(pg_url)) == 12
    spans = {}
    for host in hosts.hosts:
        asked = sorted((began, ended) for h, path, began, ended in hosts.log if h == host and path.startswith("/news/"))
        assert len(asked) == 4
        for (_, ended), (began, _) in zip(asked, asked[1:]):
            assert began - ended >= DELAY * 0.95, (host, began - ended)
        spans[host] = (asked[0][0], asked[-1][1])
    # Four articles with the delay between them take at least 1.3 s a host: one after the other,
    # the three hosts' spans would not overlap; each overlaps every other here.
    for a in hosts.hosts:
        for b in hosts.hosts:
            if a < b:
                assert spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1], spans


def test_a_worker_killed_mid_run_loses_nothing_and_doubles_nothing(tmp_path, pg_url):
    from scraper.store import Archive

    hosts = Hosts(1, pages=12, latency=0.3)
    try:
        config = hosts.sites_file(tmp_path, 0.05)
        with Workers(pg_url, 1, "--fetchers", "2") as workers:
            run = scraper("archive", "--db", pg_url, "--workers-at", pg_url, "--config", str(config),
                          "--stalled-after", "3")
            _wait_for_articles(pg_url, run, 3)
            # The run lock keeps its meaning: a second run while this one goes on exits 75.
            second = scraper("archive", "--db", pg_url, "--workers-at", pg_url, "--config", str(config))
            assert second.wait(timeout=60) == 75
            (heartbeat,) = _children(workers.procs[0].pid)
            os.kill(workers.procs[0].pid, signal.SIGKILL)
            killed_at = time.monotonic()
            workers.procs[0].wait()
            workers.start(1)          # another machine's worker, which must take the job over
            out, err = run.communicate(timeout=90)
            assert run.returncode == 0, err
            assert "fetch_host" in workers.log(1)
            # The killed worker's heartbeat process saw its pipe close and ended with it.
            assert not process_alive(heartbeat)
    finally:
        hosts.close()
    saved = articles(pg_url)
    assert len(saved) == 12 and len({url for url, _ in saved}) == 12
    with Archive.open(pg_url) as archive:
        assert archive.scalar("SELECT count(*) FROM revisions") == 0          # nothing saved twice
        assert archive.scalar("SELECT count(*) FROM queue WHERE state = 'done'") == 12
        assert archive.scalar("SELECT count(*) FROM queue WHERE claimed_by IS NULL") == 12
    asked = [path for _, path, began, _ in hosts.log if path.startswith("/news/")]
    assert len(asked) <= 13          # at most the one request cut by the kill was asked again
    assert any(began > killed_at for _, _, began, _ in hosts.log)


def test_a_worker_that_runs_no_python_past_the_threshold_is_not_taken_for_dead(tmp_path, pg_url):
    """SIGSTOP freezes a worker as a C call holding the GIL for seconds, or a machine too loaded to
    give it a core, would: no line of its Python runs, its event loop's heartbeat included. Frozen
    for 8 s, past --stalled-after 3 (and the 5 s after which workers were once taken for dead), it
    keeps its job: its heartbeat process beats for it, and no other worker fetches its URLs again."""
    from scraper.store import Archive

    hosts = Hosts(1, pages=8, latency=0.2)
    try:
        config = hosts.sites_file(tmp_path, 0.05)
        with Workers(pg_url, 1, "--fetchers", "2") as workers:
            workers.ready()
            run = scraper("archive", "--db", pg_url, "--workers-at", pg_url, "--config", str(config),
                          "--stalled-after", "3")
            _wait_for_articles(pg_url, run, 2)
            workers.start(1)          # a worker that would take the job, were it handed out again
            workers.ready()
            os.kill(workers.procs[0].pid, signal.SIGSTOP)
            try:
                time.sleep(8)
            finally:
                os.kill(workers.procs[0].pid, signal.SIGCONT)
            out, err = run.communicate(timeout=90)
            assert run.returncode == 0, err
            assert "fetch_host" not in workers.log(1), workers.log(1)
    finally:
        hosts.close()
    asked = sorted((began, ended, path) for _, path, began, ended in hosts.log if path.startswith("/news/"))
    assert len(asked) == 8 and len({path for _, _, path in asked}) == 8     # each article asked once
    for (_, ended, _), (began, _, _) in zip(asked, asked[1:]):
        assert began >= ended                                                # and one at a time
    assert len(articles(pg_url)) == 8
    with Archive.open(pg_url) as archive:
        assert archive.scalar("SELECT count(*) FROM revisions") == 0
        assert archive.scalar("SELECT count(*) FROM queue WHERE state = 'done'") == 8


@pytest.mark.parametrize("args", [["--stalled-after", "1"], ["--stalled-after", "soon"]])
def test_stalled_after_below_two_seconds_or_not_a_number_is_a_usage_error(tmp_path, args):
    run = scraper("import-warc", "--db", "postgresql://nobody@127.0.0.1:9/none",
                  "--workers-at", "postgresql://nobody@127.0.0.1:9/none", *args, str(ROOT / "README.md"))
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2 and "Traceback" not in err, err


def test_stalled_after_without_workers_is_a_usage_error(tmp_path):
    run = scraper("archive", "--db", str(tmp_path / "archive.db"), "--stalled-after", "10")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2 and "Traceback" not in err, err
    assert not (tmp_path / "archive.db").exists()


def test_a_queued_url_robots_txt_now_refuses_stays_queued_and_the_run_ends(tmp_path, pg_url):
    from scraper.models import Found
    from scraper.store import Archive, runstate

    hosts = Hosts(1, pages=2, latency=0.0)
    refused = f"http://{hosts.hosts[0]}:{hosts.port}/private/1"
    with Archive.open(pg_url) as archive:      # queued by an earlier run, before robots.txt said no
        runstate.enqueue(archive, "h0", [Found(refused, "sitemap", "earlier")])
    try:
        config = hosts.sites_file(tmp_path, 0.05)
        with Workers(pg_url, 1):
            run = scraper("archive", "--db", pg_url, "--workers-at", pg_url, "--config", str(config))
            out, err = run.communicate(timeout=60)
    finally:
        hosts.close()
    assert run.returncode == 0, err
    assert not any(path.startswith("/private/") for _, path, _, _ in hosts.log)
    with Archive.open(pg_url) as archive:
        (row,) = archive.query("SELECT state, claimed_by FROM queue WHERE url = ?", [refused])
        assert (row["state"], row["claimed_by"]) == ("pending", None)    # for a later run, as a local run leaves it
        assert archive.query("SELECT saved, skipped FROM runs")[0] == {"saved": 2, "skipped": 1}


def test_max_is_one_budget_for_all_workers(tmp_path, pg_url):
    from scraper.store import Archive

    hosts = Hosts(2, pages=4, latency=0.0)
    try:
        config = hosts.sites_file(tmp_path, 0.05)
        with Workers(pg_url, 2):
            run = scraper("archive", "--db", pg_url, "--workers-at", pg_url, "--config", str(config), "--max", "3")
            out, err = run.communicate(timeout=60)
    finally:
        hosts.close()
    assert run.returncode == 0, err
    assert len(articles(pg_url)) == 3
    with Archive.open(pg_url) as archive:    # the rest for the next run, claimed by nobody
        assert archive.scalar("SELECT count(*) FROM queue WHERE state = 'pending' AND claimed_by IS NULL") == 5
        assert archive.scalar("SELECT deferred FROM runs") == 5     # counted in the queue, as a local run counts them
    assert "5 URLs left queued for the next run" in err


def _has_tables(url: str) -> bool:
    try:
        articles(url)
        return True
    except Exception:     # the run has not created the archive's tables yet
        return False


def test_workers_at_needs_an_archive_in_postgresql(tmp_path):
    run = scraper("archive", "--db", str(tmp_path / "archive.db"), "--workers-at", "postgresql://127.0.0.1/x")
    out, err = run.communicate(timeout=60)
    assert run.returncode == 2
    assert [line for line in err.splitlines() if line.strip()][-1].startswith("Error:")
    assert not (tmp_path / "archive.db").exists()


def warc_files(tmp_path) -> list[str]:
    """Three WARC files of four articles each, a site per file."""
    from datetime import datetime, timezone

    from requests.structures import CaseInsensitiveDict

    from scraper.models import Page
    from scraper.use.warc import WarcWriter

    files = []
    for f in range(3):
        path = tmp_path / f"part-{f}.warc.gz"
        with WarcWriter(path) as warc:
            for n in range(4):
                text = "".join(f"<p>{p}</p>" for p in prose(10 * f + n))
                body = (f'<html lang="ar"><head><meta charset="utf-8"><title>خبر {f}-{n}</title></head>'
                        f'<body><h1>خبر {f}-{n}</h1><article>{text}</article></body></html>').encode()
                # A site per file: its learned template then comes from the same pages, in the same
                # order, wherever the file is imported (the pages of one site spread over files
                # meet it in another order, as they would in a local import of the files reordered).
                url = f"https://news{f}.example/{n}"
                warc.write_page(Page(url=url, final_url=url, status=200, body=body, html=body.decode(),
                                     encoding="utf-8", fetched_at=datetime(2024, 3, 1, tzinfo=timezone.utc),
                                     headers=CaseInsensitiveDict({"Content-Type": "text/html; charset=utf-8"}),
                                     request_headers={"User-Agent": "test"}))
        files.append(str(path))
    return files


def exported(tmp_path, target) -> list[str]:
    """The archive's records as `scraper export` writes them, but for the row ids and the moments
    of storing (the order of the saves differs between a local run and workers)."""
    out = tmp_path / "out.jsonl"
    out.unlink(missing_ok=True)       # export -o replaces no file without --force
    subprocess.run([sys.executable, str(ROOT / "cli.py"), "export", "--db", target, "-o", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return sorted(json.dumps({k: v for k, v in r.items() if k not in ("id", "page_id", "first_seen", "updated_at")},
                             ensure_ascii=False, sort_keys=True) for r in records)


def test_warc_files_spread_over_workers_give_the_records_of_a_local_import(tmp_path, pg_url):
    files = warc_files(tmp_path)
    local = tmp_path / "local.db"
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), "import-warc", "--db", str(local), *files],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with Workers(pg_url, 2) as workers:
        workers.ready()
        run = scraper("import-warc", "--db", pg_url, "--workers-at", pg_url, *files)
        out, err = run.communicate(timeout=120)
        logs = [workers.log(i) for i in range(2)]
    assert run.returncode == 0, err
    assert err.strip().splitlines()[-1] == done.stderr.strip().splitlines()[-1]   # the same summary line
    assert all("import_warc" in log for log in logs), logs
    records = exported(tmp_path, str(local))
    assert len(records) == 12 and records == exported(tmp_path, pg_url)


def test_reextract_shared_among_workers_gives_the_records_of_a_local_one(tmp_path, pg_url):
    from scraper.workers.coordinate import reextract_on_workers

    files = warc_files(tmp_path)
    local = str(tmp_path / "local.db")
    for target in (local, pg_url):
        subprocess.run([sys.executable, str(ROOT / "cli.py"), "import-warc", "--db", target, *files],
                       cwd=ROOT, check=True, capture_output=True, timeout=120)
    # A rule that changes the records of one site: its first paragraph is dropped.
    config = tmp_path / "sites.toml"
    config.write_text("[sites.news0]\ndomains = ['news0.example']\ndrop = ['article p:first-child']\n")
    wanted = subprocess.run([sys.executable, str(ROOT / "cli.py"), "reextract", "--db", local, "--json",
                             "--config", str(config)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    with Workers(pg_url, 2) as workers:
        workers.ready()
        # Three articles a job: four jobs over two processes.
        report, waited = reextract_on_workers(pg_url, pg_url, site=None, dry_run=False, config=config, per_job=3)
        logs = [workers.log(i) for i in range(2)]
    assert all("reextract" in log for log in logs), logs
    assert (waited.failed, waited.cancelled) == (0, 0)
    assert report.to_dict() == json.loads(wanted.stdout)
    assert report.fields["text"] == 4 and len(report.shrank) == 4     # the rule did change news0
    assert exported(tmp_path, local) == exported(tmp_path, pg_url)


@pytest.mark.parametrize("command", [["worker", "--workers-at", "postgresql://nobody@127.0.0.1:9/none"],
                                     ["reextract", "--workers-at", "postgresql://nobody@127.0.0.1:9/none",
                                      "--db", "postgresql://nobody@127.0.0.1:9/none"]])
def test_without_the_workers_extra_a_worker_command_says_what_to_install(command):
    """`pip install -e .` (the README's first line) brings no Procrastinate: one line, not a traceback."""
    code = ("import sys; sys.modules['procrastinate'] = None\n"   # what an installation without it gives
            "from cli import cli; cli(sys.argv[1:])")
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 3 and "Traceback" not in done.stderr, done.stderr
    assert "workers]" in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
