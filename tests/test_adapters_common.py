"""Cross-format properties: detection, schema conformance, never-raise, identity rules."""
from __future__ import annotations

import json
import tomllib
from datetime import datetime
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.adapters import FORMATS, Converted, convert, detect_format, is_pinned, split_identity

FIX = Path(__file__).parent / "fixtures"
SCHEMA = json.loads((Path(__file__).parent.parent / "monitor" / "event_schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
MAPPING = tomllib.loads((FIX / "mapping_custom.toml").read_text())["mapping"]

FIXTURES = {
    "native.jsonl": "native", "openai_chat.jsonl": "openai", "openai_responses.jsonl": "openai",
    "openai_malformed.jsonl": "openai", "openai_chat_stream.jsonl": "openai",
    "ollama_generate.jsonl": "ollama",
    "ollama_chat_stream.jsonl": "ollama", "otel_genai.jsonl": "otel", "litellm.jsonl": "litellm",
    "mapping_custom.jsonl": None, "anthropic_messages.jsonl": "anthropic", "anthropic_stream.jsonl": "anthropic",
    "gemini.jsonl": "gemini", "gemini_stream.jsonl": "gemini", "bedrock.jsonl": "bedrock",
    "bedrock_stream.jsonl": "bedrock", "openai_responses_stream.jsonl": "openai", "ollama_reasoning.jsonl": "ollama",
}
FALLBACK = "2026-01-01T00:00:00Z"  # the time of records without one (bare Anthropic / Gemini API payloads)


def load(name: str) -> list[tuple[int, object]]:
    out = []
    for n, line in enumerate((FIX / name).read_text(encoding="utf-8").splitlines(), start=1):
        try:
            out.append((n, json.loads(line)))
        except ValueError:
            pass
    return out


def test_formats_tuple():
    assert FORMATS == ("native", "openai", "ollama", "otel", "litellm", "anthropic", "gemini", "bedrock", "mapping")


@pytest.mark.parametrize("name, fmt", sorted(FIXTURES.items()))
def test_detect_each_fixture(name, fmt):
    assert detect_format([r for _, r in load(name)]) == fmt


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_event_is_schema_valid_and_complete(name):
    fmt = FIXTURES[name] or "mapping"
    out = convert(fmt, load(name), mapping=MAPPING, fallback_ts=FALLBACK)
    assert out.events
    for _, ev in out.events:
        VALIDATOR.validate(ev)
        datetime.fromisoformat(ev["ts"].replace("Z", "+00:00"))
        for key in ("ts", "request_id", "model", "model_version"):
            assert isinstance(ev[key], str) and ev[key], key
        # an empty answer only where the provider withheld it (a block it reported itself)
        assert isinstance(ev["response"], str) and (ev["response"] or ev["attributes"].get("provider_refusal")
                                                    or ev.get("reasoning")), ev
        assert isinstance(ev["attributes"]["pinned"], bool)
    ids = [ev["request_id"] for _, ev in out.events]
    assert len(ids) == len(set(ids))


def test_other_formats_reject_rather_than_misread():
    """Feeding a file to the wrong adapter yields rejects (with reasons), never events or errors."""
    for name, fmt in FIXTURES.items():
        for other in ("openai", "ollama", "otel", "litellm", "anthropic", "gemini", "bedrock"):
            if other == fmt or fmt is None:
                continue
            out = convert(other, load(name))
            assert all(isinstance(r, str) and r for _, r in out.rejects)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["model", "response", "choices", "message", "content", "done",
                                       "created", "created_at", "id", "ts", "resourceSpans",
                                       "scopeSpans", "spans", "attributes", "request", "output",
                                       "object", "call_type", "status", "endTime", "usage", "type",
                                       "candidates", "parts", "text", "finishReason", "usageMetadata",
                                       "modelVersion", "responseId", "promptFeedback", "blockReason",
                                       "stopReason", "modelId", "messageStart", "contentBlockDelta",
                                       "messageStop", "metadata", "delta", "index", "error", "stop_reason",
                                       "sequence_number", "item_id", "message_start", "thinking"])
                      | st.text(max_size=8), children, max_size=6),
    max_leaves=25,
)


