"""Exactness of histogram statistics against scipy/numpy on the raw arrays (ties included)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from detectors.histogram import IntHistogram, ks_2samp_hist, mannwhitney_hist, wasserstein_hist

# small value ranges force many ties
samples = st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=80)
wide = st.lists(st.integers(min_value=-5, max_value=5000), min_size=1, max_size=60)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # scipy's own asymp p at n_eff == 0
@settings(max_examples=150, deadline=None)
@given(a=st.one_of(samples, wide), b=st.one_of(samples, wide))
def test_ks_and_wasserstein_equal_scipy_on_raw(a: list[int], b: list[int]) -> None:
    ha, hb = IntHistogram.from_samples(a), IntHistogram.from_samples(b)
    ref = stats.ks_2samp(a, b, method="asymp")
    got = ks_2samp_hist(ha, hb)
    assert got.statistic == pytest.approx(float(ref.statistic), abs=1e-12)
    assert got.pvalue == pytest.approx(float(ref.pvalue), rel=1e-9, abs=1e-12, nan_ok=True)
    assert got.statistic_sign == int(ref.statistic_sign)
    assert wasserstein_hist(ha, hb) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(a=samples, b=samples)
def test_mannwhitney_equals_scipy(a: list[int], b: list[int]) -> None:
    ha, hb = IntHistogram.from_samples(a), IntHistogram.from_samples(b)
    got = mannwhitney_hist(ha, hb)
    ref = stats.mannwhitneyu(a, b, method="asymptotic")
    assert got.statistic == pytest.approx(float(ref.statistic))
    if math.isnan(ref.pvalue):  # all values tied: scipy gives nan, we give 1
        assert got.pvalue == 1.0
    else:
        assert got.pvalue == pytest.approx(float(ref.pvalue), rel=1e-9, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(a=st.one_of(samples, wide), q=st.floats(min_value=0, max_value=1))
def test_quantile_and_mean_equal_numpy(a: list[int], q: float) -> None:
    h = IntHistogram.from_samples(a)
    assert h.quantile(q) == pytest.approx(float(np.quantile(a, q)), rel=1e-12, abs=1e-9)
    assert h.mean() == pytest.approx(float(np.mean(a)))
    assert h.n == len(a)
    s = np.sort(a)
    for k in (0, len(a) // 2, len(a) - 1):
        assert h.order_statistic(k) == s[k]


@settings(max_examples=100, deadline=None)
@given(parts=st.lists(samples, min_size=1, max_size=6), seed=st.integers(0, 2**31 - 1))
def test_merge_is_order_independent_and_split_invariant(parts: list[list[int]], seed: int) -> None:
    hs = [IntHistogram.from_samples(p) for p in parts]
    merged = sum(hs, IntHistogram.empty())
    perm = np.random.default_rng(seed).permutation(len(hs))
    merged2 = IntHistogram.empty()
    for i in perm:
        merged2 = hs[i] + merged2
    whole = IntHistogram.from_samples([x for p in parts for x in p])
    assert merged == whole == merged2
    # split/merge invariance of the statistics
    other = IntHistogram.from_samples([1, 5, 9, 9, 20])
    assert ks_2samp_hist(merged, other) == ks_2samp_hist(whole, other)
    assert wasserstein_hist(merged, other) == wasserstein_hist(whole, other)


def test_from_pairs_sums_duplicates_and_drops_zeros() -> None:
    h = IntHistogram.from_pairs(np.array([5, 1, 5, 3]), np.array([1, 2, 3, 0]))
    assert h.values.tolist() == [1, 5]
    assert h.counts.tolist() == [2, 4]
    assert IntHistogram.from_pairs([], []).n == 0
    assert IntHistogram.from_pairs([7], [0]) == IntHistogram.empty()
    with pytest.raises(ValueError):
        IntHistogram.from_pairs([1], [-1])
    with pytest.raises(ValueError):
        IntHistogram(np.array([2, 1]), np.array([1, 1]))


def test_empty_histogram_edge_cases() -> None:
    e = IntHistogram.empty()
    h = IntHistogram.from_samples([1, 2, 3])
    assert math.isnan(e.quantile(0.5)) and math.isnan(e.mean())
    assert (e + h) == h and (h + e) == h
    assert math.isnan(wasserstein_hist(e, h))
    with pytest.raises(ValueError):
        ks_2samp_hist(e, h)


def test_large_counts_never_expand() -> None:
    # 10^12 observations: only possible without expansion
    a = IntHistogram.from_pairs([100, 200, 300], [10**12, 2 * 10**12, 10**12])
    b = IntHistogram.from_pairs([100, 200, 300], [10**12, 10**12, 2 * 10**12])
    r = ks_2samp_hist(a, b)
    assert r.statistic == pytest.approx(0.25) and r.pvalue < 1e-300 or r.pvalue == 0.0
    assert a.quantile(0.5) == 200.0
    assert wasserstein_hist(a, b) == pytest.approx(25.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 10_000_000), min_size=1, max_size=6),
       st.lists(st.integers(0, 10_000_000), min_size=1, max_size=6))
def test_length_shift_of_tiny_wild_windows_never_raises(base: list[int], cur: list[int]) -> None:
    """Found by the CLI fuzz test: three responses, one of 300,000 characters, overflowed exp()."""
    from detectors.length import length_shift

    r = length_shift(IntHistogram.from_samples(base), IntHistogram.from_samples(cur))
    lo, hi = r.ci_low, r.ci_high
    assert (math.isnan(lo) and math.isnan(hi)) or lo <= hi
