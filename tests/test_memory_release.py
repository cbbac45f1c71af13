"""Giving freed memory back (scraper/fetch/memory.py): glibc's malloc_trim and mallopt are found
without starting a process. ctypes.util.find_library("c") runs `ldconfig -p` in a child: every
fresh extraction worker (one each 10 pages) did, on its first page, 7 ms and a fork each time
(found by test_forker, which saw a worker with a child of its own)."""
from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_malloc_trim_and_mallopt_are_found_without_starting_a_process():
    done = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        import subprocess
        def started(*args, **kwargs):
            raise AssertionError(f"a process was started: {args}")
        subprocess.Popen = started
        from scraper.fetch import memory
        memory.release_free_memory()
        assert memory._libc("malloc_trim") is not None
        assert memory.limit_arenas(2) and memory.fix_mmap_threshold()
        print("ok")
    """)], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_a_function_the_c_library_lacks_is_none():
    from scraper.fetch import memory
    assert memory._libc("no_such_function_in_any_libc") is None
