"""Segment summaries: each segment's sufficient statistics, written in its own Parquet footer.

A segment is immutable, so its statistics per segment key never change. The writer
(:meth:`monitor.store.Store.write_segment_from`: ingest, the sidecar, compaction and retention)
runs the one statistics query (:func:`monitor.stats.summary_tables`) over the rows it writes,
grouped by every segment key, and stores the result under :data:`SUMMARY_KEY` in the file's
key-value metadata, with the segment's first and last ``ts``. Being inside the file, a summary
is written and renamed into place with its rows (crash-safe like the segment itself), rebuilt
with them by compaction, and never outlives them.

A window's statistics (:func:`windows_stats`) then add up the summaries of the segments the
window covers whole (no time bound of the window falls inside the segment's
``[first ts, last ts]``) and scan only the others: segments without a summary (written before
summaries existed, or by the Spark backfill) and those a time bound cuts through. The result
equals the scan's (``tests/test_summaries.py``, a property test).

Layout of a summary: ``counts``, one row per segment key present (the key columns, then the
counts of :data:`monitor.stats.COUNT_PREDICATES`), whose row number is the key's id; and per
measure of :data:`monitor.stats.SUMMARY_MEASURES` a histogram table ``(sid, length, c)`` over
those ids. Each is an Arrow IPC stream (zstd), base64 in a JSON document; a histogram is
decoded only when a window asks for its measure.

Example:
    >>> import pyarrow as pa
    >>> from monitor.store import EVENT_SCHEMA, events_table
    >>> n = SUMMARY_MIN_ROWS
    >>> t = events_table({"model": ["m"] * n, "chars": [3, 5] * (n // 2), "refusal": [False, True] * (n // 2),
    ...                   "ts": pa.array(range(n), pa.timestamp("us", tz="UTC"))}, n)
    >>> s = decode(encode(summarize([t], EVENT_SCHEMA)))
    >>> (s.first_ts, s.last_ts, s.counts.column("n").to_pylist(), s.histogram("chars").to_pydict())
    (0, 9999, [10000], {'sid': [0], 'length': [3], 'c': [5000]})
    >>> summarize([t.slice(0, 10)], EVENT_SCHEMA) is None  # a small segment: scanned instead
    True
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from monitor.keys import SEGMENT_KEYS
from monitor.stats import (REASONING_MEASURE, SUMMARY_MEASURES, SegmentKey, SegmentStats, group_histograms,
                           merge_summary_sql, segment_stats, summary_tables, window_stats)

SUMMARY_KEY = b"llm_monitor.summary"
"""The Parquet key-value metadata key of a segment's summary."""

SUMMARY_VERSION = 1
"""The summary format; a summary of another version is ignored (the segment is scanned)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_KEYS = list(SEGMENT_KEYS)


@dataclass
class Summary:
    """One segment's statistics per segment key and its time range (microseconds since the
    epoch, UTC; None for an empty segment). See the module doc for the layout."""

    counts: pa.Table
    first_ts: int | None
    last_ts: int | None
    encoded: dict[str, str] = field(default_factory=dict, repr=False)
    """The histogram of each measure, base64 Arrow IPC, decoded on first use."""
    decoded: dict[str, pa.Table] = field(default_factory=dict, repr=False)

    def histogram(self, measure: str) -> pa.Table:
        """The ``(sid, length, c)`` rows of a measure's histogram."""
        if measure not in self.decoded:
            self.decoded[measure] = _read_ipc(self.encoded[measure])
        return self.decoded[measure]

    def covers(self, since: datetime | None, until: datetime | None) -> bool:
        """Whether a window ``[since, until)`` holds every row of the segment or none of it
        (so the summary, filtered by the window's keys alone, is the window's share)."""
        if self.first_ts is None or self.last_ts is None:
            return True
        lo, hi = _micros(since), _micros(until)
        return not self.overlaps(since, until) or ((lo is None or lo <= self.first_ts)
                                                   and (hi is None or self.last_ts < hi))

    def overlaps(self, since: datetime | None, until: datetime | None) -> bool:
        """Whether any row of the segment can fall in ``[since, until)``."""
        if self.first_ts is None or self.last_ts is None:
            return False
        lo, hi = _micros(since), _micros(until)
        return (lo is None or self.last_ts >= lo) and (hi is None or self.first_ts < hi)


def _micros(t: datetime | None) -> int | None:
    """An aware datetime -> microseconds since the epoch, exactly (no float)."""
    return None if t is None else (t - _EPOCH) // timedelta(microseconds=1)


SUMMARY_MIN_ROWS = 10_000
"""Segments of fewer rows get no summary. Summarizing costs a few DuckDB statements per segment
(tens of milliseconds on a loaded machine, docs/BENCHMARKS.md), more than scanning a small
segment saves; the sidecar commits segments of at most 5,000 lines, and its compaction (or the
nightly's) merges them into segments that get one."""

