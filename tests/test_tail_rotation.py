"""Rotation under load: rename-and-create (rotated names not matched) and copytruncate; late files."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

from test_tail_support import TailProcess, native, store_request_ids, write_config

CONFIG = "[tail]\nflush_interval_s = 0.2\nrotate_grace_s = 5\nmax_batch_lines = 2000\n"


def _write(path: Path, start: int, n: int, rotate_every: int, mode: str, late: Path | None = None) -> None:
    f = open(path, "ab")
    rotation = 0
    for i in range(start, start + n):
        f.write(native(i, prefix="rot") + b"\n")
        if i % 50 == 0:
            f.flush()
        if late is not None and i == start + n // 2:
            late.write_bytes(b"".join(native(j, prefix="late") + b"\n" for j in range(500)))
        if (i - start) and (i - start) % rotate_every == 0:
            rotation += 1
            f.flush()
            if mode == "rename":
                f.close()
                os.rename(path, path.with_name(f"{path.name}.{rotation}"))
                f = open(path, "ab")
            else:
                shutil.copyfile(path, path.with_name(f"{path.name}.{rotation}"))
                os.truncate(path, 0)
        if i % 100 == 0:  # about 2,000 lines/s: a rotation every ~1 s
            time.sleep(0.05)
    f.close()


def _run(tmp_path: Path, mode: str, pattern: str, late: Path | None) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    write_config(tmp_path / "llm-monitor.toml", CONFIG)
    store = tmp_path / "store"
    app = logs / "app.log"
    app.write_bytes(b"")
    proc = TailProcess(tmp_path, store, [pattern]).start()
    proc.wait_status(lambda st: True, timeout=60)
    n = 8000
    w = threading.Thread(target=_write, args=(app, 0, n, 2000, mode, late))
    w.start()
    w.join()
    expected = n + (500 if late else 0)
    final = proc.wait_status(lambda st: st["total_events"] >= expected and st["lag_bytes"] == 0, timeout=90)
    assert 20 << 20 < final["rss_bytes"] < 2 << 30  # the tailer reports its own resident memory
    rc, took = proc.terminate(signal.SIGTERM)
    assert rc == 0 and took < 5
    ids = store_request_ids(store)
    assert len(ids) == len(set(ids)) == expected
    assert {f"rot-{i}" for i in range(n)} <= set(ids)


def test_rename_and_create_under_load_and_a_file_appearing_later(tmp_path: Path) -> None:
    # only *.log is matched: renamed files (app.log.1, ...) are drained through the open handle
    _run(tmp_path, "rename", str(tmp_path / "logs" / "*.log"), late=tmp_path / "logs" / "late.log")


def test_copytruncate_under_load(tmp_path: Path) -> None:
    # the copies match the glob: lines written just before a truncation are read from the copy
    _run(tmp_path, "copytruncate", str(tmp_path / "logs" / "app.log*"), late=None)
