"""Stop signals end a command as Ctrl-C does, not on the spot.

Without a handler, SIGTERM (cron's `timeout 10m scraper archive`, systemd stopping a service,
`kill PID`) and SIGHUP (the terminal of a run by hand closed) kill the process where it stands:
the run's row is left without an end or exit code, the log without its last line. Here they
raise ``Terminated``, a KeyboardInterrupt, in the main thread, so every command takes the path it
takes on Ctrl-C (what was saved is kept, the run row and log are closed, the workers end) and
exits with 128 + the signal's number, as a shell would report the signal.

A signal the parent set to be ignored stays ignored (`nohup` ignores SIGHUP). A second stop
signal while the first is being handled kills at once (the signal's default): a way out of a
clean-up that hangs, as a second Ctrl-C is for most tools.
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

from ..errors import Terminated

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop(signum, frame) -> None:
    for sig in STOP_SIGNALS:          # the next one is not caught: it kills
        signal.signal(sig, signal.SIG_DFL)
    raise Terminated(signum)


@contextlib.contextmanager
def stopping_on_signals() -> Iterator[None]:
    """Stop signals raise Terminated inside the block; the handlers before it are put back after
    (a command run in-process by tests leaves the test process as it was)."""
    if threading.current_thread() is not threading.main_thread():
        yield                         # handlers can only be set from the main thread
        return
    before = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig, handler in before.items():
        if handler == signal.SIG_DFL:     # left as set: ignored (nohup), or someone's own handler
            signal.signal(sig, _stop)
    try:
        yield
    finally:
        for sig, handler in before.items():
            if handler is not None:
                signal.signal(sig, handler)

