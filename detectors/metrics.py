"""The metric table: every metric's name, statistics, direction, practical floor and label, once.

The statistics SQL (:mod:`monitor.stats`), the policy (:mod:`detectors.policy`), the sidecar,
the nightly change points, the plots and the report all read this table; adding a metric is one
row here plus its counts in :data:`monitor.stats.COUNT_PREDICATES`.

A rate metric is ``numerator / denominator``, both names of :class:`monitor.stats.SegmentStats`
counts. ``response_length`` is the distribution of non-refusal response lengths (an exact
integer histogram), so it has no numerator; ``reasoning_length`` likewise, over the responses
that carry reasoning. A length metric names its histogram field (``histogram``).

Example:
    >>> METRIC["refusal_rate"].numerator, METRIC["refusal_rate"].denominator
    ('refusals', 'n')
    >>> [m.name for m in RATE_METRICS]
    ['refusal_rate', 'parse_failure_rate', 'json_invalid_rate', 'schema_violation_rate', 'task_success_rate']
    >>> HIGHER_IS_WORSE["task_success_rate"], DEFAULT_FLOORS["refusal_rate"]
    (False, 0.005)
    >>> sorted(LENGTH_METRICS), METRIC["reasoning_length"].histogram
    (['reasoning_length', 'response_length'], 'reasoning')
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One metric: how it is counted, which way is worse, and the smallest change worth an alert."""

    name: str
    numerator: str | None
    """Count of events with the property (a ``SegmentStats`` field); None for length."""
    denominator: str | None
    """Count of events the rate is taken among (a ``SegmentStats`` field); None for length."""
    higher_is_worse: bool
    floor: float
    """Default practical-effect floor (rates: absolute difference; length: relative change)."""
    label: str
    """Human title, e.g. ``Refusal rate``."""
    among: str = ""
    """What the denominator counts when it is not every event, for axis labels: ``labelled events``."""
    parts: tuple[str, ...] = ()
    """For a metric that is the union of others: their names (see :data:`DERIVED_METRICS`)."""
    histogram: str | None = None
    """For a length metric: the ``SegmentStats`` field holding its exact histogram."""

    @property
    def axis_label(self) -> str:
        """``parse-failure rate (JSON-expecting events)``: the label of a plot's axis."""
        return self.label.lower() + (f" ({self.among})" if self.among and self.is_rate else "")

    @property
    def is_rate(self) -> bool:
        """True for a proportion metric (numerator / denominator)."""
        return self.numerator is not None


METRIC_TABLE: tuple[Metric, ...] = (
    Metric("response_length", None, None, True, 0.05, "Response length", "non-refusal responses", histogram="length"),
    Metric("reasoning_length", None, None, True, 0.05, "Reasoning length", "non-refusal responses with reasoning",
           histogram="reasoning"),
    Metric("refusal_rate", "refusals", "n", True, 0.005, "Refusal rate"),
    Metric("parse_failure_rate", "parse_failures", "json_n", True, 0.005, "Parse-failure rate", "JSON-expecting events",
           parts=("json_invalid_rate", "schema_violation_rate")),
    Metric("json_invalid_rate", "json_invalid", "json_n", True, 0.005, "Invalid-JSON rate", "JSON-expecting events"),
    Metric("schema_violation_rate", "schema_violations", "schema_checked", True, 0.005, "Schema-violation rate",
           "parsed JSON with a schema"),
    Metric("task_success_rate", "task_successes", "task_n", False, 0.02, "Task-success rate", "labelled events"),
)
"""Every metric, in the order findings are reported."""

METRIC: dict[str, Metric] = {m.name: m for m in METRIC_TABLE}
METRICS: tuple[str, ...] = tuple(m.name for m in METRIC_TABLE)
RATE_METRICS: tuple[Metric, ...] = tuple(m for m in METRIC_TABLE if m.is_rate)
HIGHER_IS_WORSE: dict[str, bool] = {m.name: m.higher_is_worse for m in METRIC_TABLE}
DEFAULT_FLOORS: dict[str, float] = {m.name: m.floor for m in METRIC_TABLE}
LENGTH_METRICS: frozenset[str] = frozenset(m.name for m in METRIC_TABLE if m.histogram)
"""The metrics compared as exact length distributions (median ratio, KS, Wasserstein)."""
DERIVED_METRICS: dict[str, tuple[str, ...]] = {m.name: m.parts for m in METRIC_TABLE if m.parts}
"""Metrics that are the union of others. When a run holds a component of the same segment, the
union is reported for continuity but left out of the Benjamini-Hochberg family and never alerts
(one failure is counted once; see docs/STATISTICS.md, "Structured output: one failure, one test")."""
