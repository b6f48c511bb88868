"""Helpers for the ``llm-monitor tail`` tests: run the real tailer as a subprocess, write logs.

(Named ``test_tail_support.py`` so it lives among the tail tests; it holds no tests itself.)
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

PY = sys.executable


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def native(i: int, *, prefix: str = "r", refuse: bool = False, route: str = "chat", version: str = "v1",
           words: int = 30, ts: str | None = None) -> bytes:
    """One valid native event line (no newline); long enough to identify a file (> 64 bytes)."""
    text = "I can't help with that." if refuse else "Here is the answer: " + " ".join(["word"] * words)
    return json.dumps({"ts": ts or now_iso(), "request_id": f"{prefix}-{i}", "model": "m", "model_version": version,
                       "route": route, "response": text}).encode()


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SENTRY_DSN", "LLM_MONITOR_STORE")}
    env.update(extra)
    return env


class TailProcess:
    """``llm-monitor tail`` in a subprocess with a fast status file."""

    def __init__(self, cwd: Path, store: Path, patterns: list[str], *extra: str, env: dict[str, str] | None = None,
                 status_interval: float = 0.3) -> None:
        self.cwd = cwd
        self.status_file = cwd / f"status-{id(self)}.json"
        self.log = cwd / "tail-stderr.log"
        self.cmd = [PY, "-m", "monitor.cli", "tail", *patterns, "--store", str(store),
                    "--status-file", str(self.status_file), "--status-interval", str(status_interval),
                    "--poll-interval", "0.05", *extra]
        self.env = env or clean_env()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "TailProcess":
        if self.status_file.exists():
            self.status_file.unlink()
        self._err = open(self.log, "ab")
        self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL, stderr=self._err)
        return self

    def status(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return None

    def wait_status(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status()
            if st is not None and predicate(st):
                return st
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"tailer exited with {self.proc.returncode}: {self.stderr()[-2000:]}")
            time.sleep(0.05)
        raise AssertionError(f"status condition not reached in {timeout} s; last status {self.status()}; "
                             f"stderr: {self.stderr()[-2000:]}")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        assert self.proc is not None
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        rc = self.proc.wait(timeout)
        self._err.close()
        return rc, time.monotonic() - t0

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)
        self._err.close()

    def stderr(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


def run_once(cwd: Path, store: Path, patterns: list[str], *extra: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``llm-monitor tail --once`` to completion."""
    return subprocess.run([PY, "-m", "monitor.cli", "tail", *patterns, "--store", str(store), "--once", *extra],
                          cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout)


def run_cli(cwd: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "monitor.cli", *args], cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=timeout)


def store_request_ids(store: Path) -> list[str]:
    from monitor.store import Store

    return Store(store).sql("SELECT request_id FROM events").request_id.tolist()


def quarantined_lines(store: Path) -> Counter:
    """Multiset of (raw bytes, reason) of every quarantined line of the store."""
    out: Counter = Counter()
    qdir = store / "quarantine"
    if not qdir.is_dir():
        return out
    for p in qdir.glob("*.jsonl"):
        for text in p.read_text(encoding="utf-8").splitlines():
            if not text.strip():
                continue
            row = json.loads(text)
            raw = row["raw"].encode() if "raw" in row else base64.b64decode(row["raw_base64"])
            out[(raw, row["reason"].split(":")[0])] += 1
    return out


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
