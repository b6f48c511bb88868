"""Anthropic adapter: Messages responses, SSE event streams, structured outputs, refusals, errors."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FALLBACK_TS as FALLBACK
from helpers import assert_converts_without_crash
from helpers import load_fixture as load
from monitor.adapters import convert, detect_format, open_stream_lines
from monitor.adapters.anthropic import assemble_events



def test_detect_from_first_lines():
    assert detect_format([r for _, r in load("anthropic_messages.jsonl")][:2]) == "anthropic"
    assert detect_format([r for _, r in load("anthropic_stream.jsonl")][:2]) == "anthropic"


def test_messages_fixture_field_mapping():
    out = convert("anthropic", load("anthropic_messages.jsonl"), fallback_ts=FALLBACK)
    assert out.rejects == [(7, "API error: overloaded_error: Overloaded")]
    ev = dict(out.events)
    a = ev[1]
    assert (a["model"], a["model_version"], a["requested_model"]) == \
        ("claude-3-5-sonnet-20241022", "20241022", "claude-3-5-sonnet-latest")
    assert a["attributes"]["pinned"] is True and a["attributes"]["provider"] == "anthropic"
    assert a["ts"] == "2024-11-04T10:00:01.250000Z" and "ts_inferred" not in a["attributes"]
    assert (a["output_tokens"], a["input_tokens"], a["finish_reason"]) == (21, 14, "end_turn")
    assert a["latency_ms"] == 1840.5 and a["route"] == "support_reply"
    assert a["prompt"] == "How do I reset my password?" and a["expects_json"] is False
    # output_config.format json_schema -> expects_json with that schema
    b = ev[2]
    assert b["expects_json"] is True and b["schema"]["required"] == ["category"]
    assert b["model"] == "claude-sonnet-4-5-20250929" and b["requested_model"] == "claude-sonnet-4-5"
    # a tool_use block is one event: its input JSON checked against the tool's input_schema
    c = ev[3]
    assert c["request_id"] == "msg_01Aq9w938a90dw8r:toolu_01A09q90qw90lq917835lq9"
    assert json.loads(c["response"]) == {"location": "San Francisco, CA"}
    assert c["expects_json"] is True and c["schema"]["required"] == ["location"]
    assert c["attributes"]["tool_name"] == "get_weather" and c["finish_reason"] == "tool_use"
    # stop_reason "refusal": a provider-reported refusal, with an empty answer
    d = ev[4]
    assert d["finish_reason"] == "refusal" and d["attributes"]["provider_refusal"] == "refusal"
    assert d["response"] == "" and d["output_tokens"] == 0
    # bare Message: no time in it -> fallback, marked inferred; thinking kept apart from the answer
    e = ev[5]
    assert e["ts"] == FALLBACK and e["attributes"]["ts_inferred"] is True
    assert e["response"] == "27 * 453 = 12,231" and e["reasoning"].startswith("The user asks")
    assert e["attributes"]["redacted_thinking"] == 1 and e["expects_json"] is None
    # max_tokens on structured output
    f = ev[6]
    assert f["finish_reason"] == "max_tokens" and f["response"] == '{"category":"ship'


def test_bare_message_without_fallback_is_rejected():
    recs = load("anthropic_messages.jsonl")
    out = convert("anthropic", [recs[4]])
    assert out.rejects == [(5, "no timestamp in the record (and no fallback time)")]


def test_stream_fixture_joined_per_message():
    out = convert("anthropic", load("anthropic_stream.jsonl"), fallback_ts=FALLBACK)
    assert out.rejects == []
    (l1, a), (l2, b) = out.events
    assert (l1, l2) == (9, 25)                     # the line of each message_stop
    assert a["request_id"] == "msg_01StreamText000000001" and a["response"] == "Hello! How can I help you today?"
    assert (a["output_tokens"], a["input_tokens"], a["finish_reason"]) == (15, 12, "end_turn")
    assert a["attributes"]["stream_events"] == 9 and a["attributes"]["ts_inferred"] is True
    assert b["request_id"] == "msg_01StreamTool000000001:toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert json.loads(b["response"]) == {"location": "Paris, France"}   # input_json_delta joined
    assert b["reasoning"] == "I need the weather for Paris." and b["output_tokens"] == 89


def test_wrapped_event_list_with_request():
    events = [r for _, r in load("anthropic_stream.jsonl")][:9]
    rec = {"ts": "2024-11-04T11:00:00Z", "route": "chat",
           "request": {"model": "claude-3-5-sonnet-latest", "messages": [{"role": "user", "content": "Hi"}]},
           "response": events}
    (n, ev), = convert("anthropic", [(1, rec)]).events
    assert ev["requested_model"] == "claude-3-5-sonnet-latest" and ev["ts"] == "2024-11-04T11:00:00Z"
    assert ev["response"] == "Hello! How can I help you today?" and ev["prompt"] == "Hi"
    assert convert("anthropic", [(1, dict(rec, response=events[:-1]))]).rejects == [(1, "stream not finished")]


def test_unfinished_and_orphan_events():
    recs = load("anthropic_stream.jsonl")
    assert convert("anthropic", recs[:5], fallback_ts=FALLBACK).rejects == [(1, "stream not finished")]
    assert open_stream_lines("anthropic", recs[:5]) == [1, 2, 3, 4, 5]
    orphan = convert("anthropic", [(1, {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": "a"}})])
    assert orphan.rejects == [(1, "content_block_delta event outside a stream (no message_start before it)")]


def test_error_event_ends_a_stream():
    recs = load("anthropic_stream.jsonl")[:4]
    err = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    out = convert("anthropic", recs + [(5, err)], fallback_ts=FALLBACK)
    assert out.events == [] and out.rejects == [(1, "API error: overloaded_error: Overloaded")]


def test_assemble_keeps_cumulative_usage_of_message_delta():
    msg = assemble_events([r for _, r in load("anthropic_stream.jsonl")][:9])
    assert msg["usage"] == {"input_tokens": 12, "output_tokens": 15} and msg["stop_reason"] == "end_turn"


KEYS = ["type", "message", "content", "model", "id", "index", "delta", "text", "usage", "stop_reason",
        "content_block", "input", "name", "output_tokens", "request", "response", "ts", "error", "thinking",
        "partial_json", "output_config", "format", "schema", "tools", "input_schema"]
VALUES = st.sampled_from(["message", "message_start", "message_stop", "content_block_start", "content_block_delta",
                          "message_delta", "text", "tool_use", "thinking", "refusal", "error", "claude-3-5-haiku-20241022"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats() | st.text(max_size=6) | VALUES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS), children, max_size=6),
    max_leaves=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, min_size=1, max_size=6))
def test_convert_never_raises(values):
    assert_converts_without_crash("anthropic", values)
