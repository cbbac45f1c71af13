"""The `scraper` command line: a thin client of the `scraper` package.

Each command opens what it needs, calls library functions, prints, and maps the library's
exceptions to one-line errors and exit codes (documented in README.md).
"""
from __future__ import annotations

import functools
import os
import sys

import click

from scraper import __version__
from scraper.errors import ConfigError, ScraperError, StoreError

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_FAILED = 3          # the run could not start, or most URLs failed
EXIT_LOCKED = 75         # EX_TEMPFAIL: another run holds the lock; cron will try again
EXIT_INTERRUPTED = 130   # Ctrl-C


def db_option(f):
    return click.option(
        "--db", "db_path", default="archive.db", show_default=True, envvar="SCRAPER_DB",
        type=click.Path(dir_okay=False), help="SQLite archive (also $SCRAPER_DB).",
    )(f)


def handle_errors(f):
    """Turn library exceptions into one line on stderr and a defined exit code, never a traceback."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except KeyboardInterrupt:
            click.echo("Interrupted: what was already saved is kept.", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except ScraperError as exc:
            click.echo(f"Error: {exc}", err=True)
            # An unusable database or sites file: nothing could start.
            sys.exit(EXIT_FAILED if isinstance(exc, (StoreError, ConfigError)) else EXIT_SOME_FAILED)
    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scraper")
def cli():
    """Fetch news article pages, extract clean records, archive them in SQLite."""


def _read_targets(targets, input_file):
    """URLs from the arguments, then from a file (or `-`) of one URL a line (# comments allowed)."""
    found = list(targets)
    if input_file is not None:
        for line in input_file:
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


@cli.command()
@click.argument("targets", nargs=-1)
@click.option("-i", "--input", "input_file", type=click.File("r", encoding="utf-8"),
              help="File of URLs, one a line ('-' for standard input).")
@click.option("--url", help="The address of a saved page given as a local file.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=20.0, show_default=True,
              help="Seconds to wait to connect and for each read.")
@click.option("--user-agent", help="User-Agent header (default names this tool and its version).")
@click.option("--refresh", is_flag=True, help="Fetch again even if already archived.")
@click.option("--warc", type=click.Path(dir_okay=False),
              help="Also write every exchange to this WARC file (.warc.gz: gzipped).")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file with [sites.NAME] tables (default: sites.toml beside the database).")
@db_option
@handle_errors
def fetch(targets, input_file, url, timeout, user_agent, refresh, warc, config, db_path):
    """Fetch article pages, extract the articles and archive them.

    One line per URL on stderr (saved, updated, unchanged, skipped, failed and why), then a
    summary. Exit 0 when every URL was archived, 1 when any failed (the others are saved).

    Example:

        scraper fetch https://www.alittihad.ae/news/.../...

        scraper fetch -i urls.txt --db gulf.db

        scraper fetch saved-page.html --url https://example.com/news/1

        scraper fetch --warc crawl.warc.gz https://www.alittihad.ae/news/.../...
    """
    from contextlib import nullcontext

    from scraper.fetch import DEFAULT_USER_AGENT, FetchOptions
    from scraper.pipeline import FAILED, archive_one
    from scraper.profiles import load_profiles
    from scraper.store import Archive
    from scraper.warc import WarcWriter

    found = _read_targets(targets, input_file)
    if not found:
        raise click.UsageError("give at least one URL or file, or -i FILE")
    if url and len(found) > 1:
        raise click.UsageError("--url names the address of one saved page: give exactly one file")
    options = FetchOptions(timeout=timeout, user_agent=user_agent or DEFAULT_USER_AGENT)
    sites_file = _sites_file(config, db_path)
    profiles = load_profiles(sites_file if sites_file.exists() else None)
    counts: dict[str, int] = {}
    with Archive.open(db_path) as archive, (WarcWriter(warc) if warc else nullcontext()) as writer:
        for target in found:
            outcome = archive_one(target, archive, options, url=url, refresh=refresh,
                                  profiles=profiles, on_page=writer.write_page if writer else None)
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
            detail = outcome.error if outcome.status == FAILED else (outcome.title or "")
            click.echo(f"{outcome.status:<12} {outcome.url}  {detail}".rstrip(), err=True)
    click.echo(", ".join(f"{n} {status}" for status, n in counts.items()), err=True)
    sys.exit(EXIT_SOME_FAILED if counts.get(FAILED) else EXIT_OK)


def _learned_template(db_path, address):
    """The template learned for the site of ``address`` in the archive at ``db_path`` (or None)."""
    if not db_path:
        return None
    from scraper.site_templates import site_of, template_for
    from scraper.store import Archive

    with Archive.open(db_path) as archive:
        return template_for(archive, site_of(address), learn=False)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--url", help="The page's address (for relative links, the site profile and the time zone).")
@click.option("--indent", is_flag=True, help="Pretty-print (one file only).")
@click.option("--explain", "show_why", is_flag=True,
              help="Instead of JSON, list each block kept or dropped and why, and each field's source.")
@click.option("--templates", "templates_db", type=click.Path(exists=True, dir_okay=False),
              help="Also strip the site's template learned in this archive.")
@handle_errors
def extract(files, url, indent, show_why, templates_db):
    """Print the record a saved page would give, as JSON; no network, no database.

    One JSON object a line for several files; '-' reads the page from standard input.
    --templates DB also strips the site's template learned in that archive (it is only read).
    With --explain, say instead which rule kept or dropped each block of the page (profile rule,
    generic path, learned template, boilerplate marker) and where each field came from.

    Example:

        scraper extract page.html --url https://www.alittihad.ae/news/x/1/y

        scraper extract --explain page.html --url https://www.alittihad.ae/news/x/1/y

        scraper extract --explain page.html --url https://example.com/a/1 --templates a.db
    """
    import json

    from scraper.extract import extract as extract_article
    from scraper.extract import extract_page
    from scraper.fetch import load_file

    failed = 0
    for name in files:
        try:
            if show_why:
                from scraper.explain import explain, render
                if name == "-":
                    html, address = sys.stdin.buffer.read(), url
                elif not os.path.isfile(name):
                    raise click.UsageError(f"{name}: no such file")
                else:
                    page = load_file(name, url=url)
                    html, address = page.html, page.final_url
                click.echo(render(explain(html, address, _learned_template(templates_db, address))))
                continue
            if name == "-":
                article = extract_article(sys.stdin.buffer.read(), url=url,
                                          template=_learned_template(templates_db, url))
            else:
                if not os.path.isfile(name):
                    raise click.UsageError(f"{name}: no such file")
                page = load_file(name, url=url)
                article = extract_page(page, template=_learned_template(templates_db, page.final_url))
        except ScraperError as exc:
            failed += 1
            click.echo(f"Error: {name}: {exc}", err=True)
            continue
        click.echo(json.dumps(article.to_dict(), ensure_ascii=False,
                              indent=2 if indent and len(files) == 1 else None))
    sys.exit(EXIT_SOME_FAILED if failed else EXIT_OK)


@cli.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="The whole record as JSON.")
@click.option("--history", is_flag=True, help="Every version of the article, oldest first, and when it changed.")
@db_option
@handle_errors
def show(url, as_json, history, db_path):
    """Print the stored record of an article (or, with --history, every version of it).

    Example:

        scraper show https://www.alittihad.ae/news/x/1/y --json

        scraper show https://www.alittihad.ae/news/x/1/y --history
    """
    import json

    with _open_existing(db_path) as archive:
        record = archive.get(url)
        versions = archive.history(url) if history else None
    if versions is not None:
        if as_json:
            click.echo(json.dumps(versions, ensure_ascii=False, indent=2))
            return
        for n, version in enumerate(versions, 1):
            until = version["replaced_at"] or "now (current version)"
            click.echo(f"version {n}: fetched {version['fetched_at']}, current until {until}")
            click.echo(f"  title: {version['title']}")
            click.echo(f"  published: {version['published']}  modified: {version['modified']}")
            click.echo(f"  text: {len(version['text'] or '')} characters, hash {version['content_hash'][:12]}")
        return
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    click.echo(record["title"] or "(no title)")
    for field in ("url", "published", "modified", "author", "section", "site", "extractor"):
        if record.get(field):
            click.echo(f"{field}: {record[field]}")
    if record.get("tags"):
        click.echo("tags: " + ", ".join(record["tags"]))
    if record.get("provenance"):
        click.echo("sources: " + "; ".join(f"{k} <- {v}" for k, v in record["provenance"].items()))
    click.echo("")
    click.echo(record["text"] or "")


