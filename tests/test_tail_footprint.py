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


def _store_with_baseline(tmp_path: Path, config: str, rng: random.Random, per_route: int) -> Path:
    """A store holding an hour-old baseline of ``per_route`` events on each of :data:`ROUTES`."""
    store = tmp_path / "store"
    write_config(tmp_path / "llm-monitor.toml", config)
    ts = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    base = [native(i, prefix=f"b-{r}", route=r, refuse=rng.random() < 0.03, words=rng.randint(10, 40), ts=ts)
            for r in ROUTES for i in range(per_route)]
    (tmp_path / "base.jsonl").write_bytes(b"".join(line + b"\n" for line in base))
    res = run_cli(tmp_path, "ingest", str(tmp_path / "base.jsonl"), "--store", str(store))
    assert res.returncode == 0, res.stderr
    return store


def test_steady_state_imports_neither_scipy_nor_matplotlib(tmp_path: Path) -> None:
    rng = random.Random(3)
    store = _store_with_baseline(tmp_path, '[tail]\nby = ["route"]\nflush_interval_s = 0.2\n', rng, 400)
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
        assert not loaded & {"pandas", "scipy", "scipy.special", "scipy.stats", "matplotlib"}, loaded
    finally:
        rc, _ = proc.terminate()
    assert rc == 0, proc.stderr()


#: Run as a real process: the sidecar runs a whole ``tail --once`` with a store baseline (follow,
#: parse, the event frame, signals, dedup, commit, statistics, sequential detectors, alert log,
#: status) under a profile hook (every thread) that records each call into pandas made from our
#: packages, by (calling module, calling function); and whether pandas was imported at all (the
#: CLI defers pyarrow's own pandas probes: monitor/pandas_probe.py).
_PANDAS_USERS = r'''
import json, sys, threading
users = set()
OURS = ("monitor", "detectors", "sinks")
def prof(frame, event, arg):
    if event == "call" and frame.f_globals.get("__name__", "").startswith("pandas"):
        back = frame.f_back
        if back is not None and back.f_globals.get("__name__", "").startswith(OURS):
            users.add((back.f_globals["__name__"], back.f_code.co_name))
    elif event == "c_call" and (getattr(arg, "__module__", None) or "").startswith("pandas"):
        if frame.f_globals.get("__name__", "").startswith(OURS):
            users.add((frame.f_globals["__name__"], frame.f_code.co_name))
sys.setprofile(prof)
threading.setprofile(prof)
from monitor.cli import main
code = main(sys.argv[1:])
sys.setprofile(None)
print(json.dumps({"code": code, "users": sorted(users), "pandas": "pandas" in sys.modules}))
'''
def test_sidecar_uses_no_pandas(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from test_tail_support import clean_env

    rng = random.Random(5)
    store = _store_with_baseline(tmp_path, '[tail]\nby = ["route"]\n', rng, 300)
    log = tmp_path / "app.log"
    lines = [native(i, prefix="cur", route=ROUTES[i % 2], refuse=i % 3 == 0, words=rng.randint(10, 40))
             for i in range(600)]
    log.write_bytes(b"".join(line + b"\n" for line in lines) + b"{not json\n" + lines[0] + b"\n")
    res = subprocess.run([sys.executable, "-c", _PANDAS_USERS, "tail", str(log), "--store", str(store), "--once"],
                         cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["code"] in (0, 1), res.stderr  # 1: the refusal step alerted
    users = {f"{module}:{function}" for module, function in out["users"]}
    assert users == set(), users
    assert out["pandas"] is False
    # the run did the work: 600 events (one duplicate, one bad line) are in the store
    from test_tail_support import store_request_ids, quarantined_lines

    assert sum(i.startswith("cur") for i in store_request_ids(store)) == 600
    assert sum(quarantined_lines(store).values()) == 1


#: ``Monitor.signals`` hands out a DataFrame: pandas is imported, but by our code's Python import
#: where the frame is built, not by pyarrow's probes before it. ``llm-monitor signals`` prints from
#: the Arrow table (``Monitor.file_signals``) and imports no pandas at all.
_FIRST_PANDAS_IMPORTER = r'''
import json, sys, traceback, importlib.abc
class Spy(importlib.abc.MetaPathFinder):
    first = None
    def find_spec(self, name, path=None, target=None):
        if name == "pandas" and Spy.first is None:
            frames = [f for f in traceback.extract_stack() if not any(part in f.filename for part in ("importlib", "<string>", "pandas_probe"))]
            Spy.first = [f.name for f in frames[-3:]]
        return None
import monitor.pandas_probe as probe
real = probe.defer_pandas
def spied():
    finder = real()
    sys.meta_path.insert(sys.meta_path.index(finder) + 1, Spy())  # sees only what the finder lets through
    return finder
probe.defer_pandas = spied
if sys.argv[1] == "api-signals":  # the API call a notebook makes, under the command line's finder
    probe.defer_pandas()
    from monitor.api import Monitor
    from monitor.config import Config
    code = 0 if len(Monitor(None, Config()).signals(sys.argv[2])) == 1 else 1
else:
    from monitor.cli import main
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "first": Spy.first, "pandas": "pandas" in sys.modules}))
'''


def test_signals_imports_pandas_only_where_it_builds_the_frame(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    from test_tail_support import clean_env

    log = tmp_path / "one.jsonl"
    log.write_bytes(native(1, prefix="one") + b"\n")

    def first_pandas_importer(*args: str) -> dict:
        res = subprocess.run([sys.executable, "-c", _FIRST_PANDAS_IMPORTER, *args, str(log)], cwd=tmp_path,
                             env=clean_env(), capture_output=True, text=True, timeout=180)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])

    out = first_pandas_importer("api-signals")
    assert out["code"] == 0 and out["pandas"] is True, out
    assert out["first"][-1] == "to_pandas", out  # monitor.ingest.to_pandas: the frame users get
    out = first_pandas_importer("signals")  # the command prints JSON lines from Arrow: no pandas
    assert out == {"code": 0, "first": None, "pandas": False}, out
