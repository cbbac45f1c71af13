"""Commands over an archive: search, export, reextract, stats, import-warc (scraper/store/search.py etc.)."""
from __future__ import annotations

import sys

import click

from .common import DAY, DURATION, EXIT_FAILED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE, db_option, handle_errors, open_existing, \
    sites_file, utf8_text, archive_files
from .workers import check_workers_at, stalled_after_option, workers_at_option

@click.command()
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
@click.option("--max-time", type=DURATION, default="30s", show_default=True,
              help="Stop a search that runs longer (exit 3): 30s, 2m, or seconds; 0: no limit.")
@db_option
@handle_errors
def search(query, site, since, until, limit, rank, quote, exact, as_json, as_csv, max_time, db_path):
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

    from scraper.store.search import BadQuery, SearchTimeout, pending_count
    from scraper.store.search import search as run_search

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    tty = sys.stdout.isatty() and not (as_json or as_csv)
    with open_existing(db_path) as archive:
        backlog = pending_count(archive)
        if archive.read_only and backlog:
            click.echo(f"note: {backlog} articles written since the last search are not in the search "
                       f"index, so they are not searched (updating it needs write access)", err=True)
        elif backlog > 1000:  # the first search after upgrading an existing archive
            click.echo(f"Indexing {backlog} articles for search (once)...", err=True)
        try:
            hits = run_search(archive, query, site=site, since=since and since.date(),
                              until=until and until.date(), limit=limit, rank=rank, quote=quote, exact=exact,
                              highlight=("\x1b[1m", "\x1b[0m") if tty else ("[", "]"), max_time=max_time.total_seconds() or None)
        except BadQuery as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except SearchTimeout as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_FAILED)
    if as_csv:
        with utf8_text(sys.stdout.buffer) as out:
            writer = csv.writer(out)
            writer.writerow(["id", "published", "site", "title", "url", "snippet", "score"])
            for hit in hits:
                writer.writerow([hit.id, hit.published, hit.site, hit.title, hit.url, hit.snippet, hit.score])
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


@click.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--site", help="Only this site.")
@click.option("--since", type=DAY, metavar="YYYY-MM-DD", help="Published on or after this day.")
@click.option("--until", type=DAY, metavar="YYYY-MM-DD", help="Published on or before this day.")
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(allow_dash=True),
              help="File to write ('-': standard output).")
@click.option("--force", is_flag=True, help="Replace the -o file if it exists.")
@click.option("--bom", is_flag=True, help="Start with a UTF-8 BOM (Excel then reads Arabic CSV right).")
@db_option
@handle_errors
def export(fmt, site, since, until, output, force, bom, db_path):
    """Write every archived record, all fields, as JSON Lines or CSV (UTF-8, ISO dates).

    Streams: memory stays flat whatever the archive size. A file is written under a temporary
    name in its folder and renamed when complete, so it is never left half-written. -o never
    writes over the archive, nor over anything but a regular file (a FIFO, a device, a
    directory), nor over an existing file without --force.

    Example:

        scraper export -o archive.jsonl

        scraper export --format csv --site alittihad --since 2024-01-01 --bom -o 2024.csv
    """
    from scraper.use.export import ExportFilter
    from scraper.use.export import export as run_export

    from contextlib import nullcontext

    from scraper.outfiles import check_stream, replaced_whole

    selection = ExportFilter(site=site, since=since and since.date(), until=until and until.date())
    protect = archive_files(db_path)
    if output == "-":
        check_stream(sys.stdout, protect=protect)
        sink = nullcontext(sys.stdout.buffer)
    else:
        sink = replaced_whole(output, protect=protect, force=force)
    with sink as raw, open_existing(db_path) as archive, utf8_text(raw) as out:
        if bom:
            out.write("\ufeff")
        count = run_export(archive, out, fmt, selection)
    click.echo(f"{count} records exported", err=True)


@click.command()
@click.option("--site", help="Only this site.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file with [sites.NAME] tables (default: sites.toml beside the database).")
@workers_at_option
@stalled_after_option
@db_option
@handle_errors
def reextract(site, dry_run, as_json, config, workers_at, stalled_after, db_path):
    """Rebuild records from the stored raw pages (after a rule or profile change), without fetching.

    Reports how many records changed and which fields. A record whose text would lose more than
    a tenth is listed on stderr and its previous version kept in revisions (`show URL --history`).
    Exit 1 when some pages no longer give an article (their records are left as they were).

    Example:

        scraper reextract --site alittihad --dry-run

    With --workers-at, the articles are shared out among `scraper worker` processes, 500 a job.
    """
    import json

    from scraper.profiles import load_profiles
    from scraper.use.reextract import reextract as run_reextract

    def progress(checked):
        if checked % 500 == 0 and sys.stderr.isatty():
            click.echo(f"\r{checked} records checked...", err=True, nl=False)

    check_workers_at(workers_at, db_path, "reextract", stalled_after)
    config_path = sites_file(config, db_path)
    profiles = load_profiles(config_path if config_path.exists() else None)
    if workers_at:
        from scraper.workers.coordinate import reextract_on_workers

        open_existing(db_path).close()      # a mistyped --db is one usage line, as without workers
        report, _ = reextract_on_workers(db_path, workers_at, site=site, dry_run=dry_run, config=config_path,
                                         stalled_after=stalled_after)
    else:
        with open_existing(db_path, write=not dry_run) as archive:
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
    kept = "would be kept" if dry_run else "is kept"
    for article_id, key, change in report.shrank[:_SHRANK_SHOWN]:
        click.echo(f"{'would shrink' if dry_run else 'shrank'}: article {article_id} {key}: {change}; "
                   f"the previous version {kept} in revisions", err=True)
    if len(report.shrank) > _SHRANK_SHOWN:
        click.echo(f"... and {len(report.shrank) - _SHRANK_SHOWN} more records lost text (--json lists them all)",
                   err=True)
    sys.exit(EXIT_SOME_FAILED if report.failed else EXIT_OK)


