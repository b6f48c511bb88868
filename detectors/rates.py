"""Change of a proportion (refusal, parse failure, task success, any boolean signal).

Inputs are counts only: ``count`` events out of ``n`` in each window.

* Difference ``current - baseline`` with Newcombe's hybrid score interval (Newcombe 1998,
  "Interval estimation for the difference between independent proportions", Stat. Med. 17:873,
  method 10), built from the two Wilson intervals (``scipy.stats.binomtest(...).proportion_ci``).
* Ratio ``current / baseline`` with the Katz log interval
  (``scipy.stats.contingency.relative_risk``); when a count is 0 the Haldane 0.5 correction is
  applied to all four cells so the interval stays finite.
* Test: Fisher's exact test (``scipy.stats.fisher_exact``) when the smallest expected cell of
  the 2x2 table is below 5 (Cochran's rule), otherwise the pooled two-proportion z test
  (``scipy.stats.chi2_contingency`` without continuity correction, equal to z squared).
  ``statistic`` is always the signed pooled z score (0 when the pooled rate is 0 or 1), so
  the sign reads as the direction whichever method produced the p-value.

Example:
    >>> r = rate_change(60, 3000, 153, 3000)
    >>> r.method, round(r.baseline_rate, 3), round(r.current_rate, 3), r.pvalue < 1e-8
    ('z', 0.02, 0.051, True)
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (0.0218, 0.0406)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.stats.contingency import relative_risk

__all__ = ["RateChangeResult", "rate_change", "wilson_ci", "EXACT_MIN_EXPECTED"]

EXACT_MIN_EXPECTED = 5.0
"""Fisher's exact test is used when the smallest expected 2x2 cell count is below this."""


@dataclass(frozen=True)
class RateChangeResult:
    """Result of :func:`rate_change`. Rates are NaN for an empty window."""

    baseline_rate: float
    current_rate: float
    difference: float
    ci_low: float
    ci_high: float
    ratio: float
    ratio_ci: tuple[float, float]
    statistic: float
    pvalue: float
    method: str
    baseline_count: int
    baseline_n: int
    current_count: int
    current_n: int
    confidence: float


def wilson_ci(count: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (NaN when ``n == 0``).

    Example:
        >>> tuple(round(x, 4) for x in wilson_ci(0, 100))
        (0.0, 0.037)
    """
    if n <= 0:
        return (math.nan, math.nan)
    ci = stats.binomtest(int(count), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(ci.low), float(ci.high))


def _validate(count: int, n: int, name: str) -> None:
    if n < 0 or count < 0 or count > n:
        raise ValueError(f"{name}: need 0 <= count <= n, got count={count}, n={n}")


def rate_change(
    baseline_count: int,
    baseline_n: int,
    current_count: int,
    current_n: int,
    *,
    confidence: float = 0.95,
) -> RateChangeResult:
    """Compare the rate ``current_count / current_n`` with ``baseline_count / baseline_n``.

    Never raises for empty windows (rates, intervals and p-value are NaN then); raises
    ``ValueError`` for impossible counts (negative, or count > n).

    Example:
        >>> r = rate_change(1, 150, 6, 150)
        >>> r.method, round(r.difference, 3), round(r.pvalue, 4)
        ('fisher', 0.033, 0.1206)
        >>> rate_change(0, 500, 0, 500).pvalue
        1.0
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    x1, n1, x2, n2 = int(baseline_count), int(baseline_n), int(current_count), int(current_n)
    _validate(x1, n1, "baseline")
    _validate(x2, n2, "current")
    nan = math.nan
    p1 = x1 / n1 if n1 else nan
    p2 = x2 / n2 if n2 else nan
    if n1 == 0 or n2 == 0:
        return RateChangeResult(p1, p2, p2 - p1, nan, nan, nan, (nan, nan), nan, nan, "none", x1, n1, x2, n2, confidence)

    # Newcombe hybrid score interval for p2 - p1
    l1, u1 = wilson_ci(x1, n1, confidence)
    l2, u2 = wilson_ci(x2, n2, confidence)
    d = p2 - p1
    ci_low = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    ci_high = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)

    # ratio (Katz log interval); Haldane correction if a count is zero
    if x1 > 0 and x2 > 0:
        rr = relative_risk(x2, n2, x1, n1)
        ratio = float(rr.relative_risk)
        rci = rr.confidence_interval(confidence_level=confidence)
        ratio_ci = (float(rci.low), float(rci.high))
    else:
        ratio = (p2 / p1) if p1 > 0 else (nan if x2 == 0 else math.inf)
        a, b = x2 + 0.5, x1 + 0.5
        na, nb = n2 + 1.0, n1 + 1.0
        r_h = (a / na) / (b / nb)
        se = math.sqrt(1 / a - 1 / na + 1 / b - 1 / nb)
        z = stats.norm.ppf(0.5 + confidence / 2.0)
        ratio_ci = (r_h * math.exp(-z * se), r_h * math.exp(z * se))

    table = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=np.int64)
    col = table.sum(axis=0)
    total = n1 + n2
    pooled = (x1 + x2) / total
    if 0 < pooled < 1:
        zscore = d / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    else:
        zscore = 0.0
    expected_min = min(n1, n2) * min(col) / total
    if expected_min < EXACT_MIN_EXPECTED:
        method = "fisher"
        pvalue = float(stats.fisher_exact(table).pvalue) if 0 < pooled < 1 else 1.0
    else:
        method = "z"
        res = stats.chi2_contingency(table, correction=False)
        pvalue = float(res.pvalue)
    return RateChangeResult(
        baseline_rate=p1, current_rate=p2, difference=d, ci_low=ci_low, ci_high=ci_high,
        ratio=float(ratio), ratio_ci=ratio_ci, statistic=float(zscore), pvalue=min(1.0, pvalue), method=method,
        baseline_count=x1, baseline_n=n1, current_count=x2, current_n=n2, confidence=confidence,
    )
