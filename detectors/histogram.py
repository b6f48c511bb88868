"""Exact integer histograms and two-sample statistics computed from them.

A response length is an integer, so a ``value -> count`` histogram is a lossless sufficient
statistic for every rank- and distribution-based comparison: the two-sample Kolmogorov-Smirnov
statistic, the 1-Wasserstein distance, the Mann-Whitney U statistic (ties included) and every
order statistic are computed here *exactly* from the histograms, without ever expanding them
into raw arrays.  Histograms merge by addition (hours, processes, machines), so any engine that
can run ``GROUP BY length`` can feed these functions.

Example:
    >>> a = IntHistogram.from_samples([3, 1, 2, 2, 5])
    >>> b = IntHistogram.from_pairs([2, 9, 2], [1, 1, 2])
    >>> (a + b).n, a.quantile(0.5), a.mean()
    (9, 2.0, 2.6)
    >>> r = ks_2samp_hist(a, b)
    >>> round(float(r.statistic), 3), round(wasserstein_hist(a, b), 3)
    (0.25, 1.45)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from ._lazy import LazyModule

stats = LazyModule("scipy.stats")

__all__ = [
    "IntHistogram",
    "KSResult",
    "MannWhitneyResult",
    "ks_2samp_hist",
    "wasserstein_hist",
    "mannwhitney_hist",
]


@dataclass(frozen=True)
class IntHistogram:
    """An exact histogram of integer observations: sorted unique ``values`` with positive ``counts``.

    Build it with :meth:`from_samples`, :meth:`from_pairs` (e.g. the rows of a SQL
    ``GROUP BY length``) or :meth:`empty`; merge with ``+``.

    Example:
        >>> h = IntHistogram.from_pairs([10, 5, 10, 7], [1, 2, 3, 0])
        >>> h.values.tolist(), h.counts.tolist(), h.n
        ([5, 10], [2, 4], 6)
    """

    values: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.int64).reshape(-1)
        counts = np.asarray(self.counts, dtype=np.int64).reshape(-1)
        if values.shape != counts.shape:
            raise ValueError("values and counts must have the same length")
        if counts.size and (counts <= 0).any():
            raise ValueError("counts must be > 0 (use from_pairs to drop zeros)")
        if values.size > 1 and (np.diff(values) <= 0).any():
            raise ValueError("values must be sorted and unique (use from_pairs for raw pairs)")
        values.setflags(write=False)
        counts.setflags(write=False)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "counts", counts)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_samples(cls, samples: Iterable[int] | np.ndarray) -> "IntHistogram":
        """Histogram of raw integer samples.

        Example:
            >>> IntHistogram.from_samples([4, 4, 1]).counts.tolist()
            [1, 2]
        """
        arr = np.asarray(list(samples) if not isinstance(samples, np.ndarray) else samples)
        if arr.size == 0:
            return cls.empty()
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                raise ValueError("samples must be integers")
        values, counts = np.unique(arr.astype(np.int64).reshape(-1), return_counts=True)
        return cls(values, counts.astype(np.int64))

    @classmethod
    def from_pairs(cls, values: Iterable[int] | np.ndarray, counts: Iterable[int] | np.ndarray) -> "IntHistogram":
        """Histogram from (value, count) pairs: unsorted, duplicates summed, zero counts dropped.

        Example:
            >>> IntHistogram.from_pairs([3, 1, 3], [2, 0, 5]).counts.tolist()
            [7]
        """
        v = np.asarray(list(values) if not isinstance(values, np.ndarray) else values).reshape(-1)
        c = np.asarray(list(counts) if not isinstance(counts, np.ndarray) else counts).reshape(-1)
        if v.shape != c.shape:
            raise ValueError("values and counts must have the same length")
        if v.size == 0:
            return cls.empty()
        c = c.astype(np.int64)
        if (c < 0).any():
            raise ValueError("counts must be >= 0")
        keep = c > 0
        v, c = v[keep].astype(np.int64), c[keep]
        if v.size == 0:
            return cls.empty()
        uniq, inv = np.unique(v, return_inverse=True)
        summed = np.bincount(inv.reshape(-1), weights=c, minlength=uniq.size)
        # bincount weights are float64; exact for totals < 2**53
        return cls(uniq, np.rint(summed).astype(np.int64))

    @classmethod
    def empty(cls) -> "IntHistogram":
        """The histogram of no observations.

        Example:
            >>> IntHistogram.empty().n
            0
        """
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))

    # ----------------------------------------------------------------- algebra
    def __add__(self, other: "IntHistogram") -> "IntHistogram":
        """Merge two histograms by adding counts (associative and commutative).

        Example:
            >>> (IntHistogram.from_samples([1, 2]) + IntHistogram.from_samples([2, 3])).counts.tolist()
            [1, 2, 1]
        """
        if not isinstance(other, IntHistogram):
            return NotImplemented
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        return IntHistogram.from_pairs(
            np.concatenate([self.values, other.values]), np.concatenate([self.counts, other.counts])
        )

    def __radd__(self, other: object) -> "IntHistogram":
        # allows sum(histograms) (sum starts from 0)
        if other == 0:
            return self
        return NotImplemented  # type: ignore[return-value]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntHistogram):
            return NotImplemented
        return np.array_equal(self.values, other.values) and np.array_equal(self.counts, other.counts)

    def __hash__(self) -> int:
        return hash((self.values.tobytes(), self.counts.tobytes()))

    # ----------------------------------------------------------------- summaries
    @property
    def n(self) -> int:
        """Number of observations.

        Example:
            >>> IntHistogram.from_samples([7, 7, 8]).n
            3
        """
        return int(self.counts.sum())

    def order_statistic(self, k: int) -> int:
        """The ``k``-th smallest observation, 0-based (``np.sort(raw)[k]``).

        Example:
            >>> IntHistogram.from_samples([5, 1, 5, 3]).order_statistic(2)
            5
        """
        n = self.n
        if not 0 <= k < n:
            raise IndexError(f"order statistic {k} out of range for n={n}")
        idx = int(np.searchsorted(np.cumsum(self.counts), k, side="right"))
        return int(self.values[idx])

    def quantile(self, q: float) -> float:
        """Quantile with numpy's default (linear interpolation) definition; NaN when empty.

        Equals ``np.quantile(raw, q)`` exactly.

        Example:
            >>> IntHistogram.from_samples([1, 2, 3, 10]).quantile(0.5)
            2.5
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError("q must be in [0, 1]")
        n = self.n
        if n == 0:
            return math.nan
        h = (n - 1) * q
        lo = math.floor(h)
        hi = min(lo + 1, n - 1)
        cum = np.cumsum(self.counts)
        idx = np.searchsorted(cum, [lo, hi], side="right")
        x_lo, x_hi = float(self.values[idx[0]]), float(self.values[idx[1]])
        return x_lo + (h - lo) * (x_hi - x_lo)

    def mean(self) -> float:
        """Arithmetic mean; NaN when empty.

        Example:
            >>> IntHistogram.from_samples([1, 2, 6]).mean()
            3.0
        """
        n = self.n
        if n == 0:
            return math.nan
        return float(np.dot(self.values.astype(np.float64), self.counts.astype(np.float64)) / n)

    def fraction_above(self, threshold: float) -> float:
        """Fraction of observations strictly greater than ``threshold``; NaN when empty.

        Example:
            >>> IntHistogram.from_samples([1, 2, 3, 4]).fraction_above(2)
            0.5
        """
        n = self.n
        if n == 0:
            return math.nan
        return float(self.count_above(threshold) / n)

    def count_above(self, threshold: float) -> int:
        """Number of observations strictly greater than ``threshold``.

        Example:
            >>> IntHistogram.from_samples([1, 2, 3, 4]).count_above(2.5)
            2
        """
        idx = int(np.searchsorted(self.values, threshold, side="right"))
        return int(self.counts[idx:].sum())


