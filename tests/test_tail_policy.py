"""One alert policy: the sidecar (``WindowState``, significant = the e-detector alarmed) and ``check``
(``compare_length`` / ``compare_rate`` + ``apply_policy``, significant = BH q <= alpha) decide
direction, the practical floor and severity the same way on the same change."""

from __future__ import annotations

import math

import numpy as np
import pytest

from detectors.histogram import IntHistogram
from detectors.policy import PolicyConfig, apply_policy, compare_length, compare_rate, decide
from monitor.tail.detect import RATE_FIELDS, WindowState, rate_of
from monitor.stats import SegmentStats

SEGMENT = {"route": "chat"}


def _lengths(rng: np.random.Generator, n: int, *, stretch_upper_half: float = 1.0, scale: float = 1.0) -> IntHistogram:
    x = rng.lognormal(6, 0.5, n) * scale
    med = float(np.exp(6))
    x = np.where(x > med, med + (x - med) * stretch_upper_half, x)
    return IntHistogram.from_samples(np.rint(x).astype(int))


def _batch(base: SegmentStats, cur: SegmentStats, metric: str, policy: PolicyConfig):
    if metric == "response_length":
        f = compare_length(SEGMENT, base.length, cur.length, policy)
    else:
        f = compare_rate(metric, SEGMENT, *rate_of(base, metric), *rate_of(cur, metric), policy)
    [out] = apply_policy([f], policy)
    return out


def _tail(base: SegmentStats, cur: SegmentStats, metric: str, policy: PolicyConfig):
    ws = WindowState(["route"], policy=policy, window_s=300)
    ws.set_baseline({("chat",): base}, now=0.0)
    ws.add({("chat",): cur}, now=60.0)
    alarms = {f.metric: f for f in ws.check(now=60.0)}
    assert metric in alarms, f"the sequential detector did not alarm on {metric}: {sorted(alarms)}"
    return alarms[metric]


def _case(name: str, rng: np.random.Generator):
    """(baseline, current, metric, policy, expected (direction, above floor, alert, severity))."""
    base = SegmentStats(n=20_000, refusals=400, json_n=20_000, parse_failures=200, json_invalid=200, task_n=20_000,
                        task_successes=18_000, length=_lengths(rng, 19_600))
    default = PolicyConfig()
    if name == "refusal up above the floor":
        cur = SegmentStats(n=5_000, refusals=300, length=_lengths(rng, 4_700))
        return base, cur, "refusal_rate", default, ("worse", True, True, "error")
    if name == "length up only in W":  # the median does not move; the upper half stretches
        cur = SegmentStats(n=5_000, length=_lengths(rng, 5_000, stretch_upper_half=1.6))
        return base, cur, "response_length", default, ("worse", True, True, "warning")
    if name == "length up, median and W":
        cur = SegmentStats(n=5_000, length=_lengths(rng, 5_000, scale=1.4))
        return base, cur, "response_length", default, ("worse", True, True, "error")
    # (the sidecar's rate detectors watch the worse direction only; its length detector both)
    if name == "improvement (alert_on both)":
        cur = SegmentStats(n=5_000, length=_lengths(rng, 5_000, scale=0.7))
        return base, cur, "response_length", default, ("better", True, True, "info")
    if name == "improvement (alert_on worse)":
        cur = SegmentStats(n=5_000, length=_lengths(rng, 5_000, scale=0.7))
        return base, cur, "response_length", PolicyConfig(alert_on="worse"), ("better", True, False, "info")
    if name == "task success down":
        cur = SegmentStats(n=5_000, task_n=5_000, task_successes=4_200, length=_lengths(rng, 5_000))
        return base, cur, "task_success_rate", default, ("worse", True, True, "error")
    if name == "below the floor":
        cur = SegmentStats(n=5_000, json_n=5_000, parse_failures=250, json_invalid=250, length=_lengths(rng, 5_000))
        policy = PolicyConfig(floors={"json_invalid_rate": 0.05})  # +4 pp, significant, under a 5 pp floor
        return base, cur, "json_invalid_rate", policy, ("worse", False, False, "info")
    raise AssertionError(name)


CASES = ["refusal up above the floor", "length up only in W", "length up, median and W",
         "improvement (alert_on both)", "improvement (alert_on worse)", "task success down", "below the floor"]


@pytest.mark.parametrize("name", CASES)
def test_tail_and_check_decide_the_same(name: str) -> None:
    base, cur, metric, policy, expected = _case(name, np.random.default_rng(11))
    batch = _batch(base, cur, metric, policy)
    tail = _tail(base, cur, metric, policy)
    assert batch.q_value <= policy.alpha  # significant in both: the policy decides the rest
    for f in (batch, tail):
        floor = f.details["floor"]
        got = (f.direction, f.details["practical_size"] >= floor, f.alert, f.severity)
        assert got == expected, (f.details.get("source", "batch"), got, f.reason)
    # the same effect quantities, from the same functions
    assert tail.details["floor"] == batch.details["floor"] == policy.floor(metric)
    assert tail.details["practical_size"] == pytest.approx(batch.details["practical_size"], rel=1e-12)
    for attr in ("baseline_value", "current_value", "effect", "ci_low", "ci_high"):
        assert getattr(tail, attr) == pytest.approx(getattr(batch, attr), rel=1e-12), attr
    if metric == "response_length":
        assert tail.details["wasserstein_normalized"] == pytest.approx(batch.details["wasserstein_normalized"])
    assert tail.reason.startswith("sequential alarm (")
    assert tail.reason.split("(", 1)[1].startswith(batch.reason.rsplit(": ", 1)[1])  # the same verdict


def test_length_up_only_in_w_alerts_because_of_w() -> None:
    """The sidecar used to read the median ratio only: this change has a median ratio under the floor."""
    base, cur, metric, policy, _ = _case("length up only in W", np.random.default_rng(11))
    tail = _tail(base, cur, metric, policy)
    assert abs(tail.effect) < policy.floor(metric) <= tail.details["wasserstein_normalized"]
    assert tail.alert and tail.direction == "worse"


def test_decide_is_the_policy_of_apply_policy() -> None:
    """apply_policy's alert, direction and severity are decide()'s with significant = q <= alpha."""
    rng = np.random.default_rng(5)
    policy = PolicyConfig()
    for metric in RATE_FIELDS:
        for bc, cc in ((200, 200), (200, 260), (200, 320), (200, 120)):
            f = compare_rate(metric, SEGMENT, bc, 10_000, cc, 10_000, policy)
            [out] = apply_policy([f], policy)
            d = decide(f, policy, significant=out.q_value <= policy.alpha)
            assert (out.alert, out.direction, out.severity) == (d.alert, d.direction, d.severity)
            assert out.details["practical_size"] == d.practical_size
    h = _lengths(rng, 2_000)
    f = compare_length(SEGMENT, h, _lengths(rng, 2_000, scale=1.2), policy)
    [out] = apply_policy([f], policy)
    d = decide(f, policy, significant=True)
    assert (out.alert, out.direction, out.severity) == (d.alert, d.direction, d.severity) == (True, "worse", "error")
    assert not math.isnan(d.practical_size)
