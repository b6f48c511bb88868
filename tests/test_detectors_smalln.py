"""Small windows (issue 17): exact tests keep their size, the minimum-n rule, one failure counted once."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from detectors.finding import DERIVED_METRICS, HIGHER_IS_WORSE
from detectors.histogram import IntHistogram
from detectors.length import (PERMUTATION_EXCEEDANCES, PERMUTATION_MAX_N, PERMUTATION_RESAMPLES, _ad_statistic_factory,
                               length_shift,
                               sequential_mc_pvalue)
from detectors.length import min_attainable_pvalue as length_min_p
from detectors.policy import DEFAULT_FLOORS, DEFAULT_MIN_SAMPLES, PolicyConfig, apply_policy, compare_length, compare_rate
from detectors.rates import EXACT_MAX_N, _boschloo_pvalue, choose_method, min_attainable_pvalue, rate_change


# ----------------------------------------------------------------- rates: exact size
@settings(max_examples=25, deadline=None)
@given(n1=st.integers(1, 9), n2=st.integers(1, 9), pi=st.floats(0.02, 0.98), alpha=st.sampled_from([0.01, 0.05, 0.1]))
def test_rate_test_size_is_at_most_alpha_exactly(n1: int, n2: int, pi: float, alpha: float) -> None:
    """Enumerate every pair of counts: P(p <= alpha) under equal rates never exceeds alpha."""
    size = 0.0
    for x1 in range(n1 + 1):
        for x2 in range(n2 + 1):
            if rate_change(x1, n1, x2, n2).pvalue <= alpha:
                size += stats.binom.pmf(x1, n1, pi) * stats.binom.pmf(x2, n2, pi)
    assert size <= alpha + 1e-9


def test_boschloo_below_asymptotic_range_and_more_powerful_than_fisher() -> None:
    assert choose_method(1, 50, 6, 50) == "boschloo"
    assert choose_method(10, 50, 20, 50) == "z"
    assert choose_method(1, EXACT_MAX_N + 1, 6, EXACT_MAX_N + 1) == "fisher"
    # Boschloo's p-value is never above Fisher's of the same two-sided form, twice the smaller
    # one-sided p-value (scipy's two-sided Boschloo), since it is uniformly more powerful
    for x1, n1, x2, n2 in [(0, 20, 5, 20), (1, 50, 6, 50), (2, 30, 0, 60), (1, 100, 7, 100)]:
        r = rate_change(x1, n1, x2, n2)
        t = [[x1, n1 - x1], [x2, n2 - x2]]
        fisher = min(1.0, 2 * min(stats.fisher_exact(t, alternative="less").pvalue,
                                  stats.fisher_exact(t, alternative="greater").pvalue))
        assert r.method == "boschloo" and r.pvalue <= fisher + 1e-12


def test_min_attainable_pvalue_rates() -> None:
    for n in range(1, 9):
        assert min_attainable_pvalue(n, n) == pytest.approx(2 * 4.0 ** -n, rel=1e-6)
    assert min_attainable_pvalue(0, 5) == 1.0


# ----------------------------------------------------------------- length: permutation
def test_length_permutation_aa_rate_at_most_alpha() -> None:
    """A/A with heavy ties at small n: the permutation p-value rejects at most alpha of the time."""
    rng = np.random.default_rng(11)
    draws, hits05, hits10 = 300, 0, 0
    for _ in range(draws):
        n1, n2 = int(rng.integers(10, 40)), int(rng.integers(10, 40))
        vals = np.rint(rng.lognormal(3.0, 0.5, n1 + n2) / 4).astype(int)  # many ties
        r = length_shift(IntHistogram.from_samples(vals[:n1]), IntHistogram.from_samples(vals[n1:]))
        assert r.method == "permutation"
        hits05 += r.pvalue <= 0.05
        hits10 += r.pvalue <= 0.10
    # binomial upper 99.9% bound of a level-alpha test over 300 draws
    assert hits05 <= stats.binom.ppf(0.999, draws, 0.05)
    assert hits10 <= stats.binom.ppf(0.999, draws, 0.10)


@settings(max_examples=15, deadline=None)
@given(vals=st.lists(st.integers(0, 40), min_size=2, max_size=60), split=st.integers(1, 59))
def test_length_permutation_is_deterministic_and_in_range(vals: list[int], split: int) -> None:
    split = min(split, len(vals) - 1)
    a, b = IntHistogram.from_samples(vals[:split]), IntHistogram.from_samples(vals[split:])
    r1, r2 = length_shift(a, b), length_shift(a, b)
    assert r1.pvalue == r2.pvalue
    assert length_min_p(a.n, b.n) - 1e-12 <= r1.pvalue <= 1.0
    assert length_shift(a, a).pvalue == 1.0 or len(set(vals[:split])) > 1


def test_length_permutation_detects_what_asymptotics_detect_at_50() -> None:
    rng = np.random.default_rng(5)
    perm = bonf = 0
    for _ in range(60):
        b = IntHistogram.from_samples(np.rint(rng.lognormal(math.log(300), 0.6, 50)).astype(int))
        c = IntHistogram.from_samples(np.rint(rng.lognormal(math.log(390), 0.6, 50)).astype(int))
        r = length_shift(b, c)
        perm += r.pvalue <= 0.01
        bonf += min(1.0, 2 * min(r.ks_pvalue, r.mw_pvalue)) <= 0.01
    assert perm >= bonf
    big = IntHistogram.from_samples(np.arange(PERMUTATION_MAX_N))
    assert length_shift(big, big).method == "asymptotic"


# ----------------------------------------------------------------- policy: minimum n, whole-run A/A
def test_default_min_samples_tests_every_window_of_50() -> None:
    p = PolicyConfig()
    assert p.min_samples == DEFAULT_MIN_SAMPLES == 10
    rng = np.random.default_rng(2)
    h = IntHistogram.from_samples(rng.integers(100, 900, 45))  # 50 events, 5 refusals
    f = compare_length({}, h, h, p, events_baseline=50, events_current=50)
    assert f.testable
    assert compare_rate("refusal_rate", {}, 5, 50, 9, 50, p).testable
    # a window too small for length says why, in the length test's own count
    few = IntHistogram.from_samples([300] * 9)
    f = compare_length({}, h, few, p, events_current=50)
    assert not f.testable and f.reason == (
        "too few responses to test length (refusals are not counted): 9 < 10 in current window (of 50 events)")


def test_untestable_window_pair_reported_not_tested() -> None:
    p = PolicyConfig(min_samples=1)
    f = apply_policy([compare_rate("refusal_rate", {}, 0, 2, 2, 2, p)], p)[0]
    assert f.p_value is None and f.q_value is None and not f.alert
    assert f.reason.startswith("not tested: at 2 (baseline) and 2 (current) the smallest attainable p-value is")
    g = apply_policy([compare_length({}, IntHistogram.from_samples([1, 2]), IntHistogram.from_samples([8, 9]), p)], p)[0]
    assert g.p_value is None and not g.alert and g.reason.startswith("not tested")


def test_whole_run_aa_rate_at_most_alpha_under_bh() -> None:
    """Runs of 4 small segments x (length, refusal, JSON-invalid, schema, union): any alert <= alpha."""
    rng = np.random.default_rng(17)
    alpha, runs, any_alert = 0.1, 60, 0
    p = PolicyConfig(alpha=alpha, floors={m: 0.0 for m in DEFAULT_FLOORS})
    for _ in range(runs):
        fs = []
        for s in range(4):
            n = int(rng.integers(10, 80))
            seg = {"route": s}
            lens = np.rint(rng.lognormal(5.5, 0.7, 2 * n)).astype(int)
            fs.append(compare_length(seg, IntHistogram.from_samples(lens[:n]), IntHistogram.from_samples(lens[n:]), p))
            for metric, rate in (("refusal_rate", 0.1), ("json_invalid_rate", 0.05), ("schema_violation_rate", 0.03)):
                x1, x2 = rng.binomial(n, rate, 2)
                fs.append(compare_rate(metric, seg, int(x1), n, int(x2), n, p))
            fs.append(compare_rate("parse_failure_rate", seg, 4, n, 5, n, p))
        any_alert += any(f.alert for f in apply_policy(fs, p))
    assert any_alert <= stats.binom.ppf(0.999, runs, alpha)


# ----------------------------------------------------------------- structured output: counted once
def test_new_structured_metrics_are_ready() -> None:
    for m in ("json_invalid_rate", "schema_violation_rate"):
        assert HIGHER_IS_WORSE[m] is True and DEFAULT_FLOORS[m] == 0.005
    assert DERIVED_METRICS["parse_failure_rate"] == ("json_invalid_rate", "schema_violation_rate")


def test_parse_failure_union_counted_once_in_bh() -> None:
    p = PolicyConfig()
    seg = {"route": "extract"}
    union = compare_rate("parse_failure_rate", seg, 2, 400, 60, 400, p)
    parts = [compare_rate("json_invalid_rate", seg, 1, 400, 55, 400, p),
             compare_rate("schema_violation_rate", seg, 1, 399, 5, 345, p)]
    out = apply_policy([union, *parts], p)
    u = out[0]
    assert not u.alert and u.q_value is None and u.p_value is not None
    assert u.details["in_fdr_family"] is False and "reported for continuity" in u.reason
    assert out[1].alert and out[1].metric == "json_invalid_rate"
    # BH over the components only: the q-values equal BH over those two p-values
    qs = stats.false_discovery_control([out[1].p_value, out[2].p_value], method="bh")
    assert out[1].q_value == pytest.approx(max(qs[0], out[1].p_value))
    # without the components (the old wiring) the union is tested and alerts as before
    alone = apply_policy([union], p)[0]
    assert alone.alert and alone.q_value is not None
    # a component of another segment does not demote this segment's union
    other = compare_rate("json_invalid_rate", {"route": "other"}, 1, 400, 1, 400, p)
    assert apply_policy([union, other], p)[0].alert


# ----------------------------------------------------------------- speed-ups keep the definitions
@settings(max_examples=30, deadline=None)
@given(n1=st.integers(1, EXACT_MAX_N), n2=st.integers(1, EXACT_MAX_N), data=st.data())
def test_vectorized_boschloo_equals_scipy(n1: int, n2: int, data) -> None:
    """The vectorized Boschloo p-value is scipy's, and never below it (a smaller one could over-alert)."""
    x1, x2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    ours = _boschloo_pvalue(x1, n1, x2, n2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = float(stats.boschloo_exact([[x1, x2], [n1 - x1, n2 - x2]], alternative="two-sided").pvalue)
    if not math.isfinite(ref):  # scipy's NaN for a degenerate table
        return
    assert ours >= ref * (1 - 1e-9)
    assert ours == pytest.approx(ref, rel=1e-6, abs=1e-12)


@settings(max_examples=12, deadline=None)
@given(n=st.integers(8, 60), frac=st.floats(0.1, 0.9), seed=st.integers(0, 2**32 - 1))
def test_sequential_mc_pvalue_size_at_most_alpha(n: int, frac: float, seed: int) -> None:
    """Besag-Clifford p-values under exchangeability: P(p <= u) <= u (binomial 99.9% bound, 400 nulls)."""
    n1 = min(max(1, int(n * frac)), n - 1)
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 5, n).astype(float)  # heavy ties: the statistic is discrete

    def stat(x: np.ndarray, y: object) -> np.ndarray:
        return np.abs(values[x].mean(axis=-1) - values.mean())

    reps = 400
    ps = np.array([sequential_mc_pvalue(stat, rng.permutation(n)[:n1], n, rng, max_resamples=999) for _ in range(reps)])
    assert np.all((ps > 0) & (ps <= 1))
    for u in (0.05, 0.1, 0.25):
        assert np.sum(ps <= u) <= stats.binom.ppf(0.999, reps, u)


