"""The engine under `scraper worker`: Procrastinate, its jobs kept in a PostgreSQL database.

Why Procrastinate (bench/queue_engines.py, README "Past one machine"): the archive on PostgreSQL is
already what distributed work needs, so workers need no other service; and its job locks (no two
jobs with the same ``lock`` run at once, whichever worker takes them, and a later one waits for an
earlier one) are the per-host turn that politeness needs, kept by the database for every machine.

Two queues, each served in every worker process by a Procrastinate worker of its own:
``ARCHIVE_QUEUE`` (discovery of a site, a site's turn at fetching: mostly waiting on the network
and on the site's delay, so many at once) and ``CPU_QUEUE`` (a WARC file, a range of articles to
re-extract: CPU-bound, one per core). Workers send a heartbeat every ``HEARTBEAT`` seconds; the
command that handed the work out takes a job whose worker fell silent for ``STALLED_AFTER``
seconds (kill -9, a lost machine) and hands it out again (coordinate.py).
"""
from __future__ import annotations

import asyncio
import signal
from concurrent.futures import ThreadPoolExecutor

import procrastinate

from ..errors import ConfigError
from . import tasks
from .tasks import ARCHIVE_QUEUE, CPU_QUEUE
HEARTBEAT = 1.0          # seconds between a worker's heartbeats
STALLED_AFTER = 5.0      # a job whose worker sent none for this long is handed out again
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
    async with app.open_async():
        await ensure_schema(app)
        loop = asyncio.get_running_loop()
        # Procrastinate runs a sync task on the loop's default executor: one thread per job slot.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=fetchers + cpus, thread_name_prefix="job"))
        common = dict(update_heartbeat_interval=HEARTBEAT, fetch_job_polling_interval=POLL,
                      delete_jobs="successful", install_signal_handlers=False)
        both = asyncio.gather(
            app.run_worker_async(queues=[ARCHIVE_QUEUE], concurrency=fetchers, name="archive", **common),
            app.run_worker_async(queues=[CPU_QUEUE], concurrency=cpus, name="cpu", **common))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, both.cancel)
        try:
            await both
        except asyncio.CancelledError:
            pass   # jobs cut short stay `doing`: the commands hand them out again (STALLED_AFTER)