# -- using the archive: search, export, reextract, stats, import-warc (scraper/search.py etc.) --

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _open_existing(db_path):
    """Commands that read the archive must not create an empty one from a mistyped --db."""
    from scraper.store import Archive

    if not os.path.exists(db_path):
        raise click.UsageError(f"{db_path}: no such archive (give --db PATH or set SCRAPER_DB)")
    return Archive.open(db_path)


def _text_out(output):
    """A UTF-8 text stream on FILE or standard output ('-'), whatever the locale says."""
    import io

    if output == "-":
        return io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    return open(output, "w", encoding="utf-8", newline="")


@cli.command()
@click.argument("query")
@click.option("--site", help="Only this site (its profile name, as in `scraper stats`).")
@click.option("--since", type=DAY, metavar="YYYY-MM-DD", help="Published on or after this day.")
@click.option("--until", type=DAY, metavar="YYYY-MM-DD", help="Published on or before this day.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--rank", is_flag=True, help="Best matches first (bm25; the title counts more), not newest first.")
@click.option("--quote", is_flag=True, help="Search every word as written, punctuation included (no FTS5 syntax).")
@click.option("--exact", is_flag=True, help="Only the forms typed, not the other forms of their Arabic stems.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@db_option
@handle_errors
def search(query, site, since, until, limit, rank, quote, exact, as_json, as_csv, db_path):
    """Full-text search of titles and texts, newest first, with a snippet around the match.

    Arabic spelling variants find each other: tashkeel and tatweel are ignored, أ إ آ ٱ are ا,
    ى is ي, ة is ه, Arabic-Indic digits are digits; Latin ignores case and accents. An Arabic
    word also finds its other forms (حكومة: والحكومة، للحكومة، حكومات), unless --exact. QUERY is
    FTS5 syntax: words (all must match), "a phrase", OR, NOT, prefix*, title:word.

    Example:

        scraper search الامارات --since 2024-01-01

        scraper search '"كأس العالم" OR مونديال' --site alittihad --rank --json

        scraper search الحكومة --exact
    """
    import csv
    import json
    from urllib.parse import unquote

    from scraper.search import BadQuery, pending_count
    from scraper.search import search as run_search

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    tty = sys.stdout.isatty() and not (as_json or as_csv)
    with _open_existing(db_path) as archive:
        backlog = pending_count(archive.db)
        if backlog > 1000:  # the first search after upgrading an existing archive
            click.echo(f"Indexing {backlog} articles for search (once)...", err=True)
        try:
            hits = run_search(archive, query, site=site, since=since and since.date(),
                              until=until and until.date(), limit=limit, rank=rank, quote=quote, exact=exact,
                              highlight=("\x1b[1m", "\x1b[0m") if tty else ("[", "]"))
        except BadQuery as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
    if as_csv:
        out = _text_out("-")
        writer = csv.writer(out)
        writer.writerow(["id", "published", "site", "title", "url", "snippet", "score"])
        for hit in hits:
            writer.writerow([hit.id, hit.published, hit.site, hit.title, hit.url, hit.snippet, hit.score])
        out.flush()
        out.detach()
    for hit in hits if not as_csv else ():
        if as_json:
            click.echo(json.dumps(hit.to_dict(), ensure_ascii=False))
            continue
        score = f"  ({hit.score:g})" if hit.score is not None else ""
        click.echo(f"{(hit.published or 'undated')[:10]}  {hit.site or ''}  {hit.title or '(no title)'}{score}")
        click.echo(f"  {unquote(hit.url)}")  # readable Arabic paths; --json/--csv keep the stored form
        click.echo(f"  {' '.join(hit.snippet.split())}\n")
    if not hits:
        click.echo("No matches.", err=True)


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--site", help="Only this site.")
@click.option("--since", type=DAY, metavar="YYYY-MM-DD", help="Published on or after this day.")
@click.option("--until", type=DAY, metavar="YYYY-MM-DD", help="Published on or before this day.")
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="File to write ('-': standard output).")
@click.option("--bom", is_flag=True, help="Start with a UTF-8 BOM (Excel then reads Arabic CSV right).")
@db_option
@handle_errors
def export(fmt, site, since, until, output, bom, db_path):
    """Write every archived record, all fields, as JSON Lines or CSV (UTF-8, ISO dates).

    Streams: memory stays flat whatever the archive size. A file is written under a temporary
    name and renamed when complete, so it is never left half-written.

    Example:

        scraper export -o archive.jsonl

        scraper export --format csv --site alittihad --since 2024-01-01 --bom -o 2024.csv
    """
    from scraper.export import ExportFilter
    from scraper.export import export as run_export

    selection = ExportFilter(site=site, since=since and since.date(), until=until and until.date())
    target = output if output == "-" else output + ".part"
    with _open_existing(db_path) as archive:
        out = _text_out(target)
        try:
            if bom:
                out.write("\ufeff")
            count = run_export(archive.db, out, fmt, selection)
            out.flush()
        except BaseException:
            if output != "-":
                out.close()
                os.remove(target)
            raise
        if output == "-":
            out.detach()  # leave standard output open for click
        else:
            out.close()
            os.replace(target, output)
    click.echo(f"{count} records exported", err=True)


