"""Structured-output parse + validate throughput and a status table on a generated corpus.

Usage: python benchmarks/structured_quality.py [--n 100000] [--seed 7]

1. Throughput: N JSON responses (realistic tool-call-like objects, 90% schema-valid, 10%
   violating) parsed with orjson and validated with the cached compiled jsonschema_rs
   validator, on one core (this process; no threads). Prints events/s, and the same for the
   `jsonschema` (pure Python) validator on a sample for comparison.
2. Status table: a generated corpus covering every status (ok, fenced, not_json,
   python_literal, truncated by finish_reason and by brackets, schema_violation, not_expected),
   run through `derive_signals`, with the expected and the observed status per case.
Not a test.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.signals import SignalConfig, derive_signals  # noqa: E402
from monitor.signals.structured import parse_batch  # noqa: E402

SCHEMA = {
    "type": "object",
    "required": ["name", "arguments"],
    "properties": {
        "name": {"type": "string", "enum": ["get_weather", "search", "book"]},
        "arguments": {
            "type": "object",
            "required": ["city", "days"],
            "properties": {
                "city": {"type": "string", "minLength": 1, "maxLength": 60},
                "days": {"type": "integer", "minimum": 1, "maximum": 14},
                "units": {"enum": ["metric", "imperial"]},
                "email": {"type": "string", "format": "email"},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
            },
            "additionalProperties": False,
        },
    },
}
CITIES = ["Paris", "Lyon", "Berlin", "São Paulo", "東京", "New York", "Zürich", "Nairobi"]


def make_event(rng: random.Random) -> dict:
    args = {"city": rng.choice(CITIES), "days": rng.randint(1, 14), "units": rng.choice(["metric", "imperial"]),
            "tags": [rng.choice(["a", "bb", "ccc"]) for _ in range(rng.randint(0, 4))]}
    if rng.random() < 0.3:
        args["email"] = "user%d@example.com" % rng.randint(1, 999)
    if rng.random() < 0.10:  # schema violation
        args["days"] = rng.choice([0, 99, "3"])
    return {"name": rng.choice(["get_weather", "search", "book"]), "arguments": args}


def throughput(n: int, seed: int) -> None:
    rng = random.Random(seed)
    schema = json.dumps(SCHEMA)
    responses = [json.dumps(make_event(rng), ensure_ascii=False) for _ in range(n)]
    exp = [True] * n
    schemas = [schema] * n
    finish = ["stop"] * n
    parse_batch(responses[:100], exp[:100], schemas[:100], finish[:100])  # warm the validator cache
    t0 = time.perf_counter()
    statuses, _ = parse_batch(responses, exp, schemas, finish)
    dt = time.perf_counter() - t0
    counts = pd.Series(statuses).value_counts()
    print("parse + validate (orjson + cached jsonschema_rs, failures explained by jsonschema), one core:")
    print(f"  {n:,} JSON responses in {dt:.2f} s = {n / dt:,.0f} events/s   statuses: {counts.to_dict()}")

    import jsonschema
    import orjson

    v = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    sample = responses[: min(n, 10_000)]
    t0 = time.perf_counter()
    for r in sample:
        v.is_valid(orjson.loads(r))
    dt2 = time.perf_counter() - t0
    print(f"  for comparison, orjson + jsonschema (Python) validator: {len(sample) / dt2:,.0f} events/s")


CORPUS = [
    # (expected status, response, expects_json, schema?, finish_reason)
    ("ok", '{"name": "search", "arguments": {"city": "Paris", "days": 2}}', True, True, "stop"),
    ("ok", '  [1, 2, 3]\n', True, False, None),
    ("fenced", '```json\n{"name": "book", "arguments": {"city": "Lyon", "days": 3}}\n```', True, True, "stop"),
    ("fenced", 'Here is the call:\n```\n{"a": 1}\n```\nDone.', True, False, "stop"),
    ("not_json", "Sure! I'll look up the weather in Paris for you.", True, True, "stop"),
    ("not_json", '{"a": 1,}', True, False, "stop"),
    ("not_json", "[" * 5000 + "]" * 5000, True, False, "stop"),
    ("python_literal", "{'name': 'search', 'arguments': {'city': 'Paris', 'days': 2}}", True, False, "stop"),
    ("python_literal", '{"ok": True, "value": None}', True, False, None),
    ("truncated", '{"name": "search", "arguments": {"city": "Par', True, True, "length"),
    ("truncated", '{"name": "search", "arguments": {"city": "Paris", "days": 2', True, True, None),
    ("truncated", '```json\n{"name": "search", "arguments": [', True, True, "max_tokens"),
    ("schema_violation", '{"name": "search", "arguments": {"city": "Paris", "days": 99}}', True, True, "stop"),
    ("schema_violation", '{"name": "delete_all", "arguments": {"city": "Paris", "days": 1}}', True, True, "stop"),
    ("schema_violation", '```json\n{"name": "search"}\n```', True, True, "stop"),
    ("not_expected", "The capital of France is Paris.", False, False, "stop"),
    ("not_expected", '{"a": 1}', None, False, None),
]


def status_table() -> None:
    schema = json.dumps(SCHEMA)
    frame = pd.DataFrame(
        {
            "response": [c[1] for c in CORPUS],
            "expects_json": [c[2] for c in CORPUS],
            "schema": [schema if c[3] else None for c in CORPUS],
            "finish_reason": [c[4] for c in CORPUS],
            "model": "bench",
        }
    )
    strict = derive_signals(frame)
    extract = derive_signals(frame, SignalConfig(json_mode="extract"))
    table = pd.DataFrame(
        {
            "expected": [c[0] for c in CORPUS],
            "status": strict["parse_status"],
            "failed_strict": strict["parse_failed"],
            "failed_extract": extract["parse_failed"],
            "parse_error": strict["parse_error"].map(lambda e: None if e is None else e[:70]),
            "response": frame["response"].map(lambda r: repr(r[:38])),
        }
    )
    pd.set_option("display.width", 200)
    pd.set_option("display.max_colwidth", 80)
    print("\nStatus table on the generated corpus:")
    print(table.to_string())
    ok = (table["expected"] == table["status"]).all()
    print(f"\nall statuses as expected: {ok}; statuses covered: {sorted(set(table['status']))}")
    print("\nStatus counts:")
    print(table["status"].value_counts().to_string())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args(argv)
    throughput(args.n, args.seed)
    status_table()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
