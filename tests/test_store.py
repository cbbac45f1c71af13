"""The archive store: one row per article, revisions, raw pages, migrations, and every failure of the disk.

Faults are real, never mocked: a trigger that raises mid-save, a file-size limit (RLIMIT_FSIZE)
and a tiny tmpfs for a full disk, a second connection holding the write lock, a process that
drops root for a read-only directory (chmod does not stop root), kill -9 during writes.
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import zlib
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scraper.store import migrations
from scraper.errors import DatabaseBusy, DiskFull, NotADatabase, NotArchived, StoreError
from scraper.models import Article, Page
from scraper.store.archive import Archive, SaveResult, article_identity

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
URL = "https://www.example.ae/news/uae/2026/01/02/1234/story"


def make_article(url=URL, *, text="الفقرة الأولى.\n\nالفقرة الثانية.", content_hash="hash-1", **kw):
    fields = dict(final_url=url, site="example.ae", title="عنوان الخبر", published="2026-01-02T07:04:05+04:00",
                  author="كاتب", section="محليات", tags=["الإمارات", "اقتصاد"], summary="ملخص",
                  language="ar", word_count=4, extractor="generic")
    fields.update(kw)
    return Article(url=url, text=text, content_hash=content_hash, **fields)


def make_page(url=URL, body="<html><p>مرحبا</p></html>".encode(), *, fetched_at=T0, final_url=None,
              content_type="text/html; charset=utf-8", etag='"v1"', last_modified="Fri, 02 Jan 2026 03:00:00 GMT"):
    headers = {"Content-Type": content_type}
    if etag:
        headers["ETag"] = etag
    if last_modified:
        headers["Last-Modified"] = last_modified
    return Page(url=url, final_url=final_url or url, status=200, headers=headers, body=body,
                html=body.decode("utf-8", "replace"), encoding="utf-8", fetched_at=fetched_at)


def released(archive) -> bool:
    """Whether the archive left no write transaction open: another connection takes the write lock
    at once (SQLite), no connection of the database is idle in a transaction (PostgreSQL)."""
    if archive.engine == "postgresql":
        return archive.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                              "AND state LIKE 'idle in transaction%'") == 0
    with closing(sqlite3.connect(archive.path, timeout=0, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    return True


def tables(archive) -> set[str]:
    return archive.tables()


def count(archive, table):
    return archive.scalar(f"SELECT count(*) FROM {table}")


def run_python(code: str, timeout: float = 20) -> subprocess.CompletedProcess:
    """Run a script in a fresh interpreter that imports this checkout (faults stay in that process)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd="/", timeout=timeout)


# -- opening and migrations ---------------------------------------------------------------------

def test_open_creates_wal_archive_with_every_migration_recorded(tmp_path):
    path = tmp_path / "new.db"
    with Archive.open(path, busy_timeout=7) as archive:
        assert archive.scalar("PRAGMA journal_mode") == "wal"
        assert archive.scalar("PRAGMA foreign_keys") == 1
        assert archive.scalar("PRAGMA busy_timeout") == 7000
        assert archive.scalar("PRAGMA synchronous") == 1   # NORMAL
        names = [row["name"] for row in archive.query("SELECT name FROM _migrations ORDER BY id")]
        assert names == [name for name, _ in migrations.MIGRATIONS] and names[0] == "001_initial"
        assert {"articles", "url_aliases", "pages", "fetch_log", "revisions"} <= tables(archive)
        assert list(archive.migrations()) == names
    assert path.read_bytes().startswith(b"SQLite format 3\x00")


def test_reopen_is_a_no_op(tmp_path):
    path = tmp_path / "a.db"
    Archive.open(path).close()
    with Archive.open(path) as archive:
        before = list(archive.query("SELECT * FROM _migrations"))
        schema = list(archive.query("SELECT sql FROM sqlite_master ORDER BY name"))
    with closing(sqlite3.connect(path)) as conn:
        assert migrations.migrate(conn) == []
    with Archive.open(path) as archive:
        assert list(archive.query("SELECT * FROM _migrations")) == before
        assert list(archive.query("SELECT sql FROM sqlite_master ORDER BY name")) == schema


