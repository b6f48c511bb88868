"""The alert policy's settings (:class:`PolicyConfig`), apart from the policy itself.

A leaf of :mod:`detectors` (it imports only the metric table): the configuration
(:mod:`monitor.config`) builds one for every command, and commands that compare nothing
(``signals``, ``ingest``, ``--help``) should not import the tests of :mod:`detectors.policy`
and numpy for it. :mod:`detectors.policy` re-exports both names.

    >>> PolicyConfig().alpha, DEFAULT_MIN_SAMPLES
    (0.01, 10)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .metrics import DEFAULT_FLOORS

DEFAULT_MIN_SAMPLES = 10
"""Default observations per window below which a finding is not tested (docs/STATISTICS.md 4.1).

The exact tests used at small n (Boschloo, permutation) are valid at every n, so validity sets
no minimum; 10 a window is where both can still reach the Benjamini-Hochberg threshold of a
crowded run (alpha / m = 0.01 / 80 = 1.25e-4): Boschloo's smallest p at 10 vs 10 events is
1.9e-6, the length permutation test's is its Monte Carlo floor 1e-4."""


@dataclass
class PolicyConfig:
    """Alert policy settings.

    ``min_samples`` may also be a dict (``{"default": 100, "task_success_rate": 300}``), which
    is folded into ``min_samples_by_metric``.

    Example:
        >>> p = PolicyConfig(alpha=0.05, floors={"refusal_rate": 0.01})
        >>> p.floor("refusal_rate"), p.floor("response_length"), p.min_samples_for("refusal_rate")
        (0.01, 0.05, 10)
        >>> PolicyConfig(min_samples={"default": 50, "task_success_rate": 300}).min_samples_for("task_success_rate")
        300
    """

    alpha: float = 0.01
    min_samples: int = DEFAULT_MIN_SAMPLES
    floors: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_FLOORS))
    alert_on: str = "both"
    confidence: float = 0.95
    min_samples_by_metric: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.min_samples, dict):  # e.g. straight from a config file: {"default": 100, "task_success_rate": 300}
            per_metric = {k: int(v) for k, v in self.min_samples.items() if k != "default"}
            self.min_samples_by_metric = {**per_metric, **self.min_samples_by_metric}
            self.min_samples = int(self.min_samples.get("default", DEFAULT_MIN_SAMPLES))
        for k, v in self.min_samples_by_metric.items():
            if int(v) < 1:
                raise ValueError(f"min_samples for {k} must be >= 1, got {v!r}")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.alert_on not in ("both", "worse"):
            raise ValueError(f"alert_on must be 'both' or 'worse', got {self.alert_on!r}")
        if int(self.min_samples) < 1:
            raise ValueError("min_samples must be >= 1")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError("confidence must be in (0, 1)")
        merged = dict(DEFAULT_FLOORS)
        merged.update(self.floors or {})
        for k, v in merged.items():
            if not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v)):
                raise ValueError(f"floor for {k} must be a finite number >= 0, got {v!r}")
        self.floors = merged

    def floor(self, metric: str) -> float:
        """Practical-effect floor of ``metric`` (0 for an unknown boolean metric)."""
        return float(self.floors.get(metric, 0.0))

    def min_samples_for(self, metric: str) -> int:
        """Minimum observations per window for ``metric``."""
        return int(self.min_samples_by_metric.get(metric, self.min_samples))
