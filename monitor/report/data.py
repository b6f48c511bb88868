"""The numbers behind the report's pictures, read from the store with a few GROUP BY queries.

Everything is computed per segment (the comparison's segment keys, without the key the two
windows compare, such as ``model_version`` in a model-swap check) and per window
(``baseline`` / ``current``), so two windows that overlap in time (a canary) are still drawn
as two series.

Example:
    >>> choose_freq(hours=7 * 24, events_per_segment=800), choose_freq(hours=24, events_per_segment=800)
    ('12 hour', '1 hour')
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from detectors.finding import Finding
from monitor.selectors import Selector, parse_selector
from monitor.stats import SegmentKey, SegmentStats, time_series

FREQS: list[tuple[str, float]] = [("1 hour", 1), ("2 hour", 2), ("3 hour", 3), ("6 hour", 6), ("12 hour", 12),
                                  ("1 day", 24), ("7 day", 168)]
"""Bucket widths the pictures choose from (DuckDB interval, hours)."""


def choose_freq(hours: float, events_per_segment: float, *, min_per_bucket: float = 30, max_buckets: int = 240) -> str:
    """The narrowest bucket with about ``min_per_bucket`` events and at most ``max_buckets`` buckets."""
    for name, width in FREQS:
        buckets = max(hours / width, 1.0)
        if buckets <= max_buckets and events_per_segment / buckets >= min_per_bucket:
            return name
    return FREQS[-1][0]


@dataclass
class ReportData:
    """Everything the report draws, gathered once."""

    baseline: str
    current: str
    keys: list[str]
    compared: dict[str, tuple[str, str]]
    findings: list[Finding]
    store_windows: bool
    base_stats: dict[SegmentKey, SegmentStats] = field(default_factory=dict)
    cur_stats: dict[SegmentKey, SegmentStats] = field(default_factory=dict)
    series: pd.DataFrame = field(default_factory=pd.DataFrame)
    freq: dict[str, str] = field(default_factory=dict)
    """Bucket width of each window's series (chosen from its span and event count)."""
    parse_status: pd.DataFrame = field(default_factory=pd.DataFrame)
    classes: pd.DataFrame = field(default_factory=pd.DataFrame)
    examples: pd.DataFrame = field(default_factory=pd.DataFrame)
    text_note: str = ""
    time_range: tuple[Any, Any] | None = None
    window_ranges: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    """Segments with events in one window only (not compared)."""

    def segment_of(self, f: Finding) -> dict[str, Any]:
        """The finding's segment on the kept keys (what the store rows are grouped by)."""
        return {k: f.segment.get(k) for k in self.keys}

    def key_of(self, f: Finding) -> SegmentKey:
        return tuple(f.segment.get(k) for k in self.keys)


def split_keys(comparison: Any) -> tuple[list[str], dict[str, tuple[str, str]], Selector, Selector]:
    """(kept keys, compared keys, baseline selector, current selector) of a comparison."""
    base, cur = parse_selector(comparison.baseline), parse_selector(comparison.current)
    return list(comparison.keys), dict(comparison.compared), base, cur


def _mask(frame: pd.DataFrame, keys: list[str], key: SegmentKey) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in zip(keys, key):
        col = frame[k]
        mask &= col.isna().to_numpy() if v is None else (col == v).fillna(False).to_numpy(dtype=bool)
    return mask


def segment_rows(frame: pd.DataFrame, keys: list[str], key: SegmentKey) -> pd.DataFrame:
    """The rows of ``frame`` that belong to segment ``key``."""
    if frame.empty:
        return frame
    return frame[_mask(frame, keys, key)]


def gather(m: Any, comparison: Any, *, max_examples: int = 12, per_class: int = 3) -> ReportData:
    """Read the series, histograms, parse statuses and examples the report needs."""
    keys, compared, base, cur = split_keys(comparison)
    findings = copy.deepcopy(list(comparison.items))  # the report annotates its own copies, never the caller's
    data = ReportData(comparison.baseline, comparison.current, keys, compared, findings,
                      store_windows=not (base.file or cur.file), unmatched=list(comparison.unmatched))
    if not data.store_windows:
        return data
    measure = m.config.length_measure
    data.base_stats = m.window(base, keys)
    data.cur_stats = m.window(cur, keys)
    bw, bp = base.where()
    cw, cp = cur.where()
    win = f"CASE WHEN ({cw}) THEN 'current' ELSE 'baseline' END"
    where = f"({bw}) OR ({cw})"
    sel_keys = "".join(f"{k}, " for k in keys)
    ranges = m.sql(f"SELECT {win} AS win, min(ts) AS lo, max(ts) AS hi, count(*) AS n FROM events "
                   f"WHERE {where} GROUP BY 1", cp + bp + cp)
    ranges = ranges.rename(columns={"win": "window"})
    if ranges.empty:
        return data
    data.window_ranges = {r.window: (r.lo, r.hi) for r in ranges.itertuples()}
    lo, hi = ranges.lo.min(), ranges.hi.max()
    data.time_range = (lo, hi)
    n_segments = max(len(set(data.base_stats) | set(data.cur_stats)), 1)
    frames = []
    for r in ranges.itertuples():
        hours = max((r.hi - r.lo).total_seconds() / 3600, 1.0)
        freq = choose_freq(hours, float(r.n) / n_segments)
        data.freq[r.window] = freq
        if r.window == "current":
            w_where, w_params = f"({cw})", list(cp)
        else:
            w_where, w_params = f"({bw}) AND NOT coalesce({cw}, false)", bp + cp
        series = m.engine.read(lambda con: time_series(con, w_where, w_params, keys, freq,
                                                       length_measure=measure))
        series.insert(len(keys), "window", r.window)
        frames.append(series)
    data.series = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    data.parse_status = m.sql(
        f"SELECT {sel_keys} {win} AS win, coalesce(parse_status, 'unknown') AS parse_status, count(*) AS n "
        f"FROM events WHERE ({where}) AND expects_json GROUP BY ALL ORDER BY ALL", cp + bp + cp
    ).rename(columns={"win": "window"})
    # classes: refusal rule and parse status (failures only), per segment and window
    data.classes = m.sql(
        f"SELECT {sel_keys} win, kind, class, count(*) AS n FROM ("
        f"  SELECT {sel_keys} {win} AS win, 'refusal' AS kind, "
        "          coalesce(refusal_rule, refusal_class, 'refusal') AS class FROM events "
        f"  WHERE ({where}) AND refusal "
        f"  UNION ALL SELECT {sel_keys} {win} AS win, 'parse failure' AS kind, "
        "          coalesce(parse_status, 'failed') AS class FROM events "
        f"  WHERE ({where}) AND expects_json AND parse_failed) GROUP BY ALL ORDER BY ALL",
        cp + bp + cp + cp + bp + cp).rename(columns={"win": "window"})
    _examples(m, data, cw, cp, max_examples=max_examples, per_class=per_class)
    return data


