"""URL -> Page: HTTP with deadlines, size caps and retries (http), memory given back after a refused page."""
from .http import FetchOptions, fetch, is_html_type, load_file

__all__ = ["FetchOptions", "fetch", "is_html_type", "load_file"]
