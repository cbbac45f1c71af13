"""The exit codes of every command, named once: the commands exit with them and the cron run
records its own in the `runs` table (README "Exit codes" is the same table for users)."""
from __future__ import annotations

OK = 0
SOME_FAILED = 1        # some URLs failed (the others were archived), or a file could not be read to the end
USAGE = 2              # a bad option, no URL given, a malformed search query
FAILED = 3             # the run could not start (database, sites file), or most URLs failed
LOCKED = 75            # EX_TEMPFAIL: another `scraper archive` run holds the lock; cron tries again
INTERRUPTED = 130      # Ctrl-C: what was already archived is kept
HANGUP = 129           # SIGHUP (the terminal closed; not under nohup): as Ctrl-C
TERMINATED = 143       # SIGTERM (`timeout`, systemd, kill): as Ctrl-C


def of_interrupt(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C; 128 + the signal's number for a stop signal (errors.Terminated)."""
    return getattr(exc, "exit_code", INTERRUPTED)
