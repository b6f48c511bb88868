"""LiteLLM adapter: StandardLoggingPayload fixture and malformed variants."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.adapters import convert, detect_format

FIX = Path(__file__).parent / "fixtures"


def load(name: str) -> list[tuple[int, object]]:
    return [(n, json.loads(line)) for n, line in
            enumerate((FIX / name).read_text(encoding="utf-8").splitlines(), start=1)]


def test_detect():
    assert detect_format([r for _, r in load("litellm.jsonl")]) == "litellm"


def test_fixture_field_mapping():
    out = convert("litellm", load("litellm.jsonl"))
    (l1, a), (l2, b) = out.events
    assert (l1, l2) == (1, 2)
    assert a["ts"] == "2024-08-06T09:45:01.348000Z"                     # endTime
    assert a["request_id"] == "chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f"
    assert a["model"] == "gpt-4o-2024-08-06"                            # response.model
    assert a["model_version"] == "2024-08-06" and a["attributes"]["pinned"] is True
    assert a["requested_model"] == "support-default"                    # model_group
    assert a["response"].startswith("Yes, students get 20% off")
    assert a["output_tokens"] == 27 and a["input_tokens"] == 44
    assert a["finish_reason"] == "stop" and a["expects_json"] is False
    assert a["latency_ms"] == 1236.0                                     # endTime - startTime
    assert a["prompt"] == "Do you offer student discounts?"
    attrs = a["attributes"]
    assert attrs["provider"] == "openai" and attrs["source"] == "litellm"
    assert attrs["call_type"] == "acompletion" and attrs["response_cost"] == 0.000315
    assert attrs["model_id"] == "6a1b0f2c3d4e5f60718293a4b5c6d7e8"
    assert attrs["request_tags"] == ["support"] and attrs["user_api_key_team_alias"] == "support"
    # nested under standard_logging_object, response_format from model_parameters
    assert b["model"] == "ollama/llama3.1:8b" and b["requested_model"] == "triage-local"
    assert b["expects_json"] is True and b["schema"]["required"] == ["category", "priority"]
    assert b["attributes"]["provider"] == "ollama" and b["attributes"]["pinned"] is False
    assert out.rejects == [(3, "call status is failure: litellm.Timeout: APITimeoutError - Request timed out.")]


BASE = {"id": "x1", "call_type": "completion", "status": "success", "model": "gpt-4o",
        "startTime": 1722937500.0, "endTime": 1722937501.0, "response": "plain text answer"}


def test_string_response():
    (_, ev), = convert("litellm", [(1, BASE)]).events
    assert ev["response"] == "plain text answer" and ev["model"] == "gpt-4o"
    assert ev["attributes"]["pinned"] is False and ev["latency_ms"] == 1000.0


@pytest.mark.parametrize("change, reason", [
    ({"response": None}, "missing response"),
    ({"response": ""}, "empty response"),
    ({"response": 12}, "wrong type"),
    ({"response": {"id": "r", "created": 1, "model": "m"}}, "missing choices"),
    ({"response": {"id": "r", "created": 1, "model": "m", "choices": [{"message": {"content": None}}]}}, "empty content"),
    ({"startTime": None, "endTime": None}, "no timestamp"),
    ({"endTime": "later"}, "ISO 8601"),
    ({"completion_tokens": "x"}, "not an integer"),
    ({"status": "failure"}, "call status is failure"),
    ({"model": None}, "no model name"),
])
def test_malformed(change, reason):
    rec = {**BASE, **change}
    out = convert("litellm", [(3, rec)])
    assert out.events == [] and len(out.rejects) == 1
    assert out.rejects[0][0] == 3 and reason in out.rejects[0][1]
    assert convert("litellm", [(1, "x")]).rejects == [(1, "not a JSON object (string)")]


def test_payload_id_wins_and_response_id_kept():
    rec = {**BASE, "id": "litellm-call-1", "response": {
        "id": "chatcmpl-provider-9", "created": 1722937501, "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"content": "ok"}}]}}
    (_, ev), = convert("litellm", [(1, rec)]).events
    assert ev["request_id"] == "litellm-call-1"
    assert ev["attributes"]["response_id"] == "chatcmpl-provider-9"


@pytest.mark.parametrize("start, end", [
    ("2024-08-06T09:45:00.112000", "2024-08-06T09:45:01.348000"),        # Python datetime isoformat()
    ("2024-08-06T09:45:00.112Z", "2024-08-06T09:45:01.348Z"),
    ("1722937500.112", "1722937501.348"),
])
def test_string_start_and_end_times_keep_latency(start, end):
    (_, ev), = convert("litellm", [(1, dict(BASE, startTime=start, endTime=end))]).events
    assert ev["latency_ms"] == pytest.approx(1236.0, abs=0.01)
    assert ev["ts"] == "2024-08-06T09:45:01.348000Z"
