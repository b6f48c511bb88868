"""Sequential monitors (sidecar) and change-point localisation: small deterministic simulations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.changepoint import changepoint_counts, changepoint_length, changepoint_rate
from detectors.histogram import IntHistogram
from detectors.sequential import (
    BernoulliSRDetector,
    LengthMonitor,
    RateMonitor,
    bernoulli_log_lr,
    sr_log_update,
    threshold_seconds,
)


def test_likelihood_ratio_has_mean_at_most_one_under_null() -> None:
    """E[L] = 1 at p0 and < 1 for any true rate on the null side of p0 (exact, by enumeration).

    This is what makes R_t - elapsed a supermartingale, hence E[time to false alarm] >= A.
    """
    from scipy import stats

    k = np.arange(0, 51)
    for p0, p1 in [(0.02, 0.05), (0.3, 0.2), (0.5, 0.9)]:
        lr = np.exp(bernoulli_log_lr(k, 50, p0, p1))
        assert float(np.sum(stats.binom.pmf(k, 50, p0) * lr)) == pytest.approx(1.0, rel=1e-9)
        p_null_side = p0 * (0.8 if p1 > p0 else 1.2)
        assert float(np.sum(stats.binom.pmf(k, 50, p_null_side) * lr)) < 1.0
    # SR recursion in log space
    assert float(np.exp(sr_log_update(np.log(2.0), np.log(3.0), np.log(0.5)))) == pytest.approx(2.5)


def test_rate_monitor_no_false_alarm_one_simulated_day_and_detects_step() -> None:
    rng = np.random.default_rng(42)
    m = RateMonitor(1700, 86_400, metric="refusal_rate")
    for _ in range(1440):  # one day of minute batches at 10 events/s, p = 2%
        m.update(int(rng.binomial(600, 0.02)), 600, 60)
        assert not m.check().alert
    m.reset()
    minutes = 0
    while not m.check().alert:
        m.update(int(rng.binomial(600, 0.06)), 600, 60)
        minutes += 1
    assert minutes <= 5


def test_check_is_side_effect_free_and_reset() -> None:
    m = RateMonitor(20, 1000)
    m.update(5, 100, 10)
    a, b = m.check(), m.check()
    assert a == b
    m.reset()
    r = m.check()
    assert r.n == 0 and not r.alert and r.pvalue == 1.0 and math.isnan(r.estimate)


def test_monitor_edge_cases() -> None:
    with pytest.raises(ValueError):
        RateMonitor(0, 0)
    with pytest.raises(ValueError):
        threshold_seconds(0)
    # baseline rate 0: decrease impossible, increase still monitored
    m = RateMonitor(0, 5000, direction="both")
    m.update(0, 0, 0)
    m.update(50, 100, 10)
    assert m.check().alert
    d = BernoulliSRDetector(1.0, 1.0, direction="increase")
    d.update(3, 3, 1)
    assert not d.check().alert
    with pytest.raises(ValueError):
        m.update(5, 3, 1)


def test_length_monitor_detects_shortening() -> None:
    rng = np.random.default_rng(5)
    base = IntHistogram.from_samples(np.rint(rng.lognormal(6, 0.6, 20000)).astype(int))
    m = LengthMonitor(base)
    for _ in range(120):
        m.update(IntHistogram.from_samples(np.rint(rng.lognormal(6, 0.6, 600)).astype(int)), 60)
    assert not m.check().alert
    for _ in range(5):
        m.update(IntHistogram.from_samples(np.rint(0.7 * rng.lognormal(6, 0.6, 600)).astype(int)), 60)
    assert m.check().alert


def test_changepoint_coverage_small_simulation() -> None:
    rng = np.random.default_rng(11)
    hits, runs = 0, 60
    for _ in range(runs):
        tau = int(rng.integers(4, 44))
        p = np.where(np.arange(48) >= tau, 0.04, 0.02)
        n = np.full(48, 400)
        x = rng.binomial(n, p)
        r = changepoint_rate(x, n)
        hits += r.index_low <= tau <= r.index_high
    assert hits / runs >= 0.85


def test_changepoint_edges_and_times() -> None:
    assert changepoint_rate([1], [10]).index is None
    assert changepoint_rate([0, 0], [0, 0]).index is None
    r = changepoint_counts([[5, 5], [5, 5], [5, 5]])
    assert r.log_bayes_factor < 0  # no evidence of a change
    times = ["t0", "t1", "t2", "t3"]
    r = changepoint_rate([0, 0, 50, 50], [100] * 4, times=times)
    assert (r.time, r.index) == ("t2", 2)
    assert changepoint_length([]).index is None
    e = IntHistogram.empty()
    assert changepoint_length([e, e]).index is None
    with pytest.raises(ValueError):
        changepoint_rate([5], [3])
