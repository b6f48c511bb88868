"""In-memory current-window statistics and sequential detectors for ``llm-monitor tail``.

Per segment (``[tail] by``, default ``model, route``) the tailer keeps

- the baseline window's sufficient statistics (computed once from the store, or for a segment
  first seen later, at the next baseline refresh);
- one sequential detector per metric (:mod:`detectors.sequential`: mixture Shiryaev-Roberts
  e-detectors whose false-alarm rate per day is bounded whatever the check frequency):
  refusal rate, parse-failure rate (among JSON-expecting events), task-success rate (among
  labelled events), response length (share above the baseline median and p90);
- a sliding *recent window* (``[tail] window_s``, default 300 s) of the same sufficient
  statistics, in buckets that merge by addition; it gives the effect size reported with an
  alarm and decides when an open alert is back inside its practical floor.

An alarm becomes an alert through the same alert policy as ``llm-monitor check``
(:func:`detectors.policy.decide`, with *significant* = the detector alarmed): the recent
window's effect is computed with the batch functions (:func:`detectors.rates.rate_change`:
difference with its Newcombe interval; :func:`detectors.length.length_shift`: median ratio
with its interval and the normalized Wasserstein distance), so direction, the practical floor
(for length the larger of ``|median ratio - 1|`` and ``W / mean``) and severity (``error`` only
when the interval clears the floor) are decided exactly as in batch. After an alarm the
detector is reset (the SR protocol), so a persisting regression alarms again later; the alert
lifecycle turns those into "still open" (no new Sentry event within the cooldown).

Example:
    >>> import numpy as np
    >>> from detectors.histogram import IntHistogram
    >>> base = SegmentStats(n=5000, refusals=100, length=IntHistogram.from_samples(np.arange(100, 600) % 500 + 100))
    >>> ws = WindowState(["model"], floors={"refusal_rate": 0.005}, window_s=300)
    >>> _ = ws.set_baseline({("m",): base}, now=0.0)
    >>> ws.add({("m",): SegmentStats(n=2000, refusals=400, length=IntHistogram.from_samples([300] * 1600))}, now=10.0)
    >>> [(f.metric, f.alert) for f in ws.check(now=10.0) if f.alert]
    [('refusal_rate', True)]
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa

from detectors.finding import Finding
from detectors.metrics import RATE_METRICS
from detectors.length import length_shift
from detectors.policy import PolicyConfig, decide
from detectors.rates import rate_change
from detectors.sequential import LengthMonitor, RateMonitor, SequentialResult
from monitor.stats import SegmentKey, SegmentStats, window_stats

RATE_FIELDS: dict[str, tuple[str, str]] = {m.name: (m.numerator, m.denominator) for m in RATE_METRICS if not m.parts}
"""The rate metrics the sidecar watches, from the metric table (:mod:`detectors.metrics`): every
rate but a union of others (``parse_failure_rate``), whose parts are watched instead, as ``check``
tests them."""
METHOD = "mixture Shiryaev-Roberts e-detector (detectors.sequential)"


def rate_of(stats: SegmentStats, metric: str) -> tuple[int, int]:
    """(count, n) of a rate metric.

    >>> rate_of(SegmentStats(n=10, refusals=2), "refusal_rate")
    (2, 10)
    """
    return stats.rate(*RATE_FIELDS[metric])


STATS_COLUMNS = ("refusal", "expects_json", "parse_failed", "parse_status", "schema", "task_success")
"""The event columns the statistics query reads (besides the segment keys and the length)."""


def batch_stats(con: duckdb.DuckDBPyConnection, frame: pa.Table, by: list[str],
                length_measure: str = "chars") -> dict[SegmentKey, SegmentStats]:
    """Per-segment sufficient statistics of the committed events of a batch (an Arrow table: the
    batch's share of the window, by the same query as the store's windows).

    >>> import duckdb
    >>> f = pa.table({"route": ["a", "a", "b"], "chars": [5, 7, 9], "refusal": [False, True, False],
    ...               "expects_json": [False] * 3, "parse_failed": [False] * 3, "parse_status": ["not_expected"] * 3,
    ...               "schema": pa.nulls(3, pa.string()), "task_success": pa.nulls(3, pa.bool_())})
    >>> st = batch_stats(duckdb.connect(), f, ["route"])
    >>> st[("a",)].n, st[("a",)].refusals, st[("a",)].length.n, st[("b",)].n
    (2, 1, 1, 1)
    """
    if not frame.num_rows:
        return {}
    cols = list(dict.fromkeys([*by, length_measure, *STATS_COLUMNS]))
    con.register("tail_batch", frame.select(cols))
    try:
        return window_stats(con, "TRUE", [], by, length_measure, relation="tail_batch")
    finally:
        con.unregister("tail_batch")


@dataclass
class _Segment:
    key: SegmentKey
    baseline: SegmentStats
    monitors: dict[str, Any] = field(default_factory=dict)
    since_reset: SegmentStats = field(default_factory=SegmentStats)


class WindowState:
    """Sequential detectors and the recent window for every segment; see the module docstring.

    ``policy``: the alert policy (floors, ``alert_on``, confidence; default
    :class:`~detectors.policy.PolicyConfig` with ``alert_on="worse"``); ``floors`` / ``alert_on``
    override its floors and ``alert_on``; ``min_baseline``: fewest baseline observations for a metric to be monitored;
    ``min_current``: fewest recent observations for a resolution verdict;
    ``false_alarms_per_day``: budget per metric-segment.
    """

    def __init__(self, by: list[str], *, policy: PolicyConfig | None = None, floors: dict[str, float] | None = None,
                 window_s: float = 300.0, min_baseline: int = 100, false_alarms_per_day: float = 1 / 30,
                 alert_on: str | None = None, min_current: int = 30) -> None:
        policy = policy or PolicyConfig(alert_on="worse")
        self.policy = dataclasses.replace(policy, floors={**policy.floors, **(floors or {})},
                                          alert_on=alert_on or policy.alert_on)
        self.by = list(by)
        self.window_s = float(window_s)
        self.bucket_s = max(1.0, self.window_s / 30)
        self.min_baseline = int(min_baseline)
        self.min_current = int(min_current)
        self.false_alarms_per_day = float(false_alarms_per_day)
        self.segments: dict[SegmentKey, _Segment] = {}
        self.unmonitored: set[SegmentKey] = set()
        self._buckets: deque[tuple[float, dict[SegmentKey, SegmentStats]]] = deque()
        self._pending: dict[SegmentKey, SegmentStats] = {}
        self._last_feed: float | None = None
        self.statistics: dict[tuple[SegmentKey, str], tuple[float, float]] = {}
        """(segment key, metric) -> (log statistic, log threshold) at the last :meth:`check`."""

    # ----------------------------------------------------------------- baseline
    def set_baseline(self, baseline: dict[SegmentKey, SegmentStats], *, only_new: bool = False,
                     now: float | None = None) -> list[SegmentKey]:
        """Create detectors for segments of ``baseline`` (all, or only those without detectors yet).

        ``now`` (monotonic seconds) starts the detectors' clock if it is not running yet.
        """
        if self._last_feed is None and now is not None:
            self._last_feed = now
        added = []
        for key, stats in baseline.items():
            key = tuple(key)
            if only_new and key in self.segments:
                continue
            seg = _Segment(key, stats)
            for metric in RATE_FIELDS:
                count, n = rate_of(stats, metric)
                if n >= self.min_baseline:
                    seg.monitors[metric] = RateMonitor(count, n, metric=metric,
                                                       false_alarms_per_day=self.false_alarms_per_day)
            if stats.length.n >= self.min_baseline:
                seg.monitors["response_length"] = LengthMonitor(stats.length,
                                                                false_alarms_per_day=self.false_alarms_per_day)
            if seg.monitors:
                self.segments[key] = seg
                self.unmonitored.discard(key)
                added.append(key)
        return added

    # ----------------------------------------------------------------- updates
    def add(self, batch: dict[SegmentKey, SegmentStats], now: float) -> None:
        """Add the statistics of newly committed events (incremental; merges by addition)."""
        if not self._buckets or now - self._buckets[-1][0] >= self.bucket_s:
            self._buckets.append((now, {}))
        bucket = self._buckets[-1][1]
        for key, stats in batch.items():
            key = tuple(key)
            bucket[key] = bucket[key] + stats if key in bucket else stats
            self._pending[key] = self._pending[key] + stats if key in self._pending else stats
            if key not in self.segments:
                self.unmonitored.add(key)
        while self._buckets and now - self._buckets[0][0] > self.window_s + self.bucket_s:
            self._buckets.popleft()

    def recent(self, key: SegmentKey, now: float) -> SegmentStats:
        """Sufficient statistics of ``key`` over the recent window."""
        total = SegmentStats()
        for t, bucket in self._buckets:
            if now - t <= self.window_s + self.bucket_s and key in bucket:
                total = total + bucket[key]
        return total

    def feed(self, now: float) -> None:
        """Give every detector the events since the last feed, with the elapsed time."""
        elapsed = 0.0 if self._last_feed is None else max(0.0, now - self._last_feed)
        self._last_feed = now
        pending, self._pending = self._pending, {}
        empty = SegmentStats()
        for key, seg in self.segments.items():
            s = pending.get(key, empty)
            seg.since_reset = seg.since_reset + s
            for metric, mon in seg.monitors.items():
                if metric == "response_length":
                    mon.update(s.length, elapsed)
                else:
                    count, n = rate_of(s, metric)
                    mon.update(count, n, elapsed_seconds=elapsed)

    # ----------------------------------------------------------------- findings
    def check(self, now: float) -> list[Finding]:
        """Feed, then check every detector; returns findings for the detectors that alarmed.

        An alarmed detector is reset. The finding's ``alert`` is True only when the recent
        effect is at least the floor in an alerting direction.
        """
        self.feed(now)
        out = []
        for key, seg in self.segments.items():
            for metric, mon in seg.monitors.items():
                result = mon.check()
                self.statistics[(key, metric)] = (result.statistic, result.threshold)
                if not result.alert:
                    continue
                out.append(self._finding(seg, metric, result, now, alarmed=True))
                mon.reset()
                seg.since_reset = SegmentStats()
        return out

    def status_finding(self, key: SegmentKey, metric: str, now: float) -> Finding | None:
        """A non-alarm finding for an open alert (lets the lifecycle resolve it), or None."""
        seg = self.segments.get(tuple(key))
        if seg is None or metric not in seg.monitors:
            return None
        return self._finding(seg, metric, seg.monitors[metric].check(), now, alarmed=False)

    def _finding(self, seg: _Segment, metric: str, result: SequentialResult, now: float, *,
                 alarmed: bool) -> Finding:
        """The finding of one detector: the recent window's effect (computed like batch) and the
        sequential test's evidence; :func:`detectors.policy.decide` with significant = ``alarmed``."""
        recent = self.recent(seg.key, now)
        base = seg.baseline
        confidence = self.policy.confidence
        if metric == "response_length":
            r = length_shift(base.length, recent.length, confidence=confidence)
            n_base, n_cur = base.length.n, recent.length.n
            b_val, c_val = r.baseline_median, r.current_median
            effect, ci_low, ci_high = r.effect, r.ci_low, r.ci_high
            quantities = {"median_ratio": r.median_ratio, "wasserstein_normalized": r.wasserstein_normalized,
                          "baseline_mean": r.baseline_mean, "current_mean": r.current_mean,
                          "baseline_p90": r.baseline_p90, "current_p90": r.current_p90}
        else:
            bc, n_base = rate_of(base, metric)
            cc, n_cur = rate_of(recent, metric)
            r = rate_change(bc, n_base, cc, n_cur, confidence=confidence)
            b_val, c_val = r.baseline_rate, r.current_rate
            effect, ci_low, ci_high = r.difference, r.ci_low, r.ci_high
            quantities = {"baseline_count": bc, "current_count": cc}
        testable = n_cur >= self.min_current
        finding = Finding(
            metric=metric, segment=dict(zip(self.by, seg.key)), n_baseline=int(n_base), n_current=int(n_cur),
            baseline_value=float(b_val), current_value=float(c_val), effect=float(effect), ci_low=float(ci_low),
            ci_high=float(ci_high), statistic=result.statistic,
            p_value=(result.pvalue if testable or alarmed else None), q_value=None,
            details={"method": METHOD, "source": "tail", "e_value": result.e_value,
                     "log_threshold": result.threshold, "false_alarms_per_day": self.false_alarms_per_day,
                     "window_s": self.window_s, "events_since_reset": result.n, "confidence": confidence,
                     **quantities},
        )
        d = decide(finding, self.policy, significant=alarmed)
        finding.alert, finding.direction, finding.severity = d.alert, d.direction, d.severity
        finding.details.update(practical_size=d.practical_size, floor=d.floor)
        if alarmed:
            finding.reason = f"sequential alarm ({d.verdict}): {result.reason}"
        else:
            finding.reason = f"sequential monitor, recent {self.window_s:.0f} s: {result.reason}"
        return finding

