"""The cron archiver's memory between runs: the `queue` of discovered URLs and the `runs` table.

Functions take the open Archive and go through its door (``archive.query``, ``archive.transaction()``:
its lock and its mapping of sqlite3 errors to StoreError); a moment not given is the archive's clock.
Every write is its own short transaction, done before the work it describes goes further: URLs
are queued before any is fetched, so a run killed at any moment leaves them for the next run, and
an article saved but not yet marked done is simply found archived next time (the store is the
truth; the queue only remembers what is still to do and why it failed).
"""
from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Iterable, Iterator, Mapping

from .. import exit_codes
from ..clock import iso_utc
from ..dates import parse_timestamp
from ..models import Found
from ..errors import Terminated, WriteConflict
from .archive import Archive

PENDING, DONE, GAVE_UP = "pending", "done", "gave_up"
MAX_TRIES = 5                           # attempts (over several runs) before a URL is given up
RETRY_BASE = timedelta(minutes=10)      # wait after the first failure; doubles after each one
RETRY_CAP = timedelta(hours=24)

ENQUEUE_TRIES = 5                       # a batch stopped by a deadlock (PostgreSQL) is queued again

# A run's counts, as its `runs` row keeps them. skipped: URLs robots.txt kept the run from fetching
# (still queued); deferred: URLs left queued for the next run when it ended (left_queued),
# whatever left them: its time limit, --max, a host not due before its end, robots.txt, an
# extraction given up.
COUNTS = ("discovered", "saved", "updated", "unchanged", "failed", "gave_up", "skipped", "deferred")


@dataclass(frozen=True)
class QueuedURL:
    url: str
    site: str
    tries: int = 0
    listing: Found | None = None            # the feed's or sitemap's title and date, when it gave one
    etag: str | None = None                 # set for rechecks of archived articles
    last_modified: str | None = None
    recheck: bool = False


def _listed(row: Mapping) -> Found | None:
    """What the listing said of a queued URL, from its queue row (None when it gave no title or date)."""
    if not (row["feed_title"] or row["feed_published"]):
        return None
    return Found(row["url"], row["source"] or "listing", row["source_url"] or "", row["feed_title"],
                 row["feed_published"])


def retry_delay(tries: int) -> timedelta:
    """How long to wait after the ``tries``-th failure: 10 min, 20, 40... at most a day."""
    return min(RETRY_CAP, RETRY_BASE * 2 ** max(0, tries - 1))


# -- runs ---------------------------------------------------------------------------------------

def start_run(archive: Archive, sites: Iterable[str], pid: int, at: datetime | None = None) -> int:
    with archive.transaction() as tx:
        return tx.insert("INSERT INTO runs (started_at, sites, pid) VALUES (?, ?, ?)",
                         [iso_utc(at or archive.now()), json.dumps(list(sites)), pid])


@contextlib.contextmanager
def closed_on_stop(archive: Archive, run_id: int, counts: Callable[[], Mapping[str, int]]) -> Iterator[None]:
    """Run ``run_id``'s row is closed if the block ends by an exception: 130 for Ctrl-C, 128 + the
    signal for a stop signal (errors.Terminated), 3 for an error, which is its last problem. An
    open row means a killed run."""
    try:
        yield
    except BaseException as exc:
        close_stopped(archive, run_id, counts, [], exc)
        raise


def close_stopped(archive: Archive, run_id: int, counts: Callable[[], Mapping[str, int]], problems: list[str],
                  exc: BaseException) -> None:
    """Close the row of a run that ``exc`` stopped, with what it did so far; never raises (the
    database itself may be what failed, and the exception that stopped the run is the one to say)."""
    if isinstance(exc, KeyboardInterrupt):
        code = exit_codes.of_interrupt(exc)
        said = [f"stopped by {exc.name}"] if isinstance(exc, Terminated) else []
    else:
        code, said = exit_codes.FAILED, [f"stopped: {exc}"]
    with contextlib.suppress(Exception):
        finish_run(archive, run_id, counts(), code, [*problems, *said])


def unfinished_run(archive: Archive, pid: int, started: datetime) -> int | None:
    """The id of the run row this process wrote at ``started`` and has not closed, if any."""
    rows = archive.query("SELECT id FROM runs WHERE pid = ? AND started_at = ? AND ended_at IS NULL "
                         "ORDER BY id DESC LIMIT 1", [pid, iso_utc(started)])
    return rows[0]["id"] if rows else None


