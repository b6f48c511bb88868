"""Length / rate detectors and the alert policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.finding import METRICS
from detectors.histogram import IntHistogram
from detectors.metrics import LENGTH_METRICS
from detectors.length import length_shift, quantile_ci
from detectors.policy import DEFAULT_FLOORS, PolicyConfig, apply_policy, compare_length, compare_rate
from detectors.rates import rate_change

RATE_METRICS = [m for m in METRICS if m not in LENGTH_METRICS]


def lognormal_hist(rng: np.random.Generator, n: int, median: float = 600.0, sigma: float = 0.6) -> IntHistogram:
    return IntHistogram.from_samples(np.rint(rng.lognormal(math.log(median), sigma, n)).astype(np.int64))


# ----------------------------------------------------------------- rates
def test_newcombe_interval_reference_values() -> None:
    # Newcombe (1998) Table II, example (a): 56/70 vs 48/80 -> diff 0.2, hybrid score CI 0.0524..0.3339
    r = rate_change(48, 80, 56, 70)
    assert r.difference == pytest.approx(0.2)
    assert r.ci_low == pytest.approx(0.0524, abs=1e-4)
    assert r.ci_high == pytest.approx(0.3339, abs=1e-4)
    # example (h): 0/10 vs 0/20 -> -0.1611..0.2775 (current=0/10, baseline=0/20)
    r = rate_change(0, 20, 0, 10)
    assert r.ci_low == pytest.approx(-0.1611, abs=1e-4)
    assert r.ci_high == pytest.approx(0.2775, abs=1e-4)
    assert r.pvalue == 1.0


def test_rate_method_switch_and_edges() -> None:
    assert rate_change(2, 1000, 5, 1000).method == "fisher"
    assert rate_change(60, 3000, 90, 3000).method == "z"
    for args in [(0, 500, 0, 500), (500, 500, 500, 500)]:
        r = rate_change(*args)
        assert r.pvalue == 1.0 and r.difference == 0.0 and r.statistic == 0.0
    r = rate_change(0, 0, 3, 10)
    assert math.isnan(r.pvalue) and math.isnan(r.baseline_rate)
    r = rate_change(0, 1000, 20, 1000)
    assert r.ratio == math.inf and math.isfinite(r.ratio_ci[0]) and r.ratio_ci[0] > 1
    with pytest.raises(ValueError):
        rate_change(5, 3, 1, 10)


@settings(max_examples=60, deadline=None)
@given(x1=st.integers(0, 400), extra1=st.integers(0, 400), x2=st.integers(0, 400), extra2=st.integers(0, 400))
def test_rate_interval_contains_estimate(x1: int, extra1: int, x2: int, extra2: int) -> None:
    n1, n2 = x1 + extra1, x2 + extra2
    r = rate_change(x1, n1, x2, n2)
    if n1 == 0 or n2 == 0:
        assert math.isnan(r.pvalue)
        return
    assert -1 <= r.ci_low <= r.difference <= r.ci_high <= 1
    assert 0 <= r.pvalue <= 1


# ----------------------------------------------------------------- length
def test_length_shift_detects_scaling_and_ci_covers() -> None:
    rng = np.random.default_rng(1)
    b, c = lognormal_hist(rng, 2000), lognormal_hist(rng, 2000, median=690.0)
    r = length_shift(b, c)
    assert r.pvalue < 1e-6
    assert r.ci_low < 0.15 < r.ci_high
    assert r.median_ratio_ci[0] < r.median_ratio < r.median_ratio_ci[1]
    assert r.p90_ratio_ci[0] < 1.15 < r.p90_ratio_ci[1]
    assert r.wasserstein_normalized == pytest.approx(0.15, abs=0.05)


def test_quantile_ci_coverage_small_simulation() -> None:
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(200):
        h = lognormal_hist(rng, 150)
        lo, hi = quantile_ci(h, 0.5)
        hits += lo <= 600 <= hi
    assert hits / 200 >= 0.9


def test_length_empty_windows_do_not_raise() -> None:
    e = IntHistogram.empty()
    h = IntHistogram.from_samples([1, 2, 3])
    for a, b in [(e, e), (e, h), (h, e)]:
        r = length_shift(a, b)
        assert math.isnan(r.pvalue)
    f = apply_policy([compare_length({}, e, h, PolicyConfig())], PolicyConfig())[0]
    assert not f.alert and f.p_value is None and f.q_value is None
    assert f.reason == "too few responses to test length (refusals are not counted): 0 (baseline), 3 (current) < 10"
    z = IntHistogram.from_samples([0] * 200)
    f = apply_policy([compare_length({}, z, z, PolicyConfig())], PolicyConfig())[0]
    assert not f.alert


# ----------------------------------------------------------------- policy
def test_policy_validation() -> None:
    with pytest.raises(ValueError):
        PolicyConfig(alert_on="sometimes")
    with pytest.raises(ValueError):
        PolicyConfig(alpha=0)
    with pytest.raises(ValueError):
        PolicyConfig(floors={"refusal_rate": -1})
    p = PolicyConfig(floors={"refusal_rate": 0.01}, min_samples_by_metric={"task_success_rate": 500})
    assert p.floor("refusal_rate") == 0.01 and p.floor("task_success_rate") == DEFAULT_FLOORS["task_success_rate"]
    assert p.min_samples_for("task_success_rate") == 500
    q = PolicyConfig(min_samples={"default": 50, "refusal_rate": 200})
    assert q.min_samples == 50 and q.min_samples_for("refusal_rate") == 200 and q.min_samples_for("x") == 50
    with pytest.raises(ValueError):
        PolicyConfig(min_samples_by_metric={"refusal_rate": 0})


def test_min_samples_never_alerts_and_reason() -> None:
    # the documented rule: default min_samples 10 a window (docs/STATISTICS.md 4.1)
    p = PolicyConfig()
    assert p.min_samples == 10
    fs = apply_policy([compare_rate("refusal_rate", {"r": 1}, 0, 1000, 9, 9, p)], p)
    assert not fs[0].alert and fs[0].reason == "too few events: 9 < 10 in current window"
    assert fs[0].q_value is None and fs[0].p_value is None
    # a user setting still holds: the old default of 100 leaves 42 events untested
    p100 = PolicyConfig(min_samples=100)
    fs = apply_policy([compare_rate("refusal_rate", {"r": 1}, 0, 1000, 42, 42, p100)], p100)
    assert not fs[0].alert and fs[0].reason == "too few events: 42 < 100 in current window"
    assert fs[0].q_value is None and fs[0].p_value is None
    # and with the default, 42 events are tested (0/1000 -> 42/42 refusals is an alert)
    fs = apply_policy([compare_rate("refusal_rate", {"r": 1}, 0, 1000, 42, 42, p)], p)
    assert fs[0].alert and fs[0].p_value is not None and fs[0].p_value < 1e-10


def test_floor_blocks_tiny_significant_effects_and_alert_on_worse() -> None:
    p = PolicyConfig()
    # 2.0% -> 2.2% on 10^6 events: significant, but 0.2 pp < 0.5 pp floor
    f = apply_policy([compare_rate("refusal_rate", {}, 20000, 10**6, 22000, 10**6, p)], p)[0]
    assert f.q_value < 1e-10 and not f.alert and "floor" in f.reason
    # improvement alerts only with alert_on="both"
    args = ("refusal_rate", {}, 300, 3000, 60, 3000)
    both = apply_policy([compare_rate(*args, p)], p)[0]
    worse_only = apply_policy([compare_rate(*args, PolicyConfig(alert_on="worse"))], PolicyConfig(alert_on="worse"))[0]
    assert both.alert and both.direction == "better" and both.severity == "info"
    assert not worse_only.alert and "alert_on=worse" in worse_only.reason
    # task success: lower is worse
    f = apply_policy([compare_rate("task_success_rate", {}, 2400, 3000, 2100, 3000, p)], p)[0]
    assert f.alert and f.direction == "worse" and f.severity == "error"


def test_length_finding_values() -> None:
    rng = np.random.default_rng(3)
    p = PolicyConfig()
    b, c = lognormal_hist(rng, 1000), lognormal_hist(rng, 1000, median=690.0)
    f = apply_policy([compare_length({"route": "x"}, b, c, p)], p)[0]
    assert f.alert and f.direction == "worse"
    assert f.baseline_value == b.quantile(0.5) and f.current_value == c.quantile(0.5)
    for k in ("ks_statistic", "wasserstein_normalized", "p90_ratio", "baseline_p90"):
        assert k in f.details
    assert f.reason.startswith("response_length median") and f.reason.endswith("alert")
    d = f.to_dict()
    assert d["metric"] == "response_length"


@settings(max_examples=40, deadline=None)
@given(
    ps=st.lists(st.tuples(st.integers(0, 200), st.integers(100, 400), st.integers(0, 200), st.integers(100, 400)),
                min_size=1, max_size=12)
)
def test_q_values_at_least_p_values(ps: list[tuple[int, int, int, int]]) -> None:
    p = PolicyConfig()
    fs = [compare_rate("refusal_rate", {"i": i}, min(x1, n1), n1, min(x2, n2), n2, p) for i, (x1, n1, x2, n2) in enumerate(ps)]
    out = apply_policy(fs, p)
    for f in out:
        assert f.q_value >= f.p_value
        assert 0 <= f.q_value <= 1
    assert [f.segment for f in out] == [f.segment for f in fs]
    assert all(f.q_value is None for f in fs)  # input untouched


@settings(max_examples=40, deadline=None)
@given(x=st.integers(0, 5000), extra=st.integers(0, 5000), vals=st.lists(st.integers(0, 3000), min_size=1, max_size=300))
def test_identical_windows_never_alert(x: int, extra: int, vals: list[int]) -> None:
    p = PolicyConfig(alpha=0.5, floors={m: 0.0 for m in METRICS})  # most permissive policy
    h = IntHistogram.from_samples(vals * 3)
    fs = [compare_rate(m, {}, x, x + extra, x, x + extra, p) for m in RATE_METRICS]
    fs.append(compare_length({}, h, h, p))
    for f in apply_policy(fs, p):
        assert not f.alert
        assert f.direction == "none"


def test_power_is_monotone_in_shift_on_fixed_seeds() -> None:
    """Larger true shift never lowers the number of detections on a fixed seed set."""
    p = PolicyConfig()
    seeds = range(40)

    def detections(shift: float, kind: str) -> int:
        hits = 0
        for s in seeds:
            rng = np.random.default_rng(s)
            if kind == "rate":
                # common random numbers: the same uniforms thresholded at different rates
                u0, u1 = rng.random(3000), rng.random(3000)
                f = compare_rate("refusal_rate", {}, int((u0 < 0.02).sum()), 3000, int((u1 < 0.02 + shift).sum()), 3000, p)
            else:
                z0, z1 = rng.standard_normal(600), rng.standard_normal(600)
                b = IntHistogram.from_samples(np.rint(np.exp(math.log(600) + 0.6 * z0)).astype(int))
                c = IntHistogram.from_samples(np.rint(np.exp(math.log(600 * (1 + shift)) + 0.6 * z1)).astype(int))
                f = compare_length({}, b, c, p)
            hits += apply_policy([f], p)[0].alert
        return hits

    for kind, shifts in [("rate", [0.0, 0.005, 0.01, 0.015, 0.02, 0.03]), ("length", [0.0, 0.05, 0.1, 0.15, 0.25])]:
        counts = [detections(s, kind) for s in shifts]
        assert counts == sorted(counts), (kind, counts)
        assert counts[0] == 0 and counts[-1] >= 35
