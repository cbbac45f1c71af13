"""Page -> Article: the extractor (article) over its steps; pure, no network, no disk."""
from .article import extract, extract_page

__all__ = ["extract", "extract_page"]
