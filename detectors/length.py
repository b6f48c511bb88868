"""Response-length shift between two windows, computed exactly from integer histograms.

Tests (all exact functions of the histograms; raw values only in the small-window permutation test):

* ``"permutation"`` for small windows (``n_baseline + n_current <= PERMUTATION_MAX_N``, 400):
  a permutation test of the two-sample **Anderson-Darling** statistic (Scholz & Stephens 1987,
  "K-sample Anderson-Darling tests", JASA 82:918; midrank form for ties, the statistic of
  ``scipy.stats.anderson_ksamp``).  AD weights the CDF difference by ``1 / (H (1 - H))``, so it
  sees a change anywhere in the distribution (location, spread, tails, a new mode) with more
  power than KS, and is close to Mann-Whitney for a pure location shift: one omnibus test instead
  of a min-p combination of KS and Mann-Whitney that pays for looking twice.  The permutation
  distribution is enumerated exactly when there are at most ``PERMUTATION_RESAMPLES`` (9,999)
  distinct splits; otherwise the p-value is Besag & Clifford's sequential Monte Carlo estimate
  (``sequential_mc_pvalue``: stop after ``PERMUTATION_EXCEEDANCES`` splits as extreme as the
  observed one, at most 9,999 splits, floor 1e-4).  Both keep the size at or below alpha at every n.
* ``"asymptotic"`` above that: the Bonferroni combination ``min(1, 2 * min(p_KS, p_MW))`` of
  the asymptotic two-sample Kolmogorov-Smirnov (any change of shape) and Mann-Whitney U with
  midranks (location) p-values.  scipy's AD p-value is interpolated from a table and capped to
  [0.001, 0.25], unusable in BH, and a permutation test of 10^5 responses is too slow for a check.

``statistic`` is the KS D.  Effects:

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

from ._lazy import LazyModule
from .histogram import IntHistogram, ks_2samp_hist, mannwhitney_hist, wasserstein_hist

stats = LazyModule("scipy.stats")

__all__ = ["LengthShiftResult", "length_shift", "quantile_ci", "PERMUTATION_MAX_N", "PERMUTATION_RESAMPLES",
           "min_attainable_pvalue", "sequential_mc_pvalue", "PERMUTATION_EXCEEDANCES"]

PERMUTATION_MAX_N = 400
"""Windows with at most this many responses together get the permutation p-value."""

PERMUTATION_RESAMPLES = 9999
"""Monte Carlo permutations at most (exact enumeration when there are at most this many distinct splits)."""

PERMUTATION_EXCEEDANCES = 20
"""Besag-Clifford stopping rule: stop drawing splits once this many reach the observed statistic.
The p-value is then 20 / (splits drawn), with a relative Monte Carlo error of about 1 / sqrt(20) = 22%
on a p-value far above any alert threshold; p-values below 20 / 9999 = 0.002 use all 9,999 splits."""


@dataclass(frozen=True)
class LengthShiftResult:
    """Result of :func:`length_shift` (NaN fields when a window is empty).

    ``statistic``: KS D.  ``pvalue``: the Anderson-Darling permutation p-value (``method``
    ``"permutation"``) or the Bonferroni KS / Mann-Whitney p-value (``"asymptotic"``), see the module docstring; ``ks_pvalue`` and
    ``mw_pvalue`` are the asymptotic p-values of each test alone.
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
    method: str = "asymptotic"


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
    # a handful of wildly spread lengths gives a log-scale half-width past exp's range: the
    # interval is then unbounded (the upper bound inf, the lower 0), never an overflow
    return ratio, (ratio * float(np.exp(-min(z * se, 700.0))), ratio * _exp_or_inf(z * se))


def _exp_or_inf(x: float) -> float:
    return math.inf if x > 700.0 else math.exp(x)


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
    if nb + nc <= PERMUTATION_MAX_N:
        method, pvalue = "permutation", _permutation_pvalue(baseline, current)
    else:
        method, pvalue = "asymptotic", min(1.0, 2.0 * min(ks_p, mw.pvalue))
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
        n_baseline=nb, n_current=nc, confidence=confidence, method=method,
    )


def _ad_statistic_factory(pooled_sorted: np.ndarray, n1: int, n2: int):
    """Vectorized two-sample Anderson-Darling statistic of a split of the sorted pooled sample.

    Scholz & Stephens' (1987) midrank form for tied data, ``A2akN`` (the unstandardized statistic
    of ``scipy.stats.anderson_ksamp(midrank=True)``, which standardizes it with constants that
    depend on the sample sizes only, so the permutation order is the same):
    ``(N - 1) / N**2 * sum_i 1/n_i * sum_j l_j (N M_ij - n_i B_j)**2 / (B_j (N - B_j) - N l_j / 4)``
    with, at each distinct value j, ``l_j`` its ties, ``B_j`` the pooled count below it plus half its
    ties and ``M_ij`` the same count in sample i.  The permuted "samples" handed to it are
    *positions* in ``pooled_sorted``: ``x`` holds the baseline's positions along the last axis.
    """

    n = n1 + n2
    values, group, tie_counts = np.unique(pooled_sorted, return_inverse=True, return_counts=True)
    n_groups = values.size
    ties = tie_counts.astype(np.float64)
    b_mid = np.cumsum(ties) - ties / 2.0
    denom = b_mid * (n - b_mid) - n * ties / 4.0
    weight = np.divide(ties, denom, out=np.zeros_like(ties), where=denom > 0)
    scale = (n - 1.0) / n ** 2

    def statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        x = np.moveaxis(np.asarray(x), axis, -1).astype(np.int64)
        lead = x.shape[:-1]
        x2 = x.reshape(-1, n1)
        rows = x2.shape[0]
        flat = (np.arange(rows)[:, None] * n_groups + group[x2]).ravel()
        f1 = np.bincount(flat, minlength=rows * n_groups).reshape(rows, n_groups).astype(np.float64)
        m1 = np.cumsum(f1, axis=1) - f1 / 2.0
        m2 = b_mid - m1
        a2 = (((n * m1 - n1 * b_mid) ** 2 / n1 + (n * m2 - n2 * b_mid) ** 2 / n2) * weight).sum(axis=1)
        return (scale * a2).reshape(lead)

    return statistic


