"""Run an iterator ahead in a worker thread: a bounded, ordered, two-stage pipeline.

``ingest`` reads and loads block N+1 (DuckDB's parse, the signals: work that releases the GIL)
while the caller commits block N. :class:`RunAhead` takes any iterator, runs it in one worker
thread, and hands its items to the caller's thread in order, with at most ``depth`` items
finished and waiting (plus the one the worker is making and the one the caller holds).

What it guarantees, and what ``monitor.ingest`` relies on:

* **order**: the items come in the order the iterator makes them (one worker, one FIFO queue);
* **errors in place**: an exception raised by the iterator is raised in the caller's thread when
  the caller asks for the item it would have been, so every item made before it is handed over
  first: the same effect as iterating in the caller's thread (the same exception object, its
  traceback from the worker);
* **bounded memory**: the worker blocks when ``depth`` items wait;
* **clean stop**: leaving the ``with`` block (normally, by an exception in the caller, or by a
  ``break``) tells the worker to stop after the item it is making and joins it; the items it made
  are dropped (they touched nothing outside the process).

Example:
    >>> with RunAhead(iter(range(5)), depth=2) as items:
    ...     [x * 10 for x in items]
    [0, 10, 20, 30, 40]
    >>> def failing():
    ...     yield 1
    ...     raise ValueError("bad block")
    >>> seen = []
    >>> with RunAhead(failing()) as items:
    ...     try:
    ...         for x in items:
    ...             seen.append(x)
    ...     except ValueError as exc:
    ...         seen.append(str(exc))
    >>> seen
    [1, 'bad block']
"""

from __future__ import annotations

import contextlib
import queue
import threading
from types import TracebackType
from typing import ContextManager, Generic, Iterable, Iterator, TypeVar

__all__ = ["RunAhead", "run_ahead"]

T = TypeVar("T")

_POLL_S = 0.05
"""How often a worker blocked on a full queue looks whether it was told to stop."""


class _Done:
    """The end of the items (the iterator is exhausted)."""


class _Failed:
    """The iterator raised ``error`` (any exception, ``KeyboardInterrupt`` included)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class RunAhead(Generic[T]):
    """Iterate ``source`` in a worker thread, at most ``depth`` finished items ahead of the caller.

    Use it as a context manager (so the worker is stopped and joined whatever happens), and
    iterate it once. ``name`` names the thread (seen in profilers and thread dumps).
    """

    def __init__(self, source: Iterator[T], *, depth: int = 1, name: str = "llm-monitor-runahead") -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, not {depth}")
        self._source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._started = False

    def _put(self, item: object) -> bool:
        """Hand ``item`` over; False when told to stop first."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            for item in self._source:
                if not self._put(item):
                    return
        except BaseException as exc:  # handed to the caller, raised there
            self._put(_Failed(exc))
            return
        self._put(_Done())

    def __enter__(self) -> "RunAhead[T]":
        self._started = True
        self._thread.start()
        return self

    def __iter__(self) -> Iterator[T]:
        if not self._started:
            raise RuntimeError("use RunAhead as a context manager: with RunAhead(...) as items")
        while True:
            item = self._queue.get()
            if isinstance(item, _Done):
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop the worker after the item it is making, and wait for it."""
        self._stop.set()
        if self._started:
            self._thread.join()
        close = getattr(self._source, "close", None)
        if close is not None and not self._thread.is_alive():
            close()  # a generator's own ``finally`` blocks run now (files closed)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def run_ahead(source: Iterator[T], *, enabled: bool = True, depth: int = 1,
              name: str = "llm-monitor-runahead") -> ContextManager[Iterable[T]]:
    """:class:`RunAhead` over ``source``, or, with ``enabled=False``, ``source`` itself iterated in
    the caller's thread (the one-thread reference path): use ``with run_ahead(...) as items``.

    >>> with run_ahead(iter("abc"), enabled=False) as items:
    ...     list(items)
    ['a', 'b', 'c']
    """
    return RunAhead(source, depth=depth, name=name) if enabled else contextlib.nullcontext(source)
