"""`bench/archive.py --real`: archiving real news pages, `scraper archive` against a Scrapy + trafilatura spider.

    python bench/archive.py --real                                   # 1,000 pages, free network and 100 ms
    python bench/archive.py --real --scenario free --pages 1000 10000   # memory from 1,000 to 10,000 pages
    python bench/archive.py --real --baseline ../old-checkout --repeat 3  # another commit as a contestant

Local news hosts (127.0.0.2, 127.0.0.3, ...: each a host of its own to both crawlers) serve the
corpus pages (../shared/corpus/news, real HTML of 20-300 KB), cycled, as articles
``/news/<n>/story``, each copy made distinct by a comment at its end, and list them in a sitemap
per host. Each contestant runs in its own process against the same hosts, one after the other, in
rotation when ``--repeat`` asks for several runs (medians are shown):

- ``scraper``: this checkout's ``run_archive`` (what `scraper archive` runs), every host a site
  of the sites file with its sitemap and ``delay``;
- ``baseline``: the same from another checkout (``--baseline DIR``), e.g. the commit before a change;
- ``scrapy``: bench/spider.py, a SitemapSpider calling ``trafilatura.extract`` (JSON with metadata).

Both crawlers get the same politeness: ``--workers`` requests at once, one at a time per host,
``latency + delay`` from one request to the next to a host. Scenarios: ``free`` (no latency, no
delay: only the CPU limits) and ``polite`` (``--latency``, ``--delay``: the limit is
min(workers / latency, hosts / (latency + delay)), and the share of it reached is shown).

The polite scenario's defaults (100 ms latency, 3 s delay, 20 hosts: 6.5 pages/s) put its limit
well under what every contestant does on a free network (13-20 pages/s on two quiet cores), so
politeness binds and the share says how well a crawler keeps every host busy within its delay.
A limit above the CPU's rate (0.5 s delay: 33 pages/s, the default before) measures the CPU
twice, not politeness. Real sites ask for such delays: Crawl-delay 1 to 10 s is common.

Measured from outside each contestant's process: pages/s over the fetch phase (first article
handed to the fetchers to the last one done), CPU ms per page (user + system of the process and
of every process it started and waited for, or, when larger, the sum over every process of the
tree sampled 20 times a second: fork-server workers are not waited for by the contestant), peak memory of the whole
process tree (RSS and PSS, summed over its processes, sampled 20 times a second; PSS counts pages
shared between processes once, so it is the fair figure for a tree of forks: summed RSS counts the
fork server's pages once per worker that shares them), and each process's own peaks and CPU by
role (the contestant's process, the fork server, its workers, multiprocessing's resource tracker).
Where the machine has two cores or more, the hosts are pinned to
one core and the contestants to the others (``--client-cores rest``) or to all
(``--client-cores all``, the default: a contestant that can use both cores does).
"""
from __future__ import annotations

import argparse
import gzip
import json
import math
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.corpus import DEFAULT_CORPUS  # noqa: E402

CORPUS = DEFAULT_CORPUS / "news"
HERE = Path(__file__).resolve()


@dataclass(frozen=True)
class Scenario:
    name: str
    latency: float     # seconds each article answer waits before it is sent
    delay: float       # the sites' delay: seconds from one answer to the next request to that host

    def limit(self, hosts: int, workers: int) -> float:
        """Pages/s that concurrency and politeness allow (inf: only the CPU limits)."""
        per_host = hosts / (self.latency + self.delay) if self.latency + self.delay > 0 else math.inf
        all_workers = workers / self.latency if self.latency > 0 else math.inf
        return min(per_host, all_workers)


@dataclass
class Measure:
    ok: int
    failed: int
    fetch_seconds: float
    run_seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    peak_pss_mb: float
    processes: int
    # {role: (peak RSS, peak PSS of one process of that role in MB, CPU seconds of all of them)}:
    # roles "main", "fork server", "worker", "resource tracker"
    roles: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return self.ok + self.failed

    @property
    def rate(self) -> float:
        return self.pages / self.fetch_seconds if self.fetch_seconds > 0 else 0.0

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_seconds / max(1, self.pages)


