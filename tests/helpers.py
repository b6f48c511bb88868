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