_SHRANK_SHOWN = 50   # records that lost text listed on stderr; --json has them all


@click.command()
@click.option("--json", "as_json", is_flag=True, help="As JSON: {sites: [...], totals: {...}}.")
@db_option
@handle_errors
def stats(as_json, db_path):
    """Per site: articles, date range, last fetch, last run, failures; then totals.

    Example:

        scraper stats --json | jq '.sites[] | {site, articles, failing}'
    """
    import json

    from scraper.store.stats import collect

    with open_existing(db_path) as archive:
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
               f"{t['fetch_attempts']} fetch attempts ({t['failed_attempts']} failed), {t['runs']} runs"
               + (f"; {t['invalid_urls']} failed that are no valid URL (a bad URL, a local file): no site" if t["invalid_urls"] else ""))


@click.command("import-warc")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("-v", "--verbose", is_flag=True, help="One line per HTML page on stderr.")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file with [sites.NAME] tables (default: sites.toml beside the database).")
@workers_at_option
@stalled_after_option
@db_option
@handle_errors
def import_warc(files, verbose, config, workers_at, stalled_after, db_path):
    """Archive the HTML article pages of WARC files (plain or gzipped), as fetched at their WARC-Date.

    Any WARC works: ours (--warc), Common Crawl's, a browser extension's. Each page is recorded
    as `scraper fetch` records a fetched one (the site's profile and learned template). Requests,
    non-HTML responses, errors, redirects and pages without an article are counted and skipped. A
    malformed record (its date, status, header block, URI, or binary data labelled HTML) is one
    line naming it (byte offset, WARC-Record-ID), and the rest of the file is imported. A record cut
    short is never stored. Exit 1 when any record was malformed or a file could not be read to the
    end (what was read before it is kept).

    Example:

        scraper import-warc CC-NEWS-20240101000000-00001.warc.gz --db news.db

        scraper import-warc --db postgresql://db/news --workers-at postgresql://db/news /shared/cc/*.warc.gz

    With --workers-at, each file is one job for `scraper worker` processes (the files must be at
    the same path on their machines: a shared folder); -v is not available there.
    """
    from scraper.profiles import load_profiles
    from scraper.store import Archive
    from scraper.use.warc import import_warc as run_import

    def show(outcome, url):
        if verbose:
            click.echo(f"{outcome:<20} {url}", err=True)

    check_workers_at(workers_at, db_path, "import-warc", stalled_after)
    config_path = sites_file(config, db_path)
    profiles = load_profiles(config_path if config_path.exists() else None)
    if workers_at:
        from scraper.workers.coordinate import import_warc_on_workers

        report, _ = import_warc_on_workers(db_path, workers_at, list(files), config_path,
                                           stalled_after=stalled_after)
    else:
        with Archive.open(db_path) as archive:
            report = run_import(archive, list(files), profiles=profiles, on_page=show)
    for error in report.problems + report.errors:
        click.echo(f"Error: {error}", err=True)
    done = ", ".join(f"{n} {what}" for what, n in report.outcomes.most_common()) or "nothing archived"
    skipped = ", ".join(f"{n} {why}" for why, n in report.skipped.most_common())
    click.echo(f"{report.records} records, {report.pages} HTML pages: {done}"
               + (f"; skipped: {skipped}" if skipped else ""), err=True)
    sys.exit(EXIT_SOME_FAILED if report.errors or report.problems else EXIT_OK)


@click.command("copy")
@click.argument("source")
@click.argument("destination")
@handle_errors
def copy_archive(source, destination):
    """Copy the archive SOURCE into DESTINATION, either an SQLite file or postgresql://user@host/db.

    Every table that holds data is copied with every column and its ids, raw pages included, in
    one transaction: an interrupted copy leaves DESTINATION as it was. DESTINATION must hold no
    data yet (a new file, or a database made with createdb): a copy never merges two archives.
    The search index is rebuilt there before the command returns.

    Example:

        createdb news && scraper copy archive.db postgresql://newsroom@db.example.org/news

        scraper copy postgresql://newsroom@db.example.org/news backup.db
    """
    from scraper.store import search as search_index
    from scraper.store import transfer
    from scraper.store.archive import Archive

    def progress(table, n):
        if n and sys.stderr.isatty():
            click.echo(f"\r{table}: {n}", err=True, nl=False)

    with open_existing(source) as src, Archive.open(destination) as dst:
        try:
            copied = transfer.copy(src, dst, progress=progress)
        except transfer.DestinationNotEmpty as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        if sys.stderr.isatty():
            click.echo("\r", err=True, nl=False)
        click.echo(f"copied {', '.join(f'{n} {table}' for table, n in copied.items())}", err=True)
        search_index.refresh(dst)
        click.echo(f"{dst.name}: {copied['articles']} articles, search index rebuilt", err=True)


COMMANDS = (search, export, reextract, stats, import_warc, copy_archive)
