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


M_ARENA_MAX = -8     # mallopt's parameter number (glibc malloc.h)


def limit_arenas(count: int = 2) -> bool:
    """At most ``count`` malloc arenas in this process: glibc gives each thread that allocates an
    arena of its own (up to 8 per core), and a long run's fetch threads each keep theirs at its
    high-water mark. Call it before the threads start. False where this is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return False
    return bool(mallopt and mallopt(M_ARENA_MAX, count) == 1)
