"""Response-length shift between two windows, computed exactly from integer histograms.

Tests (all exact functions of the histograms, no raw arrays):

* two-sample Kolmogorov-Smirnov (any change of shape: spread, tail, bimodality, truncation);
* Mann-Whitney U with midranks (location / stochastic shift: by far the more powerful test
  when responses simply get longer or shorter).

The reported ``pvalue`` is the Bonferroni combination ``min(1, 2 * min(p_KS, p_MW))`` so one
p-value per finding keeps the false-alarm guarantee while being sensitive to both kinds of
change; ``statistic`` is the KS D.  Effects:

* ``median_ratio`` and ``p90_ratio`` (current / baseline) with confidence intervals built from
  the distribution-free binomial order-statistic interval of each quantile, turned into a
  standard error of the log quantile (Price & Bonett 2002, "Distribution-free confidence
  intervals for difference and ratio of medians", J. Stat. Comput. Simul. 72(2):119-124;
  delta-method form ``se(ln Q) = (U - L) / (2 z Q)``) and combined on the log scale;
* ``wasserstein`` (in characters) and ``wasserstein_normalized`` = W / baseline mean.  Dividing
  by the baseline mean makes a pure rescaling ``x -> r x`` give exactly ``|r - 1|``, so the
  normalized value reads as "the typical response moved by this fraction of its length".

Example:
    >>> base = IntHistogram.from_pairs([100, 200, 300], [30, 40, 30])
    >>> cur = IntHistogram.from_pairs([120, 240, 360], [30, 40, 30])
    >>> r = length_shift(base, cur)
    >>> r.median_ratio, round(r.wasserstein_normalized, 3), r.pvalue < 0.01
    (1.2, 0.2, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from .histogram import IntHistogram, ks_2samp_hist, mannwhitney_hist, wasserstein_hist

__all__ = ["LengthShiftResult", "length_shift", "quantile_ci"]


@dataclass(frozen=True)
class LengthShiftResult:
    """Result of :func:`length_shift` (NaN fields when a window is empty).

    ``statistic``: KS D.  ``pvalue``: Bonferroni-combined KS / Mann-Whitney p-value.
    ``effect`` = ``median_ratio - 1`` with CI ``[ci_low, ci_high]``.
    """

    statistic: float
    pvalue: float
    ks_pvalue: float
    mw_pvalue: float
    prob_superiority: float
    wasserstein: float
    wasserstein_normalized: float
    baseline_mean: float
    current_mean: float
    baseline_median: float
    current_median: float
    median_ratio: float
    median_ratio_ci: tuple[float, float]
    baseline_p90: float
    current_p90: float
    p90_ratio: float
    p90_ratio_ci: tuple[float, float]
    effect: float
    ci_low: float
    ci_high: float
    n_baseline: int
    n_current: int
    confidence: float


def quantile_ci(h: IntHistogram, q: float, confidence: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval for the ``q``-quantile from order statistics.

    Uses the binomial(n, q) distribution of the number of observations below the true
    quantile: the interval is ``[X_(l), X_(u)]`` with ``l, u`` the equal-tailed binomial
    quantiles (coverage >= ``confidence`` up to the discreteness of the binomial). NaN if empty.

    Example:
        >>> quantile_ci(IntHistogram.from_samples(range(1, 101)), 0.5)
        (40.0, 61.0)
    """
    n = h.n
    if n == 0:
        return (math.nan, math.nan)
    alpha = 1.0 - confidence
    lo_k = int(stats.binom.ppf(alpha / 2.0, n, q)) - 1
    hi_k = int(stats.binom.ppf(1.0 - alpha / 2.0, n, q))
    lo_k = min(max(lo_k, 0), n - 1)
    hi_k = min(max(hi_k, 0), n - 1)
    return (float(h.order_statistic(lo_k)), float(h.order_statistic(hi_k)))


def _log_se(h: IntHistogram, q: float, point: float, confidence: float) -> float:
    lo, hi = quantile_ci(h, q, confidence)
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    if not point > 0:
        return math.nan
    # guard the degenerate case lo == hi (all mass on one value): use half a unit of resolution
    width = max(hi - lo, 1.0)
    return width / (2.0 * z * point)


