"""A new user's first commands: two log files from two model versions, compared with no flags.

The compared dimension is found from the data (``model_version``, ``model`` or both); segments
with events in one window only are listed apart; two windows with nothing in common exit 2 with
one line that says what would match. Every run here is a real subprocess of the CLI.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest

from helpers import run_cli
from monitor import demo

INJECTED = {("chat", "response_length"), ("support", "refusal_rate"),
            ("extract", "json_invalid_rate"), ("summarize", "task_success_rate")}


@pytest.fixture(scope="module")
def traffic() -> list[dict[str, Any]]:
    """The demo's traffic of the swapped model: two versions, five routes, four injected changes."""
    return [e for e in demo.generate_events(per_cell=400, seed=3) if e["model"] == demo.MODEL]


def _write(path: Path, events: list[dict[str, Any]]) -> str:
    with open(path, "w") as fh:
        for e in events:
            fh.write(json.dumps(e) + "\n")
    return str(path)


def _files(tmp_path: Path, traffic: list[dict[str, Any]],
           old_edit: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda e: e,
           new_edit: Callable[[dict[str, Any]], dict[str, Any] | None] = lambda e: e) -> tuple[str, str]:
    old = [old_edit(dict(e)) for e in traffic if e["model_version"] == demo.OLD_VERSION]
    new = [new_edit(dict(e)) for e in traffic if e["model_version"] == demo.NEW_VERSION]
    return (_write(tmp_path / "old.jsonl", [e for e in old if e]),
            _write(tmp_path / "new.jsonl", [e for e in new if e]))


def _check(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any] | None]:
    proc = run_cli("check", *args, "--format", "json", "--no-sinks", cwd=cwd)
    return proc, (json.loads(proc.stdout) if proc.returncode in (0, 1) else None)


def _alerts(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(f["segment"]["route"], f["metric"]) for f in document["findings"] if f["alert"]}


def test_version_swap_of_two_files_finds_the_changes_with_no_flags(tmp_path: Path, traffic: list[dict[str, Any]]) -> None:
    old, new = _files(tmp_path, traffic)
    proc, doc = _check("--baseline", old, "--current", new, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert doc is not None and doc["compared"] == {"model_version": [demo.OLD_VERSION, demo.NEW_VERSION]}
    assert _alerts(doc) == INJECTED and doc["unmatched"] == []
    assert all(f["n_baseline"] >= 395 and f["n_current"] >= 360 for f in doc["findings"])
    assert {f["details"]["baseline_model_version"] for f in doc["findings"]} == {demo.OLD_VERSION}
    table = run_cli("check", "--baseline", old, "--current", new, "--no-sinks", cwd=tmp_path)
    assert table.returncode == 1
    assert table.stdout.splitlines()[0] == (f"compared: model_version {demo.OLD_VERSION} (baseline) -> "
                                            f"{demo.NEW_VERSION} (current); segments by model, route")
    assert table.stdout.count("ALERT") == 4 and "too few events" not in table.stdout


def test_model_family_swap(tmp_path: Path, traffic: list[dict[str, Any]]) -> None:
    def rename(e: dict[str, Any]) -> dict[str, Any]:
        return {**e, "model": "beta-chat", "model_version": "latest", "request_id": "b-" + e["request_id"]}

    def latest(e: dict[str, Any]) -> dict[str, Any]:
        return {**e, "model_version": "latest"}

    old, new = _files(tmp_path, traffic, latest, rename)
    proc, doc = _check("--baseline", old, "--current", new, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert doc is not None and doc["compared"] == {"model": [demo.MODEL, "beta-chat"]}
    assert _alerts(doc) == INJECTED
    assert {f["segment"]["model_version"] for f in doc["findings"]} == {"latest"}


def test_model_and_version_swap(tmp_path: Path, traffic: list[dict[str, Any]]) -> None:
    old, new = _files(tmp_path, traffic, new_edit=lambda e: {**e, "model": "beta-chat"})
    proc, doc = _check("--baseline", old, "--current", new, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert doc is not None and doc["compared"] == {"model": [demo.MODEL, "beta-chat"],
                                                   "model_version": [demo.OLD_VERSION, demo.NEW_VERSION]}
    assert _alerts(doc) == INJECTED


def test_partly_overlapping_routes_list_the_unmatched_segments(tmp_path: Path, traffic: list[dict[str, Any]]) -> None:
    old, new = _files(tmp_path, traffic, old_edit=lambda e: None if e["route"] == "faq" else e,
                      new_edit=lambda e: None if e["route"] == "support" else e)
    proc, doc = _check("--baseline", old, "--current", new, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert doc is not None
    assert [(u["segment"]["route"], u["window"], u["n"]) for u in doc["unmatched"]] == [
        ("support", "baseline", 400), ("faq", "current", 400)]
    assert {f["segment"]["route"] for f in doc["findings"]} == {"chat", "extract", "summarize"}
    assert _alerts(doc) == INJECTED - {("support", "refusal_rate")}
    table = run_cli("check", "--baseline", old, "--current", new, "--no-sinks", cwd=tmp_path)
    section = table.stdout[table.stdout.index("unmatched (events in one window only, not tested):"):]
    assert "route=support" in section and "baseline only" in section and "route=faq" in section


def test_no_common_route_is_not_a_pass(tmp_path: Path, traffic: list[dict[str, Any]]) -> None:
    old, new = _files(tmp_path, traffic, old_edit=lambda e: e if e["route"] in ("chat", "faq") else None,
                      new_edit=lambda e: e if e["route"] in ("extract", "summarize") else None)
    proc = run_cli("check", "--baseline", old, "--current", new, "--no-sinks", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "no segment has events in both windows" in proc.stderr
    assert "no route is in both (baseline: chat|faq; current: extract|summarize)" in proc.stderr
    assert proc.stderr.rstrip().endswith("try --by model")


def test_same_with_store_selectors(tmp_path: Path, traffic: list[dict[str, Any]]) -> None:
    control = [e for e in demo.generate_events(per_cell=400, seed=3) if e["model"] == demo.CONTROL_MODEL]
    old, new = _files(tmp_path, traffic)
    log = _write(tmp_path / "control.jsonl", control)
    assert run_cli("ingest", "--store", "store", old, new, log, cwd=tmp_path).returncode == 0
    proc, doc = _check("--store", "store", "--baseline", f"model_version={demo.OLD_VERSION}",
                       "--current", f"model_version={demo.NEW_VERSION}", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert doc is not None and doc["compared"] == {"model_version": [demo.OLD_VERSION, demo.NEW_VERSION]}
    assert _alerts(doc) == INJECTED
    # One model swapped and one not, in time windows over the whole store: the version is compared
    # within the swapped model, and the control model is compared with itself.
    day = min(e["ts"] for e in traffic if e["model_version"] == demo.NEW_VERSION)[:10]
    proc, doc = _check("--store", "store", "--baseline", f"until={day}", "--current", f"since={day}", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert doc is not None and doc["compared_within"] == {"model_version": [demo.MODEL]}
    assert {(f["segment"]["model"], f["segment"]["model_version"]) for f in doc["findings"]} == {
        (demo.MODEL, demo.NEW_VERSION), (demo.CONTROL_MODEL, demo.CONTROL_VERSION)}
    assert {(r, m) for (r, m) in _alerts(doc)} <= INJECTED
    assert not [f for f in doc["findings"] if f["alert"] and f["segment"]["model"] == demo.CONTROL_MODEL]
