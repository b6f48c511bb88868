"""Change-point localisation: when did a confirmed regression start?

Input: a time series of per-bucket sufficient statistics (hourly or finer), e.g. refusals and
events per hour, or one length histogram per hour.  Model: a single change of the category
distribution between two buckets.  Each regime's counts are Dirichlet-multinomial with a
Jeffreys prior (``Dirichlet(1/2, ..., 1/2)``), the change index has a uniform prior, and the
posterior over the change index is exact (conjugate, O(T K)); see Fearnhead (2006), "Exact
and efficient Bayesian inference for multiple changepoint problems", Stat. Comput. 16:203.

Reported: the posterior mode (MAP index = first bucket of the new regime) and the smallest
contiguous hull of the highest-posterior set holding ``confidence`` of the mass
(``index_low..index_high``, inclusive), plus ``log_bayes_factor`` of "one change" versus
"no change".  If ``times`` are given, the same as ``time`` / ``time_low`` / ``time_high``
(the caller maps those to ``changed_at`` and to model versions first seen near the change).

Rates use two categories (event / no event).  Lengths use the bins between the pooled
quartiles of all buckets (exact from the histograms, no expansion), so a change of location
or of shape both show.

Caveat: buckets are assumed independent given the regime; strong hour-to-hour overdispersion
(traffic mix swings) makes the interval too narrow.

Example:
    >>> counts = [20, 18, 22, 21, 19, 61, 58, 63, 60]
    >>> r = changepoint_rate(counts, [1000] * 9, times=[f"h{i}" for i in range(9)])
    >>> r.index, r.index_low, r.index_high, r.time
    (5, 5, 5, 'h5')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.special import gammaln, logsumexp

from .histogram import IntHistogram

__all__ = ["ChangePointResult", "changepoint_counts", "changepoint_rate", "changepoint_length"]


@dataclass(frozen=True)
class ChangePointResult:
    """Posterior summary of a single change point.

    ``index``: first bucket of the new regime (``None`` when fewer than 2 buckets or no data);
    ``index_low`` / ``index_high``: inclusive credible interval; ``posterior``: probability of
    each index ``1..T-1`` (array of length T, entry 0 is 0); ``before`` / ``after``: category
    proportions of the two regimes at the MAP split.
    """

    index: int | None
    index_low: int | None
    index_high: int | None
    confidence: float
    log_bayes_factor: float
    posterior: np.ndarray
    before: np.ndarray
    after: np.ndarray
    time: Any = None
    time_low: Any = None
    time_high: Any = None


def _log_ml(counts: np.ndarray, prior: float) -> np.ndarray:
    """Dirichlet-multinomial log marginal likelihood (without the multinomial coefficient), rows."""
    k = counts.shape[-1]
    tot = counts.sum(axis=-1)
    return (gammaln(k * prior) - gammaln(k * prior + tot)
            + np.sum(gammaln(prior + counts) - gammaln(prior), axis=-1))


def changepoint_counts(
    counts: np.ndarray | Sequence[Sequence[int]],
    *,
    times: Sequence[Any] | None = None,
    confidence: float = 0.95,
    prior: float = 0.5,
) -> ChangePointResult:
    """Single change point in a (T buckets x K categories) count matrix.

    Example:
        >>> m = [[10, 90]] * 4 + [[30, 70]] * 4
        >>> r = changepoint_counts(m)
        >>> r.index, r.before.round(2).tolist(), r.after.round(2).tolist()
        (4, [0.1, 0.9], [0.3, 0.7])
    """
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError("counts must be a 2-D (buckets x categories) array")
    if (c < 0).any():
        raise ValueError("counts must be >= 0")
    t = c.shape[0]
    if times is not None and len(times) != t:
        raise ValueError("times must have one entry per bucket")
    empty = np.zeros(c.shape[1]) if c.ndim == 2 else np.zeros(0)
    if t < 2 or c.sum() == 0:
        return ChangePointResult(None, None, None, confidence, 0.0, np.zeros(t), empty, empty)
    cum = np.cumsum(c, axis=0)
    total = cum[-1]
    left = cum[:-1]                      # buckets 0..tau-1 for tau = 1..T-1
    right = total[None, :] - left
    logp = _log_ml(left, prior) + _log_ml(right, prior)
    norm = logsumexp(logp)
    post = np.exp(logp - norm)
    log_bf = float(norm - math.log(t - 1) - _log_ml(total[None, :], prior)[0])
    order = np.argsort(-post, kind="stable")
    k = int(np.searchsorted(np.cumsum(post[order]), confidence) + 1)
    chosen = order[: min(k, order.size)] + 1
    tau = int(order[0] + 1)
    lo, hi = int(chosen.min()), int(chosen.max())
    full_post = np.concatenate([[0.0], post])
    before = left[tau - 1] / max(left[tau - 1].sum(), 1)
    after = right[tau - 1] / max(right[tau - 1].sum(), 1)
    return ChangePointResult(
        index=tau, index_low=lo, index_high=hi, confidence=confidence, log_bayes_factor=log_bf,
        posterior=full_post, before=before, after=after,
        time=None if times is None else times[tau],
        time_low=None if times is None else times[lo],
        time_high=None if times is None else times[hi],
    )


def changepoint_rate(
    counts: Sequence[int] | np.ndarray,
    ns: Sequence[int] | np.ndarray,
    *,
    times: Sequence[Any] | None = None,
    confidence: float = 0.95,
) -> ChangePointResult:
    """Change point of a rate from per-bucket ``counts`` (events) and ``ns`` (trials).

    Example:
        >>> r = changepoint_rate([5, 4, 6, 15, 14], [200] * 5)
        >>> r.index, round(float(r.after[0]), 3)
        (3, 0.072)
    """
    x = np.asarray(counts, dtype=np.int64)
    n = np.asarray(ns, dtype=np.int64)
    if x.shape != n.shape or (x > n).any():
        raise ValueError("counts and ns must have the same shape and counts <= ns")
    return changepoint_counts(np.stack([x, n - x], axis=1), times=times, confidence=confidence)


def changepoint_length(
    histograms: Sequence[IntHistogram],
    *,
    times: Sequence[Any] | None = None,
    confidence: float = 0.95,
    bins: int = 4,
) -> ChangePointResult:
    """Change point of the length distribution from one histogram per bucket.

    Categories are the intervals between the pooled ``1/bins`` quantiles of all buckets.

    Example:
        >>> rng = np.random.default_rng(2)
        >>> hs = [IntHistogram.from_samples(np.rint(rng.lognormal(6 + 0.3 * (i >= 6), 0.6, 300)).astype(int))
        ...       for i in range(10)]
        >>> changepoint_length(hs).index
        6
    """
    if len(histograms) == 0:
        return ChangePointResult(None, None, None, confidence, 0.0, np.zeros(0), np.zeros(0), np.zeros(0))
    pooled = sum(histograms, IntHistogram.empty())
    if pooled.n == 0:
        return changepoint_counts(np.zeros((len(histograms), 1)), times=times, confidence=confidence)
    cuts = np.unique([pooled.order_statistic(min(pooled.n - 1, int(pooled.n * q / bins))) for q in range(1, bins)])
    rows = []
    for h in histograms:
        cum = np.concatenate([[0], np.cumsum(h.counts)])
        below = cum[np.searchsorted(h.values, cuts, side="right")]   # count <= cut
        edges = np.concatenate([[0], below, [h.n]])
        rows.append(np.diff(edges))
    return changepoint_counts(np.array(rows), times=times, confidence=confidence)
