"""Structured-output parse status: hypothesis round trips, hostile inputs, verdict/explanation agreement."""

from __future__ import annotations

import json
import time

import jsonschema
import jsonschema_rs
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.signals import SignalConfig, derive_signals, failure_statuses, is_parse_failure
from monitor.signals.structured import PARSE_STATUSES, JsonLimits, classify_json, explain_violation

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
ws = st.text(alphabet=" \t\r\n", max_size=4)


@settings(max_examples=150, deadline=None)
@given(json_values, st.sampled_from([None, 0, 2]), ws, ws, st.sampled_from(["", "json", "JSON"]), st.booleans())
def test_any_json_value_round_trips(value, indent, pre, post, tag, fenced) -> None:
    body = json.dumps(value, indent=indent, ensure_ascii=False)
    if fenced:
        text = f"{pre}```{tag}\n{body}\n```{post}"
        assert classify_json(text) == ("fenced", None)
    else:
        assert classify_json(pre + body + post) == ("ok", None)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300), st.sampled_from([None, "stop", "length"]), st.sampled_from([None, '{"type": "object"}']))
def test_arbitrary_text_never_raises(text, finish, schema) -> None:
    status, error = classify_json(text, schema, finish)
    assert status in PARSE_STATUSES and status != "not_expected"
    assert (error is None) == (status in ("ok", "fenced"))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=80), st.sampled_from([None, True, False]),
                          st.sampled_from([None, "stop", "length"])), min_size=1, max_size=20))
def test_derive_signals_never_raises(rows) -> None:
    frame = pd.DataFrame(rows, columns=["response", "expects_json", "finish_reason"])
    out = derive_signals(frame)
    assert len(out) == len(frame)
    assert (out["parse_status"] == "not_expected").tolist() == [not bool(r[1]) for r in rows]


@pytest.mark.parametrize(
    "text,finish,expected",
    [
        ('{"a": 1}', None, "ok"),
        ('  [1, 2, 3]\n', "stop", "ok"),
        ('Here you go:\n```json\n{"a": 1}\n```\nAnything else?', None, "fenced"),
        ("~~~\n[true]\n~~~", None, "fenced"),
        ("{'a': 1, 'b': True}", None, "python_literal"),
        ("[None, (1, 2)]", None, "python_literal"),
        ('{"a": [1, 2', None, "truncated"),
        ('{"a": "unterminated', None, "truncated"),
        ('```json\n{"a": [1,', None, "truncated"),
        ('{"a": 1', "length", "truncated"),
        ("Sure, the answer", "max_tokens", "truncated"),
        ('{"a": [1, 2', "stop", "not_json"),
        ('{"a": 1,}', None, "not_json"),
        ("Sure! The capital is Paris.", None, "not_json"),
        ("", None, "not_json"),
        ("NaN", None, "not_json"),
    ],
)
def test_status_table(text: str, finish: str | None, expected: str) -> None:
    assert classify_json(text, None, finish)[0] == expected


def test_error_names_position_and_keyword() -> None:
    status, error = classify_json('{"a": }')
    assert status == "not_json" and "char 6" in error
    schema = json.dumps({"type": "object", "properties": {"items": {"type": "array", "items": {"type": "integer"}}}})
    status, error = classify_json('{"items": [1, "two"]}', schema)
    assert status == "schema_violation"
    assert error.startswith("type at /items/1")
    status, error = classify_json('```json\n{"items": ["x"]}\n```', schema)
    assert status == "schema_violation" and error.startswith("in code fence: type at /items/0")


def test_schema_implies_expects_json_and_modes() -> None:
    frame = pd.DataFrame(
        {
            "response": ['{"id": 1}', '```json\n{"id": 1}\n```', '{"id": "x"}', "plain text", "plain"],
            "expects_json": [None, True, None, False, None],
            "schema": ['{"properties": {"id": {"type": "integer"}}}', None,
                       '{"properties": {"id": {"type": "integer"}}}', None, None],
            "finish_reason": [None, "stop", None, None, None],
        },
        index=pd.Index(["a", "b", "c", "d", "e"]),
    )
    strict = derive_signals(frame)
    assert list(strict.index) == list("abcde")
    assert strict["expects_json"].tolist() == [True, True, True, False, False]
    assert strict["parse_status"].tolist() == ["ok", "fenced", "schema_violation", "not_expected", "not_expected"]
    assert strict["parse_failed"].tolist() == [False, True, True, False, False]
    extract = derive_signals(frame, SignalConfig(json_mode="extract"))
    assert extract["parse_failed"].tolist() == [False, False, True, False, False]
    assert strict["parse_error"].tolist()[0] is None
    assert str(strict["chars"].dtype) == "int64" and str(strict["words"].dtype) == "int64"
    assert strict["refusal"].dtype == bool and strict["parse_failed"].dtype == bool


