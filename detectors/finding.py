"""The Finding: one metric compared on one segment, baseline window versus current window.

A Finding is plain data. Detectors fill the statistics, the policy fills ``q_value``,
``alert`` and ``reason``; sinks receive ``Finding.to_dict()`` and nothing else.

Example:
    >>> f = Finding(metric="refusal_rate", segment={"model": "m", "model_version": "v2", "route": "chat"},
    ...             n_baseline=3000, n_current=3000, baseline_value=0.02, current_value=0.05,
    ...             effect=0.03, ci_low=0.021, ci_high=0.039, statistic=5.9, p_value=1e-9)
    >>> f.segment_key
    'model=m,model_version=v2,route=chat'
    >>> f.to_dict()["metric"]
    'refusal_rate'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .metrics import HIGHER_IS_WORSE, METRICS

from .metrics import DERIVED_METRICS, HIGHER_IS_WORSE, METRICS

__all__ = ["Finding", "METRICS", "HIGHER_IS_WORSE", "DERIVED_METRICS"]


@dataclass
class Finding:
    """Baseline versus current for one (metric, segment).

    ``effect`` is the metric's headline change with its confidence interval
    ``[ci_low, ci_high]``: the absolute difference of rates for rate metrics, the relative
    change of the median (current / baseline - 1) for response length.
    ``statistic`` and ``p_value`` come from the metric's test; ``q_value`` is the
    Benjamini-Hochberg adjusted p-value across every finding of one run.
    ``details`` holds metric-specific extras (KS, Wasserstein, p90 ratio, rate ratio, ...).
    """

    metric: str
    segment: dict[str, Any]
    n_baseline: int
    n_current: int
    baseline_value: float | None = None
    current_value: float | None = None
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    alert: bool = False
    reason: str = ""
    direction: str = "none"  # "worse" | "better" | "none"
    severity: str = "info"  # "info" | "warning" | "error"
    details: dict[str, Any] = field(default_factory=dict)
    changed_at: str | None = None
    changed_at_low: str | None = None
    changed_at_high: str | None = None
    versions_near_change: list[str] | None = None

    @property
    def segment_key(self) -> str:
        """Stable text key of the segment, e.g. ``model=m,model_version=v2,route=chat``."""
        return ",".join(f"{k}={self.segment[k]}" for k in sorted(self.segment))

    @property
    def testable(self) -> bool:
        """True when the detector produced a p-value (enough data to test)."""
        return self.p_value is not None and not math.isnan(self.p_value)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (NaN becomes None)."""
        return _clean(asdict(self))


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return _clean(value.item())
    return value
