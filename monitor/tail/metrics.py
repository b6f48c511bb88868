"""The sidecar's Prometheus metrics (``--metrics-addr``), with bounded label cardinality.

:class:`TailMetrics` holds the ``prometheus_client`` collectors of one sidecar in a registry of
its own (nothing of the process-wide default registry is exposed). The main loop updates them
once per committed batch and once per sequential check, never per event; the delivery and
compaction threads update theirs; gauges that cost a look at the disk or at the outbox (RSS,
live segments, outbox pending) are read when Prometheus scrapes. The exposition format is
``prometheus_client``'s own (:func:`prometheus_client.generate_latest`).

Label cardinality is bounded (:class:`LabelFolder`): the first ``metrics_max_segments``
metric-segments (``[tail] by`` values joined as ``model=m,route=r``), the first
``metrics_max_files`` followed files and the first :data:`MAX_REASON_CLASSES` quarantine reason
classes keep their own label value; later ones are folded into the value ``other`` (for the
sequential statistic the largest of the folded values, so ``other`` still shows how close the
closest folded segment is to alarming; for lag the sum). docs/TAIL.md lists every metric.

Example:
    >>> m = TailMetrics(max_segments=1)
    >>> m.committed(lines=3, events=2, duplicates=0, reasons=["invalid JSON: x"], seconds=0.01)
    >>> m.sequential({(("m", "a"), "refusal_rate"): (1.5, 9.2), (("m", "b"), "refusal_rate"): (4.0, 9.2)},
    ...              ["model", "route"])
    >>> text = m.exposition().decode()
    >>> 'llm_monitor_tail_events_ingested_total 2.0' in text
    True
    >>> 'llm_monitor_tail_quarantined_total{reason_class="invalid_json"} 1.0' in text
    True
    >>> 'llm_monitor_tail_log_evalue{metric="refusal_rate",segment="other"} 4.0' in text
    True
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["TailMetrics", "LabelFolder", "reason_class", "OTHER", "CONTENT_TYPE_LATEST", "MAX_REASON_CLASSES"]

OTHER = "other"
"""The label value that folded series share."""
MAX_REASON_CLASSES = 16
"""Quarantine reason classes with a label of their own; later classes are ``other``."""
PREFIX = "llm_monitor_tail_"
COMMIT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Buckets of the commit latency histogram (seconds): a commit of a full batch takes ~0.1-0.5 s."""


def reason_class(reason: str) -> str:
    """The class of a quarantine reason: its text before the first ``:``, as a label value.

    >>> reason_class("invalid JSON: Expecting value"), reason_class("line too long: 9000000 bytes")
    ('invalid_json', 'line_too_long')
    >>> reason_class("ts: not an ISO 8601 date-time"), reason_class("")
    ('ts', 'unknown')
    """
    head = reason.split(":", 1)[0].strip().lower()
    return re.sub(r"[^a-z0-9]+", "_", head).strip("_")[:40] or "unknown"


class LabelFolder:
    """Keeps at most ``limit`` distinct label values; later values fold into ``other``.

    Values are admitted first come, first kept, for the life of the process (a series never
    changes its label), so a panel's series stay stable.

    >>> f = LabelFolder(2)
    >>> [f.label(v) for v in ["a", "b", "c", "a"]]
    ['a', 'b', 'other', 'a']
    """

    def __init__(self, limit: int) -> None:
        self.limit = int(limit)
        self._kept: set[str] = set()

    def label(self, value: str) -> str:
        """``value`` if it has (or gets) a label of its own, else ``other``."""
        if value in self._kept:
            return value
        if len(self._kept) < self.limit and value != OTHER:
            self._kept.add(value)
            return value
        return OTHER

    def fold(self, values: Mapping[str, float], combine: Callable[[Iterable[float]], float]) -> dict[str, float]:
        """Fold a mapping of label value -> number; folded numbers are combined with ``combine``.

        >>> LabelFolder(1).fold({"a": 1.0, "b": 2.0, "c": 3.0}, sum)
        {'a': 1.0, 'other': 5.0}
        """
        out: dict[str, list[float]] = {}
        for value, number in values.items():
            out.setdefault(self.label(value), []).append(number)
        return {label: (numbers[0] if len(numbers) == 1 and label != OTHER else combine(numbers))
                for label, numbers in out.items()}


def segment_label(key: Iterable[Any], by: list[str]) -> str:
    """``model=m,route=r`` for a segment key.

    >>> segment_label(("m", None), ["model", "route"])
    'model=m,route=None'
    """
    return ",".join(f"{k}={v}" for k, v in zip(by, key))


