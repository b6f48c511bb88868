"""The sidecar's side of the store: resume positions, and the commit of one batch.

Resume positions come from the store alone (see :mod:`monitor.tail.loop`): the largest
``source_offset`` per ``source_id`` over the event segments, plus the offsets of quarantined
lines beyond it (so they are not quarantined twice when re-read).

A batch of one source is committed by :func:`commit_tail_batch` through the commit path that
``llm-monitor ingest`` uses too (:func:`monitor.commit.commit_events`), under the store's
writer lock:

1. the batch's quarantined lines not quarantined before (by ``(source_id, offset)``) are
   written (one file, atomic rename);
2. the events are de-duplicated by ``request_id``, inside the batch and against the ids of
   the segments written in the last ``dedup_horizon_s`` seconds, which
   :class:`~monitor.tail.dedup.DuplicateGuard` keeps in memory (a second guard behind the
   offsets; each segment's ids are read once, so a commit never scans the store);
3. the events are written as one Parquet segment (atomic rename).

Example:
    >>> import tempfile
    >>> from datetime import datetime, timezone
    >>> from monitor.store import events_table
    >>> store = Store(tempfile.mkdtemp())
    >>> frame = events_table({"ts": [datetime(2026, 11, 25, 10, tzinfo=timezone.utc)] * 2, "request_id": ["a", "a"],
    ...                       "model": ["m", "m"], "response": ["hi", "hi"], "source_id": ["tail:x"] * 2,
    ...                       "source_offset": [10, 20], "source_line": [1, 2]}, 2)
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

import contextlib
import json
from typing import Any

import pyarrow as pa

from monitor.commit import CommitResult, commit_events
from monitor.retention import retained_positions
from monitor.store import Store
from monitor.tail.dedup import DuplicateGuard

__all__ = ["committed_positions", "commit_tail_batch", "CommitResult"]


def committed_positions(store: Store) -> tuple[dict[str, tuple[int, int]], dict[str, set[int]]]:
    """Where each tailed source resumes, from the store alone.

    Returns ``({source_id: (offset, line)}, {source_id: {offsets of quarantined lines beyond it}})``:
    the offset is the largest ``source_offset`` of the source's events, or of the events the
    retention deleted (:func:`monitor.retention.retained_positions`), whichever is larger
    (sources without events are absent: they start at 0); the quarantined offsets beyond it are the lines that must not
    be quarantined again.

    >>> import tempfile
    >>> committed_positions(Store(tempfile.mkdtemp()))
    ({}, {})
    """
    rows = store.read(lambda con: con.execute(
        "SELECT source_id, max(source_offset), arg_max(source_line, source_offset) FROM events "
        "WHERE source_id LIKE 'tail:%' GROUP BY source_id").fetchall())
    positions = {sid: (int(off), int(line)) for sid, off, line in rows}
    for sid, (off, line) in retained_positions(store).items():  # sources whose events retention deleted
        if off > positions.get(sid, (0, 0))[0]:
            positions[sid] = (off, line)
    seen: dict[str, set[int]] = {}
    if store.quarantine_dir.is_dir():
        for p in store.quarantine_dir.glob("*.jsonl"):
            with contextlib.suppress(FileNotFoundError), open(p, encoding="utf-8") as fh:
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


def commit_tail_batch(store: Store, frame: pa.Table, rejects: list[dict[str, Any]],
                      already_quarantined: dict[str, set[int]], *,
                      guard: DuplicateGuard | None = None) -> CommitResult:
    """Commit one batch of one source (:func:`monitor.commit.commit_events`): quarantine file
    first, then the event segment. ``frame``: the batch's events (an Arrow table,
    :class:`monitor.ingest.LoadedBatch`).

    ``already_quarantined`` ({source_id: offsets}) filters rejects an earlier run committed.
    ``guard``: request ids are checked against the recent ids it holds (None: against the
    whole store, like ``llm-monitor ingest``).
    """
    def new_rejects(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if r["offset"] not in already_quarantined.get(r["source_id"], ())]

    return commit_events(store, frame, rejects, new_rejects=new_rejects, index=guard)
