"""Native adapter: pass-through with light normalization."""
from __future__ import annotations

import json
from pathlib import Path

from monitor.adapters import convert, detect_format

FIX = Path(__file__).parent / "fixtures"


def load(name: str) -> list[tuple[int, object]]:
    return [(n, json.loads(line)) for n, line in
            enumerate((FIX / name).read_text(encoding="utf-8").splitlines(), start=1)]


def test_detect():
    assert detect_format([r for _, r in load("native.jsonl")]) == "native"


def test_pass_through_and_normalization():
    recs = load("native.jsonl")
    out = convert("native", recs, route="fallback")
    assert out.rejects == []
    (_, a), (_, b), (_, c) = out.events
    # untouched fields pass through exactly, plus attributes.pinned
    expected = dict(recs[0][1])
    expected["attributes"] = {"customer_tier": "pro", "pinned": True}
    assert a == expected
    assert b["attributes"] == {"pinned": True}           # digest pins the Ollama tag
    assert c["ts"] == "2024-08-06T09:15:06Z"             # epoch number -> ISO
    assert c["model_version"] == "unknown" and c["route"] == "fallback"
    assert c["attributes"] == {"pinned": False}


def test_native_keeps_invalid_values_for_schema_validation():
    # the ingest validates against the JSON Schema; the adapter does not second-guess
    (_, ev), = convert("native", [(1, {"ts": "x", "request_id": "r", "model": "m", "response": 5})]).events
    assert ev["response"] == 5


def test_native_rejects():
    out = convert("native", [(1, "x"), (2, {"ts": "2024-01-01T00:00:00Z", "model": "m", "response": "r",
                                            "request_id": 5}), (3, {"ts": 1e300, "model": "m", "response": "r"})])
    assert out.rejects[0] == (1, "not a JSON object (string)")
    assert out.rejects[1] == (2, "request_id is not a string")
    assert out.rejects[2][0] == 3 and "out of range" in out.rejects[2][1]


def test_missing_request_id_hashed():
    rec = {"ts": "2024-01-01T00:00:00Z", "model": "m", "response": "r"}
    a = convert("native", [(1, rec)]).events[0][1]["request_id"]
    assert a == convert("native", [(2, dict(rec))]).events[0][1]["request_id"]
