"""Provider-reported refusals (rule provider:<reason>), records without a time (fallback + flag),
and the models table with long Bedrock ids; through the real CLI."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from helpers import run_cli

FIX = Path(__file__).parent / "fixtures"


def _signals(path: Path) -> tuple[list[dict], str]:
    proc = run_cli("signals", str(path))
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def test_provider_blocks_count_as_refusals_whatever_the_text() -> None:
    rows, stderr = _signals(FIX / "gemini.jsonl")
    rules = {r["request_id"]: r["refusal_rule"] for r in rows if r["refusal"]}
    assert rules == {"blk-SAFETY-0001": "provider:SAFETY", "blk-PROHIB-0001": "provider:PROHIBITED_CONTENT",
                     "rec-0001": "provider:RECITATION"}
    assert all(r["refusal_class"] == "full_refusal" for r in rows if r["refusal"])
    assert "quarantined: API error: RESOURCE_EXHAUSTED" in stderr
    rows, _ = _signals(FIX / "bedrock.jsonl")
    assert sorted(r["refusal_rule"] for r in rows if r["refusal"]) == ["provider:content_filtered",
                                                                       "provider:guardrail_intervened"]
    rows, _ = _signals(FIX / "anthropic_messages.jsonl")
    assert [r["request_id"] for r in rows if r["refusal_rule"] == "provider:refusal"] == ["msg_01Refusal0000000000001"]


def test_records_without_a_time_take_the_file_time_and_say_so(tmp_path: Path) -> None:
    log = tmp_path / "claude.jsonl"
    log.write_text((FIX / "anthropic_stream.jsonl").read_text())
    stamp = datetime(2026, 2, 3, 4, 5, 6, tzinfo=timezone.utc).timestamp()
    os.utime(log, (stamp, stamp))
    store = tmp_path / "store"
    proc = run_cli("ingest", "--store", str(store), str(log))
    assert proc.returncode == 0 and "2 ingested, 0 duplicate, 0 quarantined" in proc.stdout, proc.stdout + proc.stderr
    import monitor

    rows = monitor.open(store).sql("SELECT ts, attributes FROM events").to_dict("records")
    assert [str(r["ts"]) for r in rows] == ["2026-02-03 04:05:06+00:00"] * 2
    assert all(json.loads(r["attributes"])["ts_inferred"] is True for r in rows)


def test_models_table_keeps_long_bedrock_ids_apart(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert run_cli("ingest", "--store", str(store), str(FIX / "bedrock.jsonl")).returncode == 0
    proc = run_cli("models", "--store", str(store))
    assert proc.returncode == 0, proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()[2:]]
    assert "anthropic.claude-3-5-sonnet-20241022-v2:0" in names and "anthropic.claude-3-7-sonnet-20250219-v1:0" in names
    assert "application-inference-profile/k2d8f0example" in names
    assert len(set(names)) == len(names)
