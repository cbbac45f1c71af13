"""Distributed workers: `scraper worker`, and the commands that hand their work out to workers."""
