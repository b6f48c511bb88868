"""The statistics query, written once: per-segment sufficient statistics of events.

Every user of window statistics calls this module: ``check`` and the API's ``compare`` /
``window`` (:func:`window_stats`), the API's ``stats``, the report's series and the nightly
change points (:func:`time_series`), and the sidecar's baseline. For each segment (and
optionally each time bucket) it computes

- the counts of :data:`COUNT_PREDICATES` (events, refusals, JSON-expecting events and their
  parse failures, labelled events and their successes), from which every rate metric of
  :data:`detectors.metrics.METRIC_TABLE` is ``numerator / denominator``;
- the exact integer histogram of response length over events that are not refusals (a refusal
  is short, so a refusal regression would otherwise show twice; refusals have their own metric);
- the same of ``reasoning_length`` over the non-refusal events that carry reasoning (the
  ``reasoning_length`` metric; a store written before that column existed has none).

These merge by addition, so hours, files, processes and machines combine without raw rows. The
SQL is plain ``count_if(...)`` and ``GROUP BY`` over named columns, a subset DuckDB and
Spark SQL (3.0 and later) both run; only the time-bucket expression differs per engine (:data:`BUCKET_SQL`).

Example:
    >>> import duckdb, pandas as pd
    >>> con = duckdb.connect()
    >>> _ = con.register("events", pd.DataFrame({"model": ["m", "m"], "chars": [3, 5], "words": [1, 1],
    ...     "output_tokens": [None, None], "refusal": [False, True], "expects_json": [False, False],
    ...     "parse_failed": [False, False], "parse_status": ["not_expected"] * 2, "schema": [None, None],
    ...     "task_success": [None, True], "ts": pd.to_datetime(["2026-01-01"] * 2)}))
    >>> stats = window_stats(con, "TRUE", [], ["model"])
    >>> s = stats[("m",)]
    >>> s.n, s.refusals, s.task_n, s.task_successes, s.length.n
    (2, 1, 1, 1, 1)
    >>> ts = time_series(con, "TRUE", [], ["model"], "1 day")
    >>> ts.n.tolist(), ts.refusals.tolist(), ts.median_chars.tolist()
    ([2], [1], [3.0])
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import duckdb
import numpy as np

from detectors.histogram import IntHistogram

SegmentKey = tuple[Any, ...]

_JSON_INVALID = "expects_json AND parse_failed AND parse_status <> 'schema_violation'"

COUNT_PREDICATES: dict[str, str] = {
    "n": "TRUE",
    "refusals": "refusal",
    "json_n": "expects_json",
    "parse_failures": "expects_json AND parse_failed",
    "json_invalid": _JSON_INVALID,
    "schema_checked": f"expects_json AND schema IS NOT NULL AND NOT COALESCE({_JSON_INVALID}, FALSE)",
    "schema_violations": "expects_json AND parse_status = 'schema_violation'",
    "task_n": "task_success IS NOT NULL",
    "task_successes": "task_success",
}
"""Each count of :class:`SegmentStats`: the condition an event must meet to be counted."""

NOT_REFUSAL = "NOT COALESCE(refusal, FALSE)"
"""Which events the length histogram counts."""

BUCKET_SQL: dict[str, str] = {
    "duckdb": "time_bucket(INTERVAL '{freq}', ts)",
    "spark": "timestamp_seconds(floor(unix_timestamp(ts) / {seconds}) * {seconds})",
}
"""The time-bucket expression per engine (``freq`` is a DuckDB interval such as ``1 hour``)."""


@dataclass
class SegmentStats:
    """Sufficient statistics of one segment in one window (the counts of :data:`COUNT_PREDICATES`)."""

    n: int = 0
    refusals: int = 0
    json_n: int = 0
    parse_failures: int = 0
    json_invalid: int = 0
    """JSON-expecting events whose output is not JSON (not JSON, truncated, a Python literal,
    fenced where ``json_mode`` is strict): the failures that are not schema violations."""
    schema_checked: int = 0
    """JSON-expecting events with a schema whose JSON parsed (so the schema was checked)."""
    schema_violations: int = 0
    task_n: int = 0
    task_successes: int = 0
    length: IntHistogram = field(default_factory=IntHistogram.empty)
    reasoning: IntHistogram = field(default_factory=IntHistogram.empty)
    """Reasoning length (chars) of the non-refusal events with reasoning."""

    def __add__(self, other: "SegmentStats") -> "SegmentStats":
        counts = {name: getattr(self, name) + getattr(other, name) for name in COUNT_PREDICATES}
        return SegmentStats(**counts, length=self.length + other.length, reasoning=self.reasoning + other.reasoning)

    def rate(self, numerator: str, denominator: str) -> tuple[int, int]:
        """``(count, n)`` of a rate, by the names of two counts (see :mod:`detectors.metrics`).

        >>> SegmentStats(n=10, refusals=2).rate("refusals", "n")
        (2, 10)
        """
        return int(getattr(self, numerator)), int(getattr(self, denominator))


assert [f.name for f in fields(SegmentStats)] == [*COUNT_PREDICATES, "length", "reasoning"]

REASONING_MEASURE = "reasoning_length"
"""The column of the reasoning-length histogram (characters)."""


def counts_sql(relation: str, where: str, groups: list[str]) -> str:
    """The counts per group: one ``count_if(...)`` per :data:`COUNT_PREDICATES` entry.

    ``count_if`` rather than ``SUM(CASE WHEN ... THEN 1 ELSE 0 END)``: the same count (a NULL
    condition is not counted) at about three quarters of DuckDB's CPU time (benchmarks/ingest_check.py).

    ``groups`` are column names or ``expression AS alias`` items.

    >>> print(counts_sql("events", "TRUE", ["route"]).split(",")[1].strip())
    count_if(TRUE) AS n
    """
    select = "".join(f"{g}, " for g in groups)
    aggregates = ", ".join(f"count_if({pred}) AS {name}"
                           for name, pred in COUNT_PREDICATES.items())
    group = f" GROUP BY {', '.join(_expr(g) for g in groups)}" if groups else ""
    return f"SELECT {select}{aggregates} FROM {relation} WHERE {where}{group}"


def histogram_sql(relation: str, where: str, groups: list[str], measure: str) -> str:
    """The exact length histogram (``length``, count ``c``) per group, refusals left out."""
    select = "".join(f"{g}, " for g in groups)
    group = "".join(f"{_expr(g)}, " for g in groups)
    return (f"SELECT {select}{measure} AS length, COUNT(*) AS c FROM {relation} "
            f"WHERE ({where}) AND {measure} IS NOT NULL AND {NOT_REFUSAL} GROUP BY {group}{measure}")


def _expr(item: str) -> str:
    """``expr AS alias`` -> ``expr`` (GROUP BY repeats the expression, as Spark SQL requires)."""
    head, sep, _ = item.rpartition(" AS ")
    return head if sep else item


def bucket_expr(freq: str, engine: str = "duckdb") -> str:
    """The time-bucket expression of an engine.

    >>> bucket_expr("1 hour"), bucket_expr("15 minute", "spark")
    ("time_bucket(INTERVAL '1 hour', ts)", 'timestamp_seconds(floor(unix_timestamp(ts) / 900) * 900)')
    """
    import pandas as pd  # a report's time buckets, not the sidecar's statistics

    seconds = int(pd.Timedelta(freq).total_seconds())
    return BUCKET_SQL[engine].format(freq=freq, seconds=seconds)


def window_stats(con: duckdb.DuckDBPyConnection, where: str, params: list[Any], by: list[str],
                 length_measure: str = "chars", *, relation: str = "events") -> dict[SegmentKey, SegmentStats]:
    """Per-segment statistics of the rows of ``relation`` matching ``where`` (segments with events)."""
    counts = con.execute(counts_sql(relation, where, by), params).fetchall()
    hist = con.execute(histogram_sql(relation, where, by, length_measure), params).fetchnumpy()
    reasoning = (con.execute(histogram_sql(relation, where, by, REASONING_MEASURE), params).fetchnumpy()
                 if REASONING_MEASURE in _columns(con, relation) else None)
    return segment_stats(counts, _histograms(hist, by), _histograms(reasoning, by) if reasoning is not None else {}, by)


def segment_stats(counts: list[tuple[Any, ...]], length: dict[SegmentKey, IntHistogram],
                  reasoning: dict[SegmentKey, IntHistogram], by: list[str]) -> dict[SegmentKey, SegmentStats]:
    """The rows of the counts query (``by`` values, then the counts) and the histograms per
    segment -> :class:`SegmentStats` per segment with events."""
    width = len(by)
    result: dict[SegmentKey, SegmentStats] = {}
    for row in counts:
        if row[width]:  # no GROUP BY over no rows still gives one row of zeros
            result[tuple(row[:width])] = SegmentStats(*(int(v or 0) for v in row[width:]))
    for key, histogram in length.items():
        if key in result:
            result[key].length = histogram
    for key, histogram in reasoning.items():
        if key in result:
            result[key].reasoning = histogram
    return result


# ------------------------------------------------------------------ summaries written with a segment
SUMMARY_MEASURES: tuple[str, ...] = ("chars", "words", "output_tokens", REASONING_MEASURE)
"""The measures a segment's summary holds a histogram of (every ``length_measure``, and reasoning)."""


