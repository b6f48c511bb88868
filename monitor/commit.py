"""The one commit path: quarantine first, then dedup and write, under the store's writer lock.

``llm-monitor ingest`` (:func:`monitor.ingest.commit_batch`) and the sidecar
(:func:`monitor.tail.writer.commit_tail_batch`) both commit a batch through
:func:`commit_events`. They differ only in two lookups, passed in:

* which rejected lines are new (``new_rejects``): ingest asks the store
  (:meth:`Store.new_quarantine_rows`: same source, line number and bytes); the sidecar knows the
  offsets it quarantined before (its resume position);
* which request ids are already stored (``index``, a :class:`RequestIdIndex`): ingest asks the
  whole store (:class:`StoreIds`); the sidecar asks the ids of recent segments held in memory
  (:class:`monitor.tail.dedup.DuplicateGuard`).

The steps, under the writer lock:

1. the new rejected lines are chosen, and the events are de-duplicated by ``request_id``
   (inside the batch, first wins; then against ``index``): all reads, nothing written yet, so a
   read that races a concurrent compaction (``duckdb.IOException``) is simply retried;
2. the quarantine file is written (``tmp/``, renamed into ``quarantine/``);
3. the events are written as one Parquet segment (``tmp/``, fsynced, renamed into ``events/``).

Because the quarantine file is renamed before the segment, and a segment's offsets mark its
lines as done, a crash between the two renames re-reads the batch: its quarantined lines are
recognised as known, its events were never written.

The batch is an Arrow table (:class:`monitor.ingest.LoadedBatch`), written as it is; a pandas
DataFrame is accepted too (converted by :meth:`Store.frame_to_table`).

Example:
    >>> import tempfile
    >>> from monitor.store import events_table
    >>> store = Store(tempfile.mkdtemp())
    >>> frame = events_table({"ts": [datetime(2026, 11, 25, 10, tzinfo=timezone.utc)] * 3,
    ...                       "request_id": ["a", "a", "b"], "model": ["m"] * 3, "response": ["hi"] * 3}, 3)
    >>> bad = [{"source": "f", "line": 4, "reason": "invalid JSON", "raw": b"{"}]
    >>> r = commit_events(store, frame, bad)
    >>> r.frame["request_id"].to_pylist(), r.duplicates, r.quarantined, r.known_rejects
    (['a', 'b'], 1, 1, 0)
    >>> r = commit_events(store, frame, bad)   # the same batch again: nothing new
    >>> len(r.frame), r.duplicates, r.quarantined, r.known_rejects, r.segment
    (0, 3, 0, 1, None)
"""

from __future__ import annotations

import time
from datetime import datetime, timezone  # noqa: F401 (the example)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from monitor.events import first_occurrences
from monitor.store import Store

__all__ = ["CommitResult", "RequestIdIndex", "StoreIds", "commit_events"]


class RequestIdIndex(Protocol):
    """Which request ids a store already holds, for the dedup step of a commit."""

    def seen(self, request_ids: pa.Array) -> np.ndarray:
        """A boolean array: True where the id is already stored."""

    def committed(self, segment: str | Path, request_ids: pa.Array) -> None:
        """Told about a segment just written by this commit."""


class StoreIds:
    """Every request id of the store (:meth:`Store.stored_request_ids`, a DuckDB semi-join over the
    live segments): ``llm-monitor ingest``.

    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> StoreIds(store).seen(pa.array(["x"])).tolist()
    [False]
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    def seen(self, request_ids: pa.Array) -> np.ndarray:
        return self.store.stored_request_ids(request_ids)

    def committed(self, segment: str | Path, request_ids: pa.Array) -> None:
        return None


@dataclass
class CommitResult:
    """What one commit wrote.

    ``frame``: the events written (an Arrow table of the store's schema); ``duplicates``: events dropped (same ``request_id`` earlier
    in the batch or already stored); ``quarantine_rows``: the rejected lines written
    (``quarantined`` of them); ``known_rejects``: rejected lines not written because they were
    quarantined before; ``segment``: the segment's path, or None when no event was new.
    """

    frame: pa.Table
    duplicates: int = 0
    quarantine_rows: list[dict[str, Any]] = field(default_factory=list)
    known_rejects: int = 0
    segment: str | None = None

    @property
    def quarantined(self) -> int:
        """How many rejected lines were written to the quarantine."""
        return len(self.quarantine_rows)


def commit_events(store: Store, frame: Any, rejects: list[dict[str, Any]], *,
                  new_rejects: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
                  index: RequestIdIndex | None = None, attempts: int = 5) -> CommitResult:
    """Commit one batch: the new rejected lines to the quarantine, then the new events as a segment.

    ``frame``: events with signals (an Arrow table of the store's columns, or a pandas DataFrame); ``rejects``: quarantine rows (``source``,
    ``line``, ``reason``, ``raw`` bytes, optionally ``offset`` and ``source_id``).
    ``new_rejects(rows)`` returns the rows not quarantined before (default: the store's
    quarantine, by source, line and bytes); ``index`` tells which request ids are stored
    (default: :class:`StoreIds`). A read that races a concurrent compaction is retried, up to
    ``attempts`` times. See the module docstring for the order of the steps.
    """
    new_rejects = new_rejects or store.new_quarantine_rows
    index = index or StoreIds(store)
    frame = store.frame_to_table(frame)
    for attempt in range(attempts):
        try:
            return _commit_locked(store, frame, rejects, new_rejects, index)
        except duckdb.IOException:  # a segment removed by a concurrent compaction: list again
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _commit_locked(store: Store, frame: pa.Table, rejects: list[dict[str, Any]],
                   new_rejects: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                   index: RequestIdIndex) -> CommitResult:
    with store.writer_lock():
        fresh = new_rejects(rejects) if rejects else []
        duplicates = 0
        if frame.num_rows:  # first in the batch wins; then not already stored (one mask, one filter)
            ids = frame["request_id"].combine_chunks()
            keep = first_occurrences(ids) & ~index.seen(ids)
            if not keep.all():
                duplicates = frame.num_rows - int(keep.sum())
                frame = frame.filter(pa.array(keep))
        store.write_quarantine(fresh)
        segment = None
        if frame.num_rows:
            segment = str(store.write_segment(frame))
            index.committed(segment, frame["request_id"].combine_chunks())
    return CommitResult(frame, duplicates, fresh, len(rejects) - len(fresh), segment)
