"""Benchmark: `scraper archive` and `import-warc` on 1, 2 and 4 `scraper worker` processes.

    python bench/distributed.py [--pg postgresql://postgres@127.0.0.1/postgres] [--pages 1000]
                                [--hosts 20] [--latency 0.1] [--delay 0.1] [--warc-files 8] [--warc-pages 40]

Archive: the local news hosts of bench/archive.py (127.0.0.2.., the same articles, latency and
site delay, a sitemap each) archived by `scraper archive --workers-at` into a new PostgreSQL
database with 1, 2, then 4 worker processes (each with its default 16 sites at once). pages/s is
the articles the hosts served over the fetching phase, from the first article asked for to the
last answered, as the hosts saw it; the politeness limit is hosts / (latency + delay), what no
number of workers may pass. The exported records of each run are compared with those of a local
run of the same sites into an SQLite file (all fields but row ids and the moments of fetching and storing).

WARC import: --warc-files files of --warc-pages real corpus pages each (../shared/corpus, each
copy a distinct URL, a site per file), imported by `import-warc --workers-at` with 1, 2, 4 worker
processes (--cpus 1 each: CPU-bound); pages/s over the command's whole run, and the records
compared with a local import of the same files into SQLite. Where each page's time goes: the
workers' CPU; each worker's job thread's time split by /proc/PID/task/*/schedstat into time on a
core, time waiting for one, and the rest (blocked: on the database, the engine, no job); the
PostgreSQL server's CPU for the bench's database (its backends, sampled from pg_stat_activity
with psutil) and for the whole server (its background processes); the coordinating command's
CPU (wait4), its start included. The machine's load average is printed with each figure: on a
shared machine, compare ratios. Each worker's peak RSS is read from /proc at its end.
"""
from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.archive import article  # noqa: E402
from bench.corpus import DEFAULT_CORPUS  # noqa: E402
from bench.engines import drop_pg, new_pg  # noqa: E402
from tests.synthetic import SiteHandler, serve as serve_handler  # noqa: E402
from tests.workerprocs import Workers  # noqa: E402

VOLATILE = ("id", "page_id", "fetched_at", "first_seen", "updated_at")   # ids, and when fetched and stored