@cli.command()
@click.option("--site", help="Only this site.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file with [sites.NAME] tables (default: sites.toml beside the database).")
@db_option
@handle_errors
def reextract(site, dry_run, as_json, config, db_path):
    """Rebuild records from the stored raw pages (after a rule or profile change), without fetching.

    Reports how many records changed and which fields. Exit 1 when some pages no longer give an
    article (their records are left as they were).

    Example:

        scraper reextract --site alittihad --dry-run
    """
    import json

    from scraper.profiles import load_profiles
    from scraper.reextract import reextract as run_reextract

    def progress(checked):
        if checked % 500 == 0 and sys.stderr.isatty():
            click.echo(f"\r{checked} records checked...", err=True, nl=False)

    sites_file = _sites_file(config, db_path)
    profiles = load_profiles(sites_file if sites_file.exists() else None)
    with _open_existing(db_path) as archive:
        report = run_reextract(archive, site=site, dry_run=dry_run, progress=progress,
                               profiles=profiles)
    if report.checked >= 500 and sys.stderr.isatty():
        click.echo("", err=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        verb = "would change" if dry_run else "changed"
        click.echo(f"{report.checked} records checked, {report.changed} {verb}, {report.failed} failed")
        for name, n in report.fields.most_common():
            click.echo(f"  {name}: {n}")
        for article_id, message in report.errors:
            click.echo(f"failed: article {article_id}: {message}", err=True)
    sys.exit(EXIT_SOME_FAILED if report.failed else EXIT_OK)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="As JSON: {sites: [...], totals: {...}}.")
