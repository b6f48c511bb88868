"""Readers while the tailer writes (check, models, Python API); SIGTERM / SIGINT; --once; usage errors."""

from __future__ import annotations

import json
import signal
import threading
import time
from pathlib import Path

import monitor
from test_tail_support import TailProcess, native, run_cli, run_once, store_request_ids, write_config

CONFIG = "[tail]\nflush_interval_s = 0.1\nmax_batch_lines = 1000\ncompact_interval_s = 1\ncompact_min_segments = 8\n"


def _writer(log: Path, n: int, stop: threading.Event, prefix: str = "c") -> None:
    with open(log, "ab") as fh:
        for i in range(n):
            if stop.is_set():
                return
            fh.write(native(i, prefix=prefix, version="v1" if i % 2 else "v2") + b"\n")
            if i % 200 == 0:
                fh.flush()
                time.sleep(0.02)


def test_check_models_and_api_read_while_tail_writes(tmp_path: Path) -> None:
    write_config(tmp_path / "llm-monitor.toml", CONFIG)
    store = tmp_path / "store"
    log = tmp_path / "app.log"
    log.write_bytes(native(-1, prefix="c") + b"\n")
    proc = TailProcess(tmp_path, store, [str(log)]).start()
    proc.wait_status(lambda s: s["total_events"] >= 1, timeout=60)
    stop = threading.Event()
    w = threading.Thread(target=_writer, args=(log, 40_000, stop))
    w.start()
    api_counts: list[int] = []
    api_errors: list[str] = []

    def api_reader() -> None:
        m = monitor.open(store)
        while not stop.is_set():
            try:
                api_counts.append(int(m.sql("SELECT count(*) AS n FROM events").n[0]))
                m.window("model=m", ["model_version"])
            except Exception as exc:  # noqa: BLE001
                api_errors.append(repr(exc))
            time.sleep(0.05)

    r = threading.Thread(target=api_reader)
    r.start()
    check_counts = []
    try:
        for i in range(3):
            res = run_cli(tmp_path, "check", "--store", str(store), "--baseline", "model_version=v1",
                          "--current", "model_version=v2", "--by", "model", "--format", "json", "--no-sinks")
            assert res.returncode in (0, 1), res.stderr
            assert "lock" not in res.stderr.lower()
            findings = json.loads(res.stdout)["findings"]
            check_counts.append(sum(f["n_current"] + f["n_baseline"] for f in findings if f["metric"] == "refusal_rate"))
            if i == 1:
                res = run_cli(tmp_path, "models", "--store", str(store), "--format", "json")
                assert res.returncode == 0, res.stderr
                assert "lock" not in res.stderr.lower()
                assert json.loads(res.stdout)
    finally:
        stop.set()
        w.join()
        r.join()
    assert not api_errors
    assert api_counts and all(b >= a for a, b in zip(api_counts, api_counts[1:])), "event count went down"
    assert all(b >= a for a, b in zip(check_counts, check_counts[1:]))
    assert check_counts[-1] > check_counts[0] or proc.status()["lag_bytes"] == 0
    rc, took = proc.terminate(signal.SIGTERM)
    assert rc == 0 and took < 5


def test_sigterm_and_sigint_under_load_exit_cleanly_and_lose_nothing(tmp_path: Path) -> None:
    write_config(tmp_path / "llm-monitor.toml", "[tail]\nflush_interval_s = 0.2\n")
    store = tmp_path / "store"
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    for k, sig in enumerate((signal.SIGTERM, signal.SIGINT)):
        with open(log, "ab") as fh:  # a fresh backlog to chew on for each run
            fh.write(b"".join(native(i, prefix=f"s{k}") + b"\n" for i in range(30_000)))
        proc = TailProcess(tmp_path, store, [str(log)]).start()
        proc.wait_status(lambda s: s["total_events"] > 0, timeout=60)
        rc, took = proc.terminate(sig)
        assert rc == 0, proc.stderr()[-2000:]
        assert took < 5, f"{sig!r} took {took:.1f} s"
        assert "Traceback" not in proc.stderr()
    res = run_once(tmp_path, store, [str(log)])
    assert res.returncode == 0, res.stderr
    ids = store_request_ids(store)
    assert len(ids) == len(set(ids)) == 60_000


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    res = run_cli(tmp_path, "tail", str(tmp_path), "--once")
    assert res.returncode == 2 and "is a directory" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = run_cli(tmp_path, "tail", str(tmp_path / "nope" / "x.log"), "--once")
    assert res.returncode == 2 and "no such directory" in res.stderr
    write_config(tmp_path / "llm-monitor.toml", "[tail]\nwindow_s = -3\n")
    res = run_cli(tmp_path, "tail", str(tmp_path / "x.log"), "--once")
    assert res.returncode == 2 and "window_s" in res.stderr
    res = run_cli(tmp_path, "tail", str(tmp_path / "x.log"), "--once", "--baseline", "colour=blue", "--config",
                  str(write_config(tmp_path / "ok.toml", "")))
    assert res.returncode == 2 and "colour" in res.stderr
