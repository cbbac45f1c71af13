"""Giving freed memory back to the system after an oversized response.

A refused page (a gzip bomb, a 50 MB page) has held up to the size cap in pieces; Python frees
them, but glibc keeps the freed pages in the worker thread's malloc arena, so over a long run
each worker's arena grows to the cap and stays there. ``malloc_trim`` returns those pages.
Elsewhere than glibc this is a no-op.
"""
from __future__ import annotations

import ctypes
import functools


@functools.lru_cache(maxsize=None)
def _libc(function: str):
    """glibc's ``function`` (malloc_trim, mallopt), or None where the C library has none.

    Looked up among the symbols this process already has (dlopen(NULL)), not by
    ``ctypes.util.find_library("c")``: that runs `ldconfig -p` in a child process (7 ms, and a
    fork), which every fresh extraction worker did on its first page."""
    try:
        return getattr(ctypes.CDLL(None), function)
    except (OSError, AttributeError):
        return None


def release_free_memory() -> None:
    trim = _libc("malloc_trim")
    if trim is not None:
        trim(0)


M_ARENA_MAX = -8         # mallopt's parameter numbers (glibc malloc.h)
M_MMAP_THRESHOLD = -3
# Blocks from this size up get pages of their own from the system, given back when freed: a page's
# bytes, its decoded text and its pickle (hundreds of KB each) never stay behind in the heap.
MMAP_THRESHOLD = 128 * 1024


def limit_arenas(count: int = 2) -> bool:
    """At most ``count`` malloc arenas in this process: glibc gives each thread that allocates an
    arena of its own (up to 8 per core), and a long run's fetch threads each keep theirs at its
    high-water mark. Call it before the threads start. False where this is not glibc."""
    mallopt = _libc("mallopt")
    return bool(mallopt and mallopt(M_ARENA_MAX, count) == 1)


def fix_mmap_threshold(size: int = MMAP_THRESHOLD) -> bool:
    """Blocks of ``size`` bytes and more mapped on their own, and unmapped when freed.

    glibc starts at 128 KiB but raises the threshold to the size of each mapped block freed (up
    to 32 MB), so after the first big page every page's buffers come from the heap, whose freed
    holes it keeps: the archive run's process grew 72 -> 125 MB over 600 real pages that way, and
    stays at 63-78 MB with the threshold fixed (as with malloc_trim every half second). Setting it
    turns the raising off. False where this is not glibc."""
    mallopt = _libc("mallopt")
    return bool(mallopt and mallopt(M_MMAP_THRESHOLD, size) == 1)