@dataclass
class Contestant:
    name: str
    argv: object        # (port, hosts, scenario, workdir) -> list[str]
    runs: dict = field(default_factory=dict)   # (pages, scenario) -> [Measure]


# --- the hosts (in a child process, pinned) ---------------------------------------------------------

def corpus_pages(folder: Path = CORPUS) -> list[bytes]:
    pages = [gzip.decompress(p.read_bytes()) for p in sorted(folder.rglob("*.html.gz"))]
    if not pages:
        raise SystemExit(f"no .html.gz page under {folder}")
    return pages


def serve(hosts: int, port: int, pages: int, latency: float, cpus, ready) -> None:
    """One threaded HTTP server per host address; article n is corpus page n % len(corpus) on host n % hosts."""
    if cpus:
        os.sched_setaffinity(0, cpus)
    from tests.synthetic import SiteHandler, serve as serve_handler

    corpus = corpus_pages()

    class Handler(SiteHandler):
        def do_GET(self):
            host = int(self.server.server_address[0].rsplit(".", 1)[1]) - 2
            if self.path == "/sitemap.xml":
                base = f"http://127.0.0.{host + 2}:{port}"
                locs = "".join(f"<url><loc>{base}/news/{n}/story</loc></url>" for n in range(host, pages, hosts))
                return self.send(200, f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}'
                                      f"</urlset>".encode(), "application/xml")
            if not self.path.startswith("/news/"):
                return self.send(404, b"not here", "text/plain")   # robots.txt: everything allowed
            n = int(self.path.split("/")[2])
            time.sleep(latency)
            # A distinct copy: the archive keeps each distinct page's bytes, as it would on a real site.
            self.send(200, corpus[n % len(corpus)] + f"\n<!-- copy {n} -->\n".encode(), "text/html")

    for host in range(hosts):
        server = serve_handler(Handler, f"127.0.0.{host + 2}", port)
        server.handle_error = lambda request, address: None   # a client hanging up is no news
    ready.set()
    threading.Event().wait()


# --- the scraper contestant (in a child process) --------------------------------------------------

def scraper_child(args) -> None:
    """Run ``run_archive`` of the checkout at ``args.root`` and print what it did as one JSON line."""
    sys.path.insert(0, args.root)
    import scraper
    from scraper.crawl.run import Reporter, RunOptions, run_archive

    class Timing(Reporter):
        first = last = None
        ok = failed = 0

        def planned(self, more):
            if self.first is None:
                self.first = time.monotonic()

        def outcome(self, url, status, detail=None):
            if status in ("saved", "updated", "unchanged"):
                self.ok += 1
            else:
                self.failed += 1
            self.last = time.monotonic()

    workdir = Path(args.workdir)
    config = workdir / "sites.toml"
    config.write_text("".join(
        f"[sites.h{h}]\nsitemaps = ['http://127.0.0.{h + 2}:{args.port}/sitemap.xml']\n"
        f"article = '/news/'\ndelay = {args.delay}\n\n" for h in range(args.hosts)))
    timing = Timing()
    options = RunOptions(config=config, workers=args.workers, sites=tuple(f"h{h}" for h in range(args.hosts)),
                         max_time=None)
    run_archive(workdir / "archive.db", options, timing)
    print(json.dumps({"ok": timing.ok, "failed": timing.failed, "first": timing.first, "last": timing.last,
                      "module": scraper.__file__}))


# --- measuring a contestant from outside ----------------------------------------------------------