_DB: duckdb.DuckDBPyConnection | None = None
_DB_LOCK = threading.Lock()


def scratch_cursor() -> duckdb.DuckDBPyConnection:
    """A connection of its own to one in-memory database per process, for work that creates
    nothing but connection-scoped objects (registered tables, temporary views): opening a
    database costs tens of milliseconds (more on a loaded machine), a cursor next to nothing.
    Summaries are written with one, and windows read with one (:meth:`monitor.store.Store.connect_listed`)."""
    global _DB
    with _DB_LOCK:  # the sidecar's loop and its compactor are two threads
        if _DB is None:
            _DB = duckdb.connect()
        return _DB.cursor()


class SummaryBuilder:
    """Summarizes a segment table by table, as the writer streams them (memory: the summaries)."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self._con: duckdb.DuckDBPyConnection | None = None
        self.counts: list[pa.Table] = []
        self.histograms: list[pa.Table] = []
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.rows = 0
        self.waiting: list[pa.Table] = []
        """Tables not summarized yet: a segment of fewer than :data:`SUMMARY_MIN_ROWS` gets none."""

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The builder's DuckDB cursor, opened on first use: a segment below
        :data:`SUMMARY_MIN_ROWS` (every commit of the sidecar) never opens one."""
        if self._con is None:
            self._con = scratch_cursor()
        return self._con

    def add(self, table: pa.Table) -> None:
        """Add the rows of one table of the segment (of the builder's schema)."""
        if not table.num_rows:
            return
        self.rows += table.num_rows
        self.waiting.append(table)
        if self.rows >= SUMMARY_MIN_ROWS:
            for t in self.waiting:
                self._summarize(t)
            self.waiting = []
        bounds = pc.min_max(table.column("ts").cast(pa.int64()))
        lo, hi = bounds["min"].as_py(), bounds["max"].as_py()
        if lo is not None:
            self.first_ts = lo if self.first_ts is None else min(self.first_ts, lo)
            self.last_ts = hi if self.last_ts is None else max(self.last_ts, hi)

    def _summarize(self, table: pa.Table) -> None:
        self.con.register("summary_input", table)
        counts, histograms = summary_tables(self.con, "summary_input", _KEYS)
        self.con.unregister("summary_input")
        self.counts.append(counts)
        self.histograms.append(histograms)

    def summary(self) -> Summary | None:
        """The segment's summary (the partial ones added up), None for a segment of fewer than
        :data:`SUMMARY_MIN_ROWS` rows; closes the builder."""
        try:
            if self.rows < SUMMARY_MIN_ROWS:
                return None
            counts, histograms = self.counts[0], self.histograms[0]
            if len(self.counts) > 1:
                self.con.register("part_counts", pa.concat_tables(self.counts, promote_options="permissive"))
                self.con.register("part_histograms", pa.concat_tables(self.histograms, promote_options="permissive"))
                counts = self.con.sql(merge_summary_sql("counts", "part_counts", "TRUE", _KEYS)).to_arrow_table()
                histograms = self.con.sql(merge_summary_sql("histograms", "part_histograms", "TRUE",
                                                            [*_KEYS, "measure"])).to_arrow_table()
            # a key's id is its row in ``counts``; the histograms' rows get the id of their key
            ids = counts.select(_KEYS).append_column("sid", pa.array(np.arange(counts.num_rows, dtype=np.int32)))
            self.con.register("summary_keys", ids)
            self.con.register("summary_rows", histograms)
            same_key = " AND ".join(f"h.{k} IS NOT DISTINCT FROM k.{k}" for k in _KEYS)
            rows = self.con.sql(f"SELECT k.sid, h.measure, h.length, h.c FROM summary_rows h JOIN summary_keys k "
                                f"ON {same_key} ORDER BY h.measure, k.sid, h.length").to_arrow_table()
            encoded = {m: _ipc(rows.filter(pc.equal(rows.column("measure"), m)).select(["sid", "length", "c"]))
                       for m in SUMMARY_MEASURES}
            return Summary(counts, self.first_ts, self.last_ts, encoded)
        finally:
            if self._con is not None:
                self._con.close()


def summarize(tables: Iterable[pa.Table], schema: pa.Schema) -> Summary | None:
    """The summary of the rows of ``tables`` (event tables of ``schema``, the store's)."""
    builder = SummaryBuilder(schema)
    for table in tables:
        builder.add(table)
    return builder.summary()


def encode(summary: Summary) -> bytes:
    """A summary -> the ASCII value stored under :data:`SUMMARY_KEY`."""
    histograms = {m: summary.encoded[m] if m in summary.encoded else _ipc(summary.decoded[m]) for m in SUMMARY_MEASURES}
    return json.dumps({"version": SUMMARY_VERSION, "first_ts": summary.first_ts, "last_ts": summary.last_ts,
                       "counts": _ipc(summary.counts), "histograms": histograms}).encode()


