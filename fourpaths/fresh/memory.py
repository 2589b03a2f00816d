"""Giving memory back when a teaching job or a session ends, and reading how much a process holds."""

from __future__ import annotations

import ctypes
import gc
from pathlib import Path


def release_memory() -> None:
    """Collect Python's cycles (a PEFT model holds some), then ask glibc to return freed pages to the system.

    Why the second: a finished teaching job's freed blocks stay in glibc's per-thread arenas; measured on the
    shipped models, the process stayed at 1,189 MB after teaching until malloc_trim brought it to 868 MB."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): its allocator returns memory its own way
        pass


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD = 256 * 1024


def map_large_blocks_apart(threshold: int = MMAP_THRESHOLD) -> bool:
    """Have glibc map every block of `threshold` bytes or more on its own, so that freeing it gives it back to the
    system at once; True if set.

    Why: glibc's own threshold rises to the size of each such block freed (up to 32 MB), after which a question's
    and a teaching step's activations come from the heap, where small blocks left between them pin the freed memory:
    the server held more after every session closed than before (docs/reliability.md)."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):  # not glibc: its allocator returns memory its own way
        return False


def anonymous_mb(pid: int | str = "self") -> float | None:
    """The part of a process's resident memory that is its own data (smaps_rollup's Anonymous): what a session
    can leave behind. The rest maps files, such as library code paged in once (teaching's backward kernels
    added ~45 MB of those on the shipped models, the same after every later job), which the system can drop."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return None
    kilobytes = next((int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Anonymous:")), None)
    return None if kilobytes is None else round(kilobytes / 1024, 1)


def resident_mb(pid: int | str = "self") -> float | None:
    """A process's resident memory now (VmRSS), in MB; None where /proc cannot say."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kilobytes = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), None)
    return None if kilobytes is None else round(kilobytes / 1024, 1)
