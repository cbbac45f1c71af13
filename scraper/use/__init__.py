"""Using the archive: export, WARC in and out, re-extraction, statistics."""
