"""Giving freed memory back to the system after an oversized response.

A refused page (a gzip bomb, a 50 MB page) has held up to the size cap in pieces; Python frees
them, but glibc keeps the freed pages in the worker thread's malloc arena, so over a long run
each worker's arena grows to the cap and stays there. ``malloc_trim`` returns those pages.
Elsewhere than glibc this is a no-op.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
