"""A batch kernel over consecutive row ranges of a large batch, on every core.

Arrow compute kernels (RE2 matching and replacing, slicing, lower-casing) and numpy's array
operations release the GIL, so the parts of one batch run at the same time on a small thread
pool (the calling thread takes the first part). Each part gives what the whole batch would for
its rows: a kernel run this way must be row-wise (a row's result depends on that row alone),
which the caller checks by a test of parts against one pass.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, TypeVar

__all__ = ["PARALLEL_ROWS", "MAX_PARTS", "cores", "bounds", "map_parts"]

T = TypeVar("T")

#: Batches of fewer rows run in one part, in the calling thread: below this the fixed cost of
#: a kernel call (an Arrow regex kernel compiles its pattern on every call) outweighs the gain.
PARALLEL_ROWS = 20_000
#: At most this many parts (and threads) per batch, however many cores there are.
MAX_PARTS = 4

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it).

    >>> cores() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def bounds(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` consecutive ``(start, stop)`` row ranges covering ``range(n)``, sizes within one.

    >>> bounds(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    >>> bounds(0, 2)
    [(0, 0)]
    """
    parts = max(1, min(parts, n))
    cut = [n * k // parts for k in range(parts + 1)]
    return list(zip(cut[:-1], cut[1:]))


def _executor() -> ThreadPoolExecutor:
    """The process's pool (created on first use: small batches never start a thread)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=MAX_PARTS - 1, thread_name_prefix="llm-monitor-signals")
    return _pool


def map_parts(fn: Callable[[int, int], T], n: int, parts: int | None = None) -> list[T]:
    """``fn(start, stop)`` for each part of ``range(n)``, in row order.

    ``parts`` defaults to one per core (at most :data:`MAX_PARTS`) when ``n`` reaches
    :data:`PARALLEL_ROWS`, else one. The first part runs in the calling thread, the others on
    the pool; an exception in any part is raised here after every part has ended.

    >>> map_parts(lambda a, b: (a, b), 10, parts=2)
    [(0, 5), (5, 10)]
    """
    if parts is None:
        parts = min(cores(), MAX_PARTS) if n >= PARALLEL_ROWS else 1
    ranges = bounds(n, min(parts, MAX_PARTS))
    if len(ranges) == 1:
        return [fn(*ranges[0])]
    futures: list[Future[T]] = [_executor().submit(fn, *r) for r in ranges[1:]]
    try:
        first = fn(*ranges[0])
    finally:
        done = [f.exception() for f in futures]  # wait for every part before raising
    for err in done:
        if err is not None:
            raise err
    return [first] + [f.result() for f in futures]
