"""Which change, when, and which model version: change points and version attribution.

Used by the nightly job (every alert gets its change point and the versions first seen near
it) and by the report (the same, for a ``check --report``). Functions take a
:class:`monitor.api.Monitor` and the comparison's windows and keys; they read the store, and
fill the findings' ``changed_at*``, ``versions_near_change`` and version ``details``.

- :func:`version_inventory`: per segment and model version, events in each window and first/last seen;
- :func:`name_versions`: the versions each window of a finding's segment saw;
- :func:`locate_changes`: the change point of every alert on the hourly series of its segment
  (:mod:`detectors.changepoint`), and the versions first seen within an hour of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from detectors.changepoint import changepoint_counts, changepoint_rate
from detectors.finding import Finding
from detectors.histogram import IntHistogram
from detectors.metrics import LENGTH_METRICS, METRIC
from monitor.progress import Progress
from monitor.stats import REASONING_MEASURE, bucket_expr, histogram_sql, time_series


def _or_where(*selectors: str) -> tuple[str, list[Any]]:
    from monitor.selectors import parse_selector

    terms, params = [], []
    for text in selectors:
        where, p = parse_selector(text).where()
        terms.append(f"({where})")
        params.extend(p)
    return " OR ".join(terms), params


def version_inventory(m: Any, keys: list[str], baseline: str, current: str) -> pd.DataFrame:
    """Per segment and model version: events in each window and first/last time seen in either.

    Columns: the segment ``keys``, ``model_version``, ``n_baseline``, ``n_current``,
    ``first_seen``, ``last_seen``.
    """
    from monitor.selectors import parse_selector

    bw, bp = parse_selector(baseline).where()
    cw, cp = parse_selector(current).where()
    sel = "".join(f"{k}, " for k in keys if k != "model_version")
    query = (f"SELECT {sel} model_version, count(*) FILTER (WHERE {bw}) AS n_baseline, "
             f"count(*) FILTER (WHERE {cw}) AS n_current, min(ts) AS first_seen, max(ts) AS last_seen "
             f"FROM events WHERE ({bw}) OR ({cw}) GROUP BY ALL ORDER BY ALL")
    return m.sql(query, bp + cp + bp + cp)


def _segment_mask(frame: pd.DataFrame, segment: dict[str, Any]) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in segment.items():
        if k in frame.columns:
            col = frame[k]
            mask &= (col.isna().to_numpy() if v is None else (col == v).fillna(False).to_numpy(dtype=bool))
    return mask


def name_versions(findings: list[Finding], inventory: pd.DataFrame, keys: list[str]) -> None:
    """Fill ``details`` with the model versions each window of a finding's segment saw."""
    for f in findings:
        seg = {k: f.segment.get(k) for k in keys if k != "model_version" and k in f.segment}
        rows = inventory[_segment_mask(inventory, seg)]
        base = {str(r.model_version): int(r.n_baseline) for r in rows.itertuples() if r.n_baseline}
        cur = {str(r.model_version): int(r.n_current) for r in rows.itertuples() if r.n_current}
        f.details["versions_baseline"] = base
        f.details["versions_current"] = cur
        f.details["new_versions"] = sorted(set(cur) - set(base))


# ------------------------------------------------------------------------------- change points
def _iso(value: Any) -> str:
    return pd.Timestamp(value).tz_convert("UTC").isoformat().replace("+00:00", "Z")


def _segment_where(segment: dict[str, Any], keys: list[str]) -> tuple[str, list[Any]]:
    terms, params = [], []
    for k in keys:
        if k not in segment:
            continue
        if segment[k] is None:
            terms.append(f"{k} IS NULL")
        else:
            terms.append(f"{k} = ?")
            params.append(segment[k])
    return " AND ".join(terms) or "TRUE", params