def serve(hosts: int, port: int, pages: int, latency: float, log_path: str, ready) -> None:
    """In a child process: bench/archive.py's hosts, each article request's times written to ``log_path``."""
    per_host = -(-pages // hosts)
    log = open(log_path, "a", buffering=1)
    guard = threading.Lock()

    def handler_for(host: int):
        class Handler(SiteHandler):
            def do_GET(self):
                began = time.time()
                if self.path == "/sitemap.xml":
                    count = min(per_host, pages - (host - 2) * per_host)
                    locs = "".join(f"<url><loc>http://127.0.0.{host}:{port}/news/{n}/a</loc></url>"
                                   for n in range(max(0, count)))
                    self.send(200, f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
                              .encode(), "application/xml")
                elif self.path.startswith("/news/"):
                    time.sleep(latency)
                    self.send(200, article(host, int(self.path.split("/")[2])), "text/html; charset=utf-8")
                    with guard:
                        log.write(f"{host} {began} {time.time()}\n")
                else:
                    self.send(404, b"not here", "text/plain")
        return Handler

    for host in range(2, 2 + hosts):
        server = serve_handler(handler_for(host), f"127.0.0.{host}", port)
        server.handle_error = lambda request, address: None
    ready.set()
    threading.Event().wait()


def scraper(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"scraper {args[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return done


def records(target: str, workdir: Path) -> list[str]:
    out = workdir / "export.jsonl"
    out.unlink(missing_ok=True)       # export -o replaces no file without --force
    scraper("export", "--db", target, "-o", str(out))
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return sorted(json.dumps({k: v for k, v in r.items() if k not in VOLATILE}, ensure_ascii=False, sort_keys=True)
                  for r in rows)


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (its threads included)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fetch_phase(log_path: Path) -> tuple[int, float]:
    """(articles served, seconds from the first asked for to the last answered), then the log is emptied."""
    lines = [line.split() for line in log_path.read_text().splitlines()]
    log_path.write_text("")
    if not lines:
        return 0, float("nan")
    return len(lines), max(float(e) for _, _, e in lines) - min(float(b) for _, b, _ in lines)


def archive_runs(args, workdir: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = workdir / "requests.log"
    log_path.write_text("")
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.hosts, port, args.pages, args.latency, str(log_path), ready),
                                     daemon=True)
    server.start()
    ready.wait(10)
    config = workdir / "sites.toml"
    config.write_text("".join(
        f"[sites.h{h}]\nsitemaps = ['http://127.0.0.{h}:{port}/sitemap.xml']\n"
        f"article = '/news/'\ndelay = {args.delay}\n\n" for h in range(2, 2 + args.hosts)))
    limit = args.hosts / (args.latency + args.delay)
    print(f"archive: {args.pages} articles on {args.hosts} hosts, latency {args.latency * 1000:.0f} ms, "
          f"delay {args.delay:g} s: politeness limit {limit:.1f} pages/s")
    try:
        local = workdir / "local.db"
        scraper("archive", "--db", str(local), "--config", str(config), "--workers", "16", "--max-time", "0")
        served, seconds = fetch_phase(log_path)
        wanted = records(str(local), workdir)
        print(f"  local run (SQLite, --workers 16): {served / seconds:.1f} pages/s = {100 * served / seconds / limit:.0f} % "
              f"of the limit; {len(wanted)} records")
        for count in args.processes:
            url = new_pg(args.pg)
            try:
                with Workers(url, count) as workers:
                    workers.ready()
                    load = os.getloadavg()[0]
                    done = scraper("archive", "--db", url, "--workers-at", url, "--config", str(config), "--max-time", "0")
                    rss = [peak_rss_mb(p.pid) for p in workers.procs]
                    cpu = sum(cpu_seconds(p.pid) for p in workers.procs)
                served, seconds = fetch_phase(log_path)
                same = records(url, workdir) == wanted
                rate = served / seconds
                print(f"  {count} worker process(es): {rate:.1f} pages/s = {100 * rate / limit:.0f} % of the limit; "
                      f"records identical to the local run: {'yes' if same else 'NO'}; workers' CPU "
                      f"{1000 * cpu / max(1, served):.1f} ms a page; peak RSS per worker {max(rss):.0f} MB; "
                      f"load average {load:.1f}; {done.stderr.strip().splitlines()[-1]}")
            finally:
                drop_pg(args.pg, url)
    finally:
        server.terminate()


def sched_ms(pid: int) -> dict[str, tuple[float, float]]:
    """Each thread's (ms on a core, ms waiting for one) so far (/proc schedstat), by thread id."""
    threads = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                on_cpu, on_queue, _ = stat.read().split()
        except FileNotFoundError:      # a thread that ended meanwhile
            continue
        threads[task] = (int(on_cpu) / 1e6, int(on_queue) / 1e6)
    return threads


def job_thread_ms(before: dict, after: dict) -> tuple[float, float]:
    """(on a core, waiting for one) over the run of the thread that worked most: the job thread
    (one CPU job at a time, so one thread of the worker's pool runs them all in practice). The
    rest of the run's wall time that thread was blocked: on the database, the engine, no job."""
    spans = [(ran - before.get(tid, (0.0, 0.0))[0], queued - before.get(tid, (0.0, 0.0))[1])
             for tid, (ran, queued) in after.items()]
    return max(spans)


class ServerCPU:
    """CPU seconds the PostgreSQL server spends for one database: its backends (sampled every
    0.2 s from pg_stat_activity, so a backend that comes and goes between samples is missed) and,
    apart, the server's background processes (WAL writer, checkpointer...: shared with every
    database on the server, other users' included)."""

    def __init__(self, admin: str, url: str):
        import psycopg

        self.database = urlsplit(url).path.lstrip("/")
        self.conn = psycopg.connect(admin, autocommit=True)
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self.stop = threading.Event()
        self._sample(first=True)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _sample(self, first: bool = False) -> None:
        import psutil

        rows = self.conn.execute("SELECT pid, datname, backend_type FROM pg_stat_activity "
                                 "WHERE (datname = %s OR datname IS NULL) AND pid <> pg_backend_pid()",
                                 [self.database]).fetchall()
        for pid, datname, kind in rows:
            try:
                times = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            self.kind[pid] = "backend" if datname else "background"
            # A backend seen first after the start began during the run: all its CPU counts.
            self.start.setdefault(pid, times.user + times.system if first else 0.0)
            self.last[pid] = times.user + times.system

    def _run(self) -> None:
        while not self.stop.wait(0.2):
            self._sample()

    def seconds(self) -> dict[str, float]:
        self.stop.set()
        self.thread.join()
        self._sample()
        self.conn.close()
        spent = {"backend": 0.0, "background": 0.0}
        for pid, last in self.last.items():
            spent[self.kind[pid]] += last - self.start[pid]
        return spent


def warc_runs(args, workdir: Path) -> None:
    from datetime import datetime, timezone

    from requests.structures import CaseInsensitiveDict

    from scraper.models import Page
    from scraper.use.warc import WarcWriter

    corpus = [gzip.decompress(p.read_bytes()) for p in sorted(Path(args.corpus).rglob("*.html.gz"))]
    if not corpus:
        raise SystemExit(f"no .html.gz page under {args.corpus}")
    files = []
    for f in range(args.warc_files):
        path = workdir / f"part-{f}.warc.gz"
        with WarcWriter(path) as warc:
            for n in range(args.warc_pages):
                body = corpus[(f * args.warc_pages + n) % len(corpus)] + f"\n<!-- copy {f}-{n} -->\n".encode()
                url = f"https://site{f}.example/news/{n}"
                warc.write_page(Page(url=url, final_url=url, status=200, body=body, html=body.decode("utf-8", "replace"),
                                     encoding="utf-8", fetched_at=datetime(2024, 3, 1, tzinfo=timezone.utc),
                                     headers=CaseInsensitiveDict({"Content-Type": "text/html; charset=utf-8"}),
                                     request_headers={"User-Agent": "bench"}))
        files.append(str(path))
    pages = args.warc_files * args.warc_pages
    print(f"WARC import: {args.warc_files} files of {args.warc_pages} corpus pages ({len(corpus)} distinct pages cycled)")
    local = workdir / "warc-local.db"       # not the archive runs' local.db: that one holds their articles
    scraper("import-warc", "--db", str(local), *files)
    wanted = records(str(local), workdir)
    rates = {}
    for count in args.processes:
        url = new_pg(args.pg)
        try:
            with Workers(url, count, "--cpus", "1") as workers:
                workers.ready()
                load = os.getloadavg()[0]
                pids = [p.pid for p in workers.procs]
                cpu0 = [cpu_seconds(p) for p in pids]
                sched0 = [sched_ms(p) for p in pids]
                server = ServerCPU(args.pg, url)
                began = time.monotonic()
                command = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "import-warc", "--db", url,
                                            "--workers-at", url, *files], cwd=ROOT, stderr=subprocess.PIPE, text=True)
                err = command.stderr.read()
                _, status, usage = os.wait4(command.pid, 0)
                seconds = time.monotonic() - began
                if os.waitstatus_to_exitcode(status) != 0:
                    raise SystemExit(f"import-warc --workers-at failed: {err[-2000:]}")
                spent = server.seconds()
                rss = [peak_rss_mb(p) for p in pids]
                beats = [peak_rss_mb(int(child)) for p in pids
                         for child in Path(f"/proc/{p}/task/{p}/children").read_text().split()]
                cpu = sum(cpu_seconds(p) for p in pids) - sum(cpu0)
                jobs = [job_thread_ms(before, sched_ms(p)) for before, p in zip(sched0, pids)]
                on_core, queued = sum(ran for ran, _ in jobs), sum(waited for _, waited in jobs)
            same = records(url, workdir) == wanted
            rates[count] = pages / seconds
            ratio = f" = {rates[count] / rates[min(rates)]:.2f}x one worker" if count != min(rates) else ""
            wall = 1000 * seconds * count / pages
            print(f"  {count} worker process(es): {rates[count]:.1f} pages/s{ratio}; records identical to a local "
                  f"SQLite import: {'yes' if same else 'NO'}; load average {load:.1f}; peak RSS per worker "
                  f"{max(rss):.0f} MB and its heartbeat process {max(beats):.0f} MB; {err.strip().splitlines()[-1]}")
            print(f"    per page: workers {1000 * cpu / pages:.0f} ms CPU; their job threads {on_core / pages:.0f} ms "
                  f"on a core, {queued / pages:.0f} ms waiting for one, {(wall - on_core / pages - queued / pages):.0f} ms "
                  f"blocked (database, engine, no job), of {wall:.0f} ms; "
                  f"PostgreSQL {1000 * spent['backend'] / pages:.1f} ms (its backends for this database) "
                  f"+ {1000 * spent['background'] / pages:.1f} ms (its background processes); command "
                  f"{1000 * (usage.ru_utime + usage.ru_stime) / pages:.1f} ms ({usage.ru_utime + usage.ru_stime:.2f} s "
                  f"in all, start included)")
        finally:
            drop_pg(args.pg, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--delay", type=float, default=0.1)
    parser.add_argument("--processes", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--warc-files", type=int, default=8)
    parser.add_argument("--warc-pages", type=int, default=40)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--skip", choices=("archive", "warc"), action="append", default=[])
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average at the start {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as folder:
        if "archive" not in args.skip:
            archive_runs(args, Path(folder))
        if "warc" not in args.skip:
            warc_runs(args, Path(folder))


if __name__ == "__main__":
    main()
