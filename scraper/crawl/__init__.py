"""The cron run: discovery (feeds, sitemaps, start pages, robots.txt), politeness, the run lock, the run."""
