"""Article -> row: the archive database (one door: Archive), its migrations, search, queue and memories."""
from .archive import Archive, SaveResult

__all__ = ["Archive", "SaveResult"]
