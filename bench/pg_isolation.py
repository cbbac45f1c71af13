"""What one PostgreSQL test's fresh archive costs, four ways, side by side (tests/conftest.py's choice).

    python bench/pg_isolation.py [--pg postgresql://postgres@127.0.0.1:5432/postgres] [--rounds 8]

Each way gives a test an empty, migrated archive, saves one article in it and takes it away again:

* database: CREATE DATABASE, open (the migrations), DROP DATABASE (what the tests did before);
* template: CREATE DATABASE ... TEMPLATE of a database migrated once, open, DROP DATABASE;
* schema:   CREATE SCHEMA in one database of the session, open through the URL's search_path,
            DROP SCHEMA ... CASCADE (what the tests do);
* truncate: one migrated database, open, TRUNCATE every table ... RESTART IDENTITY.

The ways take turns in each round, so a load that comes and goes falls on all of them; medians and
the ratio to the schema way are printed (the machine is shared: compare ratios, not milliseconds).
Truncate is about as cheap as a schema but leaves whatever else a test changed (a dropped index,
a sequence, a table made by hand), so the tests pay the few milliseconds more for a clean schema.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from scraper.store import Archive  # noqa: E402
from tests.synthetic import article  # noqa: E402


def url_of(admin: str, name: str, search_path: str | None = None) -> str:
    parts = urlsplit(admin)
    query = urlencode({"options": f"-csearch_path={search_path}"}, quote_via=quote) if search_path else ""
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, query, ""))


def use(url: str) -> None:
    with Archive.open(url) as archive:
        archive.save(article(1, "خبر", "نص قصير"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres", help="an admin URL")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    admin = psycopg.connect(args.pg, autocommit=True)
    tag = uuid.uuid4().hex[:6]
    session, template, truncated = f"bench_iso_s_{tag}", f"bench_iso_t_{tag}", f"bench_iso_r_{tag}"
    for name in (session, template, truncated):
        admin.execute(f'CREATE DATABASE "{name}"')
    Archive.open(url_of(args.pg, template)).close()
    Archive.open(url_of(args.pg, truncated)).close()
    in_session = psycopg.connect(url_of(args.pg, session), autocommit=True)
    in_truncated = psycopg.connect(url_of(args.pg, truncated), autocommit=True)
    tables = [row[0] for row in in_truncated.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_migrations'")]

    def database() -> None:
        name = f"bench_iso_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{name}"')
        use(url_of(args.pg, name))
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    def from_template() -> None:
        name = f"bench_iso_{uuid.uuid4().hex[:8]}"
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        use(url_of(args.pg, name))
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    def schema() -> None:
        name = f"t_{uuid.uuid4().hex[:8]}"
        in_session.execute(f'CREATE SCHEMA "{name}"')
        use(url_of(args.pg, session, name))
        in_session.execute(f'DROP SCHEMA "{name}" CASCADE')

    def truncate() -> None:
        use(url_of(args.pg, truncated))
        in_truncated.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")

    ways = {"database": database, "template": from_template, "schema": schema, "truncate": truncate}
    times: dict[str, list[float]] = {name: [] for name in ways}
    try:
        for _ in range(args.rounds):
            for name, way in ways.items():
                start = time.perf_counter()
                way()
                times[name].append(time.perf_counter() - start)
    finally:
        in_session.close()
        in_truncated.close()
        for name in (session, template, truncated):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    base = statistics.median(times["schema"])
    print(f"{'way':10} {'median ms':>10} {'max ms':>8} {'x schema':>9}   ({args.rounds} rounds)")
    for name, xs in times.items():
        print(f"{name:10} {statistics.median(xs) * 1000:10.0f} {max(xs) * 1000:8.0f} {statistics.median(xs) / base:9.2f}")


if __name__ == "__main__":
    main()