def finish_run(archive: Archive, run_id: int, counts: Mapping[str, int], exit_code: int,
               problems: list[str], at: datetime | None = None) -> None:
    values = {name: int(counts.get(name, 0)) for name in COUNTS}
    with archive.transaction() as tx:
        tx.execute(
            "UPDATE runs SET ended_at = ?, exit_code = ?, problems = ?, "
            + ", ".join(f"{name} = ?" for name in COUNTS) + " WHERE id = ?",
            [iso_utc(at or archive.now()), exit_code, json.dumps(problems, ensure_ascii=False),
             *values.values(), run_id])


def last_runs(archive: Archive) -> dict[str, dict]:
    """{site name: its most recent run row}, for `scraper sites`."""
    latest: dict[str, dict] = {}
    for row in archive.query("SELECT * FROM runs ORDER BY id DESC LIMIT 500"):
        for site in json.loads(row["sites"] or "[]"):
            latest.setdefault(site, row)
    return latest


# -- queue --------------------------------------------------------------------------------------

def enqueue(archive: Archive, site: str, items: Iterable[Found], at: datetime | None = None) -> int:
    """Remember newly discovered URLs (known ones keep their state); return how many are new.

    A listing's title and date are kept from the first listing that gives them. Processes may
    queue overlapping URLs at once (PostgreSQL): the URL is the key, so each is queued once; two
    batches that wait on each other's rows are a deadlock the database breaks, and the batch it
    stopped is queued again.
    """
    stamp = iso_utc(at or archive.now())
    items = list(items)
    for attempt in range(ENQUEUE_TRIES):
        try:
            return _enqueue(archive, site, items, stamp)
        except WriteConflict:
            if attempt == ENQUEUE_TRIES - 1:
                raise
    raise AssertionError("unreachable")


def _enqueue(archive: Archive, site: str, items: list[Found], stamp: str) -> int:
    added = 0
    with archive.transaction() as tx:
        for item in items:
            inserted = tx.execute(
                "INSERT INTO queue (url, site, source, source_url, discovered_at, "
                "feed_title, feed_published) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (url) DO NOTHING",
                [item.url, site, item.source, item.source_url, stamp, item.title, item.published])
            if inserted:
                added += 1
            elif item.title or item.published:
                tx.execute("UPDATE queue SET feed_title = coalesce(feed_title, ?), "
                           "feed_published = coalesce(feed_published, ?) WHERE url = ?",
                           [item.title, item.published, item.url])
    return added


_UNCLAIMED = "(claimed_until IS NULL OR claimed_until <= ?)"   # nobody's lease runs on it


def due(archive: Archive, sites: Iterable[str], at: datetime | None = None,
        limit: int | None = None) -> list[QueuedURL]:
    """Pending URLs of these sites whose next try has come, oldest discovery first (none that a
    worker holds under a live claim)."""
    names = list(sites)
    if not names:
        return []
    marks = ", ".join("?" for _ in names)
    stamp = iso_utc(at or archive.now())
    sql = (f"SELECT url, site, tries, feed_title, feed_published, source, source_url FROM queue "
           f"WHERE state = ? AND site IN ({marks}) AND (next_try IS NULL OR next_try <= ?) AND {_UNCLAIMED} "
           f"ORDER BY discovered_at, url")
    params: list = [PENDING, *names, stamp, stamp]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [QueuedURL(row["url"], row["site"], row["tries"], _listed(row))
            for row in archive.query(sql, params)]


def due_after(archive: Archive, site: str, after: int, limit: int,
              at: datetime | None = None) -> list[tuple[int, QueuedURL]]:
    """(row id, URL) of up to ``limit`` pending URLs of ``site`` due now, queued after row ``after``.

    The cron run reads each site's queue in such windows, in the order URLs were queued, so a
    queue of millions is never in memory at once; URLs queued during the run come in later windows.
    A URL under another worker's live claim is left to it.
    """
    stamp = iso_utc(at or archive.now())
    rows = archive.query(
        "SELECT rowid AS id, url, site, tries, feed_title, feed_published, source, source_url FROM queue "
        f"WHERE state = ? AND site = ? AND rowid > ? AND (next_try IS NULL OR next_try <= ?) AND {_UNCLAIMED} "
        "ORDER BY rowid LIMIT ?", [PENDING, site, after, stamp, stamp, limit])
    return [(row["id"], QueuedURL(row["url"], row["site"], row["tries"], _listed(row))) for row in rows]