def _ratio_ci(base: IntHistogram, cur: IntHistogram, q: float, confidence: float) -> tuple[float, tuple[float, float]]:
    qb, qc = base.quantile(q), cur.quantile(q)
    if not (qb > 0 and qc > 0):
        ratio = qc / qb if qb > 0 else math.nan
        return ratio, (math.nan, math.nan)
    ratio = qc / qb
    se = math.hypot(_log_se(base, q, qb, confidence), _log_se(cur, q, qc, confidence))
    z = stats.norm.ppf(0.5 + confidence / 2.0)
    return ratio, (ratio * math.exp(-z * se), ratio * math.exp(z * se))


def length_shift(baseline: IntHistogram, current: IntHistogram, *, confidence: float = 0.95) -> LengthShiftResult:
    """Compare two response-length histograms (baseline vs current). Never raises on empty input.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> base = IntHistogram.from_samples(np.rint(rng.lognormal(6.0, 0.6, 1000)).astype(int))
        >>> cur = IntHistogram.from_samples(np.rint(1.3 * rng.lognormal(6.0, 0.6, 1000)).astype(int))
        >>> r = length_shift(base, cur)
        >>> r.pvalue < 1e-6, r.ci_low < 0.3 < r.ci_high
        (True, True)
        >>> math.isnan(length_shift(base, IntHistogram.empty()).pvalue)
        True
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    nb, nc = baseline.n, current.n
    nan = math.nan
    if nb == 0 or nc == 0:
        return LengthShiftResult(
            statistic=nan, pvalue=nan, ks_pvalue=nan, mw_pvalue=nan, prob_superiority=nan,
            wasserstein=nan, wasserstein_normalized=nan,
            baseline_mean=baseline.mean(), current_mean=current.mean(),
            baseline_median=baseline.quantile(0.5), current_median=current.quantile(0.5),
            median_ratio=nan, median_ratio_ci=(nan, nan),
            baseline_p90=baseline.quantile(0.9), current_p90=current.quantile(0.9),
            p90_ratio=nan, p90_ratio_ci=(nan, nan), effect=nan, ci_low=nan, ci_high=nan,
            n_baseline=nb, n_current=nc, confidence=confidence,
        )
    ks = ks_2samp_hist(baseline, current)
    # order (current, baseline): prob_superiority = P(current > baseline) + ties / 2
    mw = mannwhitney_hist(current, baseline)
    ks_p = ks.pvalue if math.isfinite(ks.pvalue) else 1.0  # scipy's asymp p is NaN when round(nm/(n+m)) == 0
    pvalue = min(1.0, 2.0 * min(ks_p, mw.pvalue))
    w = wasserstein_hist(baseline, current)
    bmean = baseline.mean()
    w_norm = w / bmean if bmean > 0 else (0.0 if w == 0 else math.inf)
    med_ratio, med_ci = _ratio_ci(baseline, current, 0.5, confidence)
    p90_ratio, p90_ci = _ratio_ci(baseline, current, 0.9, confidence)
    return LengthShiftResult(
        statistic=float(ks.statistic), pvalue=float(pvalue), ks_pvalue=float(ks.pvalue), mw_pvalue=float(mw.pvalue),
        prob_superiority=float(mw.prob_superiority), wasserstein=float(w), wasserstein_normalized=float(w_norm),
        baseline_mean=bmean, current_mean=current.mean(),
        baseline_median=baseline.quantile(0.5), current_median=current.quantile(0.5),
        median_ratio=float(med_ratio), median_ratio_ci=med_ci,
        baseline_p90=baseline.quantile(0.9), current_p90=current.quantile(0.9),
        p90_ratio=float(p90_ratio), p90_ratio_ci=p90_ci,
        effect=float(med_ratio - 1.0), ci_low=med_ci[0] - 1.0, ci_high=med_ci[1] - 1.0,
        n_baseline=nb, n_current=nc, confidence=confidence,
    )