def test_appended_migration_runs_once_and_a_failing_one_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "a.db"
    Archive.open(path).close()
    monkeypatch.setattr(migrations, "MIGRATIONS", list(migrations.MIGRATIONS))
    calls = []

    @migrations.migration("900_test_notes")
    def _notes(db):
        calls.append(1)
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)")

    with pytest.raises(ValueError):
        migrations.migration("900_test_notes")(_notes)   # one name, one migration
    for _ in range(2):
        with Archive.open(path) as archive:
            assert "notes" in tables(archive)
    assert calls == [1]

    @migrations.migration("901_test_broken")
    def _broken(db):
        db.execute("CREATE TABLE half_done (id INTEGER)")
        raise RuntimeError("migration bug")

    with pytest.raises(RuntimeError):
        Archive.open(path)
    with closing(sqlite3.connect(path)) as conn:
        assert not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'half_done'").fetchone()
        assert not conn.execute("SELECT 1 FROM _migrations WHERE name = '901_test_broken'").fetchone()


def test_two_processes_creating_one_archive_apply_migrations_once(tmp_path):
    path = tmp_path / "race.db"
    code = f"from scraper.store.archive import Archive\nArchive.open({str(path)!r}).close()\n"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE) for _ in range(3)]
    errors = [p.communicate(timeout=30)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    with closing(sqlite3.connect(path)) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY id")]
    assert names == [name for name, _ in migrations.MIGRATIONS]


# -- saving -------------------------------------------------------------------------------------

def test_save_stores_record_aliases_and_compressed_raw_page(archive):
    body = "<html><head><title>عنوان</title></head><body><p>نص الخبر</p></body></html>".encode()
    result = archive.save(make_article(), make_page(body=body))
    assert result == SaveResult("saved", 1)
    row = archive.query("SELECT * FROM articles WHERE id = 1")[0]
    assert row["url"] == "https://www.example.ae/news/uae/2026/01/02/1234/story"
    assert row["tags"] == '["الإمارات", "اقتصاد"]'           # JSON text, readable Arabic
    assert (row["http_status"], row["etag"], row["fetched_at"]) == (200, '"v1"', "2026-01-02T03:04:05+00:00")
    assert row["last_modified"] == "Fri, 02 Jan 2026 03:00:00 GMT"
    page = archive.query("SELECT * FROM pages WHERE id = ?", [row["page_id"]])[0]
    assert zlib.decompress(page["body"]) == body and page["size"] == len(body)
    record = archive.get(URL)
    assert record["tags"] == ["الإمارات", "اقتصاد"] and record["text"] == make_article().text
    assert archive.validators(URL) == ('"v1"', "Fri, 02 Jan 2026 03:00:00 GMT")


def test_resaving_the_same_content_is_unchanged_and_only_refreshes_fetch_fields(archive):
    archive.save(make_article(), make_page())
    later = T0 + timedelta(hours=6)
    result = archive.save(make_article(), make_page(fetched_at=later, etag='"v2"', body=b"<html>ads moved</html>"))
    assert result == SaveResult("unchanged", 1)
    assert [count(archive, t) for t in ("articles", "revisions", "pages")] == [1, 0, 1]
    record = archive.get(URL)
    assert record["fetched_at"] == later.isoformat() and record["etag"] == '"v2"'
    assert record["first_seen"] <= record["updated_at"]


def test_changed_content_updates_the_row_and_keeps_the_previous_version(archive):
    first = make_article()
    archive.save(first, make_page(body=b"<p>v1</p>"))
    second = make_article(text="نص مصحح.", title="عنوان معدل", content_hash="hash-2", tags=["تعديل"])
    t1 = T0 + timedelta(hours=3)
    assert archive.save(second, make_page(body=b"<p>v2</p>", fetched_at=t1)).outcome == "updated"
    assert count(archive, "articles") == 1 and count(archive, "pages") == 2
    history = archive.history(URL)
    assert [v["title"] for v in history] == ["عنوان الخبر", "عنوان معدل"]
    assert history[0]["tags"] == ["الإمارات", "اقتصاد"] and history[1]["tags"] == ["تعديل"]
    assert history[0]["fetched_at"] == T0.isoformat() and history[0]["replaced_at"] == t1.isoformat()
    assert history[1]["replaced_at"] is None and history[1]["fetched_at"] == t1.isoformat()
    assert archive.raw_page(1).body == b"<p>v2</p>"
    # Back to the first text: a third version, and the first raw page is reused, not stored twice.
    archive.save(first, make_page(body=b"<p>v1</p>", fetched_at=t1 + timedelta(hours=1)))
    assert [v["content_hash"] for v in archive.history(URL)] == ["hash-1", "hash-2", "hash-1"]
    assert count(archive, "pages") == 2 and archive.raw_page(1).body == b"<p>v1</p>"


def test_one_article_one_row_however_it_was_linked(archive):
    canonical = "https://example.ae/news/uae/2026/01/02/1234/story"
    requested = "http://WWW.example.ae/news/uae/2026/01/02/1234/story?utm_source=twitter&fbclid=abc#top"
    first = make_article(requested, final_url=URL, canonical_url=canonical)
    assert archive.save(first, make_page(requested, final_url=URL)).outcome == "saved"
    assert archive.key_url(1) == canonical                                 # the key is the canonical
    for link in (canonical, URL, requested, "https://example.ae/news/uae/2026/01/02/1234/story?utm_medium=rss",
                 "http://example.ae/news/uae/2026/01/02/1234/story"):
        assert archive.find(link) == 1 and archive.has(link), link
        # reached again by another link, without a canonical in the page: the same row
        assert archive.save(make_article(link), make_page(link)).outcome == "unchanged", link
    assert count(archive, "articles") == 1
    assert archive.find("https://example.ae/news/uae/2026/01/02/9999/other") is None


def test_untrusted_canonicals_do_not_merge_articles(archive):
    # Every page pointing its canonical at the home page, or at another site, stays its own row.
    for n in (1, 2):
        url = f"https://example.ae/news/{n}"
        archive.save(make_article(url, canonical_url="https://example.ae/", content_hash=f"h{n}"), make_page(url))
    syndicated = make_article("https://example.ae/news/3", canonical_url="https://agency.com/story/3",
                              content_hash="h3")
    key, aliases = article_identity(syndicated)
    assert key == "https://example.ae/news/3" and "https://agency.com/story/3" not in aliases
    archive.save(syndicated)
    assert count(archive, "articles") == 3 and archive.find("https://agency.com/story/3") is None


def no_pages(archive, on=True):
    """A trigger that makes every insert into `pages` fail (a fault in the middle of a save)."""
    with archive.transaction() as tx:
        if archive.engine == "postgresql":
            tx.execute("CREATE OR REPLACE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS "
                       "$$ BEGIN RAISE EXCEPTION 'boom'; END $$")
            tx.execute("CREATE TRIGGER no_pages BEFORE INSERT ON pages FOR EACH ROW EXECUTE FUNCTION boom()"
                       if on else "DROP TRIGGER no_pages ON pages")
        else:
            tx.execute("CREATE TRIGGER no_pages BEFORE INSERT ON pages BEGIN SELECT RAISE(ABORT, 'boom'); END"
                       if on else "DROP TRIGGER no_pages")


def test_a_failure_mid_save_writes_nothing(archive):
    no_pages(archive)
    with pytest.raises(StoreError, match="boom"):
        archive.save(make_article(), make_page())
    assert [count(archive, t) for t in ("articles", "url_aliases", "pages")] == [0, 0, 0]
    no_pages(archive, on=False)
    archive.save(make_article(), make_page(body=b"<p>v1</p>"))
    before = archive.get(URL)
    # The update path: revision and row written, then the raw page fails -> all of it undone.
    no_pages(archive)
    with pytest.raises(StoreError):
        archive.save(make_article(text="جديد", content_hash="hash-2", url="https://example.ae/other-link"),
                     make_page(body=b"<p>v2</p>"))
    assert archive.get(URL) == before and count(archive, "revisions") == 0
    assert archive.find("https://example.ae/other-link") is None
    assert released(archive)


def test_fetch_log_and_lookups_of_unknown_urls(archive):
    archive.log_fetch(URL, outcome="failed", status=503, error="HTTP 503", bytes=12, elapsed=0.5, run_id=7,
                      at=T0)
    archive.log_fetch(URL, outcome="saved", status=200)
    rows = list(archive.query("SELECT * FROM fetch_log ORDER BY id"))
    assert [r["outcome"] for r in rows] == ["failed", "saved"]
    assert (rows[0]["at"], rows[0]["run_id"], rows[0]["elapsed"], rows[0]["error"]) == (T0.isoformat(), 7, 0.5, "HTTP 503")
    with pytest.raises(ValueError):
        archive.log_fetch(URL, outcome="fine")
    assert archive.find(URL) is None and not archive.has(URL)
    for lookup in (archive.get, archive.validators, archive.history):
        with pytest.raises(NotArchived):
            lookup(URL)
    with pytest.raises(NotArchived):
        archive.raw_page(42)


def test_raw_pages_decode_again_and_stream_for_reextraction(archive):
    body = "<html><p>أخبار الإمارات</p></html>".encode("windows-1256")
    archive.save(make_article(), make_page(body=body, content_type="text/html; charset=windows-1256"))
    page = archive.raw_page(1)
    assert "أخبار الإمارات" in page.html and page.encoding in ("windows-1256", "cp1256")
    assert page.etag == '"v1"' and page.fetched_at == T0 and page.body == body
    for n in range(2, 41):   # more than one batch, two sites
        url = f"https://{'other.com' if n % 4 == 0 else 'example.ae'}/news/{n}"
        archive.save(make_article(url, site="other.com" if n % 4 == 0 else "example.ae", content_hash=f"h{n}"),
                     make_page(url, body=f"<p>{n}</p>".encode()))
    archive.save(make_article("https://example.ae/no-page", content_hash="x"))   # no raw page: not listed
    pages = archive.iter_raw_pages()
    assert iter(pages) is pages                      # a generator, not a list
    seen = []
    for article_id, page in pages:
        seen.append(article_id)
        if article_id == 5:   # saving while iterating (re-extraction) is allowed
            archive.save(make_article(page.url, content_hash="re-extracted"), page)
    assert seen == list(range(1, 41))
    assert [a for a, _ in archive.iter_raw_pages(site="other.com")] == list(range(4, 41, 4))


def test_transaction_for_other_modules_commits_or_rolls_back_whole(archive):
    with archive.transaction() as tx:
        tx.execute("CREATE TABLE notes (note TEXT)")
        tx.execute("INSERT INTO notes (note) VALUES ('kept')")
    with pytest.raises(KeyError):
        with archive.transaction() as tx:
            tx.execute("INSERT INTO notes (note) VALUES ('dropped')")
            raise KeyError("bug in the caller")
    with pytest.raises(StoreError):
        with archive.transaction() as tx:
            tx.execute("INSERT INTO notes (note) VALUES ('dropped too')")
            tx.execute("INSERT INTO missing VALUES (1)")
    assert [r["note"] for r in archive.query("SELECT note FROM notes")] == ["kept"]
    assert released(archive)


def test_one_archive_shared_by_threads(archive):
    def work(k):
        for n in range(20):
            url = f"https://example.ae/t{k}/{n}"
            archive.save(make_article(url, content_hash=url), make_page(url))
            archive.log_fetch(url, outcome="saved")
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert count(archive, "articles") == 80 and count(archive, "fetch_log") == 80


# -- the database and the disk --------------------------------------------------------------------

def test_a_file_that_is_not_a_database_is_refused_and_left_untouched(tmp_path):
    for name, data in (("notes.db", b"Important notes, not SQLite\n" * 100), ("tiny.db", b"x")):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(NotADatabase, match="not an SQLite database"):
            Archive.open(path)
        assert path.read_bytes() == data
        assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(name)) == [name]


