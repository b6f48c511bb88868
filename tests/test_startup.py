"""What each command imports before it works (``python -X importtime`` figures: docs/BENCHMARKS.md).

Modules, not seconds: a real ``llm-monitor`` process reports which of the heavy packages it
loaded. ``--help`` loads none; ``signals`` of a one-line file loads neither scipy nor the
alert policy (it compares nothing), nor pandas (it prints from an Arrow table), nor DuckDB (a
one-line file takes the per-record path, which makes no DuckDB call); ``check`` of two small
files loads no pandas and no matplotlib."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "pyarrow", "duckdb", "pandas", "scipy", "matplotlib", "detectors.policy", "monitor.compare")

PROBE = ("import sys, json, runpy\n"
         "sys.argv = ['llm-monitor', *json.loads(sys.argv[1])]\n"
         "try:\n"
         "    runpy.run_module('monitor.cli', run_name='__main__')\n"
         "except SystemExit:\n"
         "    pass\n"
         "sys.stderr.write('\\nLOADED ' + json.dumps(sorted(m for m in " + repr(HEAVY) + " if m in sys.modules)))\n")


def loaded(*args: str, cwd: str) -> list[str]:
    res = subprocess.run([sys.executable, "-c", PROBE, json.dumps(list(args))], capture_output=True, text=True, cwd=cwd)
    return json.loads(res.stderr.rsplit("LOADED ", 1)[1])


def _one_line(tmp_path) -> str:
    log = tmp_path / "one.jsonl"
    log.write_text(json.dumps({"ts": "2026-11-01T00:00:00Z", "request_id": "r1", "model": "m",
                               "response": "I'm sorry, but I can't help with that."}) + "\n")
    return str(log)


def test_help_imports_no_third_party_package(tmp_path):
    assert loaded("--help", cwd=str(tmp_path)) == []


def test_signals_imports_neither_scipy_nor_the_policy_nor_pandas(tmp_path):
    mods = loaded("signals", _one_line(tmp_path), cwd=str(tmp_path))
    assert "scipy" not in mods and "detectors.policy" not in mods and "monitor.compare" not in mods
    assert "pandas" not in mods and "matplotlib" not in mods
    assert "pyarrow" in mods  # the probe sees what the command did load


def test_signals_of_one_line_imports_no_duckdb(tmp_path):
    assert "duckdb" not in loaded("signals", _one_line(tmp_path), cwd=str(tmp_path))


def test_check_of_two_small_files_imports_no_pandas(tmp_path):
    for name, version, words in (("old.jsonl", "v1", 20), ("new.jsonl", "v2", 60)):
        with open(tmp_path / name, "w") as fh:
            for i in range(60):
                fh.write(json.dumps({"ts": f"2026-11-01T00:{i:02d}:00Z", "request_id": f"{version}-{i}",
                                     "model": "m", "model_version": version, "route": "chat",
                                     "response": "word " * (words + i % 7)}) + "\n")
    mods = loaded("check", "--baseline", "old.jsonl", "--current", "new.jsonl", "--no-sinks", cwd=str(tmp_path))
    assert "pandas" not in mods and "matplotlib" not in mods
    assert "scipy" in mods and "monitor.compare" in mods  # it did compare
