"""The tailer's side of the store: resume positions, the commit of one batch, background compaction.

Resume positions come from the store alone (see :mod:`monitor.tail`): the largest
``source_offset`` per ``source_id`` over the event segments, plus the offsets of quarantined
lines beyond it (so they are not quarantined twice when re-read).

The commit of one batch, under the store's writer lock:

1. the batch's quarantined lines are written (one file, atomic rename);
2. the events are de-duplicated by ``request_id``, inside the batch and against the ids of
   the segments written in the last ``dedup_horizon_s`` seconds, which :class:`DuplicateGuard`
   keeps in memory (a second guard behind the offsets; each segment's ids are read once, so a
   commit never scans the store);
3. the events are written as one Parquet segment (atomic rename).

Small segments are merged in the background by :class:`Compactor` (:func:`compact_streaming`).

Example:
    >>> import tempfile, pandas as pd
    >>> store = Store(tempfile.mkdtemp())
    >>> frame = pd.DataFrame({"ts": pd.to_datetime(["2026-11-25T10:00:00Z"] * 2), "request_id": ["a", "a"],
    ...                       "model": ["m", "m"], "response": ["hi", "hi"], "source_id": ["tail:x"] * 2,
    ...                       "source_offset": [10, 20], "source_line": [1, 2]})
    >>> bad = [{"source": "f", "line": 3, "reason": "invalid JSON", "raw": b"{", "offset": 22, "source_id": "tail:x"}]
    >>> r = commit_tail_batch(store, frame, bad, {})
    >>> len(r.frame), r.duplicates, r.quarantined
    (1, 1, 1)
    >>> committed_positions(store)
    ({'tail:x': (10, 1)}, {'tail:x': {22}})
    >>> commit_tail_batch(store, frame, bad, committed_positions(store)[1]).quarantined
    0
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from monitor.compaction import replaced_segments
from monitor.tail.dedup import RecentIds
from monitor.store import Store


def committed_positions(store: Store) -> tuple[dict[str, tuple[int, int]], dict[str, set[int]]]:
    """Where each tailed source resumes, from the store alone.

    Returns ``({source_id: (offset, line)}, {source_id: {offsets of quarantined lines beyond it}})``:
    the offset is the largest ``source_offset`` of the source's events (sources without events
    are absent: they start at 0); the quarantined offsets beyond it are the lines that must not
    be quarantined again.

    >>> import tempfile
    >>> committed_positions(Store(tempfile.mkdtemp()))
    ({}, {})
    """
    rows = store.read(lambda con: con.execute(
        "SELECT source_id, max(source_offset), arg_max(source_line, source_offset) FROM events "
        "WHERE source_id LIKE 'tail:%' GROUP BY source_id").fetchall())
    positions = {sid: (int(off), int(line)) for sid, off, line in rows}
    seen: dict[str, set[int]] = {}
    if store.quarantine_dir.is_dir():
        for p in store.quarantine_dir.glob("*.jsonl"):
            with open(p, encoding="utf-8") as fh:
                for text in fh:
                    if '"tail:' not in text:
                        continue
                    row = json.loads(text)
                    sid, off = row.get("source_id"), row.get("offset")
                    if not isinstance(sid, str) or not sid.startswith("tail:") or off is None:
                        continue
                    if off > positions.get(sid, (0, 0))[0]:
                        seen.setdefault(sid, set()).add(int(off))
    return positions, seen


def recent_segments(store: Store, horizon_s: float) -> list[Path]:
    """Live segments modified in the last ``horizon_s`` seconds."""
    cutoff = time.time() - horizon_s
    out = []
    for p in store.live_segments():
        try:
            if p.stat().st_mtime >= cutoff:
                out.append(p)
        except FileNotFoundError:
            continue
    return out


class DuplicateGuard:
    """The request ids of the store's recent segments, in memory (:class:`RecentIds`).

    Every live segment modified in the last ``horizon_s`` seconds is read once (its
    ``request_id`` column), whoever wrote it: at start-up that restores what a killed run
    committed, later it covers other writers and merged segments. The tailer's own commits
    are added as they are written.

    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> _ = store.write_segment(store.frame_to_table(pd.DataFrame({
    ...     "ts": pd.to_datetime(["2026-11-25T10:00:00Z"]), "request_id": ["r1"], "model": ["m"]})))
    >>> guard = DuplicateGuard(store)
    >>> guard.refresh()
    >>> guard.recent.seen(["r1", "r2"]).tolist()
    [True, False]
    """

    def __init__(self, store: Store, *, horizon_s: float = 600.0, capacity: int = 1_000_000,
                 read_batch_rows: int = 50_000) -> None:
        self.store = store
        self.recent = RecentIds(horizon_s=horizon_s, capacity=capacity)
        self.read_batch_rows = read_batch_rows
        self._covered: dict[str, float] = {}  # segment names whose ids are held -> when recorded
        self.segments_read = 0

    def refresh(self) -> None:
        """Take in the ids of recent segments not covered yet.

        A merged (``c-``) segment whose inputs are all covered is covered without reading it;
        any other new segment is read once, ``read_batch_rows`` ids at a time.
        """
        now = time.time()
        for p in recent_segments(self.store, self.recent.horizon_s):
            if p.name in self._covered:
                continue
            replaces = replaced_segments(p) if p.name.startswith("c-") else []
            if replaces and all(name in self._covered for name in replaces):
                self._covered[p.name] = now
                continue
            try:
                mtime = p.stat().st_mtime
                with pq.ParquetFile(p) as pf:
                    for batch in pf.iter_batches(batch_size=self.read_batch_rows, columns=["request_id"]):
                        ids = batch.column(0).drop_null().to_pandas()
                        self.recent.add(ids[~self.recent.seen(ids)], now=mtime)
            except FileNotFoundError:
                continue  # merged away meanwhile: the merged segment is read instead
            self.segments_read += 1
            for name in [p.name, *replaces]:
                self._covered[name] = now
        horizon = now - 2 * self.recent.horizon_s
        if len(self._covered) > 1024:
            self._covered = {name: t for name, t in self._covered.items() if t >= horizon}

    def committed(self, segment: str | Path, request_ids: pd.Series) -> None:
        """Record a segment this process has just written (its ids are not read back)."""
        self.recent.add(request_ids)
        self._covered[Path(segment).name] = time.time()


@dataclass
class CommitResult:
    """What one commit wrote: the events written, duplicates dropped, lines quarantined."""

    frame: pd.DataFrame
    duplicates: int
    quarantined: int
    segment: str | None


def commit_tail_batch(store: Store, frame: pd.DataFrame, rejects: list[dict[str, Any]],
                      already_quarantined: dict[str, set[int]], *,
                      guard: DuplicateGuard | None = None) -> CommitResult:
    """Commit one batch of one source: quarantine file first, then the event segment.

    ``already_quarantined`` ({source_id: offsets}) filters rejects an earlier run committed.
    ``guard``: request ids are checked against the recent ids it holds (None: against the
    whole store, like ``llm-monitor ingest``).
    """
    for attempt in range(5):
        try:
            return _commit(store, frame, rejects, already_quarantined, guard)
        except duckdb.IOException:  # a segment removed by a concurrent compaction: list again
            if attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")


def _commit(store: Store, frame: pd.DataFrame, rejects: list[dict[str, Any]],
            already_quarantined: dict[str, set[int]], guard: DuplicateGuard | None) -> CommitResult:
    with store.writer_lock():
        fresh = []
        for r in rejects:
            seen = already_quarantined.get(r["source_id"])
            if seen is not None and r["offset"] in seen:
                continue
            fresh.append(r)
        duplicates = 0
        segment = None
        if not frame.empty:
            before = len(frame)
            frame = frame.drop_duplicates("request_id", keep="first")
            if guard is not None:
                guard.refresh()
                frame = frame[~guard.recent.seen(frame["request_id"])]
            else:
                existing = store.existing_request_ids(frame["request_id"])
                if existing:
                    frame = frame[~frame["request_id"].isin(existing)]
            duplicates = before - len(frame)
        store.write_quarantine(fresh)
        if not frame.empty:
            segment = str(store.write_segment(store.frame_to_table(frame)))
            if guard is not None:
                guard.committed(segment, frame["request_id"])
    return CommitResult(frame, duplicates, len(fresh), segment)


def compact_streaming(store: Store, *, small_bytes: int = 4 << 20, target_bytes: int = 64 << 20,
                      min_segments: int = 32, settle_s: float = 1.0, row_group_bytes: int = 8 << 20,
                      read_batch_rows: int = 2_000) -> int:
    """Merge one group of small live segments once at least ``min_segments`` exist; returns how many.

    :func:`monitor.compaction.compact` with one group per call (the writer lock is held only
    for that merge); inputs are read ``read_batch_rows`` rows at a time, in log order, and
    written in row groups of about ``row_group_bytes`` (in memory), so the tailer's memory
    stays flat.

    >>> import tempfile, pandas as pd
    >>> store = Store(tempfile.mkdtemp())
    >>> for i in range(3):
    ...     _ = store.write_segment(store.frame_to_table(pd.DataFrame({
    ...         "ts": pd.to_datetime(["2026-11-25T10:00:00Z"]), "request_id": [f"r{i}"], "model": ["m"]})))
    >>> compact_streaming(store, min_segments=3, settle_s=0), len(store.live_segments())
    (3, 1)
    >>> int(store.sql("select count(*) as n from events").n[0])
    3
    """
    from monitor.compaction import candidates, compact

    if len(candidates(store, None, small_bytes=small_bytes)) < min_segments:
        return 0
    return compact(store, None, small_bytes=small_bytes, target_bytes=target_bytes, settle_s=settle_s,
                   max_groups=1, row_group_bytes=row_group_bytes, read_batch_rows=read_batch_rows).merged


class Compactor(threading.Thread):
    """Background compaction of small segments (:func:`compact_streaming`).

    Every ``interval_s`` seconds, and as long as at least ``min_segments`` small live segments
    exist, merges them one group at a time (crash-safe; readers never see a row twice), so
    the number of live segments stays bounded however fast events arrive. Each merge runs
    under the store's writer lock, released between groups so the tailer's commits go on.
    """

    def __init__(self, store: Store, stop: threading.Event, *, interval_s: float = 60.0, min_segments: int = 32,
                 small_bytes: int = 4 << 20, target_bytes: int = 64 << 20,
                 log: Callable[[str], None] | None = None) -> None:
        super().__init__(name="tail-compaction", daemon=True)
        self.store, self.stop_event = store, stop
        self.interval_s, self.min_segments = interval_s, min_segments
        self.small_bytes, self.target_bytes = small_bytes, target_bytes
        self.log = log or (lambda _t: None)
        self.runs = 0
        self.merged = 0

    def run(self) -> None:
        while not self.stop_event.wait(self.interval_s):
            try:
                self.merge_pending()
            except Exception as exc:  # noqa: BLE001 - compaction is an optimisation; never stop tailing
                self.log(f"compaction failed ({type(exc).__name__}: {exc}); will retry")

    def merge_pending(self, settle_s: float = 1.0) -> int:
        """Merge group after group until fewer than ``min_segments`` small segments are left
        (or stop is set); returns how many segments were merged."""
        total = 0
        while not self.stop_event.is_set():
            merged = compact_streaming(self.store, small_bytes=self.small_bytes, target_bytes=self.target_bytes,
                                       min_segments=self.min_segments, settle_s=settle_s)
            if not merged:
                break
            self.runs += 1
            self.merged += merged
            total += merged
        return total
