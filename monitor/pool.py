"""Independent kernels of one large batch, at the same time on every core.

Arrow compute kernels (RE2 matching and replacing, slicing, lower-casing) and numpy's array
operations release the GIL, so kernels that do not need each other's result (the word count and
the normalization; the gate alternations) run at the same time on a small thread pool, the
calling thread taking a share. Each kernel runs once over the whole batch, as it would in one
thread: the results are the same, and so is the CPU (an Arrow regex kernel compiles its pattern
on every call, so cutting the rows into parts would compile every pattern once per part).

The store uses the same pool to summarize a segment while the Parquet writer encodes it
(:meth:`monitor.store.Store.write_segment_from`).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

__all__ = ["PARALLEL_ROWS", "cores", "threaded", "run_all", "later"]

T = TypeVar("T")

#: Batches of fewer rows run their kernels one after the other in the calling thread: below
#: this, handing a kernel to a thread costs more than it saves.
PARALLEL_ROWS = 20_000

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


def threaded(rows: int) -> bool:
    """Do the kernels of a batch of ``rows`` rows go to the pool (more than one core, and at least
    :data:`PARALLEL_ROWS` rows)?

    >>> threaded(10)
    False
    """
    return rows >= PARALLEL_ROWS and cores() > 1


def _executor() -> ThreadPoolExecutor:
    """The process's pool, one thread per core but one (created on first use: a process that
    only sees small batches, like the sidecar's, never starts it)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=max(1, cores() - 1), thread_name_prefix="llm-monitor-signals")
    return _pool


def later(fn: Callable[[], T], use_pool: bool) -> Callable[[], T]:
    """``fn`` started on the pool when ``use_pool``; returns a function that gives its result
    (raising its exception). Without the pool ``fn`` runs when that function is called.

    >>> get = later(lambda: 6 * 7, use_pool=True)
    >>> get()
    42
    """
    if not use_pool:
        return fn
    future: Future[T] = _executor().submit(fn)
    return future.result


def run_all(tasks: Sequence[Callable[[], T]], use_pool: bool) -> list[T]:
    """The results of ``tasks``, in order: all but the first on the pool when ``use_pool``, the
    first in the calling thread; an exception of any task is raised after every task has ended.

    >>> run_all([lambda: 1, lambda: 2, lambda: 3], use_pool=True)
    [1, 2, 3]
    """
    if not use_pool or len(tasks) < 2:
        return [t() for t in tasks]
    futures = [_executor().submit(t) for t in tasks[1:]]
    try:
        first = tasks[0]()
    finally:
        errors = [f.exception() for f in futures]  # wait for every task before raising
    for err in errors:
        if err is not None:
            raise err
    return [first] + [f.result() for f in futures]