@db_option
@handle_errors
def stats(as_json, db_path):
    """Per site: articles, date range, last fetch, last run, failures; then totals.

    Example:

        scraper stats --json | jq '.sites[] | {site, articles, failing}'
    """
    import json

    from scraper.stats import collect

    with _open_existing(db_path) as archive:
        data = collect(archive)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    for s in data["sites"]:
        span = f"{(s['first_published'] or '?')[:10]} .. {(s['last_published'] or '?')[:10]}"
        click.echo(f"{s['site']}: {s['articles']} articles ({span}, {s['undated']} undated), "
                   f"{s['revisions']} revisions; last fetched {s['last_fetched'] or 'never'}; "
                   f"last run {s['last_run'] or 'never'}"
                   + (f" (exit {s['last_run_exit_code']})" if s["last_run_exit_code"] else ""))
        if s["pending"] or s["failing"] or s["gave_up"] or s["failed_urls"]:
            click.echo(f"  queue: {s['pending']} to fetch, {s['failing']} failing, {s['gave_up']} given up; "
                       f"{s['failed_urls']} URLs whose last fetch failed"
                       + (f"; last error: {s['last_error']}" if s["last_error"] else ""))
    t = data["totals"]
    click.echo(f"total: {t['articles']} articles, {t['revisions']} revisions, {t['raw_pages']} raw pages "
               f"({t['raw_bytes'] / 1e6:.1f} MB, {t['raw_bytes_stored'] / 1e6:.1f} MB stored), "
               f"{t['fetch_attempts']} fetch attempts ({t['failed_attempts']} failed), {t['runs']} runs")


def _sites_file(config, db_path):
    """--config FILE, else sites.toml beside the database (absent: the built-in sites only)."""
    from pathlib import Path

    if config:
        if not os.path.exists(config):
            raise click.UsageError(f"{config}: no such sites file")
        return Path(config)
    return Path(os.path.abspath(db_path)).parent / "sites.toml"


