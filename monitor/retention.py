"""Bounded disk: the store's retention, applied by the sidecar's housekeeping and the nightly job.

What is kept (``[retention]`` and ``[outbox]`` in ``llm-monitor.toml``, docs/CONFIG.md):

* **events**: with ``events_days`` set, events older than ``events_days`` (by ``ts``) are
  deleted at each pass: a segment whose newest event is older is deleted, a segment that
  straddles the cutoff is rewritten without its old rows through the compaction protocol.
  Unset (the default), every event is kept: deleting data is the user's decision.
* **quarantine**: files older than ``quarantine_days`` (30) are deleted, then the oldest files
  while the quarantine holds more than ``quarantine_max_bytes`` (256 MiB).
* **alert log**: ``alerts.jsonl`` is rotated once it is larger than ``alerts_max_bytes``
  (64 MiB) to ``alerts.jsonl.1`` (``.1`` to ``.2``, ...), keeping ``alerts_keep`` (4) rotated
  files. An appender that opened the file before the rename writes its line into ``.1``:
  nothing is lost to a race.
* **outbox**: delivered entries older than ``[outbox] retention_days`` (7); pending entries
  are never deleted (:func:`monitor.alerting.purge_outbox`).

Crash safety (events): everything runs under the store's writer lock, after
:func:`monitor.compaction.recover` has finished what an interrupted merge left (so deleting an
expired merged segment can never bring back the segments it replaced). Before a segment is
deleted, the largest ``source_offset`` it holds for each tailed source is recorded in
``<store>/retained.json`` (written to ``tmp/`` and renamed): the sidecar resumes a file past
events that retention removed (:func:`monitor.tail.writer.committed_positions`) instead of
reading it again from the start. A crash between the two steps leaves the segment in place;
the next pass deletes it (recording a position twice is harmless: the largest is kept).

Example:
    >>> import tempfile, pandas as pd
    >>> from monitor.store import Store
    >>> store = Store(tempfile.mkdtemp())
    >>> _ = store.write_segment(store.frame_to_table(pd.DataFrame({
    ...     "ts": pd.to_datetime(["2026-01-01T10:00:00Z"]), "request_id": ["old"], "model": ["m"]})))
    >>> _ = store.write_segment(store.frame_to_table(pd.DataFrame({
    ...     "ts": pd.to_datetime(["2026-11-29T10:00:00Z"]), "request_id": ["new"], "model": ["m"]})))
    >>> now = pd.Timestamp("2026-11-30T00:00:00Z").timestamp()
    >>> r = apply_retention(store, RetentionConfig(events_days=30), now=now)
    >>> r.event_segments, r.event_rows, list(store.sql("select request_id from events").request_id)
    (1, 1, ['new'])
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from monitor.config import RetentionConfig
from monitor.store import Store
from sinks.private import private_file

__all__ = ["RetentionReport", "apply_retention", "expire_events", "expire_quarantine", "rotate_alert_log",
           "retained_positions", "RETAINED_FILE"]

RETAINED_FILE = "retained.json"
"""``{source_id: [offset, line]}``: where tailed sources stood in the segments retention deleted."""


@dataclass
class RetentionReport:
    """What one :func:`apply_retention` pass deleted."""

    event_segments: int = 0
    """Segments deleted, or rewritten without their old rows."""
    event_rows: int = 0
    """Event rows deleted."""
    quarantine_files: int = 0
    alert_files: int = 0

    def summary(self) -> str:
        """One line for the user.

        >>> RetentionReport(2, 900, 1, 0).summary()
        'retention: 900 event row(s) in 2 segment(s), 1 quarantine file(s), 0 rotated alert log(s) deleted'
        """
        return (f"retention: {self.event_rows} event row(s) in {self.event_segments} segment(s), "
                f"{self.quarantine_files} quarantine file(s), {self.alert_files} rotated alert log(s) deleted")


def apply_retention(store: Store, retention: RetentionConfig, *, now: float | None = None) -> RetentionReport:
    """Apply every ``[retention]`` limit to ``store`` (the outbox's is :func:`monitor.alerting.purge_outbox`)."""
    now = time.time() if now is None else now
    report = RetentionReport()
    if retention.events_days is not None:
        report.event_segments, report.event_rows = expire_events(store, retention.events_days, now=now)
    report.quarantine_files = expire_quarantine(store, retention.quarantine_days, retention.quarantine_max_bytes,
                                                now=now)
    report.alert_files = rotate_alert_log(store, retention.alerts_max_bytes, retention.alerts_keep)
    return report


def expire_events(store: Store, days: float, *, now: float | None = None) -> tuple[int, int]:
    """Delete the events more than ``days`` old; returns (segments deleted or rewritten, rows deleted).

    A segment whose newest event is older is deleted; a segment that straddles the cutoff is
    rewritten without its old rows, by the compaction protocol (a ``c-`` segment that names the
    segment it replaces; the replaced file is deleted by the next pass's
    :func:`monitor.compaction.recover`, so no reader's listing can miss both). Crash-safe as the
    module docstring says.

    >>> import tempfile, pandas as pd
    >>> store = Store(tempfile.mkdtemp())
    >>> _ = store.write_segment(store.frame_to_table(pd.DataFrame({"model": ["m"] * 2, "request_id": ["a", "b"],
    ...     "ts": pd.to_datetime(["2026-11-01T00:00:00Z", "2026-11-29T12:00:00Z"])})))
    >>> expire_events(store, 7, now=pd.Timestamp("2026-11-30T00:00:00Z").timestamp())
    (1, 1)
    >>> list(store.sql("select request_id from events").request_id)
    ['b']
    """
    from monitor.compaction import recover, replaced_segments, ts_range

    cutoff = dt.datetime.fromtimestamp((time.time() if now is None else now) - days * 86400.0, dt.timezone.utc)
    touched = rows = 0
    with store.writer_lock():
        recover(store)
        expired: list[Path] = []
        straddling: list[Path] = []
        for p in store.live_segments():
            with contextlib.suppress(FileNotFoundError):
                lo, hi = ts_range(p)
                if hi is not None and hi < cutoff:
                    expired.append(p)
                elif lo is not None and lo < cutoff:
                    straddling.append(p)
        if not expired and not straddling:
            return 0, 0
        kept: dict[str, pa.Table] = {}
        dropped: list[pa.Table] = []
        for p in straddling:
            table = pq.read_table(p)
            old = pc.less(table.column("ts"), pa.scalar(cutoff, table.schema.field("ts").type))
            old = pc.fill_null(old, False)
            dropped.append(table.filter(old))
            kept[p.name] = table.filter(pc.invert(old))
        _record_positions(store, [pq.read_table(p, columns=POSITION_COLUMNS) for p in expired] +
                          [t.select(POSITION_COLUMNS) for t in dropped])
        for p in straddling:  # the rewritten segment first: readers skip the one it replaces
            store.write_segment(kept[p.name], prefix="c", replaces=sorted({p.name, *replaced_segments(p)}))
            rows += pq.ParquetFile(p).metadata.num_rows - kept[p.name].num_rows
            touched += 1
        for p in expired:
            with contextlib.suppress(FileNotFoundError):
                rows += pq.ParquetFile(p).metadata.num_rows
                p.unlink()
                touched += 1
    return touched, rows


def retained_positions(store: Store) -> dict[str, tuple[int, int]]:
    """``{source_id: (offset, line)}`` recorded for tailed sources in deleted segments ({} if none).

    >>> import tempfile
    >>> retained_positions(Store(tempfile.mkdtemp()))
    {}
    """
    try:
        raw = json.loads((store.root / RETAINED_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return {str(k): (int(v[0]), int(v[1])) for k, v in raw.items()}


POSITION_COLUMNS = ["source_id", "source_offset", "source_line"]


def _record_positions(store: Store, tables: list[pa.Table]) -> None:
    """Merge into ``retained.json`` the largest offset (and its line) per tailed source of ``tables``."""
    positions = retained_positions(store)
    for table in tables:
        table = table.filter(pc.fill_null(pc.starts_with(table.column("source_id"), "tail:"), False))
        if table.num_rows == 0:
            continue
        grouped = table.group_by("source_id").aggregate([("source_offset", "max")])
        for sid, off in zip(grouped.column("source_id").to_pylist(), grouped.column("source_offset_max").to_pylist()):
            if off is None or off <= positions.get(sid, (0, 0))[0]:
                continue
            mask = pc.and_(pc.equal(table.column("source_id"), sid), pc.equal(table.column("source_offset"), off))
            line = table.filter(mask).column("source_line")[0].as_py() or 0
            positions[sid] = (int(off), int(line))
    if positions:
        _write_json(store, RETAINED_FILE, {k: list(v) for k, v in sorted(positions.items())})


def _write_json(store: Store, name: str, data: Any) -> None:
    tmp = store.tmp_dir / f".{name}.{os.getpid()}.tmp"
    with open(private_file(tmp), "w", encoding="utf-8") as fh:
        json.dump(data, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, store.root / name)


def expire_quarantine(store: Store, days: float, max_bytes: int, *, now: float | None = None) -> int:
    """Delete quarantine files older than ``days``, then the oldest while the rest exceed
    ``max_bytes``; returns how many were deleted.

    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> rows = [{"source": "f", "line": i, "reason": "invalid JSON", "raw": b"{" * 100} for i in range(3)]
    >>> for r in rows:
    ...     _ = store.write_quarantine([r])
    >>> one = max(p.stat().st_size for p in store.quarantine_dir.iterdir())
    >>> expire_quarantine(store, 30, 2 * one), len(store.quarantine())
    (1, 2)
    """
    now = time.time() if now is None else now
    cutoff = now - days * 86400.0
    deleted = 0
    with store.writer_lock():
        files = []
        for p in store.quarantine_dir.glob("*.jsonl"):
            with contextlib.suppress(FileNotFoundError):
                st = p.stat()
                files.append((st.st_mtime, p.name, st.st_size, p))
        files.sort()
        total = sum(f[2] for f in files)
        for mtime, _, size, p in files:
            if mtime >= cutoff and total <= max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                deleted += 1
            total -= size
    return deleted


def rotate_alert_log(store: Store, max_bytes: int, keep: int) -> int:
    """Rotate ``alerts.jsonl`` once larger than ``max_bytes``, keeping ``keep`` rotated files;
    returns how many old rotated files were deleted.

    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> for i in range(4):
    ...     _ = store.alert_log.write_text("x" * 100 + "\\n"); _ = rotate_alert_log(store, 50, 2)
    >>> sorted(p.name for p in store.root.glob("alerts.jsonl*"))
    ['alerts.jsonl.1', 'alerts.jsonl.2']
    """
    log = store.alert_log
    with store.writer_lock():
        try:
            if log.stat().st_size <= max_bytes:
                return 0
        except FileNotFoundError:
            return 0
        deleted = 0
        oldest = log.with_name(f"{log.name}.{keep}")
        if oldest.exists():
            oldest.unlink()
            deleted += 1
        for i in range(keep - 1, 0, -1):
            src = log.with_name(f"{log.name}.{i}")
            if src.exists():
                os.replace(src, log.with_name(f"{log.name}.{i + 1}"))
        os.replace(log, log.with_name(f"{log.name}.1"))
    return deleted
