"""Bedrock adapter: Converse / ConverseStream, model ARNs and inference profiles, guardrails."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FALLBACK_TS as FALLBACK
from helpers import assert_converts_without_crash
from helpers import load_fixture as load
from monitor.adapters import convert, detect_format, open_stream_lines
from monitor.adapters.bedrock import resolve_model_id



def test_detect_from_first_lines():
    assert detect_format([r for _, r in load("bedrock.jsonl")][:2]) == "bedrock"
    assert detect_format([r for _, r in load("bedrock_stream.jsonl")][:2]) == "bedrock"


@pytest.mark.parametrize("model_id, model, version, pinned_attr", [
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "anthropic.claude-3-5-sonnet-20241022-v2:0", "20241022-v2:0", None),
    ("us.anthropic.claude-3-7-sonnet-20250219-v1:0", "anthropic.claude-3-7-sonnet-20250219-v1:0", "20250219-v1:0", "us"),
    ("apac.amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0", "v1:0", "apac"),
    ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-sonnet-4-5-20250929-v1:0",
     "20250929-v1:0", "global"),
    ("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-70b-instruct-v1:0",
     "meta.llama3-1-70b-instruct-v1:0", "v1:0", None),
    ("arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.anthropic.claude-3-5-sonnet-20240620-v1:0",
     "anthropic.claude-3-5-sonnet-20240620-v1:0", "20240620-v1:0", "eu"),
    ("arn:aws:bedrock:us-east-1:111122223333:provisioned-model/abc123xyz", "provisioned-model/abc123xyz", None, None),
    ("mistral.mistral-large-2407-v1:0", "mistral.mistral-large-2407-v1:0", "2407-v1:0", None),
    ("cohere.command-r-plus-v1:0", "cohere.command-r-plus-v1:0", "v1:0", None),
])
def test_resolve_model_id(model_id, model, version, pinned_attr):
    m, v, attrs = resolve_model_id(model_id)
    assert (m, v, attrs.get("profile_geo")) == (model, version, pinned_attr)


def test_arns_of_one_model_look_the_same_after_resolution():
    ids = ["anthropic.claude-3-5-sonnet-20241022-v2:0", "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
           "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20241022-v2:0",
           "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0"]
    assert {resolve_model_id(i)[:2] for i in ids} == {("anthropic.claude-3-5-sonnet-20241022-v2:0", "20241022-v2:0")}


def test_fixture_field_mapping():
    out = convert("bedrock", load("bedrock.jsonl"), fallback_ts=FALLBACK)
    assert out.rejects == [(8, "API error: ThrottlingException: Too many requests, please wait before trying again.")]
    ev = dict(out.events)
    a = ev[1]
    assert (a["model"], a["model_version"], a["requested_model"]) == \
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", "20250219-v1:0", "us.anthropic.claude-3-7-sonnet-20250219-v1:0")
    assert a["attributes"]["pinned"] is True and a["attributes"]["inference_profile"].startswith("us.")
    assert a["ts"] == "2025-03-04T10:15:02Z" and "ts_inferred" not in a["attributes"]   # HTTP date header
    assert a["request_id"] == "5bd71c4d-3fd1-4d36-9f0d-10b1b5f1c2a1"
    assert (a["output_tokens"], a["input_tokens"], a["latency_ms"], a["finish_reason"]) == (17, 14, 812.0, "end_turn")
    assert a["expects_json"] is False and a["prompt"] == "How do I update my card?"
    b = ev[2]            # outputConfig.textFormat json_schema (schema given as JSON text)
    assert b["expects_json"] is True and b["schema"]["required"] == ["category"]
    assert b["attributes"]["schema_name"] == "ticket_triage" and b["attributes"]["model_arn"].startswith("arn:aws:bedrock")
    c = ev[3]            # toolUse against toolSpec.inputSchema.json
    assert json.loads(c["response"]) == {"location": "Seattle, WA"} and c["schema"]["required"] == ["location"]
    assert c["request_id"].endswith(":tooluse_kZJMlvQmRJ6eAyJE5GIl7Q") and c["finish_reason"] == "tool_use"
    d, e = ev[4], ev[5]  # guardrail and content filter: provider refusals
    assert d["attributes"]["provider_refusal"] == "guardrail_intervened"
    assert d["response"] == "Sorry, the model cannot answer this question."
    assert e["attributes"]["provider_refusal"] == "content_filtered" and e["response"] == ""
    f = ev[6]            # application inference profile: no base model, unpinned
    assert f["model"] == "application-inference-profile/k2d8f0example" and f["attributes"]["pinned"] is False
    g = ev[7]
    assert g["reasoning"] == "221 = 13 * 17, so it is not prime." and g["response"] == "No: 221 = 13 x 17."


def test_stream_fixture():
    out = convert("bedrock", load("bedrock_stream.jsonl"), fallback_ts=FALLBACK)
    assert out.rejects == []
    (l1, a), (l2, b) = out.events
    assert l1 == 10 and a["model"] == "amazon.nova-lite-v1:0" and a["ts"] == "2025-03-04T11:00:00Z"
    assert json.loads(a["response"]) == {"location": "Seattle, WA"} and a["attributes"]["tool_name"] == "get_weather"
    assert a["latency_ms"] == 980.0 and a["output_tokens"] == 38 and a["attributes"]["api"] == "converse_stream"
    assert l2 == 11 and b["response"] == "There are three r's." and b["reasoning"].startswith("Count the letters")


def test_response_without_model_id_is_rejected_with_advice():
    rec = load("bedrock.jsonl")[0][1]
    out = convert("bedrock", [(1, {"response": rec["response"]})])
    assert out.rejects == [(1, "no model: a Converse response does not name it; log the request's modelId")]


def test_unfinished_stream():
    recs = load("bedrock_stream.jsonl")[:5]
    assert convert("bedrock", recs).rejects == [(1, "stream not finished")]
    assert open_stream_lines("bedrock", recs) == [1, 2, 3, 4, 5]


KEYS = ["output", "message", "content", "text", "toolUse", "toolUseId", "name", "input", "stopReason", "usage",
        "outputTokens", "metrics", "latencyMs", "request", "response", "modelId", "messageStart", "contentBlockStart",
        "contentBlockDelta", "contentBlockStop", "messageStop", "metadata", "delta", "contentBlockIndex",
        "reasoningContent", "outputConfig", "textFormat", "structure", "jsonSchema", "schema", "ResponseMetadata",
        "HTTPHeaders", "date", "ts", "Error"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 3) | st.floats() | st.text(max_size=6)
    | st.sampled_from(["end_turn", "guardrail_intervened", "json_schema", "us.amazon.nova-lite-v1:0",
                       "Tue, 04 Mar 2025 10:15:02 GMT", "{\"type\":\"object\"}", "{"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS), children, max_size=6),
    max_leaves=30)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, min_size=1, max_size=6))
def test_convert_never_raises(values):
    assert_converts_without_crash("bedrock", values)