def summary_tables(con: duckdb.DuckDBPyConnection, relation: str, keys: list[str]) -> tuple[Any, Any]:
    """A segment's summary: this module's two queries over all of ``relation``, grouped by every
    segment key (``keys``), as Arrow tables ``(counts, histograms)``.

    ``counts`` has the key columns and one column per :data:`COUNT_PREDICATES` entry;
    ``histograms`` has the key columns, ``measure`` (one of :data:`SUMMARY_MEASURES`), ``length``
    and ``c``. Both merge by addition (:func:`merge_summary_sql`, :func:`group_histograms`), which
    is what makes a window's statistics from summaries equal to the scan's (:mod:`monitor.summaries`).
    """
    casts = ", ".join(f"CAST({name} AS BIGINT) AS {name}" for name in COUNT_PREDICATES)
    counts = con.sql(f"SELECT {', '.join(keys)}, {casts} FROM ({counts_sql(relation, 'TRUE', keys)})").to_arrow_table()
    parts = [f"SELECT '{m}' AS measure, * FROM ({histogram_sql(relation, 'TRUE', keys, m)})"
             for m in SUMMARY_MEASURES]
    sel = ", ".join(keys)
    hist = con.sql(f"SELECT {sel}, measure, CAST(length AS BIGINT) AS length, CAST(c AS BIGINT) AS c "
                       f"FROM ({' UNION ALL '.join(parts)})").to_arrow_table()
    return counts, hist