class _ArchiveReporter:
    """How `scraper archive` shows a run: a bar on a terminal, failures on stderr, a log file."""

    def __init__(self, quiet, log_file):
        self.quiet, self.bar = quiet, None
        self.log = open(log_file, "a", encoding="utf-8") if log_file else None

    def _write_log(self, line):
        if self.log:
            from datetime import datetime, timezone
            self.log.write(f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} {line}\n")
            self.log.flush()

    def planned(self, total):
        self._write_log(f"fetching {total} URLs")
        if not self.quiet and total and sys.stderr.isatty():
            self.bar = click.progressbar(length=total, label="archiving", file=sys.stderr)
            self.bar.__enter__()

    def outcome(self, url, status, detail=None):
        self._write_log(f"{status} {url} {detail or ''}".rstrip())
        if self.bar:
            self.bar.update(1)
        if status in ("failed", "gave_up"):
            click.echo(f"{status}: {detail or url}", err=True)

    def problem(self, message):
        self._write_log(f"problem {message}")
        click.echo(f"problem: {message}", err=True)

    def close(self):
        if self.bar:
            self.bar.__exit__(None, None, None)
        if self.log:
            self.log.close()


@cli.command()
@click.option("--site", "sites", multiple=True, help="Only this site (repeatable; default: every site).")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file with [sites.NAME] tables (default: sites.toml beside the database).")
@click.option("--max", "max_new", type=click.IntRange(min=0), help="Fetch at most N new articles.")
@click.option("--recheck-after", default="6h", show_default=True,
              help="Check recent articles again once older than this (6h, 30m, 0 = now).")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Hosts fetched at the same time (one request at a time per host).")
@click.option("--quiet", "-q", is_flag=True, help="No output at all unless something failed.")
@click.option("--log-file", type=click.Path(dir_okay=False), help="Append every outcome to FILE.")
@click.option("--warc", type=click.Path(dir_okay=False),
              help="Also write every exchange to this WARC file (.warc.gz: gzipped).")
@click.option("--user-agent", help="User-Agent header (default names this tool and its version); "
                                   "add a contact address for the sites' operators.")
@db_option
@handle_errors
def archive(sites, config, max_new, recheck_after, workers, quiet, log_file, warc, user_agent, db_path):
    """Find the sites' new articles and archive them politely; for cron.

    Discovers article URLs (robots.txt, start pages, feeds, sitemaps), fetches those not yet
    archived, checks recent articles again for edits, and retries failed URLs on later runs.
    Exit 0 all well, 1 some URLs failed, 3 most failed or the run could not start,
    75 another run holds the lock (it touched nothing; cron will simply try again).

    Example:

        scraper archive --quiet --log-file archive.log

        */10 * * * * cd /srv/news && scraper archive --quiet --db archive.db

        scraper archive --site alittihad --max 50 --recheck-after 30m
    """
    from contextlib import nullcontext

    import dataclasses

    from scraper.archive import RUN_FETCH_OPTIONS, RunOptions, parse_duration, run_archive
    from scraper.errors import ArchiveLocked, ConfigError
    from scraper.warc import WarcWriter

    try:
        recheck = parse_duration(recheck_after)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--recheck-after") from None
    reporter = _ArchiveReporter(quiet, log_file)
    try:
        with (WarcWriter(warc) if warc else nullcontext()) as writer:
            fetch_options = RUN_FETCH_OPTIONS if not user_agent else \
                dataclasses.replace(RUN_FETCH_OPTIONS, user_agent=user_agent)
            options = RunOptions(sites=tuple(sites), config=_sites_file(config, db_path),
                                 max_new=max_new, recheck_after=recheck, workers=workers,
                                 fetch=fetch_options, on_page=writer.write_page if writer else None)
            report = run_archive(db_path, options, reporter)
    except ArchiveLocked as exc:
        if not quiet:
            click.echo(f"Locked: {exc}", err=True)
        sys.exit(EXIT_LOCKED)
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    finally:
        reporter.close()
    if not quiet or report.exit_code:
        counts = ", ".join(f"{n} {name}" for name, n in report.counts.items() if n)
        click.echo(f"run {report.run_id}: {counts or 'nothing new'}", err=True)
    sys.exit(report.exit_code)


