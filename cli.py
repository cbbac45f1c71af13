"""The `scraper` command line: a thin client of the `scraper` package.

Each command opens what it needs, calls library functions, prints, and maps the library's
exceptions to one-line errors and exit codes (documented in README.md). The by-hand commands
(fetch, extract, show) are here; the cron side and the commands over an archive are in
scraper/commands/, with what every command shares.
"""
from __future__ import annotations

import os
import re
import sys
from contextlib import nullcontext

try:
    import click

    from scraper import __version__, exit_codes
    from scraper.commands import archiving, reading, workers
    from scraper.commands.common import (EXIT_FAILED, EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_OK, EXIT_SOME_FAILED,
                                         EXIT_USAGE, UsageLine, archive_files, db_option, handle_errors,
                                         open_existing, sites_file, stopped_says)
    from scraper.commands.stopping import stopping_on_signals
    from scraper.commands.streams import guarded_main
    from scraper.errors import FetchError, ScraperError
except KeyboardInterrupt:
    # Ctrl-C while the modules load (about 0.3 s): nothing was started, so nothing to keep. One
    # line and exit 130 (exit_codes.INTERRUPTED, which may not be loaded yet), as for a command.
    if sys.stderr is not None:
        sys.stderr.write("Interrupted.\n")
    sys.exit(130)

# The exit codes are part of the interface (README, tests): importable from here as before.
__all__ = ["cli", "EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "EXIT_FAILED", "EXIT_LOCKED", "EXIT_INTERRUPTED"]


class _Cli(click.Group):
    def main(self, *args, **kwargs):
        # For every command: closed streams opened on /dev/null, standard output that cannot be
        # written one line and exit 3, standard error that cannot be written dropped (streams.py).
        # SIGTERM and SIGHUP end a command as Ctrl-C does, exit 143 or 129 (stopping.py).
        with stopping_on_signals():
            return guarded_main(super().main, *args, **kwargs)

    # Ctrl-C (or SIGTERM) while click reads the arguments, before a command's own handler: one
    # line and the command's exit code (130, 143), not click's "Aborted!" and exit 1.
    def make_context(self, *args, **kwargs):
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as exc:
            raise _interrupted(exc) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _interrupted(exc) from None


def _interrupted(exc: KeyboardInterrupt) -> click.exceptions.Exit:
    click.echo(stopped_says("Interrupted.", exc), err=True)
    return click.exceptions.Exit(exit_codes.of_interrupt(exc))


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="scraper")
def cli():
    """Fetch news article pages, extract clean records, archive them in SQLite."""


def _read_targets(targets, input_file):
    """URLs from the arguments, then from a file (or `-`) of one URL a line (# comments allowed,
    on a line of their own or after the URL and a space: a URL holds no space, its #fragment none)."""
    found = list(targets)
    if input_file is not None:
        for line in input_file:
            line = re.split(r"\s#", line, maxsplit=1)[0].strip()
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
@click.option("--warc", type=click.Path(),
              help="Also write every exchange to this WARC file (.warc.gz: gzipped).")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file with [sites.NAME] tables (default: sites.toml beside the database).")
@click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Hosts fetched at the same time (one request at a time per host).")
@click.option("--extract-workers", type=click.IntRange(0, 64), default=None,
              help="Processes extracting pages (default: one per core from 20 URLs; 0 or 1: in this process).")
@db_option
@handle_errors
def fetch(targets, input_file, url, timeout, user_agent, refresh, warc, config, workers, extract_workers, db_path):
    """Fetch article pages, extract the articles and archive them.

    One line per URL on stderr (saved, updated, unchanged, skipped, failed and why), in the order
    given, then a summary. Exit 0 when every URL was archived, 1 when some failed (the others are
    saved), 3 when most failed. A FILE that does not exist is an error, never fetched from --url.
    Several URLs: --workers hosts are fetched at the same time, one request at a time per host,
    and pages are extracted on every core.

    Example:

        scraper fetch https://www.alittihad.ae/news/.../...

        scraper fetch -i urls.txt --db gulf.db

        scraper fetch saved-page.html --url https://example.com/news/1

        scraper fetch --warc crawl.warc.gz https://www.alittihad.ae/news/.../...
    """
    from scraper.crawl import batch, extractors
    from scraper.fetch.http import DEFAULT_USER_AGENT, FetchOptions
    from scraper.pipeline import FAILED, record_one
    from scraper.profiles import load_profiles
    from scraper.store import Archive
    from scraper.use.warc import WarcWriter

    found = _read_targets(targets, input_file)
    if not found:
        raise click.UsageError("give at least one URL or file, or -i FILE")
    if url and len(found) > 1:
        raise click.UsageError("--url names the address of one saved page: give exactly one file")
    options = FetchOptions(timeout=timeout, user_agent=user_agent or DEFAULT_USER_AGENT)
    config_path = sites_file(config, db_path)
    profiles = load_profiles(config_path if config_path.exists() else None)
    counts: dict[str, int] = {}
    bad_urls = 0

    def show(outcome):
        nonlocal bad_urls
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        bad_urls += outcome.bad_url
        detail = outcome.error if outcome.status == FAILED else (outcome.title or "")
        click.echo(f"{outcome.status:<12} {outcome.url}  {detail}".rstrip(), err=True)
        if outcome.shrank:
            click.echo(f"{'':<12} shrank: {outcome.shrank}; the previous version is kept in revisions "
                       f"(scraper show URL --history)", err=True)

    processes = batch.extract_workers_for(len(found), extract_workers) if len(found) > 1 else 0
    # The extraction workers' fork server first, while this process has one thread (forker.py).
    with extractors.forker_for(processes) as forker, \
            (WarcWriter(warc, protect=archive_files(db_path)) if warc else nullcontext()) as writer, \
            Archive.open(db_path) as archive:
        on_page = writer.write_page if writer else None
        if len(found) == 1:
            show(record_one(found[0], archive, options, url=url, refresh=refresh, profiles=profiles,
                            on_page=on_page))
        else:
            batch.record_many(found, archive, batch.BatchOptions(
                options, refresh, profiles, workers, processes, on_page), show, forker=forker)
    click.echo(", ".join(f"{n} {status}" for status, n in counts.items()), err=True)
    failed = counts.get(FAILED, 0)
    if bad_urls == len(found):
        sys.exit(EXIT_USAGE)   # nothing given was a URL: a usage error, as for show and extract --url
    # As the cron run: most URLs failed (a lone URL that failed included) is 3, some is 1.
    sys.exit(EXIT_FAILED if failed * 2 > len(found) else EXIT_SOME_FAILED if failed else EXIT_OK)


