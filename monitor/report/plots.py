"""Pictures of a comparison, with matplotlib (the report's figures; ``Comparison.plot``).

Figures are built with :class:`matplotlib.figure.Figure` and the Agg canvas, never pyplot:
nothing opens a window, nothing changes the notebook's backend, and a Jupyter cell that
returns a figure still shows it.

- response length: per segment, the baseline and current distributions overlaid (density on
  log-spaced bins, and the ECDFs with the medians marked);
- rates (refusal, parse failure, task success): per segment, the rate per time bucket of each
  window with its 95% Wilson band, the window-level rates as dashed lines, an alert marker and
  the estimated change point with its interval;
- parse failures: the share of each ``parse_status`` among JSON-expecting events, baseline
  versus current;
- without a store to read (``Comparison`` from log files): a forest plot of the findings.

Example:
    >>> from detectors.finding import Finding
    >>> f = Finding("refusal_rate", {"route": "chat"}, 3000, 3000, 0.02, 0.05, 0.03, 0.02, 0.04, 5.0, 1e-9, 1e-9, True)
    >>> fig = forest_figure([f], "refusal_rate")
    >>> len(to_png_base64(fig)) > 1000
    True
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter, PercentFormatter

from detectors.finding import Finding
from detectors.histogram import IntHistogram
from detectors.metrics import LENGTH_METRICS, METRIC
from detectors.rates import wilson_ci

BASE_COLOR = "#4C72B0"
CUR_COLOR = "#DD8452"
ALERT_COLOR = "#C44E52"


def _figure(width: float, height: float, rows: int = 1, *, left: float = 0.8, right: float = 0.25,
            top: float = 0.45, bottom: float = 0.75) -> Figure:
    """A figure with fixed margins in inches (much faster than constrained layout)."""
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    per_row = height / max(rows, 1)
    fig.subplots_adjust(left=left / width, right=1 - right / width, top=1 - top / height * 0.6,
                        bottom=bottom / height * 0.6, hspace=0.8 * (top + bottom) / max(per_row - top - bottom, 0.5),
                        wspace=0.28)
    return fig


def to_png_base64(fig: Figure, dpi: int = 96) -> str:
    """The figure as a base64 PNG (for ``<img src="data:image/png;base64,...">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def segment_label(segment: dict[str, Any]) -> str:
    """``model=m, route=chat`` (``all`` for the empty segment).

    >>> segment_label({"model": "m", "route": "chat"}), segment_label({})
    ('model=m, route=chat', 'all')
    """
    return ", ".join(f"{k}={v}" for k, v in segment.items()) or "all"


def _naive(values: Any) -> Any:
    """UTC timestamps without tz (matplotlib's date axis wants one kind)."""
    stamp = pd.to_datetime(values, utc=True)
    if isinstance(stamp, pd.Timestamp):
        return stamp.tz_convert("UTC").tz_localize(None)
    if isinstance(stamp, pd.Series):
        return stamp.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamp.tz_convert("UTC").tz_localize(None)


def order_findings(findings: list[Finding], metric: str, limit: int) -> list[Finding]:
    """The metric's findings, alerts first, then by size of effect.

    At most ``limit``, or every alert up to twice ``limit`` when there are more alerts.
    """
    chosen = [f for f in findings if f.metric == metric and (f.n_baseline or f.n_current)]
    chosen.sort(key=lambda f: (not f.alert, -abs(f.effect or 0.0) if f.effect is not None and
                               not math.isnan(f.effect) else 0.0))
    alerts = sum(f.alert for f in chosen)
    return chosen[:min(max(limit, alerts), 2 * limit)]


def _title(ax: Any, f: Finding, segment: dict[str, Any]) -> None:
    flag = "ALERT  " if f.alert else ""
    ax.set_title(f"{flag}{segment_label(segment)}", loc="left", fontsize=9,
                 color=ALERT_COLOR if f.alert else "black", fontweight="bold" if f.alert else "normal")


# ----------------------------------------------------------------------------- length
def length_figure(panels: list[tuple[Finding, dict[str, Any], IntHistogram, IntHistogram]],
                  measure: str = "chars") -> Figure:
    """One row per segment: overlaid densities (log-spaced bins) and ECDFs of baseline vs current."""
    rows = max(len(panels), 1)
    fig = _figure(10, 2.6 * rows, rows)
    axes = fig.subplots(rows, 2, squeeze=False)
    if not panels:
        axes[0][0].text(0.5, 0.5, "no length data", ha="center", va="center")
        return fig
    for (f, segment, base, cur), (ax_d, ax_c) in zip(panels, axes):
        both = base + cur
        if both.n == 0:
            ax_d.text(0.5, 0.5, "no responses", ha="center", va="center", transform=ax_d.transAxes)
            continue
        lo, hi = max(int(both.values.min()), 1), max(int(both.values.max()), 2)
        edges = np.unique(np.geomspace(lo, hi + 1, 40).round()) if hi > lo else np.array([lo, lo + 1])
        for hist, color, name in ((base, BASE_COLOR, "baseline"), (cur, CUR_COLOR, "current")):
            if hist.n == 0:
                continue
            counts, _ = np.histogram(hist.values, bins=edges, weights=hist.counts)
            density = counts / hist.n / np.diff(edges)
            ax_d.stairs(density, edges, color=color, fill=True, alpha=0.35, label=f"{name} (n={hist.n:,})")
            ax_d.stairs(density, edges, color=color, linewidth=1.2)
            cdf = np.cumsum(hist.counts) / hist.n
            ax_c.step(np.maximum(hist.values, 1), cdf, where="post", color=color, label=name, linewidth=1.5)
            med = hist.quantile(0.5)
            ax_c.axvline(max(med, 1), color=color, linestyle=":", linewidth=1)
            ax_c.annotate(f"median {med:,.0f}", (max(med, 1), 0.5 if name == "baseline" else 0.35),
                          color=color, fontsize=8, xytext=(3, 0), textcoords="offset points")
        for ax in (ax_d, ax_c):
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax_d.set_ylabel("density", fontsize=8)
        ax_c.set_ylabel("ECDF", fontsize=8)
        ax_d.set_xlabel(f"response length ({measure}, non-refusals)", fontsize=8)
        ax_c.set_xlabel(f"response length ({measure})", fontsize=8)
        ax_d.legend(fontsize=7, loc="upper right")
        _title(ax_d, f, segment)
        if f.effect is not None and not math.isnan(f.effect):
            ax_c.set_title(f"median {f.effect:+.1%} [{f.ci_low:+.1%}, {f.ci_high:+.1%}]", loc="left",
                           fontsize=9)
        for ax in (ax_d, ax_c):
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.25)
    return fig