def _mutated_fixture_records():
    recs = []
    for name in FIXTURES:
        recs.extend(r for _, r in load(name))
    return recs


FIXTURE_RECORDS = _mutated_fixture_records()


def _assert_well_formed(out: Converted, n: int) -> None:
    assert isinstance(out, Converted)
    for line, ev in out.events:
        assert 1 <= line <= n and isinstance(ev, dict)
    for line, reason in out.rejects:
        assert 1 <= line <= n and isinstance(reason, str) and reason
        # the defensive catch-all must not be what handled it: every reject has a real reason
        assert not reason.startswith(("unreadable record", "unreadable span")), reason


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(json_values, min_size=1, max_size=4), st.sampled_from(FORMATS))
def test_convert_never_raises_on_arbitrary_json(values, fmt):
    records = list(enumerate(values, start=1))
    out = convert(fmt, records, mapping=MAPPING, fallback_ts=FALLBACK)
    _assert_well_formed(out, len(records))
    detect_format(values)


def _replace_some(value, repl, path_choice):
    """Replace one nested value of a real record (fuzzing near the real shapes)."""
    if isinstance(value, dict) and value:
        keys = sorted(value)
        k = keys[path_choice % len(keys)]
        new = dict(value)
        new[k] = repl if path_choice % 3 == 0 else _replace_some(value[k], repl, path_choice // 3)
        return new
    if isinstance(value, list) and value:
        i = path_choice % len(value)
        new = list(value)
        new[i] = repl if path_choice % 2 == 0 else _replace_some(value[i], repl, path_choice // 2)
        return new
    return repl


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(len(FIXTURE_RECORDS))), json_values, st.integers(0, 10_000),
       st.sampled_from(FORMATS))
def test_convert_never_raises_on_mutated_fixture_records(i, repl, choice, fmt):
    rec = _replace_some(FIXTURE_RECORDS[i], repl, choice)
    out = convert(fmt, [(1, rec)], mapping=MAPPING, fallback_ts=FALLBACK)
    _assert_well_formed(out, 1)


@pytest.mark.parametrize("model, version, pinned", [
    ("llama3", None, False),
    ("llama3:latest", None, False),
    ("llama3:latest", "unknown", False),
    ("llama3:latest", "latest", False),
    ("llama3.1:8b", None, False),
    ("llama3.1:8b-instruct-q4_K_M", None, False),
    ("llama3.1:8b-instruct-q4_K_M", "sha256:46e0c10c039e019119339687c3c1757cc81b9da49709a3b3924863ba87ca666e", True),
    ("llama3.1:8b", "46e0c10c039e", True),
    ("llama3@sha256:46e0c10c039e019119339687c3c1757cc81b9da49709a3b3924863ba87ca666e", None, True),
    ("gpt-4o", None, False),
    ("gpt-4o", "unknown", False),
    ("gpt-4o", "", False),
    ("gpt-4o-2024-08-06", None, True),
    ("gpt-4o-mini-2024-07-18", "unknown", True),
    ("gpt-4-0613", None, True),
    ("gpt-3.5-turbo-0125", None, True),
    ("claude-3-5-sonnet-20241022", None, True),
    ("claude-3-5-sonnet-latest", None, False),
    ("gemini-1.5-pro-002", None, True),
    ("gemini-1.5-pro", None, False),
    ("mistral-7b", None, False),
    ("mistral-small-2409", None, True),
    ("mistral-small-latest", None, False),
    ("my-finetune", "v2.3.1", True),
    ("my-finetune", "2024-08-06", True),
])
def test_is_pinned_table(model, version, pinned):
    assert is_pinned(model, version) is pinned


