"""A fork server forked from the run's own process: extraction workers that share what the run loaded.

multiprocessing's ``forkserver`` starts a fresh interpreter, which imports again everything the run
already holds (Python itself, lxml, requests, our modules: 28 MB of heap), and brings
multiprocessing's resource tracker, one more process (7 MB), for semaphores the stage never uses.
A ``Forker`` is a fork of the run's process taken while it has one thread (``os.fork`` with threads
can copy a lock another thread holds, and the child waits on it forever): it imports and warms the
extractor (``preload``), then forks one worker per request, each warm at once and sharing, with
the run's process and with each other, the pages none of them has written to since.

What a worker needs from the run comes over its own socket pair, made by the caller and handed to
the forker with SCM_RIGHTS (socket.send_fds): the worker gets that socket and nothing the run opens
later. Workers are the forker's children, not the caller's, so the caller follows each through a
pidfd (Linux 5.3+; select() says when it has exited, and signals go to it, not to a recycled pid)
and asks the forker for its exit status, which the forker reaps. The forker and its workers end
when the caller closes its end, or dies: every one of them sees its socket closed.

``Forker.start`` raises ForkUnavailable where this cannot be done safely (threads already running,
no fork or pidfd on this system); extractors.py then uses multiprocessing's forkserver.
"""
from __future__ import annotations

import importlib
import os
import select
import signal
import socket
import sys
import threading
import traceback
from multiprocessing.connection import Connection
from typing import Any, Callable, Sequence


# Seconds the forker has to answer a request. Its first answer waits for the extractor's import
# (under a second on a quiet machine, a few on a loaded one); later ones take milliseconds.
ANSWER_WITHIN = 30.0


class ForkUnavailable(Exception):
    """This process cannot fork a forker safely now (the reason is the message)."""


def why_not() -> str | None:
    """Why this process cannot start a Forker now, or None when it can."""
    if not hasattr(os, "fork") or not hasattr(os, "pidfd_open") or not hasattr(socket, "send_fds"):
        return "no fork() with pidfd and fd passing on this system"
    if threading.active_count() > 1:
        return f"{threading.active_count()} threads are running (a fork could copy a lock one of them holds)"
    return None


class Forker:
    """``Forker.start(preload)`` forks it, ``load()`` has it import ``preload``, and
    ``spawn(target, args)`` forks a worker from it."""

    def __init__(self, pid: int, sock: socket.socket, answer_within: float = ANSWER_WITHIN):
        self.pid, self.sock = pid, sock
        self.lock = threading.Lock()      # one exchange with the forker at a time
        # A forker that does not answer (stopped, swapped out for good) must not hold up the
        # run past its time limit or Ctrl-C: it is killed, and spawn() says it is gone.
        sock.settimeout(answer_within)

    @classmethod
    def start(cls, preload: Sequence[str] = (), *, answer_within: float = ANSWER_WITHIN) -> "Forker":
        reason = why_not()
        if reason:
            raise ForkUnavailable(reason)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        _flush()                          # else what is buffered now would be written twice
        pid = os.fork()
        if pid == 0:                      # the forker: it never returns from here
            code = 1
            try:
                ours.close()
                _serve_forks(theirs, preload)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        theirs.close()
        return cls(pid, ours, answer_within)

    def load(self) -> None:
        """Have the forker import and warm ``preload`` now, while the caller does other work."""
        with self.lock:
            try:
                self.sock.send(b"load")
            except OSError:      # gone: spawn() says so
                pass

    def spawn(self, target: Callable[..., Any], args: tuple = ()) -> tuple["Forked", Connection]:
        """A new worker running ``target(connection, *args)``, and the caller's end of that connection.
        Raises OSError when the forker is gone."""
        mine, its = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with self.lock:
                try:
                    socket.send_fds(self.sock, [b"fork"], [its.fileno()])
                    answer = self.sock.recv(64)
                except TimeoutError:
                    self._kill()
                    raise OSError("the extraction fork server did not answer: killed") from None
            if not answer:
                raise OSError("the extraction fork server is gone")
            if answer == b"!":
                raise OSError("the extraction fork server could not fork a worker")
            pid = int(answer)
        except OSError:
            mine.close()
            raise
        finally:
            its.close()
        conn = Connection(mine.detach())
        try:
            conn.send((target, args))     # the worker's first message: what to run
        except OSError:                   # it died at once: the caller sees it dead, as any such start
            pass
        return Forked(self, pid), conn

    def status(self, pid: int) -> int | None:
        """The exit code of worker ``pid``, which has exited (reaped by the forker); None if unknown."""
        with self.lock:
            try:
                self.sock.send(b"wait %d" % pid)
                answer = self.sock.recv(64)
            except TimeoutError:
                self._kill()
                return None
            except OSError:
                return None
        return int(answer) if answer and answer != b"?" else None

    def _kill(self) -> None:
        """SIGKILL to the forker (through a pidfd: never to a recycled pid); it is reaped in close()."""
        try:
            pidfd = os.pidfd_open(self.pid)
        except OSError:      # already reaped
            return
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except OSError:
            pass
        finally:
            os.close(pidfd)

    def close(self, timeout: float = 0.5) -> None:
        """The forker exits, killed after ``timeout`` if still busy (importing the extractor for a
        run that ended at once): it holds nothing to save. Its workers end when their sockets close."""
        if not self.lock.acquire(timeout=1.0):
            # A request is waiting on a forker that does not answer: killed, the request sees
            # its socket closed and lets go of the lock.
            self._kill()
            self.lock.acquire()
        try:
            self.sock.close()
        finally:
            self.lock.release()
        try:
            pidfd = os.pidfd_open(self.pid)
        except OSError:
            pidfd = None
        if pidfd is not None:
            try:
                if not select.select([pidfd], [], [], timeout)[0]:
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            finally:
                os.close(pidfd)
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class Forked:
    """A worker forked by a Forker, with the part of multiprocessing.Process's interface the stage uses."""

    def __init__(self, forker: Forker, pid: int):
        self.forker, self.pid = forker, pid
        self.pidfd = os.pidfd_open(pid)   # it is a zombie at worst: the forker reaps only when asked
        self.sentinel = self.pidfd        # readable once it has exited (multiprocessing.connection.wait)
        self.exitcode: int | None = None

    def _exited(self, timeout: float | None) -> bool:
        if self.exitcode is not None or self.pidfd < 0:
            return True
        if not select.select([self.pidfd], [], [], timeout)[0]:
            return False
        code = self.forker.status(self.pid)
        self.exitcode = code if code is not None else -signal.SIGKILL
        return True

    def is_alive(self) -> bool:
        return not self._exited(0)

    def join(self, timeout: float | None = None) -> None:
        self._exited(timeout)

    def kill(self) -> None:
        """SIGKILL, without a word to the forker (another thread may be waiting on it)."""
        if self.exitcode is None and self.pidfd >= 0:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:    # it has exited already
                pass

    def close(self) -> None:
        if self.pidfd >= 0:
            os.close(self.pidfd)
            self.pidfd = self.sentinel = -1


