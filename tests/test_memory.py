"""Giving memory back (fourpaths.fresh.memory): large blocks mapped apart, freed pages returned, memory read."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from fourpaths.fresh.memory import anonymous_mb, release_memory, resident_mb

# 200 blocks of 512 KB, each followed by a small block that stays, then the large ones freed: the MB still held.
FREED_BUT_HELD = textwrap.dedent("""
    import ctypes, sys
    from fourpaths.fresh.memory import anonymous_mb, map_large_blocks_apart
    if sys.argv[1] == "apart":
        assert map_large_blocks_apart()
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    first = libc.malloc(1 << 20)
    libc.memset(first, 1, 1 << 20)
    libc.free(first)  # glibc's own threshold now rises past 1 MB
    before = anonymous_mb()
    large, kept = [], []
    for _ in range(200):
        block = libc.malloc(512 * 1024)
        libc.memset(block, 1, 512 * 1024)
        large.append(block)
        kept.append(libc.malloc(20_000))
    for block in large:
        libc.free(block)
    print(anonymous_mb() - before)
""")


def held_mb(mode: str) -> float:
    done = subprocess.run([sys.executable, "-c", FREED_BUT_HELD, mode], capture_output=True, text=True, timeout=120,
                          env={name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")})
    assert done.returncode == 0, done.stderr
    return float(done.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
                    reason="glibc's allocator")
def test_large_blocks_mapped_apart_go_back_to_the_system_when_freed():
    assert held_mb("glibc's default") > 50, "glibc gave the blocks back anyway: the test shows nothing"
    assert held_mb("apart") < 10


def test_a_process_memory_is_read_and_freed_pages_are_returned():
    held = bytearray(64 * 1024 * 1024)
    before = resident_mb()
    assert before is not None and before >= 64 and anonymous_mb() >= 64
    del held
    release_memory()
    assert resident_mb() < before - 32
    assert resident_mb(2 ** 22 + 1) is None  # no such process