def _length_series(m: Any, where: str, params: list[Any], measure: str) -> tuple[list[Any], np.ndarray]:
    """Hourly counts of the (non-refusal) length in the 4 bins between the pooled quartiles
    (from the one hourly length histogram of :func:`monitor.stats.histogram_sql`)."""
    sql = histogram_sql("events", where, [f"{bucket_expr('1 hour', m.engine.dialect)} AS bucket"], measure)
    hist = m.engine.read(lambda con: con.execute(sql, params).df())
    if hist.empty:
        return [], np.zeros((0, 1))
    lengths, counts = hist["length"].to_numpy(np.int64), hist["c"].to_numpy(np.int64)
    pooled = IntHistogram.from_pairs(lengths, counts)
    cuts = sorted({int(pooled.order_statistic(min(pooled.n - 1, int(pooled.n * q / 4)))) for q in (1, 2, 3)})
    hist["bin"] = np.searchsorted(np.asarray(cuts), lengths, side="left")  # length <= cuts[i] -> bin i
    table = hist.pivot_table(index="bucket", columns="bin", values="c", fill_value=0, aggfunc="sum").sort_index()
    return list(table.index), table.to_numpy(dtype=np.float64)


def locate_changes(m: Any, findings: list[Finding], keys: list[str], baseline: str, current: str, *,
                   confidence: float = 0.95, inventory: pd.DataFrame | None = None,
                   progress: Progress | None = None) -> None:
    """Fill ``changed_at``, ``changed_at_low/high`` and ``versions_near_change`` of every alert.

    The series is hourly over the union of both windows, restricted to the finding's segment
    (on ``keys``); the estimate is :func:`detectors.changepoint.changepoint_rate` for rates and
    the quartile-bin count change (as :func:`detectors.changepoint.changepoint_length`) for length.
    """
    alerts = [f for f in findings if f.alert]
    if not alerts:
        return
    window_where, window_params = _or_where(baseline, current)
    from monitor.store import EVENT_COLUMNS

    measure = m.config.length_measure if m.config.length_measure in EVENT_COLUMNS else "chars"
    if inventory is None:
        inventory = version_inventory(m, keys, baseline, current)
    series_cache: dict[str, pd.DataFrame] = {}
    items = progress.steps("change points", alerts, len(alerts)) if progress else alerts
    for f in items:
        seg_where, seg_params = _segment_where(f.segment, [k for k in keys if k != "model_version"])
        where = f"({window_where}) AND {seg_where}"
        params = window_params + seg_params
        if f.metric in LENGTH_METRICS:
            column = measure if f.metric == "response_length" else REASONING_MEASURE
            times, matrix = _length_series(m, where, params, column)
            if len(times) < 2:
                continue
            result = changepoint_counts(matrix, times=times, confidence=confidence)
        else:
            num, den = METRIC[f.metric].numerator, METRIC[f.metric].denominator
            key = f.segment_key
            if key not in series_cache:
                series_cache[key] = m.engine.read(lambda con: time_series(con, where, params, [], "1 hour"))
            series = series_cache[key]
            series = series[series[den] > 0]
            if len(series) < 2:
                continue
            result = changepoint_rate(series[num].to_numpy(), series[den].to_numpy(),
                                      times=list(series.bucket), confidence=confidence)
        if result.index is None:
            continue
        f.changed_at, f.changed_at_low, f.changed_at_high = _iso(result.time), _iso(result.time_low), _iso(result.time_high)
        f.details["change_log_bayes_factor"] = round(float(result.log_bayes_factor), 2)
        lo = pd.Timestamp(result.time_low) - pd.Timedelta(hours=1)
        hi = pd.Timestamp(result.time_high) + pd.Timedelta(hours=2)
        seg = {k: f.segment.get(k) for k in keys if k != "model_version" and k in f.segment}
        rows = inventory[_segment_mask(inventory, seg)]
        near = rows[(rows.first_seen >= lo) & (rows.first_seen < hi)]
        f.versions_near_change = sorted(str(v) for v in near.model_version.unique())
