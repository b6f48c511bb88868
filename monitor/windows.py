"""Window statistics: per-segment sufficient statistics computed with two GROUP BY queries.

The length histogram counts responses that are not refusals: a refusal is short, so a
refusal regression would otherwise show twice (refusal rate and length). Refusals have
their own metric; length then measures how the model answers when it answers.

For each segment: event count, refusal count, JSON-expecting count and parse failures,
labelled count and task successes, and the exact integer histogram of response length.
These merge by addition, so hours, files and processes combine without raw rows.

Example:
    >>> import duckdb, pandas as pd
    >>> con = duckdb.connect()
    >>> _ = con.register("events", pd.DataFrame({"model": ["m", "m"], "chars": [3, 5], "words": [1, 1],
    ...     "output_tokens": [None, None], "refusal": [False, True], "expects_json": [False, False],
    ...     "parse_failed": [False, False], "task_success": [None, True], "ts": pd.to_datetime(["2026-01-01"] * 2)}))
    >>> stats = window_stats(con, "TRUE", [], ["model"])
    >>> s = stats[("m",)]
    >>> s.n, s.refusals, s.task_n, s.task_successes, s.length.n
    (2, 1, 1, 1, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

from detectors.histogram import IntHistogram

SegmentKey = tuple[Any, ...]


@dataclass
class SegmentStats:
    """Sufficient statistics of one segment in one window."""

    n: int = 0
    refusals: int = 0
    json_n: int = 0
    parse_failures: int = 0
    task_n: int = 0
    task_successes: int = 0
    length: IntHistogram = field(default_factory=IntHistogram.empty)

    def __add__(self, other: "SegmentStats") -> "SegmentStats":
        return SegmentStats(self.n + other.n, self.refusals + other.refusals, self.json_n + other.json_n,
                            self.parse_failures + other.parse_failures, self.task_n + other.task_n,
                            self.task_successes + other.task_successes, self.length + other.length)


def window_stats(con: duckdb.DuckDBPyConnection, where: str, params: list[Any], by: list[str],
                 length_measure: str = "chars", *, relation: str = "events") -> dict[SegmentKey, SegmentStats]:
    """Per-segment statistics of the rows of ``relation`` matching ``where``."""
    keys = ", ".join(by)
    group = f"GROUP BY {keys}" if by else ""
    select_keys = f"{keys}, " if by else ""
    counts = con.execute(
        f"""SELECT {select_keys}
                   count(*) AS n,
                   count(*) FILTER (WHERE refusal) AS refusals,
                   count(*) FILTER (WHERE expects_json) AS json_n,
                   count(*) FILTER (WHERE expects_json AND parse_failed) AS parse_failures,
                   count(task_success) AS task_n,
                   count(*) FILTER (WHERE task_success) AS task_successes
            FROM {relation} WHERE {where} {group}""", params).fetchall()
    result: dict[SegmentKey, SegmentStats] = {}
    width = len(by)
    for row in counts:
        key = tuple(row[:width])
        result[key] = SegmentStats(*[int(v) for v in row[width:]])
    hist = con.execute(
        f"""SELECT {select_keys} {length_measure} AS length, count(*) AS c
            FROM {relation} WHERE ({where}) AND {length_measure} IS NOT NULL AND NOT coalesce(refusal, false)
            GROUP BY {select_keys} {length_measure}""", params).fetchnumpy()
    if len(hist["c"]):
        lengths = np.asarray(hist["length"], dtype=np.int64)
        freq = np.asarray(hist["c"], dtype=np.int64)
        if width:
            seg_cols = [np.asarray(hist[k], dtype=object) for k in by]
            seg_keys = list(zip(*seg_cols))
            order: dict[SegmentKey, list[int]] = {}
            for i, key in enumerate(seg_keys):
                order.setdefault(key, []).append(i)
            for key, idx in order.items():
                result[key].length = IntHistogram.from_pairs(lengths[idx], freq[idx])
        else:
            result[()].length = IntHistogram.from_pairs(lengths, freq)
    return result


def time_series(con: duckdb.DuckDBPyConnection, where: str, params: list[Any], by: list[str],
                freq: str = "1 hour", *, relation: str = "events") -> Any:
    """Sufficient statistics per segment and time bucket, as a DataFrame (for plots and change points)."""
    keys = "".join(f"{k}, " for k in by)
    return con.execute(
        f"""SELECT {keys} time_bucket(INTERVAL '{freq}', ts) AS bucket,
                   count(*) AS n,
                   count(*) FILTER (WHERE refusal) AS refusals,
                   count(*) FILTER (WHERE expects_json) AS json_n,
                   count(*) FILTER (WHERE expects_json AND parse_failed) AS parse_failures,
                   count(task_success) AS task_n,
                   count(*) FILTER (WHERE task_success) AS task_successes,
                   median(chars) AS median_chars,
                   quantile_cont(chars, 0.9) AS p90_chars
            FROM {relation} WHERE {where}
            GROUP BY ALL ORDER BY {keys} bucket""", params).df()