# --------------------------------------------------------------------------- helpers
def _aligned_cdfs(a: IntHistogram, b: IntHistogram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union support and both empirical CDFs evaluated there (right-continuous)."""
    support = np.union1d(a.values, b.values)
    ca = np.zeros(support.size, dtype=np.int64)
    cb = np.zeros(support.size, dtype=np.int64)
    ca[np.searchsorted(support, a.values)] = a.counts
    cb[np.searchsorted(support, b.values)] = b.counts
    return support, np.cumsum(ca) / a.n, np.cumsum(cb) / b.n


@dataclass(frozen=True)
class KSResult:
    """Two-sample Kolmogorov-Smirnov result (fields as in ``scipy.stats.ks_2samp``).

    ``statistic`` is D = sup |F_a - F_b|; ``statistic_location`` the value where it is attained;
    ``statistic_sign`` +1 when F_a > F_b there (``a`` is stochastically smaller).
    """

    statistic: float
    pvalue: float
    statistic_location: int
    statistic_sign: int


def ks_2samp_hist(a: IntHistogram, b: IntHistogram) -> KSResult:
    """Two-sided two-sample KS test from two histograms.

    ``statistic`` equals ``scipy.stats.ks_2samp(raw_a, raw_b).statistic`` exactly (ties included);
    ``pvalue`` equals ``scipy.stats.ks_2samp(raw_a, raw_b, method="asymp").pvalue`` (Smirnov's
    asymptotic distribution via ``scipy.stats.kstwo`` at the effective sample size
    ``round(n*m/(n+m))``).  With ties (integer data) the p-value is conservative.
    Raises ``ValueError`` if either histogram is empty, like scipy.

    Example:
        >>> a = IntHistogram.from_samples([1, 2, 2, 3, 4])
        >>> b = IntHistogram.from_samples([2, 3, 3, 5, 6, 7])
        >>> r = ks_2samp_hist(a, b)
        >>> round(r.statistic, 4), round(r.pvalue, 4)
        (0.5, 0.3333)
    """

    if a.n == 0 or b.n == 0:
        raise ValueError("ks_2samp_hist needs two non-empty histograms")
    support, fa, fb = _aligned_cdfs(a, b)
    diff = fa - fb
    i_max, i_min = int(np.argmax(diff)), int(np.argmin(diff))
    max_s = float(diff[i_max])
    min_s = float(np.clip(-diff[i_min], 0.0, 1.0))
    if min_s > max_s:
        d, loc, sign = min_s, int(support[i_min]), -1
    else:
        d, loc, sign = max_s, int(support[i_max]), 1
    m, n = sorted([float(a.n), float(b.n)], reverse=True)
    en = m * n / (m + n)
    with np.errstate(divide="ignore", invalid="ignore"):  # n_eff == 0 -> NaN, as scipy
        p = float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))
    return KSResult(statistic=d, pvalue=p, statistic_location=loc, statistic_sign=sign)


def wasserstein_hist(a: IntHistogram, b: IntHistogram) -> float:
    """1-Wasserstein (earth mover's) distance between two histograms: integral of |F_a - F_b|.

    Equals ``scipy.stats.wasserstein_distance(raw_a, raw_b)``.  NaN if either side is empty.

    Example:
        >>> wasserstein_hist(IntHistogram.from_samples([0, 1, 3]), IntHistogram.from_samples([5, 6, 8]))
        5.0
    """
    if a.n == 0 or b.n == 0:
        return math.nan
    support, fa, fb = _aligned_cdfs(a, b)
    if support.size < 2:
        return 0.0
    widths = np.diff(support).astype(np.float64)
    return float(np.sum(np.abs(fa[:-1] - fb[:-1]) * widths))


@dataclass(frozen=True)
class MannWhitneyResult:
    """Mann-Whitney U test result.

    ``statistic`` is U of the first sample (as scipy), ``pvalue`` two-sided (normal approximation
    with tie correction and continuity correction, as ``scipy.stats.mannwhitneyu(method="asymptotic")``),
    ``prob_superiority`` = P(A > B) + P(A = B)/2 = U / (n_a n_b), the common-language effect size.
    """

    statistic: float
    pvalue: float
    prob_superiority: float
    zscore: float


def mannwhitney_hist(a: IntHistogram, b: IntHistogram) -> MannWhitneyResult:
    """Two-sided Mann-Whitney U test computed exactly from two histograms (midranks for ties).

    Matches ``scipy.stats.mannwhitneyu(raw_a, raw_b, method="asymptotic")``.  Raises
    ``ValueError`` if either histogram is empty.

    Example:
        >>> r = mannwhitney_hist(IntHistogram.from_samples([1, 2, 2, 3]), IntHistogram.from_samples([2, 4, 5]))
        >>> r.statistic, round(r.pvalue, 4)
        (2.0, 0.1991)
    """

    n1, n2 = a.n, b.n
    if n1 == 0 or n2 == 0:
        raise ValueError("mannwhitney_hist needs two non-empty histograms")
    support = np.union1d(a.values, b.values)
    ca = np.zeros(support.size, dtype=np.float64)
    cb = np.zeros(support.size, dtype=np.float64)
    ca[np.searchsorted(support, a.values)] = a.counts
    cb[np.searchsorted(support, b.values)] = b.counts
    b_below = np.cumsum(cb) - cb
    u1 = float(np.dot(ca, b_below + 0.5 * cb))
    t = ca + cb
    n = float(n1 + n2)
    tie_term = float(np.sum(t**3 - t))
    mu = n1 * n2 / 2.0
    var = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0))) if n > 1 else 0.0
    if var <= 0:
        return MannWhitneyResult(statistic=u1, pvalue=1.0, prob_superiority=u1 / (n1 * n2), zscore=0.0)
    u = max(u1, n1 * n2 - u1)
    z = (u - mu - 0.5) / math.sqrt(var)
    p = float(np.clip(2.0 * stats.norm.sf(z), 0.0, 1.0))
    signed_z = (u1 - mu) / math.sqrt(var)
    return MannWhitneyResult(statistic=u1, pvalue=p, prob_superiority=u1 / (n1 * n2), zscore=signed_z)
