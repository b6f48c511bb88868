"""Gemini adapter: Gemini API and Vertex AI generateContent, streams, enum finish reasons, blocks."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FALLBACK_TS as FALLBACK
from helpers import assert_converts_without_crash
from helpers import load_fixture as load
from monitor.adapters import convert, detect_format, open_stream_lines
from monitor.adapters.gemini import FINISH_REASONS



def test_detect_from_first_lines():
    assert detect_format([r for _, r in load("gemini.jsonl")][:2]) == "gemini"
    assert detect_format([r for _, r in load("gemini_stream.jsonl")][:1]) == "gemini"
    assert detect_format([load("gemini_stream.jsonl")[3][1]]) == "gemini"      # a JSON-array stream line


def test_fixture_field_mapping():
    out = convert("gemini", load("gemini.jsonl"), fallback_ts=FALLBACK)
    assert out.rejects == [(8, "API error: RESOURCE_EXHAUSTED: Resource has been exhausted (e.g. check quota).")]
    ev = dict(out.events)
    a = ev[1]          # Gemini API, wrapped: responseSchema with OpenAPI type names
    assert (a["model"], a["model_version"], a["requested_model"]) == ("gemini-2.0-flash-001", "001", "gemini-2.0-flash")
    assert a["attributes"]["pinned"] is True and a["attributes"]["provider"] == "gemini"
    assert (a["output_tokens"], a["input_tokens"], a["finish_reason"]) == (17, 14, "STOP")
    assert a["expects_json"] is True and a["schema"]["type"] == "object"
    assert a["schema"]["properties"]["email"] == {"type": "string"}
    assert a["request_id"] == "cvPOZ6OzNY2p1PIP1eT2qQ8" and a["ts"] == "2025-03-10T12:00:00.500000Z"
    b = ev[2]          # Vertex AI, bare: createTime, integer finishReason
    assert b["finish_reason"] == "STOP" and b["ts"] == "2024-10-01T09:30:12.401236Z"
    assert b["attributes"]["provider"] == "vertex_ai" and b["model_version"] == "002"
    assert b["expects_json"] is None and "ts_inferred" not in b["attributes"]
    c = ev[3]          # candidate blocked for SAFETY: a provider refusal, no text
    assert c["finish_reason"] == "SAFETY" and c["attributes"]["provider_refusal"] == "SAFETY" and c["response"] == ""
    d = ev[4]          # prompt blocked: no candidates, promptFeedback.blockReason
    assert d["attributes"]["provider_refusal"] == "PROHIBITED_CONTENT" and d["attributes"]["prompt_blocked"] is True
    e = ev[5]          # functionCall checked against its declaration
    assert json.loads(e["response"]) == {"brightness": 30, "color_temp": "warm"}
    assert e["schema"]["required"] == ["brightness", "color_temp"] and e["attributes"]["tool_name"] == "set_light_values"
    f = ev[6]          # thought parts are reasoning, not answer
    assert f["response"] == "Yes, 1013 is prime." and f["reasoning"].startswith("**Checking divisibility**")
    assert f["attributes"]["reasoning_tokens"] == 312 and f["expects_json"] is False
    g = ev[7]          # RECITATION as enum number 4
    assert g["finish_reason"] == "RECITATION" and g["attributes"]["provider_refusal"] == "RECITATION"


def test_integer_finish_reasons_follow_the_vertex_enum():
    assert FINISH_REASONS[:10] == ("FINISH_REASON_UNSPECIFIED", "STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER",
                                   "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL")
    rec = load("gemini.jsonl")[1][1]
    for number, name in ((2, "MAX_TOKENS"), (6, "BLOCKLIST"), (7, "PROHIBITED_CONTENT"), (99, "FINISH_99")):
        cand = dict(rec["candidates"][0], finishReason=number)
        (n, ev), = convert("gemini", [(1, dict(rec, candidates=[cand]))]).events
        assert ev["finish_reason"] == name
        assert ("provider_refusal" in ev["attributes"]) is (name in ("BLOCKLIST", "PROHIBITED_CONTENT"))


def test_sse_chunks_joined_per_response_id_and_array_stream():
    out = convert("gemini", load("gemini_stream.jsonl"), fallback_ts=FALLBACK)
    assert out.rejects == []
    (l1, a), (l2, b) = out.events
    assert l1 == 3 and a["response"] == "Once upon a time, in a quiet village, lived a clockmaker."
    assert a["output_tokens"] == 16 and a["attributes"]["stream_chunks"] == 3 and a["attributes"]["ts_inferred"] is True
    assert l2 == 4 and b["response"] == "Paris is the capital of France." and b["ts"] == "2024-10-01T09:40:00Z"
    recs = load("gemini_stream.jsonl")
    assert convert("gemini", recs[:2]).rejects == [(1, "stream not finished")]
    assert open_stream_lines("gemini", recs[:2]) == [1, 2]


def test_max_tokens_while_thinking_is_an_empty_answer_not_a_reject():
    rec = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Let me see...", "thought": True}]},
                           "finishReason": "MAX_TOKENS"}], "modelVersion": "gemini-2.5-pro", "responseId": "x",
           "createTime": "2025-06-01T00:00:00Z", "usageMetadata": {"thoughtsTokenCount": 1024}}
    (n, ev), = convert("gemini", [(1, rec)]).events
    assert ev["response"] == "" and ev["finish_reason"] == "MAX_TOKENS" and ev["reasoning"] == "Let me see..."


KEYS = ["candidates", "content", "parts", "text", "thought", "functionCall", "name", "args", "finishReason", "index",
        "usageMetadata", "candidatesTokenCount", "modelVersion", "responseId", "createTime", "promptFeedback",
        "blockReason", "request", "response", "generationConfig", "responseSchema", "tools", "functionDeclarations",
        "parameters", "ts", "error", "model"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 20) | st.floats() | st.text(max_size=6)
    | st.sampled_from(["STOP", "SAFETY", "OBJECT", "gemini-2.0-flash", "2024-10-01T00:00:00Z", "r1"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS), children, max_size=6),
    max_leaves=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, min_size=1, max_size=5))
def test_convert_never_raises(values):
    assert_converts_without_crash("gemini", values)
