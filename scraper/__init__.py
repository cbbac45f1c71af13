"""Arabic-first news scraper and archiver: fetch pages, extract clean article records, store them.

The pipeline is ``URL --fetch--> Page --extract--> Article --store--> row``; see docs/architecture.md.
"""
__version__ = "0.1.0"
# Named in the default User-Agent. Not published yet: operators should pass --user-agent with
# their own contact (README, `scraper fetch`).
PROJECT_URL = "https://github.com/news-archive/arabic-news-scraper"

from .errors import ScraperError  # noqa: E402
from .models import Article, Page  # noqa: E402
from .extract import extract  # noqa: E402

__all__ = ["extract", "Article", "Page", "ScraperError", "__version__"]
