"""The sequential detectors' own expit, logit and logsumexp give scipy.special's results.

They exist so that the sidecar can create and feed detectors without importing scipy
(docs/TAIL.md, "Footprint"); these property tests hold them to scipy's values exactly.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.sequential import DEFAULT_SHIFTS, BernoulliSRDetector, expit, logit, logsumexp

finite = st.floats(min_value=-700, max_value=700, allow_nan=False)
log_terms = st.one_of(finite, st.just(-math.inf), st.just(math.inf), st.just(math.nan))


@given(st.floats(min_value=1e-300, max_value=1.0, exclude_max=True))
def test_logit_is_scipys(p: float) -> None:
    assert logit(p) == float(sp.logit(p))


@given(st.floats(min_value=-800, max_value=800, allow_nan=False))
def test_expit_is_scipys(x: float) -> None:
    assert expit(x) == float(sp.expit(x))


@given(st.lists(log_terms, min_size=1, max_size=40))
@settings(max_examples=300, deadline=None)
def test_logsumexp_is_scipys(values: list[float]) -> None:
    a = np.array(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        want = float(sp.logsumexp(a))
    got = logsumexp(a)
    assert (math.isnan(got) and math.isnan(want)) or got == want


@given(st.lists(st.floats(min_value=-50, max_value=50), min_size=1, max_size=12), st.integers(0, 5))
def test_ties_and_minus_infinity(values: list[float], copies: int) -> None:
    """Repeated maxima (scipy counts them apart) and -inf terms (an SR statistic before any event)."""
    a = np.array(values + [max(values)] * copies + [-math.inf], dtype=np.float64)
    assert logsumexp(a) == float(sp.logsumexp(a))


@given(st.floats(min_value=0.001, max_value=0.5), st.lists(st.tuples(st.integers(0, 200), st.integers(0, 200)),
                                                            min_size=1, max_size=20))
def test_detector_statistic_as_with_scipy(p0: float, batches: list[tuple[int, int]]) -> None:
    """A detector fed batches gives the statistic scipy's functions give on its state."""
    d = BernoulliSRDetector(p0, p0, direction="both", threshold=1e6)
    shifts = [abs(float(s)) for s in DEFAULT_SHIFTS if s != 0]
    alts = [float(sp.expit(sp.logit(p0) + s)) for s in shifts] + [float(sp.expit(sp.logit(p0) - s)) for s in shifts]
    assert d.p1.tolist() == alts
    for count, extra in batches:
        d.update(count, count + extra, elapsed_seconds=1.0)
    res = d.check()
    with np.errstate(all="ignore"):
        assert res.statistic == float(sp.logsumexp(d.log_r + d.log_weights))
        assert d.max_log_e >= float(sp.logsumexp(d.log_m + d.log_weights))


@given(st.integers(1, 10**7), st.floats(0.0, 1.0), st.sampled_from([0.8, 0.9, 0.95, 0.99, 0.999]))
@settings(max_examples=300, deadline=None)
def test_wilson_interval_is_scipys(n: int, share: float, confidence: float) -> None:
    """``wilson_ci`` (stdlib quantile, no scipy) against scipy's Wilson interval: equal to 1e-12."""
    from scipy.stats import binomtest

    from detectors.rates import wilson_ci

    count = min(n, int(round(share * n)))
    want = binomtest(count, n).proportion_ci(confidence_level=confidence, method="wilson")
    lo, hi = wilson_ci(count, n, confidence)
    assert math.isclose(lo, want.low, rel_tol=1e-12, abs_tol=1e-15)
    assert math.isclose(hi, want.high, rel_tol=1e-12, abs_tol=1e-15)
