"""Giving memory back (fourpaths.fresh.memory): glibc arenas limited, freed pages returned, memory read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from fourpaths.fresh.memory import MALLOC_ARENAS, anonymous_mb, release_memory, resident_mb

# Eight threads allocate at once, then the process counts glibc's arenas (malloc_info's <heap> entries).
COUNT_ARENAS = textwrap.dedent("""
    import ctypes, sys, tempfile, threading
    from fourpaths.fresh.memory import limit_malloc_arenas
    if sys.argv[1] == "limit":
        assert limit_malloc_arenas()
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    start = threading.Barrier(8)
    def work():
        start.wait()
        for _ in range(2000):
            blocks = [bytearray(4096) for _ in range(20)]
            del blocks
    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads: thread.start()
    for thread in threads: thread.join()
    with tempfile.NamedTemporaryFile("r") as out:
        stream = libc.fopen(out.name.encode(), b"w")
        libc.malloc_info(0, ctypes.c_void_p(stream))
        libc.fclose(ctypes.c_void_p(stream))
        print(out.read().count("<heap nr="))
""")


def arenas(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT_ARENAS, mode], capture_output=True, text=True, timeout=120,
                          env={name: value for name, value in os.environ.items() if name != "MALLOC_ARENA_MAX"})
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
                    reason="glibc's arenas")
def test_threads_allocating_at_once_share_the_limited_arenas():
    assert arenas("free") > MALLOC_ARENAS, "eight threads at once made no arenas of their own: the test shows nothing"
    assert arenas("limit") <= MALLOC_ARENAS


def test_a_process_memory_is_read_and_freed_pages_are_returned():
    held = bytearray(64 * 1024 * 1024)
    before = resident_mb()
    assert before is not None and before >= 64 and anonymous_mb() >= 64
    del held
    release_memory()
    assert resident_mb() < before - 32
    assert resident_mb(2 ** 22 + 1) is None  # no such process