def _permutation_pvalue(baseline: IntHistogram, current: IntHistogram) -> float:
    """Permutation p-value of the Anderson-Darling statistic (deterministic: fixed seed)."""

    n1, n2 = baseline.n, current.n
    pooled = np.repeat(np.concatenate([baseline.values, current.values]),
                       np.concatenate([baseline.counts, current.counts]))
    order = np.argsort(pooled, kind="stable")
    pooled_sorted = pooled[order]
    position = np.empty_like(order)
    position[order] = np.arange(order.size)
    if pooled_sorted[0] == pooled_sorted[-1]:
        return 1.0
    statistic = _ad_statistic_factory(pooled_sorted, n1, n2)
    if min(n1, n2) == 1:  # scipy needs two observations a sample; enumerate the n1 + n2 splits here
        n = n1 + n2
        if n1 == 1:
            splits = np.arange(n)[:, None]
        else:
            splits = np.array([np.delete(np.arange(n), j) for j in range(n)])
        t_all = statistic(splits, None, axis=-1)
        t_obs = statistic(position[:n1][None, :], None, axis=-1)[0]
        return float(min(1.0, np.mean(t_all >= t_obs * (1 - 1e-12))))
    if math.comb(n1 + n2, n1) <= PERMUTATION_RESAMPLES:  # few distinct splits: scipy enumerates them all
        res = stats.permutation_test(
            (position[:n1], position[n1:]), statistic, permutation_type="independent", vectorized=True,
            n_resamples=PERMUTATION_RESAMPLES, batch=2000, alternative="greater",
        )
        return float(min(1.0, res.pvalue))
    return sequential_mc_pvalue(statistic, position[:n1], n1 + n2, np.random.default_rng(20261130),
                                exceedances=PERMUTATION_EXCEEDANCES)


def sequential_mc_pvalue(statistic, observed: np.ndarray, n: int, rng: np.random.Generator, *,
                         exceedances: int = PERMUTATION_EXCEEDANCES, max_resamples: int = PERMUTATION_RESAMPLES) -> float:
    """Besag-Clifford sequential Monte Carlo permutation p-value of ``statistic`` (large = extreme).

    ``statistic(x, None)`` takes a ``(rows, n1)`` array of positions (the first group of a split of
    ``range(n)``); ``observed`` is the observed first group.  Random splits are drawn until ``exceedances``
    of them reach the observed value (p = h / l after l splits) or ``max_resamples`` are drawn
    (p = (g + 1) / (max_resamples + 1), the usual fixed-size estimate).  Either way
    ``P(p <= u) <= u`` under exchangeability (Besag & Clifford 1991, Biometrika 78:301), so the
    size is kept at every n, and a window with no change stops after about ``exceedances / p``
    splits instead of ``max_resamples``.

    Example:
        >>> stat = lambda x, y: x.sum(axis=-1).astype(float)   # large when the first group sits late
        >>> sequential_mc_pvalue(stat, np.array([3, 17, 30]), 40, np.random.default_rng(0)) > 0.05
        True
        >>> sequential_mc_pvalue(stat, np.array([76, 77, 78, 79]), 80, np.random.default_rng(0))  # the most extreme split
        0.0001
    """

    n1 = len(observed)
    observed = float(np.asarray(statistic(np.asarray(observed)[None, :], None)).ravel()[0])
    threshold = observed * (1 - 1e-12) if observed > 0 else observed - 1e-12
    hits = drawn = 0
    batch = 64
    while drawn < max_resamples:
        size = min(batch, max_resamples - drawn)
        splits = rng.permuted(np.broadcast_to(np.arange(n), (size, n)), axis=1)[:, :n1]
        over = np.flatnonzero(np.asarray(statistic(splits, None)) >= threshold)
        if hits + over.size >= exceedances:
            return exceedances / (drawn + int(over[exceedances - hits - 1]) + 1)
        hits += over.size
        drawn += size
        batch = min(2 * batch, 4096)
    return (hits + 1) / (max_resamples + 1)


def min_attainable_pvalue(n1: int, n2: int) -> float:
    """Smallest p-value :func:`length_shift` can return for ``n1`` and ``n2`` responses.

    Permutation regime: one split out of ``C(n1 + n2, n1)`` (at best two, by symmetry, when
    ``n1 == n2``) or the Monte Carlo floor ``1 / (PERMUTATION_RESAMPLES + 1)``.

    Example:
        >>> round(min_attainable_pvalue(5, 5), 4), min_attainable_pvalue(50, 50)
        (0.0079, 0.0001)
    """
    if n1 <= 0 or n2 <= 0:
        return 1.0
    if n1 + n2 > PERMUTATION_MAX_N:
        return 0.0
    splits = math.comb(n1 + n2, n1)
    if splits <= PERMUTATION_RESAMPLES:
        return (2.0 if n1 == n2 else 1.0) / splits
    return 1.0 / (PERMUTATION_RESAMPLES + 1)