# ----------------------------------------------------------------------------- rates
def _wilson_arrays(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rate and 95% Wilson interval per bucket (:func:`detectors.rates.wilson_ci`; NaN where n = 0)."""
    n = n.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, np.nan)
    bands = np.array([wilson_ci(int(a), int(b)) if b > 0 else (np.nan, np.nan) for a, b in zip(k, n)],
                     dtype=float).reshape(-1, 2)
    return p, bands[:, 0], bands[:, 1]


def rate_figure(metric: str, panels: list[tuple[Finding, dict[str, Any], pd.DataFrame]], *,
                window_ranges: dict[str, tuple[Any, Any]] | None = None,
                freq: dict[str, str] | None = None) -> Figure:
    """One panel per segment: the rate per time bucket and window with its 95% Wilson band.

    ``panels``: (finding, segment, series) with the series columns ``window``, ``bucket`` and the
    metric's numerator / denominator (see :data:`detectors.metrics.METRIC_TABLE`).
    """
    spec = METRIC[metric]
    num, den, label = spec.numerator, spec.denominator, spec.axis_label
    rows = max(len(panels), 1)
    fig = _figure(10, 2.7 * rows, rows)
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    if not panels:
        axes[0].text(0.5, 0.5, "no data", ha="center", va="center")
        return fig
    ranges = window_ranges or {}
    for (f, segment, series), ax in zip(panels, axes):
        for window, color in (("baseline", BASE_COLOR), ("current", CUR_COLOR)):
            part = series[(series.window == window) & (series[den] > 0)].sort_values("bucket")
            if part.empty:
                continue
            x = _naive(part.bucket)
            p, lo, hi = _wilson_arrays(part[num].to_numpy(float), part[den].to_numpy(float))
            ax.fill_between(x, lo, hi, step="mid", color=color, alpha=0.2, linewidth=0)
            ax.plot(x, p, marker="o", markersize=2.5, linewidth=1, color=color,
                    label=f"{window} per {(freq or {}).get(window, 'bucket')} (95% band)")
            value = f.baseline_value if window == "baseline" else f.current_value
            if value is not None and not (isinstance(value, float) and math.isnan(value)):
                start, end = ranges.get(window, (part.bucket.min(), part.bucket.max()))
                ax.hlines(value, _naive(start), _naive(end), colors=color, linestyles="--", linewidth=1.4,
                          label=f"{window} overall {value:.1%}")
        if f.changed_at:
            at = _naive(f.changed_at)
            ax.axvspan(_naive(f.changed_at_low or f.changed_at), _naive(f.changed_at_high or f.changed_at)
                       + pd.Timedelta(hours=1), color="grey", alpha=0.18, label="change point 95% interval")
            ax.axvline(at, color="black", linewidth=1.2, label=f"change point {at:%Y-%m-%d %H:%M} UTC")
        if f.alert and f.current_value is not None:
            cur = series[series.window == "current"]
            if not cur.empty:
                mid = _naive(cur.bucket.min()) + (_naive(cur.bucket.max()) - _naive(cur.bucket.min())) / 2
                ax.plot([mid], [f.current_value], marker="v", markersize=11, color=ALERT_COLOR,
                        linestyle="none", label="alert", zorder=5)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        ax.set_ylabel(label.split(" (")[0], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
        ax.legend(fontsize=7, loc="upper left", ncols=3)
        _title(ax, f, segment)
        if f.effect is not None and not math.isnan(f.effect):
            ax.set_title(f"{f.baseline_value:.1%} -> {f.current_value:.1%} ({f.effect * 100:+.1f} pp, "
                         f"95% CI {f.ci_low * 100:+.1f}..{f.ci_high * 100:+.1f})", loc="right", fontsize=8)
    for ax in axes:
        for tick in ax.get_xticklabels():
            tick.set_rotation(20)
            tick.set_ha("right")
    return fig


# ----------------------------------------------------------------------------- parse status
def parse_status_figure(panels: list[tuple[str, pd.DataFrame]]) -> Figure:
    """Per segment: share of each failing ``parse_status`` among JSON-expecting events, baseline vs current.

    ``panels``: (segment label, frame with columns ``window``, ``parse_status``, ``n``).
    """
    cols = min(max(len(panels), 1), 3)
    rows = max(math.ceil(len(panels) / cols), 1)
    fig = _figure(10, 2.6 * rows, rows, left=1.3)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[len(panels):]:
        ax.axis("off")
    if not panels:
        axes[0].text(0.5, 0.5, "no JSON-expecting events", ha="center", va="center")
        return fig
    for (label, frame), ax in zip(panels, axes):
        totals = frame.groupby("window").n.sum()
        failing = sorted(s for s in frame.parse_status.unique() if s not in ("ok", "not_expected"))
        if not failing:
            ax.text(0.5, 0.5, "no parse failures", ha="center", va="center", transform=ax.transAxes)
            ax.set_title(label, loc="left", fontsize=9)
            continue
        y = np.arange(len(failing))
        for i, (window, color) in enumerate((("baseline", BASE_COLOR), ("current", CUR_COLOR))):
            total = totals.get(window, 0)
            shares = [frame[(frame.window == window) & (frame.parse_status == s)].n.sum() / total if total else 0.0
                      for s in failing]
            ax.barh(y + (0.2 if i == 0 else -0.2), shares, height=0.38, color=color,
                    label=f"{window} (n={int(total):,})")
        ax.set_yticks(y, failing, fontsize=8)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25, axis="x")
        ax.legend(fontsize=7)
        ax.set_title(label, loc="left", fontsize=9)
    return fig


# ----------------------------------------------------------------------------- forest
def forest_figure(findings: list[Finding], metric: str, limit: int = 20) -> Figure:
    """Effect and confidence interval per segment (alerts in red), for comparisons without store data."""
    chosen = order_findings(findings, metric, limit)
    fig = _figure(8, 0.45 * max(len(chosen), 2) + 1.2, left=2.8)
    ax = fig.subplots()
    for i, f in enumerate(chosen):
        if f.effect is None or f.ci_low is None or f.ci_high is None:
            continue
        color = ALERT_COLOR if f.alert else "black"
        ax.errorbar([f.effect], [i], xerr=[[f.effect - f.ci_low], [f.ci_high - f.effect]], fmt="o", color=color,
                    capsize=3)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(range(len(chosen)), [segment_label(f.segment) for f in chosen], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric}: effect with 95% CI ({'relative median change' if metric in LENGTH_METRICS else 'difference of rates'})",
                  fontsize=8)
    ax.grid(alpha=0.25, axis="x")
    return fig


# ----------------------------------------------------------------------------- entry point
def figures(data: Any, metric: str, *, limit: int = 4, measure: str = "chars") -> Figure:
    """The report figure for ``metric`` from gathered :class:`monitor.report.data.ReportData`."""
    from monitor.report.data import segment_rows

    if not data.store_windows:
        return forest_figure(data.findings, metric)
    chosen = order_findings(data.findings, metric, limit)
    if metric in LENGTH_METRICS:
        empty = IntHistogram.empty()
        field = METRIC[metric].histogram
        panels = []
        for f in chosen:
            key = data.key_of(f)
            base = data.base_stats.get(key)
            cur = data.cur_stats.get(key)
            panels.append((f, data.segment_of(f), getattr(base, field) if base else empty,
                           getattr(cur, field) if cur else empty))
        return length_figure(panels, measure if metric == "response_length" else "chars")
    if metric == "parse_status":
        out = []
        keys_seen = []
        for f in order_findings(data.findings, "parse_failure_rate", limit):
            key = data.key_of(f)
            if key in keys_seen:
                continue
            keys_seen.append(key)
            out.append((segment_label(data.segment_of(f)), segment_rows(data.parse_status, data.keys, key)))
        return parse_status_figure(out)
    panels = [(f, data.segment_of(f), segment_rows(data.series, data.keys, data.key_of(f))) for f in chosen]
    return rate_figure(metric, panels, window_ranges=data.window_ranges, freq=data.freq)


def plot_comparison(comparison: Any, metric: str = "response_length", *, monitor: Any = None,
                    limit: int = 4) -> Figure:
    """A figure of ``metric`` (``response_length``, ``refusal_rate``, ``parse_failure_rate``,
    ``task_success_rate`` or ``parse_status``) for the compared segments.

    With ``monitor`` (or a ``comparison.monitor``), the store is read for distributions and time
    series; without, a forest plot of the findings is drawn.
    """
    m = monitor if monitor is not None else getattr(comparison, "monitor", None)
    if metric != "parse_status" and metric not in METRIC:
        raise ValueError(f"unknown metric {metric!r}")
    if m is None:
        return forest_figure(list(comparison.items), "parse_failure_rate" if metric == "parse_status" else metric)
    from monitor.report.data import gather

    data = gather(m, comparison, max_examples=0)
    return figures(data, metric, limit=limit, measure=m.config.length_measure)
