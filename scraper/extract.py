"""TEMPORARY placeholder so the package imports while the extractor is being written (helper D replaces this file)."""
from __future__ import annotations


def extract(html, url=None, headers=None, **kwargs):
    raise NotImplementedError("extractor not written yet")