def test_split_identity_keeps_alias_apart():
    ident = split_identity("gpt-4o-2024-08-06", "gpt-4o")
    assert (ident.model, ident.model_version, ident.requested_model, ident.pinned) == \
        ("gpt-4o-2024-08-06", "2024-08-06", "gpt-4o", True)
    ident = split_identity(None, "llama3.1:8b", version="sha256:abc123abc123abc123")
    assert ident.model == "llama3.1:8b" and ident.pinned is True
    assert split_identity(None, None).model is None


DOCS = Path(__file__).parent.parent / "docs" / "FORMATS.md"


def _doc_blocks(lang: str) -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    parts = text.split("```" + lang + "\n")[1:]
    return [p.split("```", 1)[0] for p in parts]


def test_docs_examples_convert_cleanly():
    """Every example line in docs/FORMATS.md is detected as documented and converts without rejects."""
    blocks = _doc_blocks("json")
    expected = ["native", "openai", "ollama", "otel", "litellm", "anthropic", "anthropic", "gemini", "bedrock",
                "openai", None]
    assert len(blocks) == len(expected)
    table = tomllib.loads(_doc_blocks("toml")[0])["mapping"]
    for block, fmt in zip(blocks, expected):
        recs = [(n, json.loads(line)) for n, line in enumerate(block.strip().splitlines(), start=1)]
        assert detect_format([r for _, r in recs]) == fmt
        out = convert(fmt or "mapping", recs, mapping=table, fallback_ts=FALLBACK)
        assert out.rejects == [] and out.events, fmt
        for _, ev in out.events:
            VALIDATOR.validate(ev)


def test_otel_structured_output_messages_attribute():
    """gen_ai.output.messages as a structured (arrayValue/kvlistValue) attribute, not a JSON string."""
    def kv(key, value):
        return {"key": key, "value": value}
    msg = {"kvlistValue": {"values": [
        kv("role", {"stringValue": "assistant"}),
        kv("finish_reason", {"stringValue": "stop"}),
        kv("parts", {"arrayValue": {"values": [{"kvlistValue": {"values": [
            kv("type", {"stringValue": "text"}), kv("content", {"stringValue": "structured hi"})]}}]}})]}}
    span = {"spanId": "s1", "traceId": "t1", "startTimeUnixNano": "1722937000000000000",
            "endTimeUnixNano": "1722937000500000000",
            "attributes": [kv("gen_ai.provider.name", {"stringValue": "openai"}),
                           kv("gen_ai.request.model", {"stringValue": "gpt-4o"}),
                           kv("gen_ai.output.messages", {"arrayValue": {"values": [msg]}})]}
    out = convert("otel", [(1, {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})])
    (_, ev), = out.events
    assert ev["response"] == "structured hi" and ev["finish_reason"] == "stop"
    assert ev["model"] == "gpt-4o" and ev["attributes"]["pinned"] is False


@pytest.mark.parametrize("name, fmt", [("ollama_chat_stream.jsonl", "ollama"),
                                       ("openai_chat_stream.jsonl", "openai"),
                                       ("openai_responses_stream.jsonl", "openai"),
                                       ("anthropic_stream.jsonl", "anthropic"),
                                       ("gemini_stream.jsonl", "gemini"),
                                       ("bedrock_stream.jsonl", "bedrock"),
                                       ("ollama_reasoning.jsonl", "ollama")])
def test_carrying_open_streams_over_batches_gives_the_same_events(name, fmt):
    """Split a streamed file anywhere; holding back open_stream_lines() loses and duplicates nothing."""
    from monitor.adapters import open_stream_lines
    recs = load(name)
    whole = convert(fmt, recs, fallback_ts=FALLBACK)
    assert whole.rejects == [] and whole.events
    for k in range(len(recs) + 1):
        first = recs[:k]
        held = set(open_stream_lines(fmt, first))
        a = convert(fmt, [r for r in first if r[0] not in held], fallback_ts=FALLBACK)
        b = convert(fmt, [r for r in first if r[0] in held] + recs[k:], fallback_ts=FALLBACK)
        assert a.rejects == [] and b.rejects == [], k
        assert sorted(a.events + b.events, key=lambda e: e[0]) == whole.events, k
