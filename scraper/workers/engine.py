"""The engine under `scraper worker`: Procrastinate, its jobs kept in a PostgreSQL database.

Why Procrastinate (bench/queue_engines.py, README "Past one machine"): the archive on PostgreSQL is
already what distributed work needs, so workers need no other service; and its job locks (no two
jobs with the same ``lock`` run at once, whichever worker takes them, and a later one waits for an
earlier one) are the per-host turn that politeness needs, kept by the database for every machine.

Two queues, each served in every worker process by a Procrastinate worker of its own:
``ARCHIVE_QUEUE`` (discovery of a site, a site's turn at fetching: mostly waiting on the network
and on the site's delay, so many at once) and ``CPU_QUEUE`` (a WARC file, a range of articles to
re-extract: CPU-bound, one per core). Each worker process's heartbeat goes every ``HEARTBEAT``
seconds from a small process of its own (heartbeat.py), which nothing the worker does can hold up
and which stops only when the worker is gone; the command that handed the work out takes a job
whose worker fell silent for ``STALLED_AFTER`` seconds (kill -9, a lost machine; `--stalled-after`)
and hands it out again (coordinate.py).
"""
from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import procrastinate

from ..errors import ConfigError
from . import heartbeat, tasks
from .tasks import ARCHIVE_QUEUE, CPU_QUEUE
HEARTBEAT = 1.0          # seconds between a worker's heartbeats
# A job whose worker sent no heartbeat for this long is handed out again. The heartbeat does not
# depend on the worker's own progress (heartbeat.py), so this only has to outlast a database or a
# network that does not answer for a while; Procrastinate's own default, 30 s.
STALLED_AFTER = 30.0
POLL = 1.0               # a worker looks for jobs this often when no notification came
FETCHERS = 32            # archive jobs at once per worker process: each holds one site's turn, mostly waiting
CONNECTIONS = 12         # to the archive per worker process: jobs hold one only while they write
CPUS = 1                 # CPU-bound jobs at once per worker process (one process per core)


def is_engine_url(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def make_app(url: str) -> procrastinate.App:
    """The Procrastinate app on the jobs database at ``url``, with the scraper's tasks."""
    if not is_engine_url(url):
        raise ConfigError(f"--workers-at {url!r}: the workers' jobs live in a PostgreSQL database: "
                          "give postgresql://user@host/database (the archive's own is fine)")
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    app.add_tasks_from(tasks.blueprint, namespace="scraper")
    return app


async def ensure_schema(app: procrastinate.App) -> None:
    """Create Procrastinate's tables on first use (a worker and a command may race: both fine)."""
    if await app.check_connection_async():
        return
    try:
        await app.schema_manager.apply_schema_async()
    except Exception:   # another process applied it meanwhile: the check below says so
        if not await app.check_connection_async():
            raise


async def serve(url: str, *, fetchers: int = FETCHERS, cpus: int = CPUS) -> None:
    """Run a worker until SIGTERM or SIGINT: archive jobs ``fetchers`` at once, CPU jobs ``cpus``."""
    app = make_app(url)
    tasks.connections = min(fetchers + cpus, CONNECTIONS)
    beats = subprocess.Popen([sys.executable, heartbeat.__file__, url, str(HEARTBEAT)], stdin=subprocess.PIPE)
    register = app.job_manager.register_worker

    async def register_with_heartbeat() -> int:
        # Each of this process's Procrastinate workers registers once, as it starts: from then on
        # the heartbeat process beats for it too.
        worker_id = await register()
        beats.stdin.write(f"{worker_id}\n".encode())
        beats.stdin.flush()
        return worker_id

    app.job_manager.register_worker = register_with_heartbeat
    try:
        await _serve(app, fetchers, cpus)
    finally:
        beats.stdin.close()      # the heartbeat process ends as it sees the pipe close
        beats.wait()


async def _serve(app: procrastinate.App, fetchers: int, cpus: int) -> None:
    async with app.open_async():
        await ensure_schema(app)
        loop = asyncio.get_running_loop()
        # Procrastinate runs a sync task on the loop's default executor: one thread per job slot.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=fetchers + cpus, thread_name_prefix="job"))
        common = dict(update_heartbeat_interval=HEARTBEAT, stalled_worker_timeout=STALLED_AFTER,
                      fetch_job_polling_interval=POLL, delete_jobs="successful", install_signal_handlers=False)
        both = asyncio.gather(
            app.run_worker_async(queues=[ARCHIVE_QUEUE], concurrency=fetchers, name="archive", **common),
            app.run_worker_async(queues=[CPU_QUEUE], concurrency=cpus, name="cpu", **common))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, both.cancel)
        try:
            await both
        except asyncio.CancelledError:
            pass   # jobs cut short stay `doing`: the commands hand them out again (STALLED_AFTER)
