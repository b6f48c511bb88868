"""What the sidecar's hot path imports, asked of a real ``llm-monitor tail`` process.

The footprint goal (docs/TAIL.md, "Footprint") rests on the hot path (follow, parse, events,
signals, dedup, commit, sequential detectors, alert lifecycle) not importing scipy or
matplotlib. The process reports the heavy libraries it has imported in its status file
(``heavy_modules``, from ``sys.modules``); this test reads it while the sidecar ingests and runs
its detectors in steady state. An assertion about modules, not about megabytes: RSS is measured
in benchmarks/tail.py.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

from test_tail_support import TailProcess, native, run_cli, write_config

ROUTES = ("chat", "search")


def test_steady_state_imports_neither_scipy_nor_matplotlib(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_config(tmp_path / "llm-monitor.toml", '[tail]\nby = ["route"]\nflush_interval_s = 0.2\n')
    rng = random.Random(3)
    ts = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    base = [native(i, prefix=f"b-{r}", route=r, refuse=rng.random() < 0.03, words=rng.randint(10, 40), ts=ts)
            for r in ROUTES for i in range(400)]
    (tmp_path / "base.jsonl").write_bytes(b"".join(line + b"\n" for line in base))
    res = run_cli(tmp_path, "ingest", str(tmp_path / "base.jsonl"), "--store", str(store))
    assert res.returncode == 0, res.stderr
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    proc = TailProcess(tmp_path, store, [str(log)]).start()
    try:
        st = proc.wait_status(lambda s: s["segments_monitored"] == len(ROUTES), timeout=90)
        assert "heavy_modules" in st
        sent = 0
        for wave in range(3):  # several batches: each one is parsed, committed, fed to the detectors, checked
            with open(log, "ab") as fh:
                for i in range(300):
                    route = ROUTES[i % len(ROUTES)]
                    fh.write(native(sent + i, prefix="cur", route=route, refuse=rng.random() < 0.03,
                                    words=rng.randint(10, 40)) + b"\n")
            sent += 300
            proc.wait_status(lambda s, n=sent: s["total_events"] == n, timeout=90)
        st = proc.wait_status(lambda s, n=sent: s["total_events"] == n and s["uptime_s"] > 0, timeout=30)
        loaded = set(st["heavy_modules"])
        # the process did real work with the libraries it needs (a status without them would prove nothing)
        assert {"duckdb", "pyarrow", "pyarrow.parquet"} <= loaded, loaded
        assert not loaded & {"scipy", "scipy.special", "scipy.stats", "matplotlib"}, loaded
    finally:
        rc, _ = proc.terminate()
    assert rc == 0, proc.stderr()