def test_failure_helpers() -> None:
    assert failure_statuses("strict") - failure_statuses("extract") == {"fenced"}
    assert is_parse_failure(np.array(["ok", "truncated"]), "extract").tolist() == [False, True]
    with pytest.raises(ValueError):
        failure_statuses("lenient")
    with pytest.raises(ValueError):
        SignalConfig(json_mode="lenient").validate()


# ------------------------------------------------------------------------------ hostile input


def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def test_ten_megabyte_response() -> None:
    big = '{"a": "' + "x" * 10_000_000 + '"}'
    (status, error), dt = _timed(classify_json, big)
    assert status == "not_json" and error.startswith("limit:")
    (status, _), dt2 = _timed(classify_json, big, None, None, JsonLimits(max_json_chars=20_000_000))
    assert status == "ok"
    assert dt < 2 and dt2 < 2


def test_deep_nesting() -> None:
    (status, error), dt = _timed(classify_json, "[" * 10_000 + "]" * 10_000)
    assert status == "not_json" and "depth" in error and dt < 2
    (status, _), dt = _timed(classify_json, "[" * 10_000)
    assert status in ("truncated", "not_json") and dt < 2
    deep_ok = "[" * 1000 + "]" * 1000
    status, _ = classify_json(deep_ok, '{"$defs": {"a": {"type": "array", "items": {"$ref": "#/$defs/a"}}}, "$ref": "#/$defs/a"}')
    assert status == "ok"
    status, error = classify_json("(" * 10_000 + ")" * 10_000)
    assert status == "not_json"


@pytest.mark.parametrize(
    "schema",
    [
        json.dumps({"pattern": "a" * 100_000}),
        json.dumps({"pattern": "(a{1000}){1000}"}),
        json.dumps({"pattern": "(" * 5000 + ")" * 5000}),
        json.dumps({"$ref": "http://example.invalid/schema.json"}),
        "{not json",
        json.dumps([1, 2]),
        json.dumps({"type": "no-such-type"}),
    ],
)
def test_hostile_schemas_give_a_status(schema: str) -> None:
    (status, error), dt = _timed(classify_json, '"aaaa"', schema)
    assert status == "schema_violation" and error.startswith("schema error"), (status, error)
    assert dt < 2


def test_catastrophic_pattern_is_bounded() -> None:
    schema = json.dumps({"type": "object", "properties": {"s": {"pattern": "^(a+)+$"}}})
    (status, error), dt = _timed(classify_json, json.dumps({"s": "a" * 40 + "!"}), schema)
    assert status == "schema_violation" and error.startswith("pattern at /s") and dt < 2


# -------------------------------------------- compiled verdict vs jsonschema explanation agreement

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["id", "name", "tags"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "integer", "minimum": 1},
        "name": {"type": "string", "minLength": 2, "maxLength": 20, "pattern": "^[A-Za-z ]+$"},
        "email": {"type": "string", "format": "email"},
        "ip": {"type": "string", "format": "ipv4"},
        "day": {"type": "string", "format": "date"},
        "kind": {"enum": ["a", "b"]},
        "score": {"type": "number", "exclusiveMaximum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": True},
        "meta": {"type": "object", "patternProperties": {"^x-": {"type": "integer"}}},
        "one": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "c": {"const": 7},
    },
}
VALID = {"id": 1, "name": "Ann", "tags": []}
MUTATIONS = [
    ({}, None),
    ({"id": 0}, "minimum"),
    ({"id": "1"}, "type"),
    ({"name": "A"}, "minLength"),
    ({"name": "A" * 30}, "maxLength"),
    ({"name": "Ann1"}, "pattern"),
    ({"email": "not-an-email"}, "format"),
    ({"email": "a@b.org"}, None),
    ({"ip": "300.1.1.1"}, "format"),
    ({"day": "2024-13-45"}, "format"),
    ({"day": "2024-02-29"}, None),
    ({"kind": "c"}, "enum"),
    ({"score": 1}, "exclusiveMaximum"),
    ({"tags": ["a", "a"]}, "uniqueItems"),
    ({"tags": ["a", "b", "c", "d"]}, "maxItems"),
    ({"tags": [1]}, "type"),
    ({"meta": {"x-a": "s"}}, "type"),
    ({"meta": {"y": "s"}}, None),
    ({"one": 1.5}, "oneOf"),
    ({"c": 8}, "const"),
    ({"extra": 1}, "additionalProperties"),
]


