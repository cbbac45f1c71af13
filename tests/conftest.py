"""Shared test fixtures. Keep each fixture small and documented; add new ones below the others."""
from __future__ import annotations

import http.server
import os
import threading
from typing import Callable

import pytest
from hypothesis import settings

# CI replays the same examples every run (a landing must not hinge on a lucky draw); developers
# get fresh ones each run, which is how property tests find new bugs.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


class RawServer:
    """A real HTTP server on 127.0.0.1 whose routes write whatever bytes they like.

    For what pytest-httpserver cannot serve: slow or trickling bodies, connection resets, a wrong
    Content-Length, truncated gzip. ``route(path, fn)`` registers ``fn(handler)``, which writes the
    whole answer (status line included) to ``handler.wfile``; ``requests`` lists the paths asked.
    """

    def __init__(self):
        routes, requests = {}, []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                requests.append(self.path)
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                try:
                    route(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up, which is what several tests want

            def log_message(self, *args):
                pass

        self.routes, self.requests = routes, requests
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def route(self, path: str, fn: Callable[[http.server.BaseHTTPRequestHandler], None]) -> str:
        self.routes[path] = fn
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def raw_server():
    server = RawServer()
    yield server
    server.close()


@pytest.fixture
def archive(tmp_path):
    """An empty archive in a temporary folder (test modules that need one filled define their own)."""
    from scraper.store import Archive

    with Archive.open(tmp_path / "archive.db") as opened:
        yield opened
