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


MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Let glibc make at most `arenas` malloc arenas from now on (as MALLOC_ARENA_MAX would at start); True if set.

    Why: glibc gives threads that allocate at once arenas of their own, up to 8 per core, and what a thread frees
    stays in its arena, in pieces malloc_trim cannot return; questions and teaching run on short-lived threads, so
    the server held more after every session closed than before (docs/reliability.md). Call it before they start."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # not glibc: its allocator keeps its own arenas
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
