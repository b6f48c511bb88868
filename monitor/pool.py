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
from typing import Any, Callable, Sequence, TypeVar

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
    """The results of ``tasks``, in order. With ``use_pool``, the calling thread and the pool's
    threads take the tasks one at a time, in order, each taking the next one as soon as it is
    free, so the work is shared out however many threads the pool has (on two cores: the caller
    and one pool thread, which before took every task but the first by itself); a pool thread
    busy elsewhere is not waited for. An exception of any task is raised, the first in task
    order, after every task has ended.

    >>> run_all([lambda: 1, lambda: 2, lambda: 3], use_pool=True)
    [1, 2, 3]
    """
    if not use_pool or len(tasks) < 2:
        return [t() for t in tasks]
    results: list[Any] = [None] * len(tasks)
    errors: list[BaseException | None] = [None] * len(tasks)
    claimed = iter(range(len(tasks)))
    claim_lock = threading.Lock()

    def take_tasks() -> None:
        while True:
            with claim_lock:
                k = next(claimed, None)
            if k is None:
                return
            try:
                results[k] = tasks[k]()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, after every task has ended
                errors[k] = exc

    helpers = [_executor().submit(take_tasks) for _ in range(min(len(tasks) - 1, max(1, cores() - 1)))]
    try:
        take_tasks()
    finally:
        for helper in helpers:
            if not helper.cancel():  # one still queued (the pool busy elsewhere) has nothing left to take
                helper.result()
    for err in errors:
        if err is not None:
            raise err
    return results