class TailMetrics:
    """The collectors of one sidecar; see the module docstring.

    ``rss``, ``live_segments``, ``outbox_counts``: functions read at scrape time (set with
    :meth:`watch`).
    """

    def __init__(self, *, max_segments: int = 50, max_files: int = 20) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self._segments = LabelFolder(max_segments)
        self._files = LabelFolder(max_files)
        self._reasons = LabelFolder(MAX_REASON_CLASSES)
        self.lines = Counter(PREFIX + "lines_read", "Complete log lines read from followed files.", registry=r)
        self.events = Counter(PREFIX + "events_ingested", "Events committed to the store.", registry=r)
        self.duplicates = Counter(PREFIX + "duplicates", "Events dropped as duplicate request ids.", registry=r)
        self.quarantined = Counter(PREFIX + "quarantined", "Lines quarantined, by reason class (text before ':'; "
                                   f"at most {MAX_REASON_CLASSES} classes, then 'other').", ["reason_class"], registry=r)
        self.commit_seconds = Histogram(PREFIX + "commit_seconds", "Time to commit one batch (quarantine file "
                                        "and event segment, under the writer lock).", buckets=COMMIT_BUCKETS, registry=r)
        self.lag = Gauge(PREFIX + "lag_bytes", "Bytes present in a followed file and not read yet "
                         "(files beyond metrics_max_files are summed into file='other').", ["file"], registry=r)
        self.sources = Gauge(PREFIX + "sources", "Sources (files) followed.", registry=r)
        self.segments_monitored = Gauge(PREFIX + "segments_monitored",
                                        "Segments with a baseline and sequential detectors.", registry=r)
        self.compactions = Counter(PREFIX + "compactions", "Compaction merges (one group of small segments each).",
                                   registry=r)
        self.compacted = Counter(PREFIX + "compacted_segments", "Small segments merged by compaction.", registry=r)
        self.delivered = Counter(PREFIX + "outbox_delivered", "Outbox entries delivered to Sentry.", registry=r)
        self.delivery_errors = Counter(PREFIX + "sentry_delivery_errors",
                                       "Failed Sentry sends (the entry stays pending and is retried).", registry=r)
        # the sequential gauges are registered (so read by a scrape) before the alerts counter, and
        # the loop counts an alert before it publishes the gauges: a scrape that sees a statistic at
        # its threshold also sees the alert it raised
        self.log_evalue = Gauge(PREFIX + "log_evalue", "Current log statistic of the sequential e-detector "
                                "(mixture Shiryaev-Roberts) per metric and segment; an alarm when it reaches "
                                "llm_monitor_tail_log_threshold. Segments beyond metrics_max_segments: the largest "
                                "in segment='other'.", ["metric", "segment"], registry=r)
        self.log_threshold = Gauge(PREFIX + "log_threshold", "Alarm threshold of the sequential statistic (log).",
                                   ["metric", "segment"], registry=r)
        self.alerts = Counter(PREFIX + "alerts", "Alerts raised by the sequential detectors, by metric.", ["metric"],
                              registry=r)
        self.rss = Gauge(PREFIX + "rss_bytes", "Resident set size of the sidecar.", registry=r)
        self.live_segments = Gauge(PREFIX + "segments_live", "Live event segments in the store.", registry=r)
        self.outbox_pending = Gauge(PREFIX + "outbox_pending", "Alerts waiting in the outbox for delivery.", registry=r)
        self.retention_deleted = Counter(PREFIX + "retention_deleted", "Files deleted by the retention, by kind "
                                         "(events, quarantine, alerts, outbox rows).", ["kind"], registry=r)
        self._series: dict[str, set[tuple[str, ...]]] = {"lag": set(), "seq": set()}

    # ------------------------------------------------------------------ scrape-time gauges
    def watch(self, *, rss: Callable[[], float | None], live_segments: Callable[[], float],
              outbox_pending: Callable[[], float]) -> None:
        """Gauges computed when Prometheus scrapes (in the HTTP thread)."""
        self.rss.set_function(lambda: float(rss() or 0))
        self.live_segments.set_function(live_segments)
        self.outbox_pending.set_function(outbox_pending)

    # ------------------------------------------------------------------ updates
    def committed(self, *, lines: int, events: int, duplicates: int, reasons: Iterable[str], seconds: float) -> None:
        """One committed batch."""
        self.lines.inc(lines)
        self.events.inc(events)
        self.duplicates.inc(duplicates)
        for reason in reasons:
            self.quarantined.labels(self._reasons.label(reason_class(reason))).inc()
        self.commit_seconds.observe(seconds)

    def alert(self, metric: str) -> None:
        """One alert raised."""
        self.alerts.labels(metric).inc()

    def files(self, lag_by_path: Mapping[str, int]) -> None:
        """Lag per followed file (folded), and the number of sources."""
        self.sources.set(len(lag_by_path))
        folded = self._files.fold({p: float(v) for p, v in lag_by_path.items()}, sum)
        self._replace("lag", self.lag, {(p,): v for p, v in folded.items()})

    def sequential(self, statistics: Mapping[tuple[tuple[Any, ...], str], tuple[float, float]], by: list[str]) -> None:
        """``{(segment key, metric): (log statistic, log threshold)}`` of the last check."""
        per_metric: dict[str, dict[str, tuple[float, float]]] = {}
        for (key, metric), value in statistics.items():
            per_metric.setdefault(metric, {})[segment_label(key, by)] = value
        stat: dict[tuple[str, ...], float] = {}
        thr: dict[tuple[str, ...], float] = {}
        for metric, by_seg in per_metric.items():
            labels = {seg: self._segments.label(seg) for seg in by_seg}
            for seg, (s, t) in by_seg.items():
                label = (metric, labels[seg])
                stat[label] = max(stat.get(label, -float("inf")), s)
                thr[label] = t
        self.segments_monitored.set(len({k for k, _ in statistics}))
        old = self._series["seq"]
        self._replace("seq", self.log_evalue, stat)
        for label, t in thr.items():
            self.log_threshold.labels(*label).set(t)
        for label in old - set(thr):
            self._remove(self.log_threshold, label)

    def _replace(self, name: str, gauge: Gauge, values: Mapping[tuple[str, ...], float]) -> None:
        """Set ``gauge`` to exactly ``values`` (series no longer present are removed)."""
        for label, v in values.items():
            gauge.labels(*label).set(v)
        for label in self._series[name] - set(values):
            self._remove(gauge, label)
        self._series[name] = set(values)

    @staticmethod
    def _remove(gauge: Gauge, label: tuple[str, ...]) -> None:
        try:
            gauge.remove(*label)
        except KeyError:
            pass

    # ------------------------------------------------------------------ exposition
    def exposition(self) -> bytes:
        """The text exposition format of every collector (what ``/metrics`` serves)."""
        return generate_latest(self.registry)
