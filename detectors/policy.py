"""The alert policy: minimum samples, practical-effect floors, Benjamini-Hochberg across a run.

An alert needs all of:

1. enough data: at least ``min_samples`` (default 10) observations in *each* window, counted
   the way the test counts them (rates: the denominator, e.g. JSON-expecting events; length:
   the responses that are not refusals), per metric overridable with
   ``min_samples_by_metric``; and a window pair whose smallest attainable p-value exceeds
   ``alpha`` (it could never alert, only dilute Benjamini-Hochberg) is not tested either.
   An untested finding has ``p_value`` None, ``alert`` False and a ``reason`` saying why
   ("too few events: 7 < 10 in current window", "too few responses to test length
   (refusals are not counted): ...");
2. significance after multiple-testing correction: Benjamini-Hochberg q-value (over every
   testable finding of one run, all metrics x segments) ``<= alpha``;
3. a practically relevant effect: ``|effect| >= floors[metric]`` on the point estimate
   (rates: absolute difference in proportion units; length: the larger of
   ``|median_ratio - 1|`` and ``wasserstein_normalized``);
4. direction: with ``alert_on="worse"`` an improvement never alerts.

Default floors (see docs/STATISTICS.md for the power they leave):

* ``response_length`` 0.05: a 5% move of the median or of the whole distribution (W / mean).
  Smaller moves are common between sampling settings and not worth a page.
* ``refusal_rate`` 0.005 (0.5 percentage points): 5 more refusals per 1,000 requests, a
  quarter of a typical 2% base rate.
* ``parse_failure_rate`` 0.005 (0.5 pp): 5 more broken structured outputs per 1,000.
* ``task_success_rate`` 0.02 (2 pp): task-success proxies are noisy; 2 pp is the smallest
  change product teams usually act on.
* ``json_invalid_rate`` and ``schema_violation_rate`` 0.005 (0.5 pp): the two components of
  ``parse_failure_rate``, same floor.  When a run holds them, ``parse_failure_rate`` (their
  union) is reported for continuity but kept out of Benjamini-Hochberg and never alerts.

Multiple testing: one Benjamini-Hochberg family per run, each failure counted once (see
``DERIVED_METRICS``).

Severity: ``"error"`` when the finding alerts, is worse, and its confidence interval lies
entirely beyond the floor (the regression is at least floor-sized with the stated confidence);
``"warning"`` for any other worse alert; ``"info"`` otherwise (no alert, or an improvement).

Example:
    >>> policy = PolicyConfig()
    >>> seg = {"model": "m", "model_version": "v2", "route": "chat"}
    >>> fs = [compare_rate("refusal_rate", seg, 60, 3000, 153, 3000, policy),
    ...       compare_rate("parse_failure_rate", seg, 10, 1000, 11, 1000, policy),
    ...       compare_rate("task_success_rate", seg, 30, 40, 10, 40, policy)]
    >>> out = apply_policy(fs, policy)
    >>> [(f.alert, f.direction, f.severity) for f in out]
    [(True, 'worse', 'error'), (False, 'worse', 'info'), (True, 'worse', 'error')]
    >>> out[0].reason
    'refusal_rate 2.0% -> 5.1% (+3.1 pp, 95% CI +2.2..+4.1), q=3e-10: alert'
    >>> out[2].alert, out[2].details["method"]
    (True, 'z')
    >>> apply_policy([compare_rate("task_success_rate", seg, 3, 4, 1, 4, policy)], policy)[0].reason
    'too few events: 4 < 10 in baseline and current windows'
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import length as _length
from . import rates as _rates
from ._lazy import LazyModule
from .finding import Finding
from .metrics import DEFAULT_FLOORS, DERIVED_METRICS, HIGHER_IS_WORSE, LENGTH_METRICS, METRICS
from .policy_config import DEFAULT_MIN_SAMPLES, PolicyConfig
from .metrics import RATE_METRICS as _RATE_METRICS
from .histogram import IntHistogram
from .length import length_shift
from .rates import rate_change

stats = LazyModule("scipy.stats")

__all__ = ["PolicyConfig", "DEFAULT_FLOORS", "DEFAULT_MIN_SAMPLES", "Decision", "compare_length", "compare_rate",
           "decide", "apply_policy"]

RATE_METRICS = tuple(m.name for m in _RATE_METRICS)


def _too_few(metric: str, nb: int, nc: int, need: int, what: str = "events") -> str:
    if nb < need and nc < need:
        if nb == nc:
            return f"too few {what}: {nb} < {need} in baseline and current windows"
        return f"too few {what}: {nb} (baseline), {nc} (current) < {need}"
    if nb < need:
        return f"too few {what}: {nb} < {need} in baseline window"
    return f"too few {what}: {nc} < {need} in current window"


def _cannot_reach(min_p: float, nb: int, nc: int, alpha: float) -> str:
    return (f"not tested: at {nb} (baseline) and {nc} (current) the smallest attainable p-value is "
            f"{min_p:.2g} > alpha {alpha:g}, so no outcome could alert")


def _direction(metric: str, signed_effect: float) -> str:
    if signed_effect is None or not math.isfinite(signed_effect) or signed_effect == 0:
        return "none"
    up = signed_effect > 0
    higher_is_worse = HIGHER_IS_WORSE.get(metric, True)
    return "worse" if up == higher_is_worse else "better"


def _num(x: Any) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x


def _finding(metric: str, segment: dict, nb: int, nc: int, need: int, baseline_value: Any,
             current_value: Any, r: Any, details: dict[str, Any], *, too_few: str | None = None,
             cannot_reach: str | None = None) -> Finding:
    """A Finding from a detector result ``r`` (``effect``/``difference``, ``ci_low``, ``ci_high``,
    ``statistic``, ``pvalue``); untested (no p-value, a reason) below ``need`` events a window
    (reason ``too_few`` when given) or when ``cannot_reach`` says no outcome could alert."""
    effect = r.effect if hasattr(r, "effect") else r.difference
    f = Finding(
        metric=metric, segment=dict(segment), n_baseline=nb, n_current=nc,
        baseline_value=_num(baseline_value), current_value=_num(current_value),
        effect=_num(effect), ci_low=_num(r.ci_low), ci_high=_num(r.ci_high),
        statistic=_num(r.statistic), p_value=None, details=details,
    )
    if nb < need or nc < need:
        f.reason = too_few or _too_few(metric, nb, nc, need)
        return f
    if cannot_reach:
        f.reason = cannot_reach
        return f
    f.p_value = float(r.pvalue) if math.isfinite(r.pvalue) else None
    return f


def compare_length(segment: dict, baseline: IntHistogram, current: IntHistogram, policy: PolicyConfig, *,
                   events_baseline: int | None = None, events_current: int | None = None,
                   metric: str = "response_length") -> Finding:
    """Finding for a length metric, ``response_length`` or ``reasoning_length`` (values are
    medians in characters).

    ``effect`` = median ratio - 1 with its CI; KS, Mann-Whitney, Wasserstein and p90 go to
    ``details``.  The histograms hold the responses that are not refusals, and the minimum
    sample size counts exactly those; below it the finding is reported untested with a reason
    that says so (with the window's event count when ``events_baseline`` / ``events_current``
    are given).

    Example:
        >>> b = IntHistogram.from_pairs([100, 200, 300], [300, 400, 300])
        >>> c = IntHistogram.from_pairs([130, 260, 390], [300, 400, 300])
        >>> f = compare_length({"route": "chat"}, b, c, PolicyConfig())
        >>> f.baseline_value, f.current_value, round(f.effect, 2), f.p_value < 1e-10
        (200.0, 260.0, 0.3, True)
        >>> few = IntHistogram.from_samples([100] * 7)
        >>> compare_length({}, b, few, PolicyConfig(), events_current=50).reason
        'too few responses to test length (refusals are not counted): 7 < 10 in current window (of 50 events)'
    """
    if metric not in LENGTH_METRICS:
        raise ValueError(f"not a length metric: {metric!r} (one of {sorted(LENGTH_METRICS)})")
    nb, nc = baseline.n, current.n
    need = policy.min_samples_for(metric)
    r = length_shift(baseline, current, confidence=policy.confidence)
    too_few = None
    if nb < need or nc < need:
        what = ("responses to test length (refusals are not counted)" if metric == "response_length"
                else "responses with reasoning to test its length (refusals are not counted)")
        too_few = _too_few(metric, nb, nc, need, what=what)
        events = [(w, e) for w, e, k in (("baseline", events_baseline, nb), ("current", events_current, nc))
                  if e is not None and k < need]
        if events:
            too_few += " (of " + ", ".join(f"{e} events" + (f" in {w}" if len(events) > 1 else "")
                                           for w, e in events) + ")"
    min_p = _length.min_attainable_pvalue(nb, nc)
    cannot = _cannot_reach(min_p, nb, nc, policy.alpha) if min_p > policy.alpha else None
    details: dict[str, Any] = {
        "test": ("Anderson-Darling permutation test" if r.method == "permutation"
                 else "min(1, 2*min(KS, Mann-Whitney))"),
        "method": r.method,
        "ks_statistic": r.statistic,
        "ks_pvalue": r.ks_pvalue,
        "mw_pvalue": r.mw_pvalue,
        "prob_superiority": r.prob_superiority,
        "wasserstein": r.wasserstein,
        "wasserstein_normalized": r.wasserstein_normalized,
        "baseline_mean": r.baseline_mean,
        "current_mean": r.current_mean,
        "baseline_p90": r.baseline_p90,
        "current_p90": r.current_p90,
        "p90_ratio": r.p90_ratio,
        "p90_ratio_ci_low": r.p90_ratio_ci[0],
        "p90_ratio_ci_high": r.p90_ratio_ci[1],
        "median_ratio": r.median_ratio,
        "confidence": policy.confidence,
        "floor": policy.floor(metric),
        "unit": "chars",
    }
    return _finding(metric, segment, nb, nc, need, r.baseline_median, r.current_median, r, details,
                    too_few=too_few, cannot_reach=cannot)


def compare_rate(
    metric: str,
    segment: dict,
    baseline_count: int,
    baseline_n: int,
    current_count: int,
    current_n: int,
    policy: PolicyConfig,
) -> Finding:
    """Finding for a rate metric (values are rates; ``effect`` = current - baseline with its CI).

    Example:
        >>> f = compare_rate("refusal_rate", {"route": "chat"}, 20, 1000, 20, 1000, PolicyConfig())
        >>> f.effect, f.p_value
        (0.0, 1.0)
        >>> compare_rate("refusal_rate", {}, 0, 0, 3, 50, PolicyConfig()).reason
        'too few events: 0 < 10 in baseline window'
        >>> compare_rate("refusal_rate", {}, 0, 3, 3, 3, PolicyConfig(min_samples=1)).reason
        'not tested: at 3 (baseline) and 3 (current) the smallest attainable p-value is 0.031 > alpha 0.01, so no outcome could alert'
    """
    nb, nc = int(baseline_n), int(current_n)
    need = policy.min_samples_for(metric)
    r = rate_change(baseline_count, baseline_n, current_count, current_n, confidence=policy.confidence)
    cannot = None
    if 0 < min(nb, nc) < 8:  # from 8 a window on, the smallest attainable p-value is below 2 * 4**-8
        min_p = _rates.min_attainable_pvalue(nb, nc)
        cannot = _cannot_reach(min_p, nb, nc, policy.alpha) if min_p > policy.alpha else None
    details: dict[str, Any] = {
        "baseline_count": r.baseline_count,
        "current_count": r.current_count,
        "ratio": r.ratio,
        "ratio_ci_low": r.ratio_ci[0],
        "ratio_ci_high": r.ratio_ci[1],
        "method": r.method,
        "confidence": policy.confidence,
        "floor": policy.floor(metric),
    }
    return _finding(metric, segment, nb, nc, need, r.baseline_rate, r.current_rate, r, details, cannot_reach=cannot)


def _fmt_q(q: float) -> str:
    if q >= 0.01:
        return f"{q:.2g}"
    return f"{q:.0e}".replace("e-0", "e-")


def _practical_size(f: Finding) -> float:
    if f.metric in LENGTH_METRICS:
        vals = [abs(f.effect) if f.effect is not None and math.isfinite(f.effect) else 0.0]
        w = f.details.get("wasserstein_normalized")
        if w is not None and math.isfinite(w):
            vals.append(float(w))
        return max(vals)
    return abs(f.effect) if f.effect is not None and math.isfinite(f.effect) else 0.0


def _signed_change(f: Finding) -> float:
    if f.effect is not None and math.isfinite(f.effect) and f.effect != 0:
        return float(f.effect)
    if f.metric in LENGTH_METRICS:
        bm, cm = f.details.get("baseline_mean"), f.details.get("current_mean")
        if bm is not None and cm is not None and math.isfinite(bm) and math.isfinite(cm):
            return float(cm - bm)
    return 0.0 if f.effect is None or not math.isfinite(f.effect) else float(f.effect)


def _summary(f: Finding, confidence: float) -> str:
    pct = f"{round(confidence * 100):d}%"
    if f.metric in LENGTH_METRICS:
        def c(x: float | None) -> str:
            return "nan" if x is None or not math.isfinite(x) else f"{x * 100:+.1f}%"
        w = f.details.get("wasserstein_normalized", math.nan)
        b = "nan" if f.baseline_value is None else f"{f.baseline_value:.0f}"
        cur = "nan" if f.current_value is None else f"{f.current_value:.0f}"
        return (f"{f.metric} median {b} -> {cur} chars ({c(f.effect)}, {pct} CI {c(f.ci_low)}..{c(f.ci_high)}), "
                f"W/mean={w:.3f}")

    def r(x: float | None) -> str:
        return "nan" if x is None or not math.isfinite(x) else f"{x * 100:.1f}%"

    def pp(x: float | None) -> str:
        return "nan" if x is None or not math.isfinite(x) else f"{x * 100:+.1f}"
    return (f"{f.metric} {r(f.baseline_value)} -> {r(f.current_value)} "
            f"({pp(f.effect)} pp, {pct} CI {pp(f.ci_low)}..{pp(f.ci_high)})")


def _ci_beyond_floor(f: Finding, floor: float, direction_sign: float) -> bool:
    if f.ci_low is None or f.ci_high is None or not (math.isfinite(f.ci_low) and math.isfinite(f.ci_high)):
        return False
    if direction_sign > 0:
        return f.ci_low >= floor
    return f.ci_high <= -floor


@dataclass(frozen=True)
class Decision:
    """What the alert policy decided for one finding (:func:`decide`).

    ``direction``: ``worse``, ``better`` or ``none``; ``practical_size``: the size compared with
    the floor (rates: ``|difference|``; length: the larger of ``|median ratio - 1|`` and
    ``wasserstein_normalized``); ``above_floor``: ``practical_size >= floor`` with a direction;
    ``alert``; ``severity``: ``error``, ``warning`` or ``info``; ``verdict``: the words that end
    the finding's reason.
    """

    direction: str
    practical_size: float
    floor: float
    above_floor: bool
    alert: bool
    severity: str
    verdict: str


def decide(f: Finding, policy: PolicyConfig, *, significant: bool) -> Decision:
    """The alert policy for one tested finding, given whether its test is ``significant``.

    The one place that turns a change into an alert, shared by the batch comparison
    (:func:`apply_policy`: significant = BH ``q <= alpha``) and the sidecar
    (:mod:`monitor.tail.detect`: significant = the sequential detector alarmed). Reads
    ``f.metric``, ``f.effect``, ``f.ci_low``/``f.ci_high`` and, for length,
    ``details["wasserstein_normalized"]`` (and the means when the median does not move):

    * direction from :data:`detectors.finding.HIGHER_IS_WORSE`;
    * the practical floor ``policy.floors[metric]`` against the practical size (see
      :class:`Decision`);
    * alert = significant, at least floor-sized, and worse (or either way with
      ``alert_on = "both"``);
    * severity ``error`` for a worse alert whose confidence interval lies entirely beyond the
      floor, ``warning`` for any other worse alert, ``info`` otherwise.

    Example:
        >>> p = PolicyConfig()
        >>> f = compare_rate("refusal_rate", {}, 20, 1000, 60, 1000, p)
        >>> d = decide(f, p, significant=True)
        >>> d.direction, d.above_floor, d.alert, d.severity, d.verdict
        ('worse', True, True, 'error', 'alert')
        >>> decide(f, p, significant=False).verdict, decide(f, PolicyConfig(floors={"refusal_rate": 0.1}),
        ...                                                 significant=True).verdict
        ('not significant', 'below practical floor 0.1')
    """
    signed = _signed_change(f)
    direction = _direction(f.metric, signed)
    floor = policy.floor(f.metric)
    size = _practical_size(f)
    above = size >= floor and direction != "none"
    alert = False
    if not significant:
        verdict = "not significant"
    elif not above:
        verdict = f"below practical floor {floor:g}"
    elif policy.alert_on == "worse" and direction != "worse":
        verdict = "improvement, not alerting (alert_on=worse)"
    else:
        alert = True
        verdict = "alert"
    severity = "info"
    if alert and direction == "worse":
        sign = 1.0 if signed > 0 else -1.0
        severity = "error" if _ci_beyond_floor(f, floor, sign) else "warning"
    return Decision(direction, size, floor, above, alert, severity, verdict)


def apply_policy(findings: list[Finding], policy: PolicyConfig) -> list[Finding]:
    """Fill ``q_value``, ``alert``, ``reason``, ``direction`` and ``severity`` for one run.

    Benjamini-Hochberg (``scipy.stats.false_discovery_control``) runs over every testable
    finding in ``findings`` (all metrics x segments together), each failure counted once: a
    derived metric (``DERIVED_METRICS``: ``parse_failure_rate``, the union of
    ``json_invalid_rate`` and ``schema_violation_rate``) whose segment also has a component
    finding in the run keeps its p-value for reading but is left out of the family, gets no
    q-value and never alerts.  Returns new Finding objects in the same order; the input is
    not modified.

    Example:
        >>> p = PolicyConfig()
        >>> h = IntHistogram.from_pairs([50, 80], [200, 300])
        >>> [f] = apply_policy([compare_length({}, h, h, p)], p)
        >>> f.alert, f.q_value, f.direction
        (False, 1.0, 'none')
    """

    out = [dataclasses.replace(f, details=dict(f.details), segment=dict(f.segment)) for f in findings]
    present = {(f.segment_key, f.metric) for f in out}
    derived = {i for i, f in enumerate(out)
               if any((f.segment_key, c) in present for c in DERIVED_METRICS.get(f.metric, ()))}
    idx = [i for i, f in enumerate(out) if f.testable and i not in derived]
    if idx:
        ps = np.clip(np.array([out[i].p_value for i in idx], dtype=np.float64), 0.0, 1.0)
        qs = stats.false_discovery_control(ps, method="bh")
        for i, q in zip(idx, qs):
            out[i].q_value = float(max(q, out[i].p_value))
    for i, f in enumerate(out):
        if i in derived:
            parts = " and ".join(DERIVED_METRICS[f.metric])
            f.alert, f.severity, f.q_value = False, "info", None
            f.direction = _direction(f.metric, _signed_change(f)) if f.testable else "none"
            f.details["derived_from"] = list(DERIVED_METRICS[f.metric])
            f.details["in_fdr_family"] = False
            f.reason = (f"{_summary(f, policy.confidence)}: reported for continuity, not tested on its own "
                        f"(the union of {parts}, which are tested)")
            continue
        f.alert = False
        f.severity = "info"
        if not f.testable:
            f.direction = "none"
            if not f.reason:
                f.reason = "not testable: empty window"
            f.q_value = None
            continue
        d = decide(f, policy, significant=f.q_value <= policy.alpha)
        f.direction, f.alert, f.severity = d.direction, d.alert, d.severity
        f.reason = f"{_summary(f, policy.confidence)}, q={_fmt_q(f.q_value)}: {d.verdict}"
        f.details["practical_size"] = d.practical_size
    return out