def merge_summary_sql(kind: str, relation: str, where: str, groups: list[str]) -> str:
    """Summaries -> the statistics of their union: the counts (``kind="counts"``) or the
    histogram rows (``kind="histograms"``) of ``relation`` matching ``where``, summed per group.

    >>> print(merge_summary_sql("histograms", "h", "TRUE", ["route"]))
    SELECT route, length, CAST(sum(c) AS BIGINT) AS c FROM h WHERE TRUE GROUP BY route, length
    """
    select = "".join(f"{g}, " for g in groups)
    if kind == "histograms":
        return (f"SELECT {select}length, CAST(sum(c) AS BIGINT) AS c FROM {relation} WHERE {where} "
                f"GROUP BY {select}length")
    sums = ", ".join(f"CAST(sum({name}) AS BIGINT) AS {name}" for name in COUNT_PREDICATES)
    group = f" GROUP BY {', '.join(groups)}" if groups else ""
    return f"SELECT {select}{sums} FROM {relation} WHERE {where}{group}"


def _columns(con: duckdb.DuckDBPyConnection, relation: str) -> set[str]:
    """Column names of a relation (a store written before a column existed lacks it)."""
    return {d[0] for d in con.execute(f"SELECT * FROM {relation} LIMIT 0").description}


def _histograms(hist: dict[str, Any], keys: list[str]) -> dict[SegmentKey, IntHistogram]:
    """Group the rows of a histogram query by their key columns."""
    if not len(hist["c"]):
        return {}
    lengths = np.asarray(hist["length"], dtype=np.int64)
    freq = np.asarray(hist["c"], dtype=np.int64)
    if not keys:
        return {(): IntHistogram.from_pairs(lengths, freq)}
    index: dict[SegmentKey, int] = {}
    codes = np.fromiter((index.setdefault(key, len(index)) for key in zip(*[np.asarray(hist[k], dtype=object) for k in keys])),
                        dtype=np.int64, count=len(freq))
    names = list(index)
    return {names[g]: h for g, h in group_histograms(codes, lengths, freq).items()}


