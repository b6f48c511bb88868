"""Mapping adapter: path syntax, constants/defaults, coercions, config errors, fixture."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from monitor.adapters import AdapterError, convert, detect_format, validate_mapping
from monitor.adapters.mapping import parse_path, resolve

FIX = Path(__file__).parent / "fixtures"


def load(name: str) -> list[tuple[int, object]]:
    return [(n, json.loads(line)) for n, line in
            enumerate((FIX / name).read_text(encoding="utf-8").splitlines(), start=1)]


@pytest.fixture(scope="module")
def table():
    return tomllib.loads((FIX / "mapping_custom.toml").read_text())["mapping"]


def test_not_auto_detected():
    assert detect_format([r for _, r in load("mapping_custom.jsonl")]) is None


def test_fixture_field_mapping(table):
    out = convert("mapping", load("mapping_custom.jsonl"), mapping=table)
    assert out.rejects == []
    (l1, a), (l2, b) = out.events
    assert (l1, l2) == (1, 2)
    assert a == {
        "ts": "2024-08-06T09:40:00.250000Z", "request_id": "7f3e-0001", "model": "mistral-small-2409",
        "model_version": "2409", "requested_model": "mistral-small", "route": "billing_faq",
        "prompt": None, "response": "Your invoice is attached to the confirmation email.",
        "output_tokens": 12, "input_tokens": 30, "finish_reason": "stop", "expects_json": False,
        "schema": None, "task_success": True, "latency_ms": 655.0,
        "attributes": {"source": "mapping", "team": "payments", "pinned": True}}
    assert b["ts"] == "2024-08-06T09:41:40Z"                 # epoch seconds
    assert b["model"] == "mistral-small"                      # alternative fallback
    assert b["route"] == "default"                            # "=default" constant
    assert b["output_tokens"] == 6                            # digit string
    assert b["expects_json"] is True and b["task_success"] is False


@pytest.mark.parametrize("path, keys", [
    ("a", ["a"]), ("a.b.c", ["a", "b", "c"]), ("a[0].b", ["a", 0, "b"]), ("a[-1]", ["a", -1]),
    ('attrs["gen_ai.system"]', ["attrs", "gen_ai.system"]), ("x['a b']", ["x", "a b"]),
    ("$.a", ["a"]), ("$", []), ("a.0", ["a", "0"]),
])
def test_parse_path(path, keys):
    assert parse_path(path) == keys


def test_resolve_alternatives_and_constants():
    rec = {"a": {"b": [1, {"c": None}]}, "s": "x"}
    assert resolve(rec, "a.b[1].c | s") == "x"
    assert resolve(rec, "a.b[0]") == 1
    assert resolve(rec, "a.b.0") == 1
    assert resolve(rec, "a.b[5] | =true") is True
    assert resolve(rec, '=  {"type": "object"}') == {"type": "object"}
    assert resolve(rec, '="true"') == "true"
    assert resolve(rec, "=plain words") == "plain words"
    assert resolve(rec, 7) == 7
    assert resolve(rec, "$") == rec


def test_object_response_becomes_json_text_and_schema_constant():
    m = {"ts": "t", "model": "=my-model", "response": "out", "schema": {"type": "object"}}
    (_, ev), = convert("mapping", [(1, {"t": "2024-08-06T00:00:00Z", "out": {"a": 1}})], mapping=m).events
    assert ev["response"] == '{"a":1}' and ev["schema"] == {"type": "object"} and ev["expects_json"] is True


@pytest.mark.parametrize("mapping, reason", [
    (None, "needs a non-empty [mapping] table"),
    ({}, "needs a non-empty [mapping] table"),
    ({"ts": "t", "model": "m"}, "must map 'response'"),
    ({"model": "m", "response": "r"}, "must map 'ts'"),
    ({"ts": "t", "model": "m", "response": "r", "colour": "c"}, "unknown canonical field 'colour'"),
    ({"ts": "t", "model": "m", "response": "a[b"}, "mapping.response: bad path"),
])
def test_bad_mapping_raises_adapter_error(mapping, reason):
    with pytest.raises(AdapterError) as ei:
        convert("mapping", [(1, {})], mapping=mapping)
    assert reason in ei.value.reason
    with pytest.raises(AdapterError):
        validate_mapping(mapping)


M = {"ts": "t", "model": "m", "response": "r", "output_tokens": "n", "task_success": "ok",
     "expects_json": "j", "latency_ms": "lat", "finish_reason": "f"}
GOOD = {"t": 1722937300, "m": "model-a", "r": "text"}


@pytest.mark.parametrize("change, reason", [
    ({"r": None}, "response not found"),
    ({"m": None}, "model not found"),
    ({"m": ["x"]}, "model is not a string"),
    ({"t": None}, "no timestamp"),
    ({"t": "not a time"}, "ISO 8601"),
    ({"n": "many"}, "not an integer"),
    ({"ok": "yes"}, "task_success is not a boolean"),
    ({"j": "yes"}, "expects_json is not a boolean"),
    ({"lat": "fast"}, "latency_ms is not a number"),
    ({"f": {"code": 3}}, "finish_reason is not a string"),   # an integer is an enum number: kept
])
def test_malformed_records(change, reason):
    out = convert("mapping", [(2, {**GOOD, **change})], mapping=M)
    assert out.events == [] and out.rejects[0][0] == 2 and reason in out.rejects[0][1]
    assert convert("mapping", [(1, 5)], mapping=M).rejects == [(1, "not a JSON object (number)")]


def test_missing_request_id_is_stable_hash():
    a = convert("mapping", [(1, GOOD)], mapping=M).events[0][1]["request_id"]
    assert a == convert("mapping", [(7, dict(GOOD))], mapping=M).events[0][1]["request_id"]
    assert a.startswith("sha256:")


def test_integer_finish_reason_is_kept_as_its_enum_number():
    """A protobuf-JSON export (Vertex's finishReason: 1) no longer rejects the whole record."""
    table = {"ts": "createTime", "model": "modelVersion", "response": "candidates[0].content.parts[0].text",
             "finish_reason": "candidates[0].finishReason"}
    rec = {"createTime": "2024-10-01T09:30:12Z", "modelVersion": "gemini-1.5-pro-002",
           "candidates": [{"content": {"parts": [{"text": "Paris."}]}, "finishReason": 1}]}
    (_, ev), = convert("mapping", [(1, rec)], mapping=table).events
    assert ev["finish_reason"] == "1"
    bad = dict(rec, candidates=[{"content": {"parts": [{"text": "x"}]}, "finishReason": 1.5}])
    assert convert("mapping", [(1, bad)], mapping=table).rejects == [(1, "finish_reason is not a string")]