def ignore_stop_signals() -> None:
    """In the forker and the extraction workers: Ctrl-C, SIGTERM and SIGHUP are the command's,
    which ends its helpers itself (commands/stopping.py). Sent to the whole process group (a
    terminal's Ctrl-C, cron's `timeout`), they must not kill a worker mid-page, nor raise the
    command's Terminated in a copy of it."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _serve_forks(sock: socket.socket, preload: Sequence[str]) -> None:
    """The forker's life: load ``preload``, then fork a worker per request until the caller is gone."""
    ignore_stop_signals()       # the caller's to handle: it closes us
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    loaded = False
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 64, 1)
        except OSError:
            return
        if not message:          # the caller closed its end, or died
            return
        if not loaded and message in (b"load", b"fork"):
            # On the first request, not at once: a run that stops before it extracts (the archive
            # locked, a bad sites file) has the forker load nothing, and print nothing.
            loaded = True
            for name in preload:
                try:
                    importlib.import_module(name)
                except ImportError:      # as multiprocessing's preload: each worker imports what it needs
                    pass
        if message == b"fork" and fds:
            try:
                pid = os.fork()
            except OSError:      # out of processes or memory: the caller hears "no", we go on
                os.close(fds[0])
                sock.send(b"!")
                continue
            if pid == 0:
                sock.close()
                _worker(fds[0])
            os.close(fds[0])
            sock.send(b"%d" % pid)
        elif message.startswith(b"wait "):
            try:
                _, status = os.waitpid(int(message[5:]), 0)
                sock.send(b"%d" % os.waitstatus_to_exitcode(status))
            except (ChildProcessError, ValueError):
                sock.send(b"?")
        else:
            for fd in fds:
                os.close(fd)


def _worker(fd: int) -> None:
    """A worker: read what to run from the caller, run it, and exit (never return into the forker)."""
    code = 1
    try:
        conn = Connection(fd)
        target, args = conn.recv()
        target(conn, *args)
        code = 0
    except EOFError:              # the caller went away before saying what to run
        code = 0
    except BaseException:
        traceback.print_exc()
    finally:
        _flush()
        os._exit(code)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):   # None, a closed pipe, a closed file
            pass