def group_histograms(groups: np.ndarray, lengths: np.ndarray, counts: np.ndarray) -> dict[int, IntHistogram]:
    """One histogram per group from ``(group, length, count)`` rows; the rows of a group add up
    (a length may repeat: histograms merge by addition).

    >>> h = group_histograms(np.array([1, 0, 1]), np.array([5, 3, 5]), np.array([2, 1, 4]))
    >>> {g: (x.values.tolist(), x.counts.tolist()) for g, x in sorted(h.items())}
    {0: ([3], [1]), 1: ([5], [6])}
    """
    order = np.argsort(groups, kind="stable")
    g, v, c = groups[order], lengths[order], counts[order]
    bounds = [0, *(np.flatnonzero(np.diff(g)) + 1).tolist(), len(g)]
    return {int(g[a]): IntHistogram.from_pairs(v[a:b], c[a:b]) for a, b in zip(bounds, bounds[1:]) if b > a}


def _na_key(key: Any) -> SegmentKey:
    """A group key with pandas' missing values as None, so the two frames' keys compare equal."""
    import pandas as pd

    key = key if isinstance(key, tuple) else (key,)
    return tuple(None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in key)


def time_series(con: duckdb.DuckDBPyConnection, where: str, params: list[Any], by: list[str],
                freq: str = "1 hour", *, relation: str = "events", length_measure: str = "chars") -> Any:
    """The counts per segment and time bucket, with the median and p90 of non-refusal length.

    The bucket expression is the connection's ``dialect`` (a Spark connection of
    :mod:`monitor.engines` says ``spark``; DuckDB's has none and is ``duckdb``).

    One row per (``by``..., ``bucket``), oldest bucket first, with the columns of
    :data:`COUNT_PREDICATES` and ``median_chars`` / ``p90_chars`` (of ``length_measure``; NaN
    when every event of the bucket is a refusal). Refusals are left out of the length, as in
    :func:`window_stats`.
    """
    bucket = bucket_expr(freq, getattr(con, "dialect", "duckdb"))
    groups = [*by, f"{bucket} AS bucket"]
    counts = con.execute(counts_sql(relation, where, groups), params).df()
    for name in COUNT_PREDICATES:
        counts[name] = counts[name].fillna(0).astype("int64")
    hist = con.execute(histogram_sql(relation, where, groups, length_measure), params).df()
    quantiles: dict[SegmentKey, tuple[float, float]] = {}
    for key, rows in hist.groupby([*by, "bucket"], dropna=False, sort=False):
        h = IntHistogram.from_pairs(rows["length"].to_numpy(np.int64), rows["c"].to_numpy(np.int64))
        quantiles[_na_key(key)] = (float(h.quantile(0.5)), float(h.quantile(0.9)))
    nan = (float("nan"), float("nan"))
    pairs = [quantiles.get(_na_key(key), nan) for key in counts[[*by, "bucket"]].itertuples(index=False, name=None)]
    medians = [p[0] for p in pairs]
    p90s = [p[1] for p in pairs]
    counts["median_chars"] = np.asarray(medians, dtype=float)
    counts["p90_chars"] = np.asarray(p90s, dtype=float)
    return counts.sort_values([*by, "bucket"], kind="stable").reset_index(drop=True)