def test_a_corrupt_database_body_is_a_store_error_not_a_crash(tmp_path):
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(StoreError):
        Archive.open(path)


def test_missing_directory_and_a_directory_sqlite_cannot_write(tmp_path):
    missing = tmp_path / "no" / "such" / "dir" / "archive.db"
    with pytest.raises(StoreError, match="does not exist"):
        Archive.open(missing)
    assert not (tmp_path / "no").exists()
    with pytest.raises(StoreError, match="is a directory"):
        Archive.open(tmp_path)
    if Path("/proc/self").is_dir():   # procfs refuses new files even to root
        with pytest.raises(StoreError, match="cannot"):
            Archive.open("/proc/archive.db")


@pytest.fixture
def readonly_dir():
    """A world-readable directory holding an archive, made read-only (0555)."""
    top = Path(tempfile.mkdtemp(prefix="store-ro-"))   # not under pytest's 0700 tmp root
    top.chmod(0o755)
    target = top / "ro"
    target.mkdir()
    with Archive.open(target / "existing.db") as archive:
        archive.save(make_article(), make_page())
    (target / "existing.db").chmod(0o644)
    target.chmod(0o555)
    yield target
    target.chmod(0o755)
    shutil.rmtree(top)


def test_read_only_directory(readonly_dir):
    # Root ignores permission bits, so the attempt runs in a child that drops to `nobody` (after
    # its imports: the interpreter itself lives under root's home).
    existing = readonly_dir / "existing.db"
    before = existing.read_bytes()
    code = f"""
        import os
        from scraper.errors import StoreError
        from scraper.store import Archive
        if os.geteuid() == 0:
            os.setgid(65534)
            os.setuid(65534)
        for name in ("new.db", "existing.db"):
            try:
                Archive.open({str(readonly_dir)!r} + "/" + name).close()
                print(name, "OPENED")
            except StoreError as exc:
                print(name, type(exc).__name__, exc)
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("new.db StoreError") and "read-only" in lines[0]
    assert lines[1].startswith("existing.db StoreError"), lines[1]
    assert len(lines[1]) < 300 and existing.read_bytes() == before
    assert not (readonly_dir / "new.db").exists()


@pytest.fixture
def tmpfs(tmp_path):
    """A mounted tmpfs factory (needs CAP_SYS_ADMIN; skipped where mounting is not allowed)."""
    mounted = []

    def mount(size: str, options: str = "") -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        opts = f"size={size}" + (f",{options}" if options else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=False)


def test_read_only_filesystem_refuses_even_root(tmpfs):
    point = tmpfs("1m", "ro")
    with pytest.raises(StoreError, match="read-only"):
        Archive.open(point / "archive.db")


def test_full_disk_on_a_small_filesystem_loses_nothing(tmpfs):
    point = tmpfs("1m")
    path = point / "archive.db"
    with Archive.open(path) as archive:
        for n in range(3):
            url = f"https://example.ae/news/{n}"
            archive.save(make_article(url, content_hash=f"h{n}"), make_page(url))
    with Archive.open(path) as archive:
        with pytest.raises(DiskFull, match="disk is full"):
            for n in range(3, 10):   # incompressible raw pages fill 1 MB fast
                url = f"https://example.ae/news/{n}"
                archive.save(make_article(url, content_hash=f"h{n}"), make_page(url, body=os.urandom(300_000)))
        saved = count(archive, "articles")
        assert 3 <= saved < 10 and released(archive)
    with Archive.open(path) as archive:   # the disk is still full: it opens and reads
        assert archive.scalar("PRAGMA integrity_check") == "ok"
        assert count(archive, "articles") == saved
        assert archive.get("https://example.ae/news/0")["text"] == make_article().text


def test_file_size_limit_gives_disk_full_and_loses_nothing(tmp_path):
    path = tmp_path / "archive.db"
    with Archive.open(path) as archive:
        archive.save(make_article(), make_page())
    code = f"""
        import os, resource, signal
        from datetime import datetime, timezone
        from scraper.errors import DiskFull
        from scraper.models import Article, Page
        from scraper.store import Archive
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # else the kernel kills us at the limit
        path = {str(path)!r}
        with Archive.open(path) as archive:
            size = max(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
            resource.setrlimit(resource.RLIMIT_FSIZE, (size + 200_000, resource.RLIM_INFINITY))
            url = "https://example.ae/news/big"
            page = Page(url=url, final_url=url, status=200, headers={{}}, body=os.urandom(2_000_000), html="",
                        encoding="utf-8", fetched_at=datetime.now(timezone.utc))
            try:
                archive.save(Article(url=url, text="big", content_hash="big"), page)
                print("SAVED")
            except DiskFull as exc:
                print("DiskFull", exc)
            archive.log_fetch(url, outcome="failed", error="too big")   # the archive is usable again
            print("logged")
    """
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("DiskFull") and "file-size limit" in result.stdout
    assert "logged" in result.stdout
    with Archive.open(path) as archive:
        assert archive.scalar("PRAGMA integrity_check") == "ok"
        assert count(archive, "articles") == 1 and archive.get(URL)["title"] == "عنوان الخبر"
        assert not archive.has("https://example.ae/news/big")
        archive.save(make_article("https://example.ae/news/after"), make_page("https://example.ae/news/after"))


def test_write_lock_held_elsewhere_waits_then_database_busy(tmp_path):
    path = tmp_path / "archive.db"
    Archive.open(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        start = time.monotonic()
        with Archive.open(path, busy_timeout=0.3) as archive:   # opening an up-to-date archive only reads
            assert time.monotonic() - start < 0.3
            for write in (lambda: archive.save(make_article(), make_page()),
                          lambda: archive.log_fetch(URL, outcome="saved")):
                start = time.monotonic()
                with pytest.raises(DatabaseBusy, match="locked for more than 0.3 s"):
                    write()
                assert 0.25 < time.monotonic() - start < 5
            assert archive.find(URL) is None   # reads still work while the writer holds the lock
            holder.execute("COMMIT")
            assert archive.save(make_article(), make_page()).outcome == "saved"
    finally:
        holder.close()


def test_kill_9_during_saves_leaves_only_whole_articles(tmp_path):
    path = tmp_path / "archive.db"
    Archive.open(path).close()
    code = f"""
        import os
        from datetime import datetime, timezone
        from scraper.models import Article, Page
        from scraper.store import Archive
        with Archive.open({str(path)!r}) as archive:
            print("ready", flush=True)
            for n in range(100000):
                url = f"https://example.ae/news/{{n}}"
                page = Page(url=url, final_url=url, status=200, headers={{}}, body=os.urandom(20000), html="",
                            encoding="utf-8", fetched_at=datetime.now(timezone.utc))
                archive.save(Article(url=url, text="t" * 5000, content_hash=str(n)), page)
    """
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env=env, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"
    deadline = time.monotonic() + 15
    with closing(sqlite3.connect(path)) as watcher:   # kill it mid-stream, once it has saved some
        while watcher.execute("SELECT count(*) FROM articles").fetchone()[0] < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep(0.13)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Archive.open(path) as archive:
        assert archive.scalar("PRAGMA integrity_check") == "ok"
        n = count(archive, "articles")
        assert n >= 20
        # every article has its text, its alias and its raw page: none is half-written
        assert archive.scalar(
            "SELECT count(*) FROM articles a WHERE length(a.text) = 5000 AND a.page_id IN (SELECT id FROM pages)"
            " AND EXISTS (SELECT 1 FROM url_aliases u WHERE u.article_id = a.id)") == n
        assert count(archive, "pages") == n
        assert archive.save(make_article(f"https://example.ae/news/{n}", content_hash="x")).outcome == "saved"