def _rising_classes(data: ReportData) -> list[tuple[SegmentKey, str, str, int, int]]:
    """(segment, kind, class, baseline count, current count) whose rate rose, alerting segments first."""
    if data.classes.empty:
        return []
    alert_keys = {data.key_of(f) for f in data.findings
                  if f.alert and f.metric in ("refusal_rate", "parse_failure_rate", "json_invalid_rate",
                                                 "schema_violation_rate")}
    out = []
    grouped = data.classes.groupby(data.keys + ["kind", "class"], dropna=False) if data.keys else \
        data.classes.groupby(["kind", "class"], dropna=False)
    for group_key, rows in grouped:
        group_key = group_key if isinstance(group_key, tuple) else (group_key,)
        seg = tuple(None if (isinstance(v, float) and math.isnan(v)) else v for v in group_key[:len(data.keys)])
        kind, cls = group_key[len(data.keys):]
        b_stats = data.base_stats.get(seg, SegmentStats())
        c_stats = data.cur_stats.get(seg, SegmentStats())
        b_den = b_stats.n if kind == "refusal" else b_stats.json_n
        c_den = c_stats.n if kind == "refusal" else c_stats.json_n
        b = int(rows.loc[rows.window == "baseline", "n"].sum())
        c = int(rows.loc[rows.window == "current", "n"].sum())
        if c == 0 or c_den == 0:
            continue
        b_rate = b / b_den if b_den else 0.0
        if c / c_den > 1.5 * b_rate:
            out.append((seg, str(kind), str(cls), b, c))
    out.sort(key=lambda t: (t[0] not in alert_keys, -(t[4])))
    return out


def _examples(m: Any, data: ReportData, cw: str, cp: list[Any], *, max_examples: int, per_class: int) -> None:
    from monitor.store import EVENT_COLUMNS

    redact = getattr(m.config, "redact", "none")
    if redact != "none":
        data.text_note = (f"Example texts are not shown: the configuration sets ingest.redact = \"{redact}\", "
                          "so the store holds no readable text.")
        return
    rising = _rising_classes(data)[:max_examples]
    frames = []
    taken = 0
    for seg, kind, cls, _b, _c in rising:
        if taken >= max_examples:
            break
        seg_terms, seg_params = [], []
        for k, v in zip(data.keys, seg):
            seg_terms.append(f"{k} IS NULL" if v is None else f"{k} = ?")
            seg_params += [] if v is None else [v]
        if kind == "refusal":
            cls_term = "refusal AND coalesce(refusal_rule, refusal_class, 'refusal') = ?"
        else:
            cls_term = "expects_json AND parse_failed AND coalesce(parse_status, 'failed') = ?"
        cols = [c for c in ("ts", "request_id", "model", "model_version", "route", "response", "refusal_rule",
                            "parse_status", "parse_error", "finish_reason") if c in EVENT_COLUMNS]
        limit = min(per_class, max_examples - taken)
        rows = m.sql(f"SELECT {', '.join(cols)} FROM events WHERE ({cw}) AND {cls_term} "
                     f"{''.join(' AND ' + t for t in seg_terms)} ORDER BY ts LIMIT {int(limit)}",
                     cp + [cls] + seg_params)
        rows.insert(0, "class", cls)
        rows.insert(0, "kind", kind)
        frames.append(rows)
        taken += len(rows)
    if frames:
        data.examples = pd.concat(frames, ignore_index=True)
    if not data.examples.empty:
        hashed = data.examples.response.fillna("").str.fullmatch(r"sha256:[0-9a-f]{64}")
        if hashed.any() or data.examples.response.isna().all():
            data.text_note = ("Some stored responses are hashed or absent (ingested with redaction); "
                              "their text is not shown.")
            data.examples.loc[hashed | data.examples.response.isna(), "response"] = None
