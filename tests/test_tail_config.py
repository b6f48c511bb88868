"""``[tail]`` is validated when the configuration is loaded: a bad key stops every command
(exit 2, one line naming the key and the file), not only ``tail``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import event, run_cli, write_jsonl
from monitor.config import load_config
from monitor.errors import ConfigError


@pytest.mark.parametrize("body, key", [("colour = 1", "tail.colour"), ("window_s = 0", "tail.window_s"),
                                       ('by = ["colour"]', "tail.by"), ('baseline = "nope=1"', "tail.baseline")])
def test_load_config_rejects_a_bad_tail_key(tmp_path: Path, body: str, key: str) -> None:
    p = tmp_path / "llm-monitor.toml"
    p.write_text(f"[tail]\n{body}\n")
    with pytest.raises(ConfigError) as info:
        load_config(str(p))
    assert (info.value.key, info.value.path) == (key, str(p))
    assert str(info.value).startswith(f"{p}: {key}: ")


def test_a_good_tail_table_loads(tmp_path: Path) -> None:
    p = tmp_path / "llm-monitor.toml"
    p.write_text('[tail]\nby = ["route"]\nwindow_s = 60\nbaseline = "last=2d"\n')
    assert load_config(str(p)).tail == {"by": ["route"], "window_s": 60, "baseline": "last=2d"}


def test_check_and_models_stop_on_a_bad_tail_key(tmp_path: Path) -> None:
    cfg = tmp_path / "llm-monitor.toml"
    cfg.write_text("[tail]\nwindow_ss = 60\n")
    a = write_jsonl(tmp_path / "a.jsonl", [event(i) for i in range(5)])
    b = write_jsonl(tmp_path / "b.jsonl", [event(i, request_id=f"b-{i}", model_version="v2") for i in range(5)])
    for args in (("check", "--baseline", str(a), "--current", str(b), "--config", str(cfg)),
                 ("models", "--store", str(tmp_path / "store"), "--config", str(cfg))):
        r = run_cli(*args, timeout=120)
        assert r.returncode == 2, (args[0], r.returncode, r.stdout, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert lines == [f"llm-monitor {args[0]}: error: {cfg}: tail.window_ss: unknown key; known: "
                         "baseline, baseline_refresh_s, by, compact_interval_s, compact_min_segments, "
                         "dedup_horizon_s, dedup_max_ids, false_alarms_per_day, flush_interval_s, health_stall_s, "
                         "housekeeping_interval_s, log_format, max_batch_bytes, max_batch_lines, max_line_bytes, "
                         "metrics_addr, metrics_max_files, metrics_max_segments, min_baseline, min_current, "
                         "ready_commit_age_s, retry_base_s, retry_max_s, rotate_grace_s, sentry_timeout_s, "
                         "shutdown_timeout_s, window_s"], r.stderr
        assert "Traceback" not in r.stderr


def test_config_load_does_not_import_the_sidecar_loop(tmp_path: Path) -> None:
    p = tmp_path / "llm-monitor.toml"
    p.write_text("[tail]\nwindow_s = 60\n")
    code = ("import sys; from monitor.config import load_config; load_config(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith('monitor.tail') or m == 'duckdb'))")
    out = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['monitor.tail', 'monitor.tail.settings']"
