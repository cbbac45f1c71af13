"""The command line's commands, grouped by use; ``cli.py`` at the repository root assembles them.

``common`` holds what every command shares (exit codes, ``--db``, the error-to-exit-code mapping);
``archiving`` the cron side (archive, discover, sites); ``reading`` what is done with an archive
(search, export, reextract, stats, import-warc); ``workers`` the distributed worker. The by-hand commands (fetch, extract, show) live
in ``cli.py`` itself. Commands stay thin: they parse, call the library, print.
"""
