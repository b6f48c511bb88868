"""monitor.audit_sample.sample_decisions: reproducible, filterable, explains every positive."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.audit_sample import AUDIT_COLUMNS, sample_decisions
from monitor.signals import derive_signals

TEXTS = [
    "Sorry, but I can't help with that.",
    "Paris is the capital of France.",
    "Thank you for asking! However, I cannot assist with hacking.",
    "It is not accurate to say that cats are evil.",
    "Here is a recipe for bread.",
    "Violence is never the answer.",
]


def _events(k: int = 60) -> pd.DataFrame:
    frame = pd.DataFrame({
        "request_id": [f"r{i}" for i in range(k)],
        "model": ["a" if i % 2 else "b" for i in range(k)],
        "route": ["chat"] * k,
        "response": [TEXTS[i % len(TEXTS)] for i in range(k)],
    })
    sig = derive_signals(frame)
    return pd.concat([frame, sig[["refusal_class", "refusal_rule", "refusal_span"]]], axis=1)


def test_columns_size_and_reproducibility() -> None:
    ev = _events()
    s = sample_decisions(ev, n=10, seed=3)
    assert tuple(s.columns) == AUDIT_COLUMNS and len(s) == 10
    assert s.equals(sample_decisions(ev, n=10, seed=3))
    assert s["request_id"].tolist() != sample_decisions(ev, n=10, seed=4)["request_id"].tolist()


def test_order_of_rows_does_not_change_the_sample() -> None:
    ev = _events()
    shuffled = ev.sample(frac=1.0, random_state=7)
    assert sample_decisions(ev, n=15)["request_id"].tolist() == sample_decisions(shuffled, n=15)["request_id"].tolist()


def test_where_filters_and_every_positive_is_explained() -> None:
    ev = _events()
    s = sample_decisions(ev, where={"refusal_class": "full_refusal", "model": "a"}, n=50)
    assert len(s) > 0
    assert set(s["refusal_class"]) == {"full_refusal"} and set(s["model"]) == {"a"}
    assert s["refusal_rule"].notna().all() and s["refusal_span"].map(bool).all()
    both = sample_decisions(ev, where={"refusal_class": ["full_refusal", "compliance"]}, n=1000)
    assert len(both) == len(ev[ev["refusal_class"].isin(["full_refusal", "compliance"])])


def test_missing_decision_columns_are_derived() -> None:
    ev = _events()
    raw = ev.drop(columns=["refusal_class", "refusal_rule", "refusal_span"])
    a = sample_decisions(raw, n=20, seed=1)
    b = sample_decisions(ev, n=20, seed=1)
    pd.testing.assert_frame_equal(a, b)


def test_stored_rule_without_span_gets_the_span_only_when_it_explains_it() -> None:
    ev = _events(6).drop(columns=["refusal_span"])
    ev.loc[0, "refusal_rule"] = "rule_of_an_older_release"
    s = sample_decisions(ev, n=6).set_index("request_id")
    assert s.loc["r0", "refusal_span"] is None
    assert s.loc["r2", "refusal_span"] == "however, i cannot assist with"


def test_truncation_and_errors() -> None:
    ev = _events(6)
    ev.loc[1, "response"] = "x" * 1000
    s = sample_decisions(ev, n=6, max_chars=20).set_index("request_id")
    assert s.loc["r1", "response"] == "x" * 20 + "…"
    with pytest.raises(ValueError, match="nope"):
        sample_decisions(ev, where={"nope": "1"})
    with pytest.raises(ValueError):
        sample_decisions(ev, n=-1)
    assert sample_decisions(ev.iloc[:0], n=5).empty


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 40), st.integers(0, 2**31), st.integers(1, 60))
def test_sample_is_a_prefix_of_a_larger_sample(n: int, seed: int, k: int) -> None:
    ev = _events(k)
    small = sample_decisions(ev, n=n, seed=seed)["request_id"].tolist()
    large = sample_decisions(ev, n=n + 5, seed=seed)["request_id"].tolist()
    assert large[: len(small)] == small and len(small) == min(n, k)