def _templates_archive(templates_db):
    """The archive --templates names, opened to read; one line and exit 2 when it is none (the
    option is wrong, not the page, and extract has no --db to choose)."""
    from scraper.errors import NoSuchArchive, NotADatabase, StoreError

    try:
        return open_existing(templates_db)
    except UsageLine:
        raise UsageLine(f"--templates {templates_db}: no such archive") from None
    except NotADatabase:
        raise UsageLine(f"--templates {templates_db}: not an archive (not an SQLite database)") from None
    except (NoSuchArchive, StoreError) as exc:
        raise UsageLine(f"--templates {templates_db}: {exc}") from None


def _learned_template(archive, address, profiles=None):
    """The template learned for the site of ``address`` in ``archive`` (or None)."""
    if archive is None:
        return None
    from scraper.pipeline import template_for
    from scraper.profiles import site_of

    return template_for(archive, site_of(address, profiles), learn=False)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--url", help="The page's address (for relative links, the site profile and the time zone).")
@click.option("--indent", is_flag=True, help="Pretty-print (one file only).")
@click.option("--explain", "show_why", is_flag=True,
              help="Instead of JSON, list each block kept or dropped and why, and each field's source.")
@click.option("--templates", "templates_db", type=click.Path(dir_okay=False),
              help="Also strip the site's template learned in this archive.")
@click.option("--config", type=click.Path(dir_okay=False),
              help="Sites file with [sites.NAME] tables, to check your own profile (default: built-in sites only).")
@handle_errors
def extract(files, url, indent, show_why, templates_db, config):
    """Print the record a saved page would give, as JSON; no network, no database.

    One JSON object a line for several files; '-' reads the page from standard input.
    --templates DB also strips the site's template learned in that archive (it is only read).
    --config FILE applies the profiles of your sites file, as fetch and archive will.
    With --explain, say instead which rule kept or dropped each block of the page (profile rule,
    generic path, learned template, boilerplate marker) and where each field came from.
    A file that is not a web page (binary data, over 10 MB) is refused like a fetched body.

    Example:

        scraper extract page.html --url https://www.alittihad.ae/news/x/1/y

        scraper extract --explain page.html --url https://www.alittihad.ae/news/x/1/y

        scraper extract --explain page.html --url https://example.com/a/1 --config sites.toml

        scraper extract --explain page.html --url https://example.com/a/1 --templates a.db
    """
    from scraper.profiles import load_profiles

    if url:
        from scraper.urls import parse_url
        url = parse_url(url).text   # BadURL: a usage error, before any file is read
    if config and not os.path.exists(config):
        raise click.UsageError(f"{config}: no such sites file")
    profiles = load_profiles(config) if config else None
    failed = 0
    templates = _templates_archive(templates_db) if templates_db else None
    with templates if templates is not None else nullcontext():
        failed = _extract_each(files, url, indent, show_why, templates, profiles)
    sys.exit(EXIT_SOME_FAILED if failed else EXIT_OK)


def _extract_each(files, url, indent, show_why, templates, profiles) -> int:
    """Each file's record (or --explain) on stdout; the number that failed."""
    import json

    from scraper.extract import extract_page
    from scraper.fetch.http import FetchOptions, load_file, page_from_bytes

    failed = 0
    for name in files:
        try:
            if name == "-":
                cap = FetchOptions().max_bytes
                body = sys.stdin.buffer.read(cap + 1)
                if len(body) > cap:
                    from scraper.errors import TooLarge
                    raise TooLarge("standard input", f"more than the cap of {cap:,} bytes")
                page = page_from_bytes(body, "standard input", url)
            else:
                page = load_file(name, url=url)
            template = _learned_template(templates, page.final_url, profiles)
            if show_why:
                from scraper.extract.explain import explain, render
                click.echo(render(explain(page.html, page.final_url, template, profiles=profiles)))
                continue
            article = extract_page(page, profiles, template=template)
        except ScraperError as exc:
            failed += 1
            # A file's own errors name it; the extractor's name the page's address.
            click.echo(f"Error: {exc}" if isinstance(exc, FetchError) else f"Error: {name}: {exc}", err=True)
            continue
        click.echo(json.dumps(article.to_dict(), ensure_ascii=False,
                              indent=2 if indent and len(files) == 1 else None))
    return failed


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

    with open_existing(db_path) as archive:
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


for _command in (*archiving.COMMANDS, *reading.COMMANDS, *workers.COMMANDS):
    cli.add_command(_command)


if __name__ == "__main__":
    cli()