def claim(archive: Archive, sites: Iterable[str], limit: int, *, worker: str,
          lease: timedelta = timedelta(minutes=10), at: datetime | None = None,
          host: str | None = None) -> list[QueuedURL]:
    """Hand up to ``limit`` due URLs of these sites to ``worker`` for ``lease``, in queue order;
    with ``host``, only those on that host (``www.`` or not, any port: the key of a host's turns).

    No two workers get the same URL while its lease runs, however many claim at once: on
    PostgreSQL the rows are taken with SELECT ... FOR UPDATE SKIP LOCKED (a worker never waits for
    another's rows, it takes the next ones), on SQLite under the file's one write lock. The claim
    ends with mark_done, mark_failed or release; a worker that dies leaves its URLs to be claimed
    again when the lease ends.
    """
    names = list(sites)
    if not names or limit <= 0:
        return []
    moment = at or archive.now()
    stamp, until = iso_utc(moment), iso_utc(moment + lease)
    marks = ", ".join("?" for _ in names)
    on_host, host_params = "", []
    if host is not None:
        # Queued URLs are canonical (scheme and host in lower case, no user info), so a URL is on
        # the host exactly when it starts with one of these; LIKE's own signs are escaped.
        plain = host.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        host_params = [f"{scheme}://{www}{plain}{end}%" for scheme in ("http", "https")
                       for www in ("", "www.") for end in ("/", ":")]
        on_host = " AND (" + " OR ".join("url LIKE ? ESCAPE '\\'" for _ in host_params) + ")"
    with archive.transaction() as tx:
        rows = tx.query(
            "SELECT url, site, tries, feed_title, feed_published, source, source_url FROM queue "
            f"WHERE state = ? AND site IN ({marks}) AND (next_try IS NULL OR next_try <= ?) AND {_UNCLAIMED}"
            f"{on_host} ORDER BY rowid LIMIT ?{archive.skip_locked}",
            [PENDING, *names, stamp, stamp, *host_params, limit])
        tx.executemany("UPDATE queue SET claimed_by = ?, claimed_until = ? WHERE url = ?",
                       [(worker, until, row["url"]) for row in rows])
    return [QueuedURL(row["url"], row["site"], row["tries"], _listed(row)) for row in rows]


def due_hosts(archive: Archive, site: str, at: datetime | None = None, window: int = 1000) -> set[str]:
    """The hosts (as claim's ``host`` takes them) of ``site``'s URLs due now, read ``window`` rows
    at a time so a queue of millions is never in memory at once."""
    from ..urls import host_key   # local: keeps this module's imports about storage

    hosts: set[str] = set()
    after = 0
    while rows := due_after(archive, site, after, window, at=at):
        hosts.update(host_key(task.url) for _, task in rows)
        after = rows[-1][0]
    hosts.discard("")
    return hosts


def release(archive: Archive, worker: str) -> int:
    """Give back the URLs ``worker`` claimed and did not finish (a worker stopping cleanly); how many."""
    with archive.transaction() as tx:
        return tx.execute("UPDATE queue SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = ?",
                          [worker])


def left_queued(archive: Archive, sites: Iterable[str], at: datetime | None = None) -> int:
    """How many URLs of these sites the queue holds for the next run: pending and due now.

    Counted in the queue, not by the run: a run cut short by its time limit hands the fetchers
    only a window of each site's queue, and the rest was never in its hands. URLs waiting out a
    retry delay are not counted (not the next run's, unless the delay is over by then); URLs under
    a worker's claim are (the claim ends with the run's jobs, or with its lease)."""
    names = list(sites)
    if not names:
        return 0
    marks = ", ".join("?" for _ in names)
    return archive.scalar(
        f"SELECT count(*) FROM queue WHERE state = ? AND site IN ({marks}) AND (next_try IS NULL OR next_try <= ?)",
        [PENDING, *names, iso_utc(at or archive.now())]) or 0


def listing(archive: Archive, url: str) -> Found | None:
    """What the feed or sitemap that listed ``url`` said of it (title, date), if one did."""
    rows = archive.query("SELECT url, source, source_url, feed_title, feed_published FROM queue "
                         "WHERE url = ?", [url])
    return _listed(rows[0]) if rows else None


