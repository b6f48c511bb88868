"""The CLI end to end, in real subprocesses, on real files and a real Parquet store."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from helpers import event, run_cli, write_jsonl


def _store_count(store: Path) -> int:
    files = sorted((store / "events").glob("*.parquet"))
    if not files:
        return 0
    return duckdb.connect().execute(f"select count(*) from read_parquet({[str(f) for f in files]})").fetchone()[0]


def test_ingest_twice_adds_nothing(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [event(i) for i in range(50)])
    store = tmp_path / "store"
    first = run_cli("ingest", str(log), "--store", str(store))
    assert first.returncode == 0, first.stderr
    assert "50 ingested, 0 duplicate, 0 quarantined" in first.stdout
    second = run_cli("ingest", str(log), "--store", str(store))
    assert second.returncode == 0, second.stderr
    assert "0 ingested, 50 duplicate, 0 quarantined" in second.stdout
    assert _store_count(store) == 50


def test_store_env_variable_is_the_default(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [event(i) for i in range(3)])
    result = run_cli("ingest", str(log), env={"LLM_MONITOR_STORE": str(tmp_path / "envstore")})
    assert result.returncode == 0, result.stderr
    assert _store_count(tmp_path / "envstore") == 3


def test_default_store_is_in_working_directory(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "a.jsonl", [event(i) for i in range(2)])
    result = run_cli("ingest", str(log), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _store_count(tmp_path / "llm-monitor-data") == 2


def test_mixed_file_quarantines_every_bad_line_with_reason(tmp_path: Path) -> None:
    good = [event(i) for i in range(5)]
    lines: list = [good[0], b"{not json", good[1], {"ts": "2026-11-01T00:00:00Z", "request_id": "x", "model": "m"},
                   good[2], event(99, output_tokens="many"), b'{"response": "\xff\xfe bad bytes"}', good[3],
                   event(98, ts="not a time"), good[4], event(97, model=7)]
    log = write_jsonl(tmp_path / "mixed.jsonl", lines)
    store = tmp_path / "store"
    result = run_cli("ingest", str(log), "--store", str(store))
    assert result.returncode == 0, result.stderr
    assert "5 ingested, 0 duplicate, 6 quarantined" in result.stdout
    rows = [json.loads(line) for f in (store / "quarantine").glob("*.jsonl") for line in f.read_text().splitlines()]
    by_line = {r["line"]: r for r in rows}
    assert set(by_line) == {2, 4, 6, 7, 9, 11}
    assert by_line[2]["reason"].startswith("invalid JSON")
    assert "response" in by_line[4]["reason"] and "required" in by_line[4]["reason"]
    assert "output_tokens" in by_line[6]["reason"]
    assert by_line[7]["reason"].startswith("invalid UTF-8")
    assert "ts" in by_line[9]["reason"]
    assert "model" in by_line[11]["reason"]
    # nothing is lost: the raw bytes are kept (base64 when not UTF-8)
    import base64
    assert base64.b64decode(by_line[7]["raw_base64"]) == b'{"response": "\xff\xfe bad bytes"}'
    assert by_line[2]["raw"] == "{not json"
    assert all(r["source"].endswith("mixed.jsonl") for r in rows)
    again = run_cli("ingest", str(log), "--store", str(store))
    assert "0 ingested, 11 duplicate, 0 quarantined" in again.stdout
    assert _store_count(store) == 5


def test_signals_prints_one_json_line_per_event(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "s.jsonl", [
        event(1, response="I'm sorry, but I can't help with that."),
        event(2, response="I'm sorry to hear that. Here is how to fix it: restart."),
        event(3, response='{"a": 1}', expects_json=True),
        event(4, response='{"a": 1,', expects_json=True, finish_reason="length", output_tokens=7),
        event(5, response='{"a": "x"}', schema={"type": "object", "properties": {"a": {"type": "integer"}}}),
        event(6, response="plain words here", task_success=True),
    ])
    result = run_cli("signals", str(log))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["request_id"] for r in rows] == [f"req-{i}" for i in range(1, 7)]
    assert set(rows[0]) >= {"request_id", "model", "model_version", "chars", "words", "output_tokens", "refusal",
                            "refusal_rule", "expects_json", "parse_status", "parse_error", "task_success"}
    assert rows[0]["refusal"] is True and rows[0]["refusal_rule"]
    assert rows[1]["refusal"] is False
    assert rows[2]["parse_status"] == "ok" and rows[2]["expects_json"] is True
    assert rows[3]["parse_status"] == "truncated" and rows[3]["output_tokens"] == 7
    assert rows[4]["parse_status"] == "schema_violation" and "type" in rows[4]["parse_error"]
    assert rows[5]["parse_status"] == "not_expected" and rows[5]["task_success"] is True
    assert rows[5]["chars"] == len("plain words here") and rows[5]["words"] == 3


def _two_windows(tmp_path: Path, refusal_v2: float) -> Path:
    import random

    rnd = random.Random(3)
    events = []
    for version, rate in (("v1", 0.02), ("v2", refusal_v2)):
        for i in range(3000):
            refuse = rnd.random() < rate
            text = "I'm sorry, but I can't help with that." if refuse else "Sure. " + "word " * rnd.randint(20, 40)
            events.append(event(len(events), model_version=version, response=text))
    log = write_jsonl(tmp_path / "w.jsonl", events)
    store = tmp_path / "store"
    assert run_cli("ingest", str(log), "--store", str(store)).returncode == 0
    return store


def test_check_exit_codes_and_json(tmp_path: Path) -> None:
    store = _two_windows(tmp_path, refusal_v2=0.08)
    alert = run_cli("check", "--store", str(store), "--baseline", "model_version=v1", "--current", "model_version=v2",
                    "--format", "json", "--no-sinks")
    assert alert.returncode == 1, alert.stderr
    findings = json.loads(alert.stdout)["findings"]
    refusal = [f for f in findings if f["metric"] == "refusal_rate"]
    assert len(refusal) == 1 and refusal[0]["alert"] is True
    assert refusal[0]["segment"] == {"model": "m", "model_version": "v2", "route": "chat"}
    for key in ("metric", "segment", "n_baseline", "n_current", "baseline_value", "current_value", "effect",
                "ci_low", "ci_high", "statistic", "p_value", "q_value", "alert", "reason"):
        assert key in refusal[0]
    assert refusal[0]["n_baseline"] == 3000 and refusal[0]["n_current"] == 3000
    same = run_cli("check", "--store", str(store), "--baseline", "model_version=v1", "--current", "model_version=v1",
                   "--format", "json", "--no-sinks")
    assert same.returncode == 0, same.stderr
    assert not any(f["alert"] for f in json.loads(same.stdout)["findings"])


def test_check_too_few_events_is_not_a_verdict(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "few.jsonl", [event(i, model_version="v1" if i < 5 else "v2",
                                                     response="I can't help with that." if i >= 5 else "ok")
                                               for i in range(10)])
    store = tmp_path / "store"
    run_cli("ingest", str(log), "--store", str(store))
    result = run_cli("check", "--store", str(store), "--baseline", "model_version=v1", "--current",
                     "model_version=v2", "--format", "json", "--no-sinks")
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert findings and all(not f["alert"] for f in findings)
    assert all("few" in f["reason"].lower() for f in findings)


def test_check_with_file_selectors(tmp_path: Path) -> None:
    base = write_jsonl(tmp_path / "base.jsonl", [event(1000 + i, model_version="v1") for i in range(200)])
    cur = write_jsonl(tmp_path / "cur.jsonl", [event(2000 + i, model_version="v1") for i in range(200)])
    result = run_cli("check", "--store", str(tmp_path / "s"), "--baseline", str(base), "--current", str(cur),
                     "--format", "json", "--no-sinks")
    assert result.returncode == 0, result.stderr
    assert {f["metric"] for f in json.loads(result.stdout)["findings"]} == {"response_length", "refusal_rate"}


@pytest.mark.parametrize("args, fragment", [
    (["check", "--baseline", "colour=blue", "--current", "model=x"], "unknown selector key 'colour'"),
    (["check", "--baseline", "since=yesterday-ish", "--current", "model=x"], "not an ISO 8601"),
    (["check", "--baseline", "/no/such/file.jsonl", "--current", "model=x"], "no such file"),
    (["check", "--baseline", "model=a", "--current", "model=b", "--by", "colour"], "unknown segment key"),
    (["check", "--baseline", "model=a"], "required"),
    (["ingest", "/no/such/file.jsonl"], "no such file"),
    (["demo", "--events", "0"], "must be >= 1"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_usage_exits_2_with_one_line(tmp_path: Path, args: list[str], fragment: str) -> None:
    result = run_cli(*args, "--store", str(tmp_path / "s")) if args[0] in ("check", "ingest") else run_cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_names_key_and_file(tmp_path: Path) -> None:
    cfg = tmp_path / "llm-monitor.toml"
    cfg.write_text("[policy]\nalpha = 3\n")
    result = run_cli("check", "--baseline", "model=a", "--current", "model=b", cwd=tmp_path)
    assert result.returncode == 2
    assert "policy.alpha" in result.stderr and "llm-monitor.toml" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    cfg.write_text("[polcy]\nalpha = 0.1\n")
    result = run_cli("check", "--baseline", "model=a", "--current", "model=b", "--config", str(cfg))
    assert result.returncode == 2 and "polcy" in result.stderr and str(cfg) in result.stderr


def test_demo_finds_every_injected_regression_and_nothing_else(tmp_path: Path) -> None:
    store = tmp_path / "demo-store"
    result = run_cli("demo", "--store", str(store), "--events", "3000")
    assert result.returncode == 0, result.stderr
    assert "alert(s)" in result.stdout and str(store.resolve()) in result.stdout
    check = run_cli("check", "--store", str(store), "--baseline", "model=acme-chat,model_version=2026-10-01",
                    "--current", "model=acme-chat,model_version=2026-11-20", "--format", "json", "--no-sinks")
    assert check.returncode == 1
    findings = json.loads(check.stdout)["findings"]
    alerts = {(f["segment"]["route"], f["metric"]) for f in findings if f["alert"]}
    assert alerts == {("chat", "response_length"), ("support", "refusal_rate"), ("extract", "json_invalid_rate"),
                      ("extract", "schema_violation_rate"), ("summarize", "task_success_rate")}
    worse = {(f["segment"]["route"], f["metric"]): f["direction"] for f in findings if f["alert"]}
    assert set(worse.values()) == {"worse"}
    # the alert log holds the demo's alerts
    log = [json.loads(line) for line in (store / "alerts.jsonl").read_text().splitlines()]
    assert {(a["segment"]["route"], a["metric"]) for a in log} >= alerts


def test_models_inventory_and_new_version_alert(tmp_path: Path) -> None:
    events = [event(i, model="llama3", model_version=None, ts="2026-11-01T00:00:00Z") for i in range(5)]
    events += [event(100 + i, model="acme", model_version="2026-11-20", ts="2026-11-20T10:00:00Z") for i in range(3)]
    log = write_jsonl(tmp_path / "m.jsonl", events)
    store = tmp_path / "store"
    assert run_cli("ingest", str(log), "--store", str(store)).returncode == 0
    inv = run_cli("models", "--store", str(store), "--since", "2026-11-10", "--format", "json")
    assert inv.returncode == 0, inv.stderr
    rows = {(r["model"], r["model_version"]): r for r in json.loads(inv.stdout)}
    assert rows[("llama3", "unknown")]["events"] == 5 and rows[("llama3", "unknown")]["pinned"] is False
    assert rows[("llama3", "unknown")]["new"] is False
    assert rows[("acme", "2026-11-20")]["new"] is True and rows[("acme", "2026-11-20")]["events"] == 3
    alert = run_cli("models", "--store", str(store), "--since", "2026-11-10", "--alert")
    assert alert.returncode == 1, alert.stderr
    logged = [json.loads(line) for line in (store / "alerts.jsonl").read_text().splitlines()]
    assert [(a["metric"], a["segment"]["model"]) for a in logged] == [("new_model_version", "acme")]
    assert run_cli("models", "--store", str(store), "--alert").returncode == 2


def test_openai_refusal_field_counts_as_refusal(tmp_path: Path) -> None:
    record = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1763900000, "model": "gpt-4o-2024-08-06",
              "choices": [{"index": 0, "finish_reason": "stop",
                           "message": {"role": "assistant", "content": None,
                                       "refusal": "Unfortunately that is something we will not do."}}],
              "usage": {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}}
    log = write_jsonl(tmp_path / "oa.jsonl", [record])
    result = run_cli("signals", str(log))
    assert result.returncode == 0, result.stderr
    row = json.loads(result.stdout.splitlines()[0])
    assert row["refusal"] is True and row["refusal_rule"] == "provider:refusal"


def test_mapping_format_without_table_is_a_usage_error(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "x.jsonl", [{"time": "2026-11-01T00:00:00Z", "m": "x", "out": "y"}])
    result = run_cli("ingest", str(log), "--store", str(tmp_path / "s"), "--input-format", "mapping")
    assert result.returncode == 2 and "[mapping]" in result.stderr and "Traceback" not in result.stderr


def test_named_schemas_resolve_from_the_schemas_dir(tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    schemas.mkdir()
    (schemas / "invoice.json").write_text(json.dumps({"type": "object", "required": ["total"]}))
    (tmp_path / "llm-monitor.toml").write_text('[signals]\nschemas_dir = "schemas"\n')
    log = write_jsonl(tmp_path / "n.jsonl", [
        event(1, response='{"total": 3}', schema="invoice"),
        event(2, response='{"sum": 3}', schema="invoice"),
        event(3, response="plain"),
        event(4, response='{"total": 3}', schema="no-such-schema"),
    ])
    result = run_cli("ingest", str(log), "--store", str(tmp_path / "s"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "3 ingested, 0 duplicate, 1 quarantined" in result.stdout
    rows = [json.loads(line) for f in (tmp_path / "s" / "quarantine").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert [r["line"] for r in rows] == [4] and "no-such-schema" in rows[0]["reason"]
    signals = run_cli("signals", str(log), cwd=tmp_path)
    by_id = {r["request_id"]: r for r in map(json.loads, signals.stdout.splitlines())}
    assert by_id["req-1"]["parse_status"] == "ok" and by_id["req-2"]["parse_status"] == "schema_violation"
    assert by_id["req-3"]["parse_status"] == "not_expected"
