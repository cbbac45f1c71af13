"""Distributed workers: `scraper worker`, and the commands that hand their work out to workers."""
from ..errors import ConfigError

try:
    import procrastinate  # noqa: F401  (the engine: an extra, since one machine needs none of it)
except ImportError:
    raise ConfigError("distributed workers need Procrastinate, which this installation lacks: "
                      "pip install 'arabic-news-scraper[workers]' (in a checkout: pip install -e '.[workers]')") from None
