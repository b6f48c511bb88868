"""OpenAI adapter: Chat Completions and Responses fixtures, every field mapping, malformed variants."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from monitor.adapters import convert, detect_format

FIX = Path(__file__).parent / "fixtures"


def load(name: str) -> list[tuple[int, object]]:
    out = []
    for n, line in enumerate((FIX / name).read_text(encoding="utf-8").splitlines(), start=1):
        try:
            out.append((n, json.loads(line)))
        except ValueError:
            pass
    return out


@pytest.fixture(scope="module")
def chat():
    out = convert("openai", load("openai_chat.jsonl"))
    assert out.rejects == []
    return {ev["request_id"]: (line, ev) for line, ev in out.events}


def test_detect():
    assert detect_format([r for _, r in load("openai_chat.jsonl")]) == "openai"
    assert detect_format([r for _, r in load("openai_responses.jsonl")]) == "openai"


def test_plain_text_wrapped_record(chat):
    line, ev = chat["chatcmpl-A1b2C3d4E5f6G7h8I9j0"]
    assert line == 1
    assert ev["ts"] == "2024-08-06T09:20:11Z"             # response.created (epoch s)
    assert ev["model"] == "gpt-4o-2024-08-06"             # resolved snapshot from the response
    assert ev["model_version"] == "2024-08-06"
    assert ev["requested_model"] == "gpt-4o"              # alias from the request
    assert ev["route"] == "support_reply"                 # top-level route
    assert ev["prompt"] == "How do I reset my password?"  # last user message
    assert ev["response"].startswith("Go to Settings > Security")
    assert ev["output_tokens"] == 27 and ev["input_tokens"] == 29
    assert ev["finish_reason"] == "stop"
    assert ev["expects_json"] is False and ev["schema"] is None
    assert ev["latency_ms"] == 1143.2 and ev["task_success"] is True
    assert ev["attributes"] == {"provider": "openai", "system_fingerprint": "fp_2a322c9ffc",
                                "service_tier": "default", "pinned": True}


def test_json_schema_response_format(chat):
    _, ev = chat["chatcmpl-B9x8Y7z6W5v4U3t2S1r0"]
    assert ev["expects_json"] is True
    assert ev["schema"]["required"] == ["category", "priority"]
    assert ev["attributes"]["schema_name"] == "ticket_triage"
    assert ev["model_version"] == "2024-07-18" and ev["requested_model"] == "gpt-4o-mini"


def test_json_object_truncated(chat):
    _, ev = chat["chatcmpl-C1d2E3f4G5h6I7j8K9l0"]
    assert ev["expects_json"] is True and ev["schema"] is None
    assert ev["finish_reason"] == "length" and ev["output_tokens"] == 8


def test_tool_call(chat):
    line, ev = chat["chatcmpl-D4e5F6g7H8i9J0k1L2m3:call_Qx7RvB2mZk9pLw3T"]
    assert line == 4
    assert json.loads(ev["response"]) == {"order_id": "1182", "reason": "arrived broken"}
    assert ev["expects_json"] is True
    assert ev["schema"]["required"] == ["order_id", "reason"]   # the declared function's parameters
    assert ev["attributes"]["tool_name"] == "issue_refund"
    assert ev["attributes"]["tool_call"] is True
    assert ev["finish_reason"] == "tool_calls" and ev["output_tokens"] == 21


def test_refusal_field(chat):
    _, ev = chat["chatcmpl-E7f8G9h0I1j2K3l4M5n6"]
    assert ev["response"] == "I'm sorry, I can't help with extracting payment card numbers."
    assert ev["attributes"]["refusal_field"] is True
    assert ev["expects_json"] is True


def test_bare_completion_with_two_choices_unpinned(chat):
    (_, a), (_, b) = chat["chatcmpl-F0g1H2i3J4k5L6m7N8o9#0"], chat["chatcmpl-F0g1H2i3J4k5L6m7N8o9#1"]
    assert a["response"] == "Yes, we ship to Canada."
    assert b["response"].startswith("We do ship")
    assert a["model"] == "gpt-4o" and a["model_version"] == "unknown"
    assert a["attributes"]["pinned"] is False
    assert a["requested_model"] is None and a["expects_json"] is None
    assert a["output_tokens"] is None and a["attributes"]["usage_completion_tokens_all_choices"] == 22


def test_responses_api():
    out = convert("openai", load("openai_responses.jsonl"))
    assert out.rejects == []
    evs = {ev["request_id"]: ev for _, ev in out.events}
    ev = evs["resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"]
    assert ev["ts"] == "2025-03-08T23:29:02Z"
    assert ev["model"] == "gpt-4.1-2025-04-14" and ev["model_version"] == "2025-04-14"
    assert ev["response"].startswith("Your plan renews")
    assert ev["output_tokens"] == 25 and ev["input_tokens"] == 36
    # a bare response (no request logged): expects_json is null, as docs/FORMATS.md says; the
    # echoed text.format "text" is the server's default, not the client's request
    assert ev["finish_reason"] == "stop" and ev["expects_json"] is None
    assert ev["attributes"]["api"] == "responses"
    js = evs["resp_68a1f0c2e3d48190a7b6c5d4e3f2a1b00c9d8e7f6a5b4c3d"]
    assert js["expects_json"] is True and js["schema"]["type"] == "object"
    assert js["requested_model"] == "gpt-4.1-mini" and js["route"] == "ticket_triage"
    fc = evs["resp_69b2:call_84Hk2nX0"]
    assert fc["attributes"]["tool_name"] == "issue_refund" and fc["expects_json"] is True
    assert fc["schema"]["required"] == ["order_id", "reason"]
    assert evs["resp_70c3"]["finish_reason"] == "length"
    ref = evs["resp_71d4"]
    assert ref["attributes"]["refusal_field"] is True and ref["response"].startswith("I'm sorry")


BASE = {"id": "chatcmpl-x", "object": "chat.completion", "created": 1722936011, "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]}


def variant(**changes):
    rec = copy.deepcopy(BASE)
    for k, v in changes.items():
        if v is ...:
            rec.pop(k, None)
        else:
            rec[k] = v
    return rec


@pytest.mark.parametrize("rec, reason", [
    (variant(choices=...), "missing choices"),
    (variant(choices=[]), "empty choices"),
    (variant(choices="nope"), "choices is not an array"),
    (variant(choices=[{"index": 0, "message": {"role": "assistant", "content": None}}]), "empty content"),
    (variant(choices=[{"index": 0, "message": {"role": "assistant", "content": ""}}]), "empty content"),
    (variant(choices=[{"index": 0, "message": {"role": "assistant", "content": 5}}]), "wrong type"),
    (variant(choices=[{"index": 0}]), "no message"),
    (variant(choices=[{"index": 0, "message": {"content": "x"}, "finish_reason": 3}]), "finish_reason"),
    (variant(created=...), "no timestamp"),
    (variant(created="yesterday"), "ISO 8601"),
    (variant(model=7), "model is not a string"),
    (variant(usage={"completion_tokens": "many"}), "not an integer"),
    (variant(usage={"completion_tokens": -3}), "negative"),
    (variant(usage=[1]), "usage is not an object"),
    (variant(object="chat.completion.chunk", choices=[{"delta": {"content": "x"}}]), "stream not finished"),
    (variant(object="chat.completion.chunk", id=..., choices=[]), "chunk has no id"),
    (variant(object="chat.completion.chunk", choices=None), "choices is not an array"),
    (variant(object="chat.completion.chunk", choices=[], usage={"completion_tokens": 1}), "without its stream"),
    (variant(object="chat.completion.chunk", choices=[{"delta": {"content": 5}, "finish_reason": "stop"}]), "delta.content"),
    ({"request": {"model": "gpt-4o"}, "response": "text"}, "response is not an object"),
    ({"request": [], "response": BASE}, "request is not an object"),
    ({"object": "response", "output": "x", "created_at": 1}, "output is not an array"),
    ({"object": "response", "output": [], "created_at": 1, "model": "gpt-4.1", "status": "completed"}, "empty content"),
    ({"object": "response", "output": [], "created_at": 1, "status": "failed"}, "status is failed"),
    ([1, 2], "not a JSON object"),
    ("a string", "not a JSON object"),
    (None, "not a JSON object"),
])
def test_malformed_rejected_with_reason(rec, reason):
    out = convert("openai", [(9, rec)])
    assert out.events == []
    assert len(out.rejects) == 1
    line, why = out.rejects[0]
    assert line == 9 and reason in why


def test_malformed_fixture():
    out = convert("openai", load("openai_malformed.jsonl"))
    assert [line for line, _ in out.events] == [1]
    assert [line for line, _ in out.rejects] == [2, 3, 4, 5, 7]   # line 6 is not JSON: the ingest's job


def test_missing_id_gets_stable_hash():
    rec = variant(id=...)
    a = convert("openai", [(1, rec)]).events[0][1]["request_id"]
    b = convert("openai", [(5, copy.deepcopy(rec))]).events[0][1]["request_id"]
    assert a == b and a.startswith("sha256:")
    other = convert("openai", [(1, variant(id=..., created=1722936012))]).events[0][1]["request_id"]
    assert other != a


def test_route_argument_is_default_only():
    ev = convert("openai", [(1, BASE)], route="faq").events[0][1]
    assert ev["route"] == "faq"
    ev = convert("openai", [(1, {"route": "x", "response": BASE})], route="faq").events[0][1]
    assert ev["route"] == "x"


def test_ts_fallback_from_record_and_legacy_function_call():
    resp = variant(created=...)
    ev = convert("openai", [(1, {"ts": "2024-08-06T10:00:00+02:00", "response": resp})]).events[0][1]
    assert ev["ts"] == "2024-08-06T08:00:00Z"
    fc = variant(choices=[{"index": 0, "finish_reason": "function_call", "message": {
        "role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}}}])
    ev = convert("openai", [(1, fc)]).events[0][1]
    assert ev["response"] == "{}" and ev["attributes"]["tool_name"] == "f"


def test_streamed_chunks_fixture():
    recs = load("openai_chat_stream.jsonl")
    assert detect_format([r for _, r in recs]) == "openai"
    out = convert("openai", recs)
    assert out.rejects == []
    (l1, tool), (l2, text) = out.events
    # tool-call stream (no usage chunk): completes on its finish_reason line
    assert l1 == 9
    assert tool["request_id"] == "chatcmpl-AyPLYtool7Hq2KjX9Vb3Nn0Pp4QrS:call_DdmO9pD3xa9XTPNJ32zg2hcA"
    assert json.loads(tool["response"]) == {"order_id": "1182"}
    assert tool["attributes"]["tool_name"] == "lookup_order" and tool["expects_json"] is True
    assert tool["finish_reason"] == "tool_calls" and tool["output_tokens"] is None
    # text stream: completes on the usage chunk
    assert l2 == 10
    assert text["request_id"] == "chatcmpl-AyPLXqMc1LHEtzVqB5B1yqS4Cn9wM"
    assert text["response"] == "Our support hours are 9am-5pm CET, Monday to Friday."
    assert text["output_tokens"] == 14 and text["input_tokens"] == 21
    assert text["ts"] == "2024-08-06T09:53:20Z" and text["model_version"] == "2024-07-18"
    assert text["attributes"]["stream_chunks"] == 6
    assert text["attributes"]["system_fingerprint"] == "fp_f85bea6784"


def test_unfinished_chunk_stream_rejected():
    recs = load("openai_chat_stream.jsonl")[:6]
    out = convert("openai", recs)
    assert out.events == []
    assert out.rejects == [(1, "stream not finished"), (3, "stream not finished")]


def test_wrapped_chunk_list():
    chunks = [r for _, r in load("openai_chat_stream.jsonl") if r["id"].startswith("chatcmpl-AyPLX")]
    rec = {"request": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hours?"}],
                       "stream": True, "stream_options": {"include_usage": True}},
           "response": chunks, "route": "faq"}
    assert detect_format([rec]) == "openai"
    (_, ev), = convert("openai", [(1, rec)]).events
    assert ev["response"].startswith("Our support hours") and ev["requested_model"] == "gpt-4o-mini"
    assert ev["route"] == "faq" and ev["prompt"] == "Hours?" and ev["expects_json"] is False
    rec["response"] = chunks[:3]
    assert convert("openai", [(1, rec)]).rejects == [(1, "stream not finished")]


def test_responses_streaming_events_joined_per_response_id():
    """Every event of a streamed Responses call is part of its response: none is quarantined."""
    recs = load("openai_responses_stream.jsonl")
    assert detect_format([r for _, r in recs][:2]) == "openai"
    out = convert("openai", recs)
    assert out.rejects == []
    (l1, a), (l2, b) = out.events
    assert l1 == 11 and a["request_id"] == "resp_67c9fdcecf488190bdd8a0f1d8d00d1d"
    assert a["response"] == "Hi there! How can I help?" and a["output_tokens"] == 11
    assert a["finish_reason"] == "stop" and a["attributes"]["stream_events"] == 11
    assert a["expects_json"] is None            # no request logged: null (text.format "text" is only echoed)
    assert l2 == 21 and b["finish_reason"] == "length" and b["response"] == "The three laws are as follows: first,"


def test_responses_stream_terminal_without_output_is_rebuilt_from_deltas():
    recs = [r for _, r in load("openai_responses_stream.jsonl")][:11]
    recs[-1] = dict(recs[-1], response=dict(recs[-1]["response"], output=[]))
    recs = [r for r in recs if r.get("type") != "response.output_item.done"]
    (n, ev), = convert("openai", list(enumerate(recs, start=1))).events
    assert ev["response"] == "Hi there! How can I help?"


def test_responses_stream_unfinished_failed_and_orphans():
    from monitor.adapters import open_stream_lines
    recs = load("openai_responses_stream.jsonl")
    assert convert("openai", recs[:5]).rejects == [(1, "stream not finished")]
    assert open_stream_lines("openai", recs[:5]) == [1, 2, 3, 4, 5]
    failed = {"type": "response.failed", "sequence_number": 5, "response": dict(
        recs[0][1]["response"], status="failed", error={"code": "server_error", "message": "The model failed"})}
    out = convert("openai", recs[:4] + [(5, failed)])
    assert out.events == [] and out.rejects == [(5, "API error: server_error: The model failed")]
    orphan = convert("openai", [(1, recs[5][1])])
    assert orphan.rejects == [(1, "response.output_text.delta event outside a stream (no response.created before it)")]


@pytest.mark.parametrize("body, reason", [
    ({"error": {"message": "Rate limit reached for gpt-4o", "type": "requests", "param": None,
                "code": "rate_limit_exceeded"}}, "API error: requests: Rate limit reached for gpt-4o"),
    ({"request": {"model": "gpt-4o"}, "response": {"error": {"message": "Invalid 'messages'", "type":
                  "invalid_request_error", "param": "messages", "code": None}}},
     "API error: invalid_request_error: Invalid 'messages'"),
])
def test_api_error_bodies_say_so(body, reason):
    """An error body is quarantined as what it is, not as 'missing choices'."""
    assert convert("openai", [(1, body)]).rejects == [(1, reason)]


def test_reasoning_content_is_kept_apart():
    rec = dict(BASE, choices=[{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "42", "reasoning_content": "6 * 7 = 42"}}], model="deepseek-reasoner")
    (_, ev), = convert("openai", [(1, rec)]).events
    assert ev["response"] == "42" and ev["reasoning"] == "6 * 7 = 42"
