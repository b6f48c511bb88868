"""Ollama adapter: /api/generate and /api/chat fixtures, streamed chunks, malformed variants."""
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
    assert detect_format([r for _, r in load("ollama_generate.jsonl")]) == "ollama"
    assert detect_format([r for _, r in load("ollama_chat_stream.jsonl")]) == "ollama"


def test_generate_fixture_field_mapping():
    out = convert("ollama", load("ollama_generate.jsonl"))
    assert out.rejects == []
    (l1, a), (l2, b), (l3, c), (l4, d) = out.events
    assert (l1, l2, l3, l4) == (1, 2, 3, 4)
    assert a["ts"] == "2024-08-06T09:30:01.512034Z"           # created_at, nanoseconds cut
    assert a["model"] == "llama3.1:8b" and a["requested_model"] == "llama3.1:8b"
    assert a["model_version"] == "unknown" and a["attributes"]["pinned"] is False
    assert a["response"] == "The capital of France is Paris."
    assert a["output_tokens"] == 8 and a["input_tokens"] == 16           # eval_count / prompt_eval_count
    assert a["finish_reason"] == "stop"                                   # done_reason
    assert a["latency_ms"] == pytest.approx(812.346, abs=1e-3)            # total_duration ns -> ms
    assert a["attributes"]["provider"] == "ollama" and a["attributes"]["api"] == "generate"
    assert a["request_id"].startswith("sha256:")
    assert a["expects_json"] is None                                      # no request logged
    # wrapped request: format = schema, digest pins the tag
    assert b["expects_json"] is True and b["schema"]["required"] == ["category", "priority"]
    assert b["model_version"].startswith("sha256:46e0c10c") and b["attributes"]["pinned"] is True
    assert b["route"] == "ticket_triage"
    assert b["prompt"].startswith("Classify the ticket")
    # format "json"
    assert c["expects_json"] is True and c["schema"] is None
    # tz offset normalized to UTC, moving tag unpinned, length finish
    assert d["ts"] == "2024-08-06T16:30:12.250000Z"
    assert d["finish_reason"] == "length" and d["attributes"]["pinned"] is False


def test_streamed_chunks_are_joined():
    out = convert("ollama", load("ollama_chat_stream.jsonl"))
    assert out.rejects == []
    (l1, a), (l2, b), (l3, c) = out.events
    assert l1 == 7 and l2 == 12 and l3 == 13      # line of the final (done=true) chunk
    assert a["response"] == "Sure! To reset your password, open Settings > Security."
    assert a["model"] == "qwen2.5:7b" and a["output_tokens"] == 12 and a["latency_ms"] == 498.0
    assert a["attributes"]["stream_chunks"] == 7 and a["attributes"]["api"] == "chat"
    assert a["ts"] == "2024-08-06T09:31:00.400000Z"
    assert b["response"] == "I'm sorry, but I can't help with that."
    # chat tool call: arguments object -> JSON text, schema from request tools
    assert json.loads(c["response"]) == {"format": "celsius", "location": "Toronto"}
    assert c["expects_json"] is True and c["schema"]["required"] == ["location", "format"]
    assert c["attributes"]["tool_name"] == "get_current_weather"


def test_reingest_gives_same_ids():
    a = [ev["request_id"] for _, ev in convert("ollama", load("ollama_chat_stream.jsonl")).events]
    b = [ev["request_id"] for _, ev in convert("ollama", load("ollama_chat_stream.jsonl")).events]
    assert a == b and len(set(a)) == 3


def test_unfinished_stream_rejected():
    recs = load("ollama_chat_stream.jsonl")[:4]
    out = convert("ollama", recs)
    assert out.events == []
    assert out.rejects == [(1, "stream not finished")]


def test_interleaved_streams_of_two_models():
    recs = load("ollama_chat_stream.jsonl")[:12]
    mixed = [recs[0], recs[7], recs[1], recs[8]] + recs[2:7] + recs[9:12]
    out = convert("ollama", list(enumerate([r for _, r in mixed], start=1)))
    texts = sorted(ev["response"] for _, ev in out.events)
    assert texts == ["I'm sorry, but I can't help with that.",
                     "Sure! To reset your password, open Settings > Security."]


CH = {"model": "llama3", "created_at": "2024-08-06T09:30:01Z", "response": "hi", "done": True}


@pytest.mark.parametrize("rec, reason", [
    ({**CH, "response": ""}, "empty content"),
    ({**CH, "response": 3}, "response is not a string"),
    ({**CH, "created_at": "soon"}, "ISO 8601"),
    ({**CH, "created_at": None}, "created_at missing"),
    ({**CH, "model": 5}, "model is not a string"),
    ({**CH, "eval_count": "lots"}, "eval_count is not an integer"),
    ({**CH, "done": "yes"}, "done is not a boolean"),
    ({**CH, "done_reason": 1}, "done_reason"),
    ({"model": "llama3", "created_at": "2024-08-06T09:30:01Z", "message": "x", "done": True}, "message is not an object"),
    ({"request": {"model": "llama3"}, "response": {"foo": 1}}, "not an Ollama response"),
    ({"request": {"model": "llama3"}, "response": [{**CH, "done": False}]}, "stream not finished"),
    ({"request": "x", "response": CH}, "request is not an object"),
    ({"foo": "bar"}, "not an Ollama response"),
    (["x"], "not a JSON object"),
])
def test_malformed_rejected_with_reason(rec, reason):
    out = convert("ollama", [(4, rec)])
    assert out.events == []
    assert len(out.rejects) == 1 and out.rejects[0][0] == 4 and reason in out.rejects[0][1]


def test_several_tool_calls_give_one_event_each():
    rec = {"model": "llama3.1:8b", "created_at": "2024-08-06T09:31:05Z", "done": True, "eval_count": 40,
           "message": {"role": "assistant", "content": "", "tool_calls": [
               {"function": {"name": "a", "arguments": {"x": 1}}},
               {"function": {"name": "b", "arguments": {"y": 2}}}]}}
    out = convert("ollama", [(1, rec)])
    assert [ev["response"] for _, ev in out.events] == ['{"x":1}', '{"y":2}']
    ids = [ev["request_id"] for _, ev in out.events]
    assert ids[0].endswith(":0") and ids[1].endswith(":1")
    assert all(ev["output_tokens"] is None and ev["attributes"]["tool_calls_count"] == 2 for _, ev in out.events)
    bad = {**rec, "message": {"role": "assistant", "tool_calls": [{"function": {"arguments": {}}}]}}
    assert convert("ollama", [(1, bad)]).rejects == [(1, "tool call has no function name")]


def test_docs_chat_stream_final_chunk_without_message():
    """docs/api.md's /api/chat streaming example ends with a done chunk that has no message."""
    recs = [(n, r) for n, r in load("ollama_reasoning.jsonl") if n <= 3]
    out = convert("ollama", recs)
    assert out.rejects == []
    (line, ev), = out.events
    assert line == 3 and ev["response"] == "The sky is blue because of Rayleigh scattering."
    assert ev["output_tokens"] == 282 and ev["latency_ms"] == pytest.approx(4883.583458)
    assert ev["attributes"]["api"] == "chat" and ev["attributes"]["stream_chunks"] == 3


def test_thinking_field_is_reasoning():
    (_, ev), = convert("ollama", [load("ollama_reasoning.jsonl")[5]]).events
    assert ev["response"] == "Canberra." and ev["reasoning"] == "Capital of Australia: Canberra."
