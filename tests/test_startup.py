"""What each command imports before it works (``python -X importtime`` figures: docs/BENCHMARKS.md).

Modules, not seconds: a real ``llm-monitor`` process reports which of the heavy packages it
loaded. ``--help`` loads none; ``signals`` of a one-line file loads neither scipy nor the
alert policy (it compares nothing)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("numpy", "pyarrow", "duckdb", "pandas", "scipy", "detectors.policy", "monitor.compare")

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


def test_help_imports_no_third_party_package(tmp_path):
    assert loaded("--help", cwd=str(tmp_path)) == []


def test_signals_imports_neither_scipy_nor_the_policy(tmp_path):
    log = tmp_path / "one.jsonl"
    log.write_text(json.dumps({"ts": "2026-11-01T00:00:00Z", "request_id": "r1", "model": "m",
                               "response": "I'm sorry, but I can't help with that."}) + "\n")
    mods = loaded("signals", str(log), cwd=str(tmp_path))
    assert "scipy" not in mods and "detectors.policy" not in mods and "monitor.compare" not in mods
    assert "pyarrow" in mods  # the probe sees what the command did load
