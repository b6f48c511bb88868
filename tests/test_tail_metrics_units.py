"""Property tests of the metrics' small parts: the address parser (user input), reason classes and
label folding (bounded cardinality whatever the input)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from monitor.errors import UserError
from monitor.tail.metrics import OTHER, LabelFolder, TailMetrics, reason_class
from monitor.tail.server import parse_addr


@given(st.text(max_size=40))
def test_parse_addr_answers_or_says_why(text: str) -> None:
    try:
        host, port = parse_addr(text)
    except UserError as exc:
        assert "\n" not in str(exc).strip("\n") or "\n" in text  # one line unless the input carried a newline
        return
    assert 0 <= port <= 65535 and host and not any(c.isspace() for c in host)


@given(st.sampled_from(["127.0.0.1", "0.0.0.0", "localhost", "::1", "example.internal"]), st.integers(0, 65535))
def test_parse_addr_round_trips(host: str, port: int) -> None:
    text = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    assert parse_addr(text) == (host, port)
    assert parse_addr(str(port)) == ("127.0.0.1", port)  # no host: loopback only


@given(st.text(max_size=200))
def test_reason_class_is_a_short_clean_token(reason: str) -> None:
    c = reason_class(reason)
    assert re.fullmatch(r"[a-z0-9_]{1,40}", c)


@given(st.lists(st.text(max_size=8), max_size=200), st.integers(0, 10))
def test_folding_bounds_the_labels(values: list[str], limit: int) -> None:
    f = LabelFolder(limit)
    labels = [f.label(v) for v in values]
    assert len(set(labels) - {OTHER}) <= limit
    kept = {v for v in values if v != OTHER} if len({v for v in values if v != OTHER}) <= limit else None
    if kept is not None:  # room for all: nothing folded
        assert all(lab == v for lab, v in zip(labels, values) if v != OTHER)
    again = [f.label(v) for v in values]
    assert again == labels  # a value keeps its label


@given(st.dictionaries(st.tuples(st.text(max_size=4), st.sampled_from(["refusal_rate", "response_length"])),
                       st.floats(-50, 50), max_size=60), st.integers(1, 5))
def test_other_holds_the_largest_folded_statistic(stats: dict, limit: int) -> None:
    m = TailMetrics(max_segments=limit)
    m.sequential({((seg,), metric): (v, 9.0) for (seg, metric), v in stats.items()}, ["route"])
    families = {f.name: f for f in text_string_to_metric_families(m.exposition().decode())}
    for metric in {metric for _, metric in stats}:
        series = [(smp.labels["segment"], smp.value) for smp in families["llm_monitor_tail_log_evalue"].samples
                  if smp.labels["metric"] == metric]
        assert len(series) <= limit + 1
        values = {seg: v for (seg, mt), v in stats.items() if mt == metric}
        shown = dict(series)
        if "other" in shown:
            named = {s for s in shown if s != "other"}
            folded = [v for seg, v in values.items() if f"route={seg}" not in named]
            assert float(shown["other"]) == max(folded)
        assert max(shown.values()) == max(values.values())
