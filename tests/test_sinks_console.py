"""Console table and alert log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from sinks.alert_log import append_alerts, read_alerts
from sinks.console import render_table

ROOT = Path(__file__).resolve().parents[1]


def _finding(metric: str, alert: bool, **kw: object) -> dict:
    base = {
        "metric": metric,
        "segment": {"model": "m", "model_version": "v2", "route": "chat"},
        "n_baseline": 3000,
        "n_current": 2900,
        "baseline_value": 0.02,
        "current_value": 0.051,
        "effect": 0.031,
        "ci_low": 0.022,
        "ci_high": 0.040,
        "q_value": 2e-9,
        "alert": alert,
        "reason": "significant and above floor" if alert else "below practical floor",
        "details": {"examples": [{"response": "I can't help with that, TOPSECRET"}]},
    }
    base.update(kw)
    return base


def test_table_units_and_markers() -> None:
    rows = [
        _finding("refusal_rate", True),
        _finding("response_length", False, baseline_value=410.0, current_value=433.0, effect=0.056,
                 ci_low=-0.01, ci_high=0.12, q_value=0.2),
        _finding("parse_failure_rate", False, baseline_value=None, current_value=None, effect=None,
                 q_value=None, reason="too few events (12 < 200)"),
    ]
    out = render_table(rows)
    lines = out.splitlines()
    assert len(lines) == 5
    assert "2.0% -> 5.1%" in lines[2] and "+3.1 pp [+2.2, +4.0]" in lines[2] and "ALERT" in lines[2]
    assert "410 chars -> 433 chars" in lines[3] and "+5.6% [-1.0, +12.0]" in lines[3]
    assert "ALERT" not in lines[3] and "ALERT" not in lines[4]
    assert "too few events" in lines[4] and "- -> -" in lines[4]
    assert "3000/2900" in lines[2]
    # fixed width: every column starts at the same offset on every line
    start = lines[0].index("q ")
    assert all(line[start - 2 : start] == "  " for line in lines[2:])
    assert "TOPSECRET" not in out


def test_alert_log_roundtrip_and_privacy(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "alerts.jsonl"
    n = append_alerts(path, [_finding("refusal_rate", True), _finding("response_length", False)], run_id="r1")
    assert n == 1
    n = append_alerts(path, [_finding("refusal_rate", True)], run_id="r2")
    recs = read_alerts(path)
    assert [r["run_id"] for r in recs] == ["r1", "r2"]
    assert recs[0]["segment_key"] == "model=m,model_version=v2,route=chat"
    assert recs[0]["ts"].endswith("Z")
    assert "TOPSECRET" not in path.read_text()
    # a torn last line (crash mid-write on a network filesystem) is skipped
    with open(path, "ab") as fh:
        fh.write(b'{"metric": "torn')
    assert len(read_alerts(path)) == 2


_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from sinks.alert_log import append_alerts
    proc = int(sys.argv[1])
    for i in range({n}):
        # ~9 KB per line: larger than PIPE_BUF, still one O_APPEND write
        f = {{"metric": "refusal_rate", "segment": {{"model": "m"}}, "alert": True,
              "details": {{"proc": proc, "i": i, "pad": "x" * 9000}}}}
        append_alerts(sys.argv[2], [f], run_id=f"p{{proc}}")
    """
)


def test_alert_log_concurrent_processes(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    n, procs = 150, 4
    script = _WRITER.format(root=str(ROOT), n=n)
    ps = [subprocess.Popen([sys.executable, "-c", script, str(p), str(path)]) for p in range(procs)]
    assert all(p.wait(60) == 0 for p in ps)
    raw = path.read_bytes().split(b"\n")
    assert raw[-1] == b""
    recs = [json.loads(line) for line in raw[:-1]]  # every line is whole, valid JSON
    seen = sorted((r["details"]["proc"], r["details"]["i"]) for r in recs)
    assert seen == [(p, i) for p in range(procs) for i in range(n)]
    assert len(read_alerts(path)) == n * procs
    assert os.path.getsize(path) > n * procs * 9000