def mark_done(archive: Archive, url: str, site: str, at: datetime | None = None) -> None:
    """The URL is archived (or was checked again): never fetched as new again."""
    stamp = iso_utc(at or archive.now())
    with archive.transaction() as tx:
        tx.execute("INSERT INTO queue (url, site, discovered_at, state, checked_at) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT(url) DO UPDATE SET state = ?, checked_at = ?, next_try = NULL, "
                   "last_error = NULL, claimed_by = NULL, claimed_until = NULL",
                   [url, site, stamp, DONE, stamp, DONE, stamp])


def mark_failed(archive: Archive, url: str, error: str, *, retryable: bool,
                at: datetime | None = None, max_tries: int = MAX_TRIES, at_once: bool = False) -> str:
    """Count a failed try; return the new state (pending with a later next_try, or gave_up).

    ``at_once``: due again from now, for the next run (a page our own extraction gave up:
    errors.ExtractionAborted), instead of after ``retry_delay``; the try counts all the same."""
    moment = at or archive.now()
    with archive.transaction() as tx:
        # The row is locked as it is read: two workers failing one URL at once count two tries.
        tries = (tx.scalar(f"SELECT tries FROM queue WHERE url = ?{archive.for_update}", [url]) or 0) + 1
        state = PENDING if retryable and tries < max_tries else GAVE_UP
        tx.execute("UPDATE queue SET tries = ?, state = ?, last_error = ?, next_try = ?, claimed_by = NULL, "
                   "claimed_until = NULL WHERE url = ?", [tries, state, error, iso_utc(moment if at_once else moment + retry_delay(tries)), url])
    return state


def to_recheck(archive: Archive, domains: Mapping[str, Iterable[str]], *, recent: timedelta,
               after: timedelta, at: datetime | None = None) -> list[QueuedURL]:
    """Archived articles published within ``recent`` whose last look is older than ``after``.

    ``domains`` maps each site name to its hosts; an article belongs to the site of its URL's host.
    """
    moment = at or archive.now()
    # ISO strings with different offsets do not sort exactly; a day's margin in SQL, exact below.
    floor = (moment - recent - timedelta(days=1)).date().isoformat()
    rows = archive.query(
        "SELECT a.url, a.published, a.fetched_at, a.etag, a.last_modified, q.checked_at, "
        "q.source, q.source_url, q.feed_title, q.feed_published FROM articles a LEFT JOIN queue q ON q.url = a.url "
        "WHERE coalesce(a.published, q.feed_published) >= ?", [floor])
    from ..urls import host_key   # local: keeps this module's imports about storage

    found = []
    for row in rows:
        published = parse_timestamp(row["published"] or row["feed_published"])
        if published is None or published < moment - recent:
            continue
        looked = max(filter(None, (parse_timestamp(row["checked_at"]), parse_timestamp(row["fetched_at"]))),
                     default=None)
        if looked is not None and moment - looked < after:
            continue
        host = host_key(row["url"])
        site = next((name for name, hosts in domains.items()
                     if any(host == d or host.endswith("." + d) for d in hosts)), None)
        if site is not None:
            found.append(QueuedURL(row["url"], site, listing=_listed(row), etag=row["etag"],
                                   last_modified=row["last_modified"], recheck=True))
    return found


def pending_counts(archive: Archive) -> dict[str, dict[str, int]]:
    """{site: {state: n}} of the queue, for `scraper sites`."""
    counts: dict[str, dict[str, int]] = {}
    for row in archive.query("SELECT site, state, count(*) AS n FROM queue GROUP BY site, state"):
        counts.setdefault(row["site"], {})[row["state"]] = row["n"]
    return counts


def site_summary(archive: Archive, domains: Mapping[str, Iterable[str]]) -> dict[str, dict]:
    """{site: articles archived, queue counts by state, its last run}, for `scraper sites`."""
    queue = pending_counts(archive)
    runs = last_runs(archive)
    summary = {}
    for site, hosts in domains.items():
        clauses, params = [], []
        for host in hosts:
            # scheme://host/, scheme://host:port/ and any subdomain (www. included)
            clauses.append("url LIKE ? OR url LIKE ? OR url LIKE ? OR url LIKE ?")
            params += [f"%://{host}/%", f"%://{host}:%", f"%.{host}/%", f"%.{host}:%"]
        articles = archive.scalar(
            f"SELECT count(*) FROM articles WHERE {' OR '.join(clauses)}", params) if clauses else 0
        summary[site] = {"articles": articles, "queue": queue.get(site, {}), "last_run": runs.get(site)}
    return summary
