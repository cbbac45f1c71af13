"""The side-by-side extraction benchmark (run `python bench/extract.py`); not part of the installed package."""
