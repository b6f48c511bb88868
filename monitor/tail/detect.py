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

An alarm becomes an alert only if the recent effect is at least the metric's practical floor
(``policy.floors``), in the worse direction (or either direction with ``policy.alert_on =
"both"``). After an alarm the detector is reset (the SR protocol), so a persisting regression
alarms again later; the alert lifecycle turns those into "still open" (no new Sentry event
within the cooldown).

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

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from detectors.finding import HIGHER_IS_WORSE, Finding
from detectors.histogram import IntHistogram
from detectors.sequential import LengthMonitor, RateMonitor, SequentialResult
from monitor.windows import SegmentKey, SegmentStats

RATE_FIELDS: dict[str, tuple[str, str]] = {
    "refusal_rate": ("refusals", "n"),
    "parse_failure_rate": ("parse_failures", "json_n"),
    "task_success_rate": ("task_successes", "task_n"),
}
METHOD = "mixture Shiryaev-Roberts e-detector (detectors.sequential)"


def rate_of(stats: SegmentStats, metric: str) -> tuple[int, int]:
    """(count, n) of a rate metric.

    >>> rate_of(SegmentStats(n=10, refusals=2), "refusal_rate")
    (2, 10)
    """
    num, den = RATE_FIELDS[metric]
    return int(getattr(stats, num)), int(getattr(stats, den))


def _median(h: IntHistogram) -> float:
    return float(h.quantile(0.5)) if h.n else math.nan


@dataclass
class _Segment:
    key: SegmentKey
    baseline: SegmentStats
    monitors: dict[str, Any] = field(default_factory=dict)
    since_reset: SegmentStats = field(default_factory=SegmentStats)


class WindowState:
    """Sequential detectors and the recent window for every segment; see the module docstring.

    ``floors``: practical floors per metric; ``min_baseline``: fewest baseline observations
    for a metric to be monitored; ``false_alarms_per_day``: budget per metric-segment.
    """

    def __init__(self, by: list[str], *, floors: dict[str, float] | None = None, window_s: float = 300.0,
                 min_baseline: int = 100, false_alarms_per_day: float = 1 / 30, alert_on: str = "worse",
                 min_current: int = 30) -> None:
        self.by = list(by)
        self.floors = dict(floors or {})
        self.window_s = float(window_s)
        self.bucket_s = max(1.0, self.window_s / 30)
        self.min_baseline = int(min_baseline)
        self.min_current = int(min_current)
        self.false_alarms_per_day = float(false_alarms_per_day)
        self.alert_on = alert_on
        self.segments: dict[SegmentKey, _Segment] = {}
        self.unmonitored: set[SegmentKey] = set()
        self._buckets: deque[tuple[float, dict[SegmentKey, SegmentStats]]] = deque()
        self._pending: dict[SegmentKey, SegmentStats] = {}
        self._last_feed: float | None = None

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
        recent = self.recent(seg.key, now)
        base = seg.baseline
        if metric == "response_length":
            n_cur = recent.length.n
            b_val, c_val = _median(base.length), _median(recent.length)
            effect = (c_val / b_val - 1.0) if n_cur and b_val else math.nan
            n_base = base.length.n
        else:
            bc, bn = rate_of(base, metric)
            cc, n_cur = rate_of(recent, metric)
            b_val = bc / bn if bn else math.nan
            c_val = cc / n_cur if n_cur else math.nan
            effect = c_val - b_val if n_cur else math.nan
            n_base = bn
        worse_sign = 1.0 if HIGHER_IS_WORSE.get(metric, True) else -1.0
        floor = float(self.floors.get(metric, 0.0))
        if math.isfinite(effect) and effect != 0:
            direction = "worse" if effect * worse_sign > 0 else "better"
        else:
            direction = "none"
        size = abs(effect) if math.isfinite(effect) else 0.0
        big = size >= floor and direction != "none"
        alert = alarmed and big and (direction == "worse" or self.alert_on == "both")
        testable = n_cur >= self.min_current
        segment = dict(zip(self.by, seg.key))
        if alarmed:
            verdict = "alert" if alert else ("effect below the practical floor" if not big else "improvement")
            reason = f"sequential alarm ({verdict}): {result.reason}"
        else:
            reason = f"sequential monitor, recent {self.window_s:.0f} s: {result.reason}"
        return Finding(
            metric=metric, segment=segment, n_baseline=int(n_base), n_current=int(n_cur),
            baseline_value=b_val, current_value=c_val, effect=effect, ci_low=None, ci_high=None,
            statistic=result.statistic, p_value=(result.pvalue if testable or alarmed else None), q_value=None,
            alert=alert, reason=reason, direction=direction,
            severity="error" if alert else "info",
            details={"method": METHOD, "source": "tail", "e_value": result.e_value,
                     "log_threshold": result.threshold, "false_alarms_per_day": self.false_alarms_per_day,
                     "practical_size": size, "floor": floor, "window_s": self.window_s,
                     "events_since_reset": result.n},
        )
