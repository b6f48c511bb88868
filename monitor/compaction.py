"""Compaction: merge many small event segments into one, crash-safely.

The sidecar (``llm-monitor tail``) writes a small segment every few seconds; a day of it is
thousands of files, and every read lists and opens all of them. :func:`compact` merges the
small segments into one ``c-`` segment.

Crash safety (a reader never sees a row twice or misses one, whenever the process dies):

1. the merged rows are written to ``tmp/`` and renamed into ``events/`` in one step
   (:meth:`monitor.store.Store.write_segment`); its Parquet metadata lists the segments it
   replaces, and readers skip every segment a live ``c-`` segment names
   (:meth:`~monitor.store.Store.live_segments`). Before the rename a reader sees the old
   segments only; after it, the new one only.
2. the job then waits ``settle_s`` seconds, so that any directory listing that started before
   the new segment existed has finished (a listing running while files are created and
   deleted may miss either; one that starts after the rename always sees the new segment),
   and only then deletes the replaced files. A reader that listed the old files and finds one
   gone gets an I/O error and :meth:`~monitor.store.Store.read` retries on a fresh listing.
3. every run first finishes what a killed run left: replaced segments still on disk are
   deleted, and ``c-`` files in ``tmp/`` (only compaction writes those, and it holds the
   writer lock) are removed; other ``tmp/`` files are removed once older than an hour.
4. a compacted segment can be compacted again: the new segment lists it (and, transitively,
   anything it still names) in its ``replaces``. Pending deletions are finished before a new
   merge starts, so deleting a ``c-`` segment never resurrects what it replaced.

The merge and the deletions run under :meth:`~monitor.store.Store.writer_lock`, so ingest and
compaction never race on the same files; the wait between them (step 2) does not hold the
lock, so ingest and the sidecar's commits go on while a merge settles. A compaction of another
process that starts during the wait deletes the replaced files in its step 3.

Example:
    >>> import tempfile, pandas as pd
    >>> from monitor.store import Store
    >>> store = Store(tempfile.mkdtemp())
    >>> for i in range(3):
    ...     frame = pd.DataFrame({"ts": pd.to_datetime(["2026-11-25T10:00:00Z"]), "request_id": [f"r{i}"],
    ...                           "model": ["m"], "response": ["hi"]})
    ...     _ = store.write_segment(store.frame_to_table(frame))
    >>> report = compact(store, day="2026-11-25", settle_s=0)
    >>> report.merged, report.rows, len(store.live_segments())
    (3, 3, 1)
    >>> int(store.sql("select count(*) as n from events").n[0])
    3
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from monitor.errors import UserError
from monitor.listing import replaced_names
from monitor.store import EVENT_SCHEMA, Store

SMALL_BYTES = 32 * 1024 * 1024
"""A segment below this size is "small" and worth merging."""
TARGET_BYTES = 256 * 1024 * 1024
"""Stop adding segments to one merge once their total size reaches this."""
STALE_TMP_S = 3600.0
"""Files in ``tmp/`` older than this are leftovers of a dead writer."""

ProgressFn = Callable[[int, int], None]


@dataclass
class CompactionReport:
    """What one :func:`compact` call did."""

    merged: int = 0
    """Number of segments merged into new ones."""
    rows: int = 0
    """Rows written to new segments."""
    written: list[str] = field(default_factory=list)
    """Names of the new ``c-`` segments."""
    deleted: int = 0
    """Replaced segment files deleted (this run's and any a killed run left)."""
    recovered: int = 0
    """Leftovers of earlier, interrupted runs cleaned up (replaced segments, tmp files)."""
    bytes_before: int = 0
    bytes_after: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """One line for the user.

        >>> CompactionReport(merged=12, rows=900, written=["c-x"], bytes_before=2_000_000, bytes_after=500_000).summary()
        'compaction: 12 segment(s), 900 row(s) -> 1 segment(s); 2.0 MB -> 0.5 MB'
        """
        if not self.merged:
            text = "compaction: nothing to merge"
        else:
            text = (f"compaction: {self.merged} segment(s), {self.rows} row(s) -> {len(self.written)} segment(s); "
                    f"{self.bytes_before / 1e6:.1f} MB -> {self.bytes_after / 1e6:.1f} MB")
        if self.recovered:
            text += f"; cleaned up {self.recovered} leftover(s) of an interrupted run"
        return text


def replaced_segments(path: Path) -> list[str]:
    """The segment names a merged segment replaces (from its Parquet metadata; [] if none or gone)."""
    try:
        return replaced_names(pq.read_schema(path).metadata)
    except FileNotFoundError:
        return []


def ts_range(path: Path) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Min and max ``ts`` of a segment from its Parquet statistics (the column if stats are missing)."""
    try:
        meta = pq.ParquetFile(path).metadata
    except pa.ArrowInvalid as exc:  # a damaged segment: the user's to repair, not a bug
        raise UserError(f"unreadable segment {path}: {str(exc).splitlines()[0]}") from None
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    if "ts" not in names:
        return None, None
    col = names.index("ts")
    lo: dt.datetime | None = None
    hi: dt.datetime | None = None
    for rg in range(meta.num_row_groups):
        stats = meta.row_group(rg).column(col).statistics
        if stats is None or not stats.has_min_max:
            values = pq.read_table(path, columns=["ts"]).column("ts")
            mm = pc.min_max(values)
            return mm["min"].as_py(), mm["max"].as_py()
        lo = stats.min if lo is None or stats.min < lo else lo
        hi = stats.max if hi is None or stats.max > hi else hi
    return lo, hi


def _parse_day(day: str | dt.date | None) -> dt.date | None:
    if day is None or isinstance(day, dt.date):
        return day
    try:
        return dt.date.fromisoformat(day)
    except ValueError:
        raise UserError(f"bad day {day!r}: use YYYY-MM-DD") from None


def _conform(table: pa.Table) -> pa.Table:
    """The table with exactly the store's columns (older segments may lack newer ones)."""
    columns = []
    for f in EVENT_SCHEMA:
        if f.name in table.column_names:
            columns.append(table.column(f.name).cast(f.type))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=EVENT_SCHEMA)