def test_sequential_mc_pvalue_uses_every_split_for_small_pvalues() -> None:
    """Below exceedances / max_resamples the p-value is the fixed-size estimate (g + 1) / (N + 1)."""
    rng = np.random.default_rng(3)
    a = IntHistogram.from_samples(np.rint(rng.lognormal(5.0, 0.5, 60)).astype(int))
    b = IntHistogram.from_samples(np.rint(rng.lognormal(5.6, 0.5, 60)).astype(int))
    r = length_shift(a, b)
    assert r.method == "permutation" and r.pvalue < PERMUTATION_EXCEEDANCES / PERMUTATION_RESAMPLES
    assert (r.pvalue * (PERMUTATION_RESAMPLES + 1)) == pytest.approx(round(r.pvalue * (PERMUTATION_RESAMPLES + 1)))


@settings(max_examples=20, deadline=None)
@given(vals=st.lists(st.integers(0, 30), min_size=6, max_size=80), frac=st.floats(0.2, 0.8), seed=st.integers(0, 2**32 - 1))
def test_permutation_statistic_is_scipys_anderson_darling(vals: list[int], frac: float, seed: int) -> None:
    """On any split of a tied pooled sample the statistic is an increasing linear map of scipy's
    anderson_ksamp statistic (scipy standardizes with constants of the sample sizes only), so the
    permutation test orders splits exactly as the Anderson-Darling test does."""
    pooled = np.sort(np.asarray(vals))
    n1 = min(max(2, int(len(vals) * frac)), len(vals) - 2)
    if pooled[0] == pooled[-1]:
        return
    stat = _ad_statistic_factory(pooled, n1, len(vals) - n1)
    rng = np.random.default_rng(seed)
    ours, ref = [], []
    for _ in range(12):
        perm = rng.permutation(len(vals))
        ours.append(float(stat(perm[None, :n1], None)[0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref.append(float(stats.anderson_ksamp([pooled[perm[:n1]], pooled[perm[n1:]]]).statistic))
    ours_a, ref_a = np.array(ours), np.array(ref)
    if np.ptp(ref_a) < 1e-9:
        assert np.ptp(ours_a) < 1e-9
        return
    slope, intercept = np.polyfit(ours_a, ref_a, 1)
    assert slope > 0
    assert np.allclose(slope * ours_a + intercept, ref_a, atol=1e-7 * max(1.0, np.abs(ref_a).max()))


def test_anderson_darling_beats_ks_on_a_shape_change() -> None:
    """More short answers and a thinner long tail (median -25%): AD sees it more often than KS alone
    and than the Bonferroni KS + Mann-Whitney, at the same exact level."""
    rng = np.random.default_rng(8)
    ad = bonf = ks = 0
    for _ in range(60):
        b = np.rint(rng.lognormal(math.log(700), 0.6, 50)).astype(int)
        c = np.concatenate([np.rint(rng.lognormal(math.log(700), 0.6, 35)), np.rint(rng.lognormal(math.log(200), 0.5, 15))]).astype(int)
        r = length_shift(IntHistogram.from_samples(b), IntHistogram.from_samples(c))
        ad += r.pvalue <= 0.05
        bonf += min(1.0, 2 * min(r.ks_pvalue, r.mw_pvalue)) <= 0.05
        ks += stats.ks_2samp(b, c).pvalue <= 0.05
    assert ad >= max(bonf, ks)