@pytest.mark.parametrize("patch,keyword", MUTATIONS, ids=[str(m[0])[:30] for m in MUTATIONS])
def test_compiled_verdict_agrees_with_jsonschema(patch: dict, keyword: str | None) -> None:
    instance = {**VALID, **patch}
    rs = jsonschema_rs.validator_for(SCHEMA, validate_formats=True)
    py = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert rs.is_valid(instance) == py.is_valid(instance) == (keyword is None)
    status, error = classify_json(json.dumps(instance), json.dumps(SCHEMA))
    if keyword is None:
        assert (status, error) == ("ok", None)
    else:
        assert status == "schema_violation"
        assert error.split(" at ")[0] == keyword
        rs_keywords = {str(e.schema_path[-1]) for e in rs.iter_errors(instance)}
        assert keyword in rs_keywords


def test_missing_required_is_explained() -> None:
    assert explain_violation(SCHEMA, {"id": 1, "name": "Ann"}).startswith("required at /")


# ---------------------------------------------------------------------------------- tool calls

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "required": ["city"],
                "properties": {"city": {"type": "string"}, "days": {"type": "integer", "maximum": 14}},
                "additionalProperties": False,
            },
        },
    },
    {"type": "function", "function": {"name": "noop"}},
]


def _call(name: str, args) -> dict:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": args}}


@pytest.mark.parametrize(
    "calls,finish,status",
    [
        ([_call("get_weather", '{"city": "Paris"}')], "tool_calls", "ok"),
        ([_call("get_weather", {"city": "Paris", "days": 3})], None, "ok"),
        ([_call("noop", "{}")], None, "ok"),
        ([_call("get_weather", '{"city": "Paris", "days": 99}')], None, "schema_violation"),
        ([_call("get_weather", '{"city": "Paris"}'), _call("drop_db", "{}")], None, "schema_violation"),
        ([_call("get_weather", "{'city': 'Paris'}")], None, "python_literal"),
        ([_call("get_weather", '{"city": "Par')], "length", "truncated"),
        ([_call("get_weather", "Paris")], None, "not_json"),
        ([], None, "not_json"),
        ("not json at all", None, "not_json"),
    ],
)
def test_tool_calls_against_declared_parameters(calls, finish, status) -> None:
    from monitor.signals import classify_tool_calls

    assert classify_tool_calls(calls, TOOLS, finish)[0] == status
    assert classify_tool_calls(json.dumps(calls) if not isinstance(calls, str) else calls, json.dumps(TOOLS), finish)[0] == status


AGREEMENT_SCHEMAS = [
    {"type": "object"},
    {"type": "array", "items": {"type": ["integer", "string"]}},
    {"type": "object", "properties": {"a": {"type": "integer", "minimum": 0}}, "required": ["a"]},
    {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "number", "multipleOf": 0.5}]},
    {"type": "object", "additionalProperties": {"type": "boolean"}, "maxProperties": 3},
    {"type": "array", "minItems": 1, "uniqueItems": True, "contains": {"type": "null"}},
    {"not": {"type": "string"}, "enum": [None, True, 1, [1], {"a": 1}]},
]


@settings(max_examples=200, deadline=None)
@given(json_values, st.sampled_from(range(len(AGREEMENT_SCHEMAS))))
def test_verdicts_agree_on_random_instances(value, which) -> None:
    schema = AGREEMENT_SCHEMAS[which]
    rs = jsonschema_rs.validator_for(schema, validate_formats=True)
    py = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    verdict = rs.is_valid(value)
    assert verdict == py.is_valid(value)
    status, error = classify_json(json.dumps(value), json.dumps(schema))
    assert status == ("ok" if verdict else "schema_violation")
    if not verdict:
        keyword = error.split(" at ")[0]
        rs_keywords = {str(p) for e in rs.iter_errors(value) for p in e.schema_path}
        assert keyword in rs_keywords, (error, rs_keywords)


def test_builtin_rules_have_no_capturing_groups() -> None:
    """Built-in rules are combined into one alternation whose Nth group names the Nth rule."""
    import re

    from monitor.signals.refusal_rules import RULES

    capturing = re.compile(r"(?<!\\)\((?!\?)")
    for rule in RULES:
        assert not capturing.search(rule.pattern.replace("\\\\", "")), rule.name


def test_derive_signals_with_tool_call_columns() -> None:
    frame = pd.DataFrame(
        {
            "response": ["", "", "plain answer"],
            "tool_calls": [json.dumps([_call("get_weather", '{"city": "Paris"}')]),
                           [_call("get_weather", '{"days": 3}')], None],
            "tools": [json.dumps(TOOLS), TOOLS, None],
        }
    )
    out = derive_signals(frame)
    assert out["expects_json"].tolist() == [True, True, False]
    assert out["parse_status"].tolist() == ["ok", "schema_violation", "not_expected"]
    assert out["parse_error"].iat[1].startswith("tool_calls[0] get_weather: required at /")
