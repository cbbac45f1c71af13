"""A `scraper worker` process's heartbeat, sent by a small process of its own.

Procrastinate's own heartbeat is a coroutine on the worker's event loop, so it stops whenever the
process runs no Python on that loop: a C call that holds the GIL for seconds (a regular
expression over a huge page), a process starved of CPU on a loaded machine, a process swapped
out. Its job is then taken for dead and handed to another worker, which does it a second time
while the first goes on. This process beats for its worker instead, from outside it: nothing the
worker does can hold it up, and it stops beating only when the worker is gone (kill -9, a crash,
a lost machine), which it learns at once because the pipe from the worker closes.

    python scraper/workers/heartbeat.py URL SECONDS     (the worker's Procrastinate worker ids on stdin)

Each line on stdin is the id of a Procrastinate worker of the parent process (engine.serve writes
one as each registers); every SECONDS the process updates their heartbeats with the function
Procrastinate's own heartbeat calls. A database that does not answer is tried again at the next
beat: the worker's own heartbeat on its event loop goes on meanwhile. The first beat that fails
after one that worked is one line on stderr (the worker's log): without it, a worker whose job is
handed out again while it lives would not say why. Run as a script, not as a
module of the package, and with psycopg alone, so it costs what a Python and libpq cost
(the package and Procrastinate would more than double its memory).
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time

# Procrastinate 3's heartbeat, as its JobManager.update_heartbeat sends it (procrastinate/sql/queries.sql).
UPDATE_HEARTBEAT = "SELECT procrastinate_update_heartbeat_v1(%s)"


def main(url: str, every: float) -> None:
    import psycopg

    # Ctrl-C goes to the whole process group: the worker stops its jobs and then closes the pipe;
    # its heartbeat must go on until then.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    ids: list[int] = []
    conn = None
    pending = b""
    next_beat = time.monotonic()
    failing = False
    while True:
        ready, _, _ = select.select([sys.stdin.fileno()], [], [], max(0.0, next_beat - time.monotonic()))
        if ready:
            chunk = os.read(sys.stdin.fileno(), 4096)
            if not chunk:
                return          # the worker is gone: its jobs must be found stalled
            pending += chunk
            *lines, pending = pending.split(b"\n")
            ids += [int(line) for line in lines if line.strip()]
        if time.monotonic() < next_beat:
            continue
        next_beat = time.monotonic() + every
        try:
            if conn is None or conn.closed:
                conn = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(every)))
            for worker_id in ids:
                conn.execute(UPDATE_HEARTBEAT, [worker_id])
            failing = False
        except psycopg.Error as exc:
            if not failing:
                failing = True
                line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                print(f"heartbeat: the database did not take the heartbeat ({line}): tried again every "
                      f"{every:g} s", file=sys.stderr, flush=True)
            if conn is not None:
                conn.close()
            conn = None         # tried again at the next beat


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
