"""Keep a long-running process's memory flat: allocator settings, heap trimming, current RSS.

The sidecar (``llm-monitor tail``) runs for weeks and handles every batch through Python
objects, Arrow and DuckDB. Freed heap pages stay mapped unless they are handed back, every
thread that allocates gets its own glibc arena (up to 8 per core), and Arrow's default mimalloc
pool keeps pages of its own. :func:`prefer_returning_arrow_pool` (before pyarrow is imported)
and :func:`tune_for_long_run` cap the arenas and move Arrow, its C++ code included, to its
jemalloc pool with immediate decay; :func:`release_free_memory` hands freed pages back to the
OS (glibc's heap and Arrow's pool); :func:`drop_cold_code` hands back library code not run since
the last pass; :func:`resident_bytes` is what the status line reports.

Deliberately *not* done (measured on the sidecar, docs/TAIL.md):

* fixing glibc's mmap or trim threshold (``M_MMAP_THRESHOLD``, ``M_TRIM_THRESHOLD``). Either
  one switches off glibc's dynamic threshold, so every batch-sized buffer is mapped and
  unmapped again and each of its pages faulted in: 20-30% of the throughput lost;
* sending Arrow's buffers through glibc (``pyarrow.system_memory_pool``): with the dynamic
  threshold they land in, and fragment, the heap; the heap grew by 50 MB in 150 s (its RSS
  median over 30 s was as low as jemalloc's, the growth is why jemalloc was chosen);
* releasing free memory after every commit rather than at each status write: no change of the
  RSS median at 1,000 events/s (257 vs 246 MB, within the run-to-run noise);
* DuckDB settings (``threads = 1``, ``allocator_flush_threshold = '4MB'``, ``memory_limit``) on
  the sidecar's statistics connection: no change (in process, 225 vs 227 MB);
* fewer Arrow threads (``pyarrow.set_cpu_count(1)``, ``set_io_thread_count(1)``): no change
  (201 vs 199 MB; the sidecar had 16 threads either way).

On a platform without glibc (macOS, musl) the allocator calls do nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache
from typing import Any

HEAVY_MODULES = ("pandas", "scipy", "scipy.special", "scipy.stats", "matplotlib", "duckdb", "pyarrow",
                 "pyarrow.parquet", "jsonschema", "sentry_sdk", "prometheus_client")
"""Libraries whose import costs megabytes of resident memory (see docs/TAIL.md, Footprint)."""

# glibc <malloc.h>
_M_ARENA_MAX = -8
# Linux <sys/mman.h>
_MADV_PAGEOUT = 21

COLD_CODE_INTERVAL_S = 60.0
"""Default seconds between two :func:`drop_cold_code` passes of the sidecar."""


def cold_code_interval_s() -> float:
    """Seconds between two :func:`drop_cold_code` passes: ``$LLM_MONITOR_COLD_CODE_S`` if set
    (0: never), else :data:`COLD_CODE_INTERVAL_S`.

    >>> cold_code_interval_s() >= 0
    True
    """
    from monitor.errors import UserError

    raw = os.environ.get("LLM_MONITOR_COLD_CODE_S", "").strip()
    if not raw:
        return COLD_CODE_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise UserError(f"LLM_MONITOR_COLD_CODE_S must be a number of seconds (0: never), got {raw!r}")
    return value

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


def tune_for_long_run() -> dict[str, Any]:
    """Set the allocators up for a process that must not grow; returns what was applied.

    glibc: at most 2 malloc arenas shared by all threads (instead of up to 8 per core, each
    keeping its own free pages). Arrow: its jemalloc pool with pages handed back at once
    (:func:`use_returning_arrow_pool`). Call it once, early, in the process that runs for a
    long time (``llm-monitor tail`` does).

    >>> tune_for_long_run()["glibc_arena_max"]
    True
    """
    libc = _glibc()
    return {"glibc_arena_max": libc is not None and libc.mallopt(_M_ARENA_MAX, ARENA_MAX) == 1,
            "arrow_pool": use_returning_arrow_pool()}


def use_returning_arrow_pool() -> str:
    """Make Arrow allocate from its jemalloc pool with a decay time of 0 (freed pages go back to
    the OS at once), unless ``ARROW_DEFAULT_MEMORY_POOL`` names a pool; returns the pool's name.

    Arrow's default pool on Linux is mimalloc, which reserves a 1 GiB arena and kept about 35 MB
    of it resident in the sidecar whatever :func:`release_free_memory` asked; with jemalloc the
    sidecar's RSS median at 1,000 events/s was 20-30 MB lower (docs/TAIL.md, Footprint). A
    pyarrow built without jemalloc keeps its default pool.

    >>> use_returning_arrow_pool() in ("jemalloc", "mimalloc", "system")
    True
    """
    import pyarrow as pa

    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL", "jemalloc") != "jemalloc":
        return pa.default_memory_pool().backend_name
    try:
        pool = pa.jemalloc_memory_pool()
        pa.jemalloc_set_decay_ms(0)
    except NotImplementedError:
        return pa.default_memory_pool().backend_name
    pa.set_memory_pool(pool)
    return pool.backend_name


def prefer_returning_arrow_pool() -> bool:
    """Make jemalloc the default pool of Arrow's C++ code too; returns whether it was set.

    :func:`use_returning_arrow_pool` changes the pool pyarrow's Python calls allocate from, but
    Arrow's own C++ code (the Parquet writer and readers) allocates from the default pool it
    chose when pyarrow was imported: mimalloc, whose 1 GiB arena then kept 21 MB resident in a
    sidecar at 1,000 events/s (docs/TAIL.md, Footprint). That choice reads
    ``ARROW_DEFAULT_MEMORY_POOL`` once, so this must run before ``import pyarrow``; it does
    nothing when pyarrow is already imported or the variable is set (the user's choice wins).
    The CLI calls it for ``tail`` only.

    >>> prefer_returning_arrow_pool() in (True, False)
    True
    """
    if "pyarrow" in sys.modules or os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return False
    os.environ["ARROW_DEFAULT_MEMORY_POOL"] = "jemalloc"
    return True


def release_free_memory() -> None:
    """Return freed pages to the OS: glibc's heap (``malloc_trim``) and Arrow's memory pool.

    >>> release_free_memory()
    """
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def drop_cold_code(smaps: str = "/proc/self/smaps") -> int:
    """Hand the OS back the library code and read-only data pages this process mapped in and
    may not use again; returns how many mappings were advised (0 where not supported).

    Importing and starting DuckDB, Arrow and the JSON Schema validator pages in about 40 MB of
    their code (DuckDB alone registers its whole catalog of functions when a database opens),
    most of which a sidecar never runs again. These pages are clean copies of the library
    files: ``madvise(MADV_PAGEOUT)`` (Linux 5.4+) drops them, and the pages the sidecar does
    run come back on first use (a minor fault when they are still in the page cache), so the
    RSS measured after a pass is the code the sidecar actually runs. Only file-backed mappings of
    shared libraries that are executable or read-only *and hold no private copy of a page*
    (``Anonymous: 0 kB`` in ``smaps``: relocated read-only data is such a copy) are advised, never
    writable or anonymous memory, so nothing goes to swap and no data is lost.

    >>> drop_cold_code("/nonexistent")
    0
    """
    libc = _glibc()
    if libc is None or not hasattr(libc, "madvise"):
        return 0
    try:
        with open(smaps, encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return 0
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    advised = 0
    for low, high in library_ranges(lines):
        if libc.madvise(low, high - low, _MADV_PAGEOUT) != 0:
            return advised  # an older kernel (EINVAL): nothing more to try
        advised += 1
    return advised


def library_ranges(smaps_lines: list[str]) -> list[tuple[int, int]]:
    """The address ranges of ``/proc/<pid>/smaps`` (or ``maps``) lines that
    :func:`drop_cold_code` may hand back: private, read-only or executable mappings of a shared
    library file with no private (anonymous) page in them.

    >>> library_ranges(["7f00-7f10 r-xp 00000000 08:01 9 /usr/lib/libduckdb.so.1\\n",
    ...                 "Anonymous:             0 kB\\n",
    ...                 "7f10-7f20 rw-p 00010000 08:01 9 /usr/lib/libduckdb.so.1\\n",
    ...                 "7f20-7f28 r--p 00000000 08:01 9 /usr/lib/libduckdb.so.1\\n",
    ...                 "Anonymous:             8 kB\\n",
    ...                 "7f28-7f30 r--p 00000000 00:00 0 \\n"])
    [(32512, 32528)]
    """
    ranges: list[tuple[int, int]] = []
    candidate: tuple[int, int] | None = None
    for line in smaps_lines:
        parts = line.split(maxsplit=5)
        if parts and parts[0].endswith(":"):  # a field of the mapping above
            if parts[0] == "Anonymous:" and candidate is not None and len(parts) > 1 and parts[1] != "0":
                candidate = None
            continue
        if candidate is not None:
            ranges.append(candidate)
        candidate = None
        if len(parts) < 6 or parts[1] not in ("r-xp", "r--p") or ".so" not in parts[5]:
            continue
        low, high = (int(x, 16) for x in parts[0].split("-"))
        candidate = (low, high)
    if candidate is not None:
        ranges.append(candidate)
    return ranges


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


def heavy_modules() -> list[str]:
    """Which of :data:`HEAVY_MODULES` this process has imported (the status file's
    ``heavy_modules``, so that what the hot path loads can be checked from outside).

    >>> "json" in heavy_modules(), set(heavy_modules()) <= set(HEAVY_MODULES)
    (False, True)
    """
    return [name for name in HEAVY_MODULES if name in sys.modules]
