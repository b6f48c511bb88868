"""Keep a long-running process's memory flat: allocator settings, heap trimming, current RSS.

The sidecar (``llm-monitor tail``) runs for weeks and handles every batch through Python
objects, pandas, Arrow and DuckDB. With glibc's default settings its resident memory drifts
upwards even though nothing is kept: freed heap pages stay mapped, glibc raises its mmap
threshold after every large free (so later large buffers land in, and fragment, the heap), and
each thread gets its own arena. Arrow's bundled mimalloc pool keeps its own high-water mark.
:func:`tune_for_long_run` fixes that once at start-up; :func:`release_free_memory` hands freed
pages back to the OS; :func:`resident_bytes` is what the status line reports. Measured effect
(benchmarks/tail.py, docs/BENCHMARKS.md).

On a platform without glibc (macOS, musl) the allocator calls do nothing.
"""
from __future__ import annotations

import ctypes
import os
from functools import lru_cache
from typing import Any

# glibc <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

MMAP_THRESHOLD_BYTES = 256 << 10
"""Allocations at least this large get their own mapping and go back to the OS when freed."""
TRIM_THRESHOLD_BYTES = 4 << 20
"""Free memory at the top of the heap beyond this is returned at once."""
ARENA_MAX = 2
"""Malloc arenas shared by all threads (glibc's default is 8 per core)."""


@lru_cache(maxsize=1)
def _glibc() -> Any:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - probe: musl and macOS have no mallopt
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune_for_long_run() -> dict[str, bool]:
    """Set the allocator up for a process that must not grow; returns what was applied.

    * glibc: a fixed mmap threshold (256 KiB; fixing it also stops glibc from raising it after
      large frees), a 4 MiB trim threshold and at most 2 arenas;
    * Arrow: the system allocator instead of the bundled mimalloc pool, so Arrow buffers are
      freed to glibc and trimmed with everything else.

    Call it once, early, in the process that runs for a long time (``llm-monitor tail`` does).

    >>> sorted(tune_for_long_run())
    ['arrow_system_pool', 'glibc']
    """
    applied = {"glibc": False, "arrow_system_pool": False}
    libc = _glibc()
    if libc is not None:
        ok = libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
        ok &= libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
        ok &= libc.mallopt(_M_ARENA_MAX, ARENA_MAX) == 1
        applied["glibc"] = bool(ok)
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
    applied["arrow_system_pool"] = pa.default_memory_pool().backend_name == "system"
    return applied


def release_free_memory() -> None:
    """Return freed heap pages to the OS (``malloc_trim``); a no-op without glibc.

    >>> release_free_memory()
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def resident_bytes() -> int | None:
    """This process's resident set size in bytes (None where ``/proc`` is missing).

    >>> resident_bytes() is None or resident_bytes() > 1 << 20
    True
    """
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