class TreeMemory(threading.Thread):
    """The peak of the summed RSS (and PSS) of a process and its descendants, sampled."""

    def __init__(self, pid: int, every: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_rss = self.peak_pss = 0
        self.processes = 1
        # Each process's own CPU seconds when last seen: a process started by one that is not
        # waited for (a fork server's workers) never reaches the root's wait4 figures.
        self.cpu: dict[int, float] = {}
        self.role_of: dict[int, str] = {}
        self.roles: dict[str, list[float]] = {}     # role -> [peak RSS, peak PSS] of one process, bytes
        self.stopping = threading.Event()

    @staticmethod
    def role(proc, root) -> str:
        """What a process of the tree is: the contestant's own, multiprocessing's helpers, a worker."""
        if proc is root:
            return "main"
        line = " ".join(proc.cmdline())
        if "resource_tracker" in line:
            return "resource tracker"
        # A fork server is the contestant's child: multiprocessing's (its own command line) or a
        # fork of the contestant (scraper/crawl/forker.py: the same command line); its workers are
        # its children.
        if proc.ppid() == root.pid and ("forkserver" in line or proc.cmdline() == root.cmdline()):
            return "fork server"
        return "worker"

    def run(self) -> None:
        import psutil

        try:
            root = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            return
        tick = 0
        while not self.stopping.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            rss = pss = 0
            full = tick % 4 == 0     # PSS reads smaps: 5 times a second is enough
            for proc in tree:
                try:
                    times = proc.cpu_times()
                    self.cpu[proc.pid] = times.user + times.system
                    if full:
                        info = proc.memory_full_info()
                        pss += info.pss
                    else:
                        info = proc.memory_info()
                    rss += info.rss
                    role = self.role_of.setdefault(proc.pid, self.role(proc, root))
                    peaks = self.roles.setdefault(role, [0, 0])
                    peaks[0] = max(peaks[0], info.rss)
                    if full:
                        peaks[1] = max(peaks[1], info.pss)
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    pass
            self.peak_rss = max(self.peak_rss, rss)
            if full:
                self.peak_pss = max(self.peak_pss, pss)
            self.processes = max(self.processes, len(tree))
            tick += 1
            self.stopping.wait(self.every)


def measure(argv: list[str], cpus) -> Measure:
    began = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True,
                            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    memory = TreeMemory(proc.pid)
    memory.start()
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)   # usage: the process and every descendant it waited for
    proc.returncode = os.waitstatus_to_exitcode(status)
    memory.stopping.set()
    memory.join()
    if proc.returncode != 0 or not out.strip():
        raise SystemExit(f"{argv[1]} exited with {proc.returncode}")
    seen = json.loads(out.strip().splitlines()[-1])
    if seen.get("first") is None:
        raise SystemExit(f"{argv[1]}: no article was fetched")
    # wait4 counts the process and the descendants it waited for, exactly; the sampled sum also
    # counts those it did not wait for (fork-server workers), to within the last 50 ms of each.
    return Measure(seen["ok"], seen["failed"], seen["last"] - seen["first"], time.monotonic() - began,
                   max(usage.ru_utime + usage.ru_stime, sum(memory.cpu.values())), memory.peak_rss / 2**20, memory.peak_pss / 2**20,
                   memory.processes, {role: (rss / 2**20, pss / 2**20, sum(
                       cpu for pid, cpu in memory.cpu.items() if memory.role_of.get(pid) == role))
                       for role, (rss, pss) in memory.roles.items()})


def contestants(args) -> list[Contestant]:
    def scraper_argv(root):
        return lambda port, hosts, scenario, workdir: [
            sys.executable, str(HERE), "--scraper-child", "--root", str(root), "--port", str(port),
            "--hosts", str(hosts), "--delay", str(scenario.delay), "--workers", str(args.workers),
            "--workdir", workdir]

    def spider_argv(port, hosts, scenario, workdir):
        return [sys.executable, str(HERE.with_name("spider.py")), "--workers", str(args.workers),
                # Scrapy's delay runs from one request's start to the next: latency + delay is ours.
                "--delay", str(scenario.latency + scenario.delay), "--out", str(Path(workdir) / "items.jsonl"),
                *[arg for h in range(hosts) for arg in ("--sitemap", f"http://127.0.0.{h + 2}:{port}/sitemap.xml")]]

    chosen = []
    if "scraper" in args.only:
        chosen.append(Contestant("scraper", scraper_argv(ROOT)))
    if args.baseline and "baseline" in args.only:
        chosen.append(Contestant(f"baseline ({Path(args.baseline).name})", scraper_argv(Path(args.baseline).resolve())))
    if "scrapy" in args.only:
        chosen.append(Contestant("scrapy+trafilatura", spider_argv))
    return chosen