def recover(store: Store) -> int:
    """Finish what an interrupted compaction left behind; call with the writer lock held.

    Deletes segments that a live ``c-`` segment replaces, ``c-`` files in ``tmp/`` and other
    ``tmp/`` files older than :data:`STALE_TMP_S`. Returns the number of files removed.
    """
    removed = 0
    files = sorted(p for p in store.events_dir.iterdir() if p.suffix == ".parquet")
    names = {p.name for p in files}
    replaced: set[str] = set()
    for p in files:
        if p.name.startswith("c-"):
            replaced.update(replaced_segments(p))
    # Plain segments first, then replaced c- segments: a replacing segment lists everything
    # its inputs replaced, so the order is only a second line of defence.
    for name in sorted(replaced & names, key=lambda n: (n.startswith("c-"), n)):
        with contextlib.suppress(FileNotFoundError):
            (store.events_dir / name).unlink()
            removed += 1
    now = time.time()
    if store.tmp_dir.is_dir():
        for p in store.tmp_dir.iterdir():
            try:
                stale = p.name.startswith("c-") or now - p.stat().st_mtime > STALE_TMP_S
                if stale:
                    p.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
    return removed


def candidates(store: Store, day: str | dt.date | None = None, *, small_bytes: int = SMALL_BYTES) -> list[Path]:
    """The live segments a :func:`compact` call would merge.

    With ``day`` (UTC), the small segments whose rows all lie in that day; without, every
    small live segment.
    """
    the_day = _parse_day(day)
    chosen: list[Path] = []
    for p in store.live_segments():
        try:
            if p.stat().st_size >= small_bytes:
                continue
            if the_day is not None:
                lo, hi = ts_range(p)
                if lo is None or hi is None:
                    continue
                if lo.astimezone(dt.timezone.utc).date() != the_day or hi.astimezone(dt.timezone.utc).date() != the_day:
                    continue
        except FileNotFoundError:
            continue
        chosen.append(p)
    return chosen


