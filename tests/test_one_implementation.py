"""Each rule has one home: these tests pin the shared implementation that replaced the copies.

- the metric table (``detectors.metrics``) drives the statistics query, the comparison, the plots
  and the report;
- the statistics query (``monitor.stats``) is the only aggregate of sufficient statistics;
- the Wilson interval, the DSN lookup, the list of log formats and the segment-key check exist once.
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import fields
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from detectors.metrics import METRIC, METRIC_TABLE, RATE_METRICS
from detectors.rates import wilson_ci
from monitor.stats import COUNT_PREDICATES, SegmentStats, time_series, window_stats

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for pkg in ("monitor", "detectors", "sinks") for p in (ROOT / pkg).rglob("*.py")]


def _source_text() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in SOURCES}


def test_every_rate_metric_is_counted_by_the_statistics_query() -> None:
    histograms = {m.histogram for m in METRIC_TABLE if m.histogram}
    assert histograms == {"length", "reasoning"}                   # the length metrics' exact histograms
    assert histograms <= {f.name for f in fields(SegmentStats)}
    counts = [f.name for f in fields(SegmentStats) if f.name not in histograms]
    assert counts == list(COUNT_PREDICATES)
    for metric in RATE_METRICS:
        assert metric.numerator in COUNT_PREDICATES and metric.denominator in COUNT_PREDICATES, metric.name


def test_the_aggregate_is_written_once() -> None:
    """No module but monitor/stats.py spells out a per-metric count (the old copies used FILTER)."""
    for path, text in _source_text().items():
        if path.name == "stats.py":
            continue
        for predicate in ("FILTER (WHERE refusal)", "FILTER (WHERE expects_json AND parse_failed)",
                          "count(task_success)"):
            assert predicate not in text, f"{path.relative_to(ROOT)} counts {predicate!r} itself"


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    status = rng.choice(["ok", "not_json", "schema_violation", "truncated"], n, p=[0.85, 0.05, 0.06, 0.04])
    expects = rng.random(n) < 0.6
    return pd.DataFrame({
        "route": rng.choice(["chat", "extract"], n), "chars": rng.integers(1, 400, n),
        "refusal": rng.random(n) < 0.05, "expects_json": expects,
        "parse_status": np.where(expects, status, "not_expected"),
        "parse_failed": expects & (status != "ok"),
        "schema": np.where(expects & (rng.random(n) < 0.7), '{"type": "object"}', None),
        "task_success": pd.array(np.where(rng.random(n) < 0.5, rng.random(n) < 0.8, None), dtype="boolean"),
        "ts": pd.Timestamp("2026-11-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 48 * 3600, n), unit="s"),
    })


def test_window_stats_and_time_series_agree_and_follow_the_metric_table() -> None:
    frame = _frame()
    con = duckdb.connect()
    con.register("events", frame)
    stats = window_stats(con, "TRUE", [], ["route"])
    series = time_series(con, "TRUE", [], ["route"], "1 hour")
    for (route,), s in stats.items():
        rows = frame[frame.route == route]
        per_bucket = series[series.route == route]
        for name in COUNT_PREDICATES:  # buckets add up to the window
            assert int(per_bucket[name].sum()) == getattr(s, name), name
        for metric in RATE_METRICS:  # each metric's counts, recounted from the rows with pandas
            x, n = s.rate(metric.numerator, metric.denominator)
            assert 0 <= x <= n <= len(rows)
        expects = rows.expects_json
        invalid = expects & rows.parse_failed & (rows.parse_status != "schema_violation")
        assert s.json_invalid == int(invalid.sum())
        assert s.schema_violations == int((rows.parse_status == "schema_violation").sum())
        assert s.schema_checked == int((expects & rows.schema.notna() & ~invalid).sum())
        assert s.parse_failures == s.json_invalid + s.schema_violations
        assert s.length.n == int((~rows.refusal).sum())  # length leaves refusals out
    # the per-bucket median length leaves refusals out too (it did not before)
    first = series.iloc[0]
    rows = frame[(frame.route == first.route) & (frame.ts.dt.floor("h") == first.bucket) & ~frame.refusal]
    assert first.median_chars == pytest.approx(float(np.median(rows.chars)))
    assert first.p90_chars == pytest.approx(float(np.quantile(rows.chars, 0.9)))


def test_the_plots_and_the_report_read_the_metric_table() -> None:
    from monitor.report import SECTIONS
    from monitor.report.html import TITLES

    assert TITLES == {m.name: m.label for m in METRIC_TABLE}
    assert [s for s in SECTIONS if s.replace("-", "_") in METRIC] == [m.name.replace("_", "-") for m in METRIC_TABLE]
    plots = (ROOT / "monitor" / "report" / "plots.py").read_text()
    assert "RATE_LABELS" not in plots and "METRIC[metric]" in plots


def test_one_wilson_interval() -> None:
    from monitor.report.plots import _wilson_arrays

    k, n = np.array([0, 3, 40, 7]), np.array([10, 50, 40, 0])
    p, lo, hi = _wilson_arrays(k, n)
    for i in range(3):
        assert (lo[i], hi[i]) == pytest.approx(wilson_ci(int(k[i]), int(n[i])))
    assert np.isnan(p[3]) and np.isnan(lo[3])
    defs = [node.name for text in _source_text().values() for node in ast.walk(ast.parse(text))
            if isinstance(node, ast.FunctionDef) and "wilson" in node.name.lower()]
    assert sorted(defs) == ["_wilson_arrays", "wilson_ci"]


def test_one_dsn_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.config import SentryConfig
    from sinks.dsn import resolve_dsn

    monkeypatch.setenv("SENTRY_DSN", "http://k@127.0.0.1:9/1")
    assert SentryConfig().resolved_dsn() == resolve_dsn(None) == "http://k@127.0.0.1:9/1"
    assert SentryConfig(dsn="http://x@127.0.0.1:9/2").resolved_dsn() == "http://x@127.0.0.1:9/2"
    readers = [p.relative_to(ROOT).as_posix() for p, text in _source_text().items()
               if 'environ.get("SENTRY_DSN")' in text or "environ.get(ENV_VAR)" in text]
    assert readers == ["sinks/dsn.py"]


def test_one_list_of_log_formats() -> None:
    from monitor import adapters
    from monitor.cli import build_parser
    from monitor.formats import FORMATS

    assert adapters.FORMATS is FORMATS
    ingest = next(a for a in build_parser()._subparsers._group_actions[0].choices["ingest"]._actions
                  if a.dest == "input_format")
    assert list(ingest.choices) == ["auto", *FORMATS]
    assert sum(text.count('"native", "openai", "ollama"') for text in _source_text().values()) == 1


def test_one_segment_key_check() -> None:
    from monitor import api, nightly
    from monitor.config import check_segment_keys

    assert "check_segment_keys" in inspect.getsource(api) and "check_segment_keys" in inspect.getsource(nightly)
    assert "_check_by" not in inspect.getsource(api)
    with pytest.raises(Exception, match="unknown segment key 'colour'"):
        check_segment_keys(["colour"])
