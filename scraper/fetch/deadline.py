"""A request's total deadline, whatever the peer does: a watchdog shuts the socket down when time is up.

requests' timeout bounds each socket operation, not the answer: a server that sends its status
line and headers one byte a second never lets a read wait long enough to time out, so a fetch
could run for hours. Every connection our sessions open or reuse registers its socket with the
deadline of the attempt running in this thread (``Deadline``); when that moment passes, one
watchdog thread shuts the socket down and the blocked read returns at once. ``Deadline.fired``
then tells the fetcher that the error it sees is the deadline, not the network.

The same watchdog ends every request at once when the command stops (``cut_requests``: Ctrl-C,
SIGTERM): the threads fetching for a run would otherwise hold the process, which joins them at
exit, until a server that does not answer times out (tens of seconds after the run's row and lock
were closed). A cut attempt says so (``Deadline.cut``) and is not tried again.

A fetch waiting between two attempts (a backoff, a Retry-After) is woken by the cut too and
stops, and one begun before the cut starts no further attempt (``cut_since``, ``pause_unless_cut``).

Name resolution (getaddrinfo) cannot be interrupted this way: it is bounded by the system
resolver's own timeouts.
"""
from __future__ import annotations

import heapq
import itertools
import math
import socket
import threading
import time

import requests
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool


class _Watchdog:
    """One daemon thread for the whole process, waking at the earliest armed deadline."""

    def __init__(self):
        self._heap: list = []
        self._cond = threading.Condition()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._cut_at = -math.inf        # attempts begun before this moment are cut (cut_all)

    def arm(self, at: float, sock: socket.socket, owner: "Deadline") -> list:
        entry = [at, next(self._order), sock, owner]
        with self._cond:
            if owner.began <= self._cut_at:     # begun before a cut, connecting after it
                owner.fired = owner.cut = True
                _shut(sock)
                entry[2] = None
                return entry
            heapq.heappush(self._heap, entry)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="deadline-watchdog", daemon=True)
                self._thread.start()
            self._cond.notify()
        return entry

    def disarm(self, entry: list) -> None:
        with self._cond:
            entry[2] = None    # left in the heap, skipped when its time comes

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][2] is None:
                    if self._heap:
                        heapq.heappop(self._heap)
                    else:
                        self._cond.wait()
                wait_for = self._heap[0][0] - time.monotonic()
                if wait_for > 0:
                    self._cond.wait(wait_for)
                    continue
                _, _, sock, owner = heapq.heappop(self._heap)
                owner.fired = True
            _shut(sock)

    def cut_all(self) -> None:
        """Every request in flight ends now; one whose attempt began before now and connects
        later is cut as it connects."""
        with self._cond:
            self._cut_at = time.monotonic()
            cut = []
            for entry in self._heap:
                if entry[2] is not None:
                    entry[3].fired = entry[3].cut = True
                    cut.append(entry[2])
                    entry[2] = None
            self._cond.notify_all()          # and the fetches waiting between two attempts
        for sock in cut:
            _shut(sock)

    def cut_since(self, began: float) -> bool:
        return self._cut_at >= began

    def pause(self, seconds: float, began: float) -> bool:
        """Wait ``seconds``, or less if a cut comes for a fetch begun at ``began``: True if one did."""
        end = time.monotonic() + seconds
        with self._cond:
            while self._cut_at < began:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)   # wakes a read blocked in another thread
    except OSError:
        pass                              # already closed: nothing is waiting on it


_WATCHDOG = _Watchdog()
_active = threading.local()


class Deadline:
    """``with Deadline(at):`` every socket used by this thread's requests meanwhile is cut at ``at``."""

    def __init__(self, at: float):
        self.at = at
        self.began = time.monotonic()
        self.fired = False
        self.cut = False        # by cut_requests (the command is stopping), not by the clock
        self._entries: list = []
        self._watched: set[int] = set()

    def watch(self, sock: socket.socket | None) -> None:
        if sock is not None and id(sock) not in self._watched:
            self._watched.add(id(sock))
            self._entries.append(_WATCHDOG.arm(self.at, sock, self))

    def __enter__(self) -> "Deadline":
        self._outer = getattr(_active, "deadline", None)
        _active.deadline = self
        return self

    def __exit__(self, *exc_info) -> None:
        for entry in self._entries:
            _WATCHDOG.disarm(entry)
        _active.deadline = self._outer


def cut_requests() -> None:
    """End every request of this process in flight now (the command is stopping: Ctrl-C, SIGTERM,
    an error): each raises OutOfTime, which is not retried. Requests begun later are not touched."""
    _WATCHDOG.cut_all()


def cut_since(began: float) -> bool:
    """Whether cut_requests came after ``began`` (time.monotonic): a fetch begun then must stop."""
    return _WATCHDOG.cut_since(began)


def pause_unless_cut(seconds: float, began: float) -> bool:
    """Sleep between two attempts of a fetch begun at ``began``; cut short (True) by cut_requests."""
    return _WATCHDOG.pause(seconds, began)


def _watch(sock) -> None:
    deadline = getattr(_active, "deadline", None)
    if deadline is not None:
        deadline.watch(sock)


class _Watched:
    """Registers the connection's socket: when opened (TCP, then TLS) and when reused for a request."""

    def _new_conn(self):
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args, **kwargs):
        _watch(self.sock)
        return super().request(*args, **kwargs)


class _HTTPConnection(_Watched, HTTPConnection):
    pass


class _HTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """requests' adapter whose connections (direct or through an HTTP proxy) obey ``Deadline``."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def watched(session: requests.Session) -> requests.Session:
    """The session, with our adapter mounted for http and https (once)."""
    if not isinstance(session.get_adapter("http://x/"), DeadlineAdapter):
        session.mount("http://", DeadlineAdapter())
        session.mount("https://", DeadlineAdapter())
    return session