@cli.command()
@click.argument("site")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file (default: sites.toml beside the database).")
@click.option("--all", "show_all", is_flag=True, help="Also list URLs already archived.")
@db_option
@handle_errors
def discover(site, config, show_all, db_path):
    """Print the article URLs a run would fetch for SITE, and where each was listed.

    Reads robots.txt, start pages, feeds and sitemaps; fetches no article and writes nothing.
    One line per URL: the URL, a tab, then each "source listing-URL" separated by tabs.

    Example:

        scraper discover alittihad | cut -f1 | head
    """
    from scraper.archive import RunOptions, discover as discover_urls, select_sites
    from scraper.errors import ConfigError

    try:
        (profile,) = select_sites(RunOptions(sites=(site,), config=_sites_file(config, db_path)))
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    result = discover_urls(profile)
    archive = None
    if not show_all and os.path.exists(db_path):
        from scraper.store import Archive
        archive = Archive.open(db_path)
    try:
        for url, item in result.found.items():
            if archive is not None and archive.find(url) is not None:
                continue
            click.echo("\t".join([url, f"{item.source} {item.source_url}", *item.also]))
    finally:
        if archive is not None:
            archive.close()
    for message in result.problems:
        click.echo(f"problem: {message}", err=True)
    if result.disallowed:
        click.echo(f"{result.disallowed} URLs left out: robots.txt disallows them", err=True)
    sys.exit(EXIT_SOME_FAILED if result.problems else EXIT_OK)


@cli.command()
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file (default: sites.toml beside the database).")
@db_option
@handle_errors
def sites(config, db_path):
    """List the known sites: where they are found, what the archive holds, their last run.

    Example:

        scraper sites --config sites.toml
    """
    from scraper import runstate
    from scraper.profiles import load_profiles

    path = _sites_file(config, db_path)
    profiles = load_profiles(path if path.exists() else None)
    summary = {}
    if os.path.exists(db_path):
        with _open_existing(db_path) as archive:
            summary = runstate.site_summary(archive, {n: p.domains for n, p in profiles.items()})
    for name, profile in sorted(profiles.items()):
        sources = f"{len(profile.start)} start, {len(profile.feeds)} feeds, {len(profile.sitemaps)} sitemaps"
        click.echo(f"{name}: {', '.join(profile.domains)} ({sources})")
        info = summary.get(name)
        if info is None:
            continue
        queue = info["queue"]
        run = info["last_run"]
        last = (f"last run {run['started_at']} (exit {run['exit_code']})" if run and run["ended_at"]
                else f"last run {run['started_at']} (did not finish)" if run else "never run")
        click.echo(f"  {info['articles']} articles; {queue.get('pending', 0)} queued, "
                   f"{queue.get('gave_up', 0)} given up; {last}")


@cli.command("import-warc")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-v", "--verbose", is_flag=True, help="One line per HTML page on stderr.")
@db_option
@handle_errors
def import_warc(files, verbose, db_path):
    """Archive the HTML article pages of WARC files (plain or gzipped), as fetched at their WARC-Date.

    Any WARC works: ours (--warc), Common Crawl's, a browser extension's. Requests, non-HTML
    responses, errors, redirects and pages without an article are counted and skipped. Exit 1
    when a file could not be read to the end (what was read before is kept).

    Example:

        scraper import-warc CC-NEWS-20240101000000-00001.warc.gz --db news.db
    """
    from scraper.store import Archive
    from scraper.warc import import_warc as run_import

    def show(outcome, url):
        if verbose:
            click.echo(f"{outcome:<20} {url}", err=True)

    with Archive.open(db_path) as archive:
        report = run_import(archive, list(files), on_page=show)
    for error in report.errors:
        click.echo(f"Error: {error}", err=True)
    done = ", ".join(f"{n} {what}" for what, n in report.outcomes.most_common()) or "nothing archived"
    skipped = ", ".join(f"{n} {why}" for why, n in report.skipped.most_common())
    click.echo(f"{report.records} records, {report.pages} HTML pages: {done}"
               + (f"; skipped: {skipped}" if skipped else ""), err=True)
    sys.exit(EXIT_SOME_FAILED if report.errors else EXIT_OK)


if __name__ == "__main__":
    cli()
