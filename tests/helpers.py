"""Shared helpers for the tests: run the real CLI in a subprocess, write event logs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable


def run_cli(*args: str, cwd: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``llm-monitor ARGS`` as a real subprocess (the installed console script's module)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("SENTRY_DSN", "LLM_MONITOR_STORE")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def event(i: int, **overrides: Any) -> dict[str, Any]:
    """A valid native event."""
    base = {"ts": f"2026-11-01T{i % 24:02d}:{i % 60:02d}:00Z", "request_id": f"req-{i}", "model": "m",
            "model_version": "v1", "route": "chat", "response": f"Here is answer number {i}."}
    base.update(overrides)
    return base


def write_jsonl(path: Path, events: Iterable[dict[str, Any] | bytes]) -> Path:
    """Write events (dicts as JSON, bytes as they are) one per line."""
    with open(path, "wb") as fh:
        for e in events:
            fh.write((e if isinstance(e, bytes) else json.dumps(e).encode()) + b"\n")
    return path


FIXTURES = Path(__file__).parent / "fixtures"
FALLBACK_TS = "2026-01-01T00:00:00Z"
"""The fallback time the adapter tests give records that carry none (ingest gives the file's mtime)."""


def load_fixture(name: str) -> list[tuple[int, Any]]:
    """``(line number, parsed value)`` of every line of ``tests/fixtures/NAME``."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [(n, json.loads(line)) for n, line in enumerate(text.splitlines(), start=1)]


def assert_converts_without_crash(fmt: str, values: list[Any]) -> None:
    """``convert`` of arbitrary values: events and rejects on valid lines, every reject with a real
    reason (never the catch-all ``unreadable record``), every event with a text response."""
    from monitor.adapters import convert

    out = convert(fmt, list(enumerate(values, start=1)), fallback_ts=FALLBACK_TS)
    for line, reason in out.rejects:
        assert 1 <= line <= len(values) and reason and not reason.startswith("unreadable"), reason
    for line, ev in out.events:
        assert 1 <= line <= len(values) and isinstance(ev["response"], str)


def overlapping_logs(logs: Path) -> int:
    """Six files of 600 events, each repeating 100 of the previous one's ids; returns the distinct count."""
    logs.mkdir()
    for f in range(6):
        write_jsonl(logs / f"part-{f}.jsonl", [event(i) for i in range(f * 500, f * 500 + 600)])
    return 5 * 500 + 600


def kill_backfill_mid_job(store: str, logs: Path, runs: Path, env: dict[str, str] | None = None) -> None:
    """Start the real ``ingest --engine spark`` of ``logs`` into ``store``, ``kill -9`` it (and its
    JVM) as soon as a run under ``runs`` has started writing its output, and check it was killed."""
    import signal
    import time

    import psutil

    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "ingest", "--engine", "spark", "--store", store,
                             str(logs)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 600
    try:
        while not any(runs.glob("run-*/out")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, "the backfill ended before it wrote: nothing was killed mid-job"
        children = psutil.Process(proc.pid).children(recursive=True)  # the JVM
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        _, alive = psutil.wait_procs(children, timeout=60)  # the JVM exits when its Python driver is gone
        for child in alive:
            child.kill()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