def placement(client_cores: str):
    """(cpus for the hosts, cpus for the contestants, a sentence saying so)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None, f"one CPU ({cpus}): hosts and contestants share it, nothing pinned"
    hosts = {cpus[0]}
    clients = set(cpus[1:]) if client_cores == "rest" else set(cpus)
    return hosts, clients, (f"hosts pinned to CPU {cpus[0]}; contestants (and their worker processes) "
                            f"on CPU {','.join(map(str, sorted(clients)))} of {len(cpus)}")


def _median(runs: list[Measure], attr: str) -> float:
    return statistics.median(getattr(m, attr) for m in runs)


def table(chosen: list[Contestant], key, scenario: Scenario, hosts: int, workers: int) -> str:
    limit = scenario.limit(hosts, workers)
    spider = next((c for c in chosen if c.name.startswith("scrapy")), None)
    base = next((c for c in chosen if c.name.startswith("baseline")), None)
    head = (f"{'contestant':<26}{'runs':>5}{'pages/s':>9}{'share':>7}{'CPU ms/page':>13}{'peak RSS':>10}"
            f"{'peak PSS':>10}{'procs':>6}{'ok':>7}{'failed':>7}{'run s':>7}")
    lines = [head]
    for c in chosen:
        runs = c.runs.get(key, [])
        if not runs:
            continue
        rate = _median(runs, "rate")
        share = f"{100 * rate / limit:.0f} %" if math.isfinite(limit) else "-"
        lines.append(f"{c.name:<26}{len(runs):>5}{rate:>9.1f}{share:>7}{_median(runs, 'cpu_ms'):>13.1f}"
                     f"{_median(runs, 'peak_rss_mb'):>8.0f}MB{_median(runs, 'peak_pss_mb'):>8.0f}MB"
                     f"{max(m.processes for m in runs):>6}{min(m.ok for m in runs):>7}"
                     f"{max(m.failed for m in runs):>7}{_median(runs, 'run_seconds'):>7.1f}")
    ours = next((c for c in chosen if c.name == "scraper"), None)
    if ours and key in ours.runs:
        for other in (spider, base):
            if other and key in other.runs:
                lines.append(f"scraper / {other.name}: pages/s x{_ratio(ours, other, key, 'rate'):.2f}, "
                             f"CPU per page x{_ratio(ours, other, key, 'cpu_ms'):.2f}, "
                             f"peak RSS x{_ratio(ours, other, key, 'peak_rss_mb'):.2f}, "
                             f"peak PSS x{_ratio(ours, other, key, 'peak_pss_mb'):.2f}")
    return "\n".join(lines)


def _ratio(a: Contestant, b: Contestant, key, attr: str) -> float:
    return _median(a.runs[key], attr) / max(1e-9, _median(b.runs[key], attr))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="bench/archive.py --real", description=__doc__.splitlines()[0])
    parser.add_argument("--real", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pages", type=int, nargs="+", default=[1000])
    parser.add_argument("--scenario", nargs="+", choices=["free", "polite"], default=["free", "polite"])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1, help="the polite scenario's latency (s)")
    parser.add_argument("--delay", type=float, default=3.0, help="the polite scenario's delay per host (s)")
    parser.add_argument("--workers", type=int, default=8, help="requests at once (scraper archive --workers)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each contestant, in rotation")
    parser.add_argument("--only", default="scraper,baseline,scrapy",
                        help="comma-separated contestants: scraper, baseline, scrapy")
    parser.add_argument("--baseline", metavar="DIR", help="another checkout, run as the contestant 'baseline'")
    parser.add_argument("--client-cores", choices=["all", "rest"], default="all",
                        help="contestants on every CPU (all) or on those the hosts are not pinned to (rest)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write every run's figures to FILE")
    args = parser.parse_args(argv)
    args.only = {name.strip() for name in args.only.split(",")}
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    scenarios = {"free": Scenario("free", 0.0, 0.0), "polite": Scenario("polite", args.latency, args.delay)}
    chosen = contestants(args)
    host_cpus, client_cpus, where = placement(args.client_cores)
    print(f"{len(corpus_pages())} corpus pages cycled over {args.hosts} hosts; {args.workers} requests at once, "
          f"one per host; {where}; load average {os.getloadavg()[0]:.2f}", flush=True)
    for pages in args.pages:
        for name in args.scenario:
            scenario = scenarios[name]
            limit = scenario.limit(args.hosts, args.workers)
            print(f"\n{pages:,} pages, {name}: latency {scenario.latency * 1000:.0f} ms, delay {scenario.delay:g} s; "
                  + (f"limit {limit:.1f} pages/s" if math.isfinite(limit) else "no limit but the CPU"), flush=True)
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            ready = multiprocessing.Event()
            server = multiprocessing.Process(target=serve, daemon=True, args=(
                args.hosts, port, pages, scenario.latency, host_cpus, ready))
            server.start()
            ready.wait(30)
            try:
                for _ in range(args.repeat):
                    for c in chosen:
                        with tempfile.TemporaryDirectory() as workdir:
                            m = measure(c.argv(port, args.hosts, scenario, workdir), client_cpus)
                        c.runs.setdefault((pages, name), []).append(m)
                        print(f"  {c.name:<26}{m.rate:7.1f} pages/s  {m.cpu_ms:6.1f} CPU ms/page  "
                              f"peak RSS {m.peak_rss_mb:5.0f} MB (PSS {m.peak_pss_mb:.0f})  {m.ok} ok, "
                              f"{m.failed} failed  load {os.getloadavg()[0]:.2f}", flush=True)
                        if len(m.roles) > 1:
                            print("    by process: " + "; ".join(
                                f"{role} peak RSS {rss:.0f} MB (PSS {pss:.0f}), CPU {1000 * cpu / max(1, m.pages):.1f} ms/page"
                                for role, (rss, pss, cpu) in m.roles.items()), flush=True)
            finally:
                server.terminate()
                server.join()
            print(table(chosen, (pages, name), scenario, args.hosts, args.workers), flush=True)
    if len(args.pages) > 1:
        small, large = min(args.pages), max(args.pages)
        for c in chosen:
            for name in args.scenario:
                if (small, name) in c.runs and (large, name) in c.runs:
                    growth = {attr: _median(c.runs[(large, name)], attr) - _median(c.runs[(small, name)], attr)
                              for attr in ("peak_rss_mb", "peak_pss_mb")}
                    print(f"{c.name}, {name}: from {small:,} to {large:,} pages, peak RSS "
                          f"{growth['peak_rss_mb']:+.1f} MB, peak PSS {growth['peak_pss_mb']:+.1f} MB")
    if args.json:
        args.json.write_text(json.dumps({
            f"{c.name} | {pages} | {name}": [m.__dict__ for m in runs]
            for c in chosen for (pages, name), runs in c.runs.items()}, indent=1))
    return 0


if __name__ == "__main__":
    if "--scraper-child" in sys.argv:
        child = argparse.ArgumentParser()
        child.add_argument("--scraper-child", action="store_true")
        for option in ("--root", "--workdir"):
            child.add_argument(option, required=True)
        for option in ("--port", "--hosts", "--workers"):
            child.add_argument(option, type=int, required=True)
        child.add_argument("--delay", type=float, required=True)
        scraper_child(child.parse_args())
    else:
        sys.exit(main())
