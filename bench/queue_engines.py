"""Procrastinate (on PostgreSQL) against Dramatiq (on Redis): the two engines `scraper worker` could stand on.

    python bench/queue_engines.py [--pg postgresql://postgres@127.0.0.1/postgres] [--redis redis://127.0.0.1:6379/0]
                                  [--tasks 2000] [--round-trips 200]

For each engine, side by side in one run: the round trip of one empty task (sent, run by a worker
process, seen done by the sender; median and 95th percentile of --round-trips in a row), and the
throughput of --tasks empty tasks sent at once to 1 and then 2 worker processes (tasks/s, from
the first sent to the last done). Every task says it is done the same way for both engines (a
RPUSH to one Redis list the sender waits on), so only the engines differ. Procrastinate gets a
new database on the --pg server (an admin URL) and drops it after; Dramatiq a Redis database
emptied before and after. What the archiver sends is a few tasks per page (fetch and extract take
tens of milliseconds): the figures say how much of a page's budget the engine takes.
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

DONE = "bench-queue-engines-done"


def _redis(url):
    import redis

    return redis.Redis.from_url(url)


# -- Procrastinate --------------------------------------------------------------------------------

def _procrastinate_app(db_url, redis_url):
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=db_url))
    client = _redis(redis_url)

    @app.task(name="noop")
    def noop(n):
        client.rpush(DONE, n)

    return app, noop


def _procrastinate_worker(db_url, redis_url, concurrency):
    import asyncio

    app, _ = _procrastinate_app(db_url, redis_url)
    # Polling only as a fallback: new jobs are announced by LISTEN/NOTIFY.

    async def work():
        async with app.open_async():
            await app.run_worker_async(concurrency=concurrency, fetch_job_polling_interval=1.0)

    asyncio.run(work())


def _procrastinate(db_url, redis_url):
    app, noop = _procrastinate_app(db_url, redis_url)
    app.open()
    app.schema_manager.apply_schema()

    def send(numbers):
        noop.batch_defer(*[{"n": n} for n in numbers])

    return send, lambda: (_procrastinate_worker, (db_url, redis_url, 4)), app.close


# -- Dramatiq -------------------------------------------------------------------------------------

def _dramatiq_broker(redis_url):
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=redis_url)
    dramatiq.set_broker(broker)
    client = _redis(redis_url)

    @dramatiq.actor(actor_name="noop", max_retries=0)
    def noop(n):
        client.rpush(DONE, n)

    return broker, noop


def _dramatiq_worker(redis_url, threads):
    import signal

    import dramatiq

    broker, _ = _dramatiq_broker(redis_url)
    worker = dramatiq.Worker(broker, worker_threads=threads, worker_timeout=100)
    worker.start()
    stop = multiprocessing.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    worker.stop()


def _dramatiq(redis_url):
    broker, noop = _dramatiq_broker(redis_url)
    broker.flush_all()

    def send(numbers):
        for n in numbers:
            noop.send(n)

    return send, lambda: (_dramatiq_worker, (redis_url, 4)), broker.close


# -- the measurement ------------------------------------------------------------------------------

def measure(name, send, worker, close, redis_url, tasks, round_trips):
    client = _redis(redis_url)
    client.delete(DONE)
    results = {}
    for processes in (1, 2):
        target, args = worker()
        procs = [multiprocessing.Process(target=target, args=args, daemon=True) for _ in range(processes)]
        for proc in procs:
            proc.start()
        send([-1])                      # the workers are up once the first task comes back
        client.blpop(DONE, timeout=60)
        if processes == 1:
            times = []
            for n in range(round_trips):
                began = time.perf_counter()
                send([n])
                if client.blpop(DONE, timeout=30) is None:
                    raise SystemExit(f"{name}: a task did not come back in 30 s")
                times.append(time.perf_counter() - began)
            times.sort()
            results["round trip median ms"] = 1000 * statistics.median(times)
            results["round trip p95 ms"] = 1000 * times[int(0.95 * (len(times) - 1))]
        began = time.perf_counter()
        send(range(tasks))
        for _ in range(tasks):
            if client.blpop(DONE, timeout=60) is None:
                raise SystemExit(f"{name}: tasks stopped coming back")
        results[f"{processes} worker(s) tasks/s"] = tasks / (time.perf_counter() - began)
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(10)
            if proc.is_alive():      # a worker deaf to SIGTERM must not outlive the measurement
                proc.kill()
                proc.join()
    close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--round-trips", type=int, default=200)
    args = parser.parse_args()
    import psycopg

    name = f"bench_queues_{uuid.uuid4().hex[:8]}"
    parts = urlsplit(args.pg)
    db_url = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
    with psycopg.connect(args.pg, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        table = {
            "Procrastinate (PostgreSQL)": measure("procrastinate", *_procrastinate(db_url, args.redis), args.redis,
                                                  args.tasks, args.round_trips),
            "Dramatiq (Redis)": measure("dramatiq", *_dramatiq(args.redis), args.redis, args.tasks,
                                        args.round_trips),
        }
    finally:
        with psycopg.connect(args.pg, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _redis(args.redis).flushdb()
    rows = list(next(iter(table.values())))
    print(f"| | {' | '.join(table)} | ratio |")
    print("|---|" + "---|" * (len(table) + 1))
    for row in rows:
        values = [table[engine][row] for engine in table]
        print(f"| {row} | {' | '.join(f'{v:.1f}' for v in values)} | {values[0] / values[1]:.2f} |")


if __name__ == "__main__":
    sys.exit(main())