def _ipc(table: pa.Table) -> str:
    sink = io.BytesIO()
    with ipc.new_stream(sink, table.schema, options=ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return base64.b64encode(sink.getvalue()).decode("ascii")


def _read_ipc(text: str) -> pa.Table:
    return ipc.open_stream(base64.b64decode(text)).read_all()


def decode(value: bytes | None) -> Summary | None:
    """The value under :data:`SUMMARY_KEY` -> a :class:`Summary` (None when absent, of another
    version, or unreadable: the segment is then scanned)."""
    if not value:
        return None
    try:
        doc = json.loads(value)
        if doc.get("version") != SUMMARY_VERSION or set(doc["histograms"]) != set(SUMMARY_MEASURES):
            return None
        return Summary(_read_ipc(doc["counts"]), doc["first_ts"], doc["last_ts"], dict(doc["histograms"]))
    except (ValueError, KeyError, TypeError, AttributeError, pa.ArrowException):
        return None


def segment_summaries(con: duckdb.DuckDBPyConnection, files: list[str]) -> dict[str, Summary]:
    """The summaries in the footers of ``files`` (segments without one are left out), read by
    DuckDB (a file removed meanwhile raises ``duckdb.IOException``, which the store's read retries)."""
    if not files:
        return {}
    rows = con.execute("SELECT file_name, value FROM parquet_kv_metadata(?) WHERE key = ?",
                       [files, SUMMARY_KEY]).fetchall()
    found = {name: decode(bytes(value)) for name, value in rows}
    return {f: s for f, s in found.items() if s is not None}


def windows_stats(con: duckdb.DuckDBPyConnection, files: list[str], selectors: list[Any], by: list[str],
                  length_measure: str = "chars") -> list[dict[SegmentKey, SegmentStats]]:
    """The statistics of each window (a :class:`monitor.selectors.Selector` of the store) over
    the segments ``files``: summaries where a segment has one and the window covers it whole, a
    scan of the rest (see the module doc). Equals :func:`monitor.stats.window_stats` over ``files``."""
    summaries = segment_summaries(con, files)
    out = []
    for n, sel in enumerate(selectors):
        whole = {f for f in files if f in summaries and summaries[f].covers(sel.since, sel.until)}
        used = [summaries[f] for f in files if f in whole and summaries[f].overlaps(sel.since, sel.until)]
        rest = [f for f in files if f not in whole]
        keys_only = dataclasses.replace(sel, since=None, until=None)  # the time is settled by `whole`
        stats = _summed(con, used, keys_only, by, length_measure) if used else {}
        if rest:
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in rest)
            con.execute(f"CREATE OR REPLACE TEMP VIEW events_rest_{n} AS "
                        f"SELECT * FROM read_parquet([{listing}], union_by_name = true)")
            where, params = sel.where()
            for key, s in window_stats(con, where, params, by, length_measure, relation=f"events_rest_{n}").items():
                stats[key] = stats[key] + s if key in stats else s
        out.append(stats)
    return out


def _summed(con: duckdb.DuckDBPyConnection, used: list[Summary], keys_only: Any, by: list[str],
            length_measure: str) -> dict[SegmentKey, SegmentStats]:
    """The statistics of the rows of the ``used`` summaries whose segment keys ``keys_only``
    (a selector without time bounds) selects: counts summed per ``by`` by SQL, histograms added
    per ``by`` group (:func:`monitor.stats.group_histograms`)."""
    parts = [s.counts.append_column("part", pa.array(np.full(s.counts.num_rows, i, np.int32)))
                     .append_column("sid", pa.array(np.arange(s.counts.num_rows, dtype=np.int32)))
             for i, s in enumerate(used)]
    con.register("summary_counts", pa.concat_tables(parts, promote_options="permissive"))
    where, params = keys_only.where()
    counts = con.execute(merge_summary_sql("counts", "summary_counts", where, by), params).fetchall()
    picked = con.execute(f"SELECT part, sid{''.join(f', {k}' for k in by)} FROM summary_counts WHERE {where}",
                         params).fetchall()
    groups: dict[SegmentKey, int] = {}
    lut = [np.full(s.counts.num_rows, -1, np.int64) for s in used]
    for part, sid, *key in picked:
        lut[part][sid] = groups.setdefault(tuple(key), len(groups))
    names = list(groups)
    hists = []
    for measure in (length_measure, REASONING_MEASURE):
        g, v, c = [], [], []
        for part, s in enumerate(used):
            h = s.histogram(measure)
            ids = lut[part][h.column("sid").to_numpy()]
            keep = ids >= 0
            g.append(ids[keep])
            v.append(h.column("length").to_numpy()[keep])
            c.append(h.column("c").to_numpy()[keep])
        merged = group_histograms(np.concatenate(g), np.concatenate(v), np.concatenate(c))
        hists.append({names[k]: hist for k, hist in merged.items()})
    return segment_stats(counts, hists[0], hists[1], by)
