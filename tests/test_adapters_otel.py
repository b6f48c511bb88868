"""OTel GenAI adapter: OTLP/JSON trace export fixture (current, 1.27-1.36, <=1.26, OpenLLMetry shapes)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from monitor.adapters import convert, detect_format

FIX = Path(__file__).parent / "fixtures"


def load(name: str) -> list[tuple[int, object]]:
    return [(n, json.loads(line)) for n, line in
            enumerate((FIX / name).read_text(encoding="utf-8").splitlines(), start=1)]


@pytest.fixture(scope="module")
def result():
    return convert("otel", load("otel_genai.jsonl"))


def by_span(result):
    return {ev["attributes"]["span_id"]: (line, ev) for line, ev in result.events}


def test_detect():
    assert detect_format([r for _, r in load("otel_genai.jsonl")]) == "otel"


def test_non_genai_and_embedding_spans_skipped(result):
    spans = by_span(result)
    assert "a1a2a3a4a5a6a7a8" not in spans      # HTTP server span
    assert "c1d2e3f4a5b6c7d8" not in spans      # embeddings
    assert len(result.events) == 5


def test_current_shape(result):
    line, ev = by_span(result)["00f067aa0ba902b7"]
    assert line == 1
    assert ev["ts"] == "2024-08-06T09:36:41.020000Z"          # endTimeUnixNano
    assert ev["request_id"] == "chatcmpl-G1h2I3j4K5l6"        # gen_ai.response.id
    assert ev["model"] == "gpt-4o-2024-08-06" and ev["requested_model"] == "gpt-4o"
    assert ev["model_version"] == "2024-08-06" and ev["attributes"]["pinned"] is True
    assert ev["response"].startswith("You can change your shipping address")
    assert ev["output_tokens"] == 19 and ev["input_tokens"] == 14
    assert ev["finish_reason"] == "stop" and ev["expects_json"] is False
    assert ev["latency_ms"] == 900.0
    a = ev["attributes"]
    assert a["provider"] == "openai" and a["operation"] == "chat"
    assert a["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert a["service_name"] == "support-bot" and a["semconv_shape"] == "gen_ai.output.messages"
    assert a["instrumentation_scope"] == "opentelemetry.instrumentation.openai_v2"


def test_current_shape_tool_call_on_event(result):
    _, ev = by_span(result)["b7ad6b7169203331"]
    assert ev["request_id"] == "b7ad6b7169203331"              # no response id: span id
    assert json.loads(ev["response"]) == {"order_id": "1182"}
    assert ev["expects_json"] is True and ev["schema"]["required"] == ["order_id"]
    assert ev["attributes"]["tool_name"] == "lookup_order"
    assert ev["finish_reason"] == "tool_calls"


def test_choice_event_shape(result):
    line, ev = by_span(result)["e457b5a2e4d86bd1"]
    assert line == 2
    assert ev["response"] == "Your order shipped yesterday and arrives Friday."
    assert ev["attributes"]["provider"] == "ollama"             # gen_ai.system
    assert ev["model"] == "llama3.1:8b" and ev["attributes"]["pinned"] is False
    assert ev["output_tokens"] == 12 and ev["attributes"]["semconv_shape"] == "gen_ai.choice"


def test_old_completion_event_shape(result):
    line, ev = by_span(result)["1f2e3d4c5b6a7988"]
    assert line == 3
    assert ev["response"] == "Hello! How can I help you today?"
    assert ev["output_tokens"] == 9 and ev["input_tokens"] == 11  # completion_tokens / prompt_tokens
    assert ev["model"] == "gpt-3.5-turbo-0125" and ev["model_version"] == "0125"
    assert ev["attributes"]["pinned"] is True


def test_openllmetry_shape(result):
    _, ev = by_span(result)["9a8b7c6d5e4f3a2b"]
    assert ev["response"].startswith("The customer reports a double charge")
    assert ev["requested_model"] == "claude-3-5-sonnet-latest"
    assert ev["model"] == "claude-3-5-sonnet-20241022" and ev["model_version"] == "20241022"
    assert ev["finish_reason"] == "end_turn" and ev["latency_ms"] == 2100.0


def test_span_without_content_is_rejected(result):
    assert result.rejects == [(3, "no output content in span (is message content capture enabled?) "
                                  "(span 0b1c2d3e4f5a6b7c)")]


def _line():
    return copy.deepcopy(load("otel_genai.jsonl")[1][1])


def test_malformed_variants():
    assert convert("otel", [(1, {"resourceSpans": "x"})]).rejects == [(1, "resourceSpans is not an array")]
    assert convert("otel", [(1, {"resourceSpans": [5]})]).rejects == [(1, "resourceSpans item is not an object")]
    assert convert("otel", [(1, [])]).rejects == [(1, "not a JSON object")]
    assert convert("otel", [(1, {"foo": 1})]).rejects == [(1, "resourceSpans is not an array")]
    bad = _line()
    span = bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["endTimeUnixNano"] = "soon"
    out = convert("otel", [(2, bad)])
    assert out.events == [] and "endTimeUnixNano" in out.rejects[0][1]
    bad = _line()
    span = bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    del span["startTimeUnixNano"], span["endTimeUnixNano"]
    assert "no span time" in convert("otel", [(2, bad)]).rejects[0][1]
    bad = _line()
    span = bad["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"].append({"key": "gen_ai.usage.output_tokens", "value": {"stringValue": "many"}})
    assert "not an integer" in convert("otel", [(2, bad)]).rejects[0][1]


def test_one_line_many_spans_keep_line_number(result):
    assert sorted({line for line, _ in result.events}) == [1, 2, 3]
    assert sum(1 for line, _ in result.events if line == 1) == 2


def test_several_choices_take_the_first():
    line = _line()
    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["events"] = [
        {"name": "gen_ai.choice", "attributes": [
            {"key": "index", "value": {"intValue": "1"}},
            {"key": "message", "value": {"stringValue": '{"content": "second"}'}}]},
        {"name": "gen_ai.choice", "attributes": [
            {"key": "index", "value": {"intValue": "0"}}, {"key": "finish_reason", "value": {"stringValue": "length"}},
            {"key": "message", "value": {"stringValue": '{"content": "first"}'}}]}]
    span["attributes"] = [a for a in span["attributes"] if a["key"] != "gen_ai.response.finish_reasons"]
    (_, ev), = convert("otel", [(1, line)]).events
    assert ev["response"] == "first" and ev["finish_reason"] == "length"
    assert ev["attributes"]["choices"] == 2 and ev["output_tokens"] is None
    assert ev["attributes"]["usage_output_tokens_all_choices"] == 12