def compact(store: Store, day: str | dt.date | None = None, *, small_bytes: int = SMALL_BYTES,
            target_bytes: int = TARGET_BYTES, min_segments: int = 2, settle_s: float = 1.0,
            progress: ProgressFn | None = None,
            on_phase: Callable[[str], None] | None = None, max_groups: int | None = None,
            row_group_bytes: int = 64 << 20, read_batch_rows: int | None = None) -> CompactionReport:
    """Merge small segments (of one UTC ``day``, or all) into ``c-`` segments, crash-safely.

    ``settle_s``: seconds between making the merged segment visible and deleting the files it
    replaces (see the module doc). ``progress(done, total)`` is called as segments are read.
    ``on_phase(name)`` is a test hook called at each step (``locked``, ``read``, ``written``,
    ``settled``, ``deleted:<i>``, ``done``). ``max_groups`` bounds the merges of one call (the
    sidecar merges one group at a time to keep the writer lock short). Inputs are streamed
    into the merged segment one at a time, and at most ``row_group_bytes`` of them are held
    before a row group is written, so memory stays flat whatever the group size. Each input
    is sorted by (ts, request_id) unless ``read_batch_rows`` is set: then inputs are read
    ``read_batch_rows`` rows at a time in file order (the sidecar: its segments are in log
    order already, and a whole input is never in memory).

    >>> import tempfile
    >>> compact(Store(tempfile.mkdtemp())).summary()
    'compaction: nothing to merge'
    """
    started = time.perf_counter()
    hook = on_phase or (lambda _name: None)
    report = CompactionReport()
    with store.writer_lock():
        hook("locked")
        report.recovered = recover(store)
        report.deleted += report.recovered
        chosen = candidates(store, day, small_bytes=small_bytes)
        if len(chosen) < min_segments:
            report.seconds = time.perf_counter() - started
            hook("done")
            return report
        groups: list[list[Path]] = [[]]
        size = 0
        for p in chosen:
            if groups[-1] and size >= target_bytes:
                groups.append([])
                size = 0
            groups[-1].append(p)
            size += p.stat().st_size
        groups = [g for g in groups if len(g) >= min_segments][:max_groups]
        total = sum(len(g) for g in groups)
        done = 0
        merged_groups: list[list[Path]] = []
        for group in groups:
            replaces: set[str] = set()
            for p in group:
                replaces.add(p.name)
                if p.name.startswith("c-"):
                    replaces.update(replaced_segments(p))
                report.bytes_before += p.stat().st_size

            def inputs(group: list[Path] = group) -> Iterator[pa.Table]:
                nonlocal done
                for p in group:
                    if read_batch_rows:
                        with pq.ParquetFile(p) as pf:
                            for batch in pf.iter_batches(batch_size=read_batch_rows):
                                yield _conform(pa.Table.from_batches([batch]))
                    else:
                        yield _conform(pq.read_table(p)).sort_by([("ts", "ascending"), ("request_id", "ascending")])
                    done += 1
                    if progress:
                        progress(done, total)

            out, rows = store.write_segment_from(inputs(), prefix="c", replaces=sorted(replaces),
                                                 row_group_bytes=row_group_bytes)
            hook("read")
            hook("written")
            report.written.append(out.name)
            report.rows += rows
            report.merged += len(group)
            report.bytes_after += out.stat().st_size
            merged_groups.append(group)
    if not merged_groups:
        report.seconds = time.perf_counter() - started
        hook("done")
        return report
    # The wait runs without the lock, so ingest and the tailer's commits go on meanwhile. If
    # another writer's compaction starts in between, its recover() deletes the replaced files.
    if settle_s > 0:
        time.sleep(settle_s)
    hook("settled")
    with store.writer_lock():
        for group in merged_groups:
            for i, p in enumerate(group):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                    report.deleted += 1
                hook(f"deleted:{i}")
        report.deleted += recover(store)
    report.seconds = time.perf_counter() - started
    hook("done")
    return report


def _main() -> None:  # pragma: no cover - used by the crash test as a subprocess
    """``python -m monitor.compaction STORE [DAY]`` (prints the summary)."""
    import sys

    store = Store(sys.argv[1])
    day = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] != "-" else None
    settle = float(os.environ.get("LLM_MONITOR_COMPACT_SETTLE", "1.0"))
    print(compact(store, day, settle_s=settle).summary(), flush=True)


if __name__ == "__main__":  # pragma: no cover
    _main()
