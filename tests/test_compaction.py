"""Compaction: merges small segments; killed at any point, readers never lose or double a row."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from monitor.compaction import candidates, compact, recover
from monitor.store import REPLACES_KEY, Store

DAY = "2026-11-25"


def _add_segments(store: Store, start: int, count: int, rows: int, day: str = DAY) -> int:
    """``count`` segments of ``rows`` events each, ids start.., all inside ``day``; returns the next id."""
    i = start
    for _ in range(count):
        ids = list(range(i, i + rows))
        frame = pd.DataFrame({
            "ts": pd.to_datetime([f"{day}T{(k // 60) % 24:02d}:{k % 60:02d}:00Z" for k in ids]),
            "request_id": [f"r{k}" for k in ids],
            "model": "m", "model_version": "v1", "route": "chat",
            "response": [f"answer {k}" for k in ids],
            "chars": [len(f"answer {k}") for k in ids],
            "source_line": ids,
        })
        store.write_segment(store.frame_to_table(frame))
        i += rows
    return i


def _snapshot(store: Store) -> tuple[int, int, int]:
    row = store.sql("select count(*) as n, count(distinct request_id) as d, "
                    "coalesce(sum(source_line), 0) as s from events").iloc[0]
    return int(row.n), int(row.d), int(row.s)


def _expected(next_id: int) -> tuple[int, int, int]:
    return next_id, next_id, next_id * (next_id - 1) // 2


def test_compacts_one_day_and_keeps_other_days(tmp_path: Path) -> None:
    store = Store(tmp_path)
    n = _add_segments(store, 0, 5, 10)
    _add_segments(store, 1000, 2, 10, day="2026-11-24")
    report = compact(store, day=DAY, settle_s=0)
    assert report.merged == 5 and report.rows == 50 and len(report.written) == 1
    live = [p.name for p in store.live_segments()]
    assert len(live) == 3 and sum(x.startswith("c-") for x in live) == 1
    assert len(list(store.events_dir.iterdir())) == 3  # replaced files deleted
    assert store.sql("select count(*) as n from events where ts < '2026-11-25'").n[0] == 20
    assert store.sql("select count(*) as n from events where ts >= '2026-11-25'").n[0] == n
    # idempotent: a second run finds one segment for the day -> nothing to merge
    assert compact(store, day=DAY, settle_s=0).merged == 0


def test_recompaction_of_a_compacted_segment(tmp_path: Path) -> None:
    store = Store(tmp_path)
    n = _add_segments(store, 0, 3, 10)
    first = compact(store, settle_s=0)
    n = _add_segments(store, n, 2, 10)
    second = compact(store, settle_s=0)
    assert second.merged == 3  # the first c- segment plus the two new ones
    (only,) = store.live_segments()
    replaces = json.loads(pq.read_schema(only).metadata[REPLACES_KEY])
    assert first.written[0] in replaces
    assert _snapshot(store) == _expected(n)


def test_crash_after_write_before_delete_is_recovered(tmp_path: Path) -> None:
    store = Store(tmp_path)
    n = _add_segments(store, 0, 4, 10)

    class Boom(Exception):
        pass

    def die(phase: str) -> None:
        if phase == "written":
            raise Boom

    with pytest.raises(Boom):
        compact(store, settle_s=0, on_phase=die)
    assert len(list(store.events_dir.iterdir())) == 5  # old four + the merged one
    assert _snapshot(store) == _expected(n)  # readers skip the replaced four
    (store.tmp_dir / "c-leftover.parquet").write_bytes(b"partial")
    with store.writer_lock():
        assert recover(store) == 5
    assert len(list(store.events_dir.iterdir())) == 1 and not list(store.tmp_dir.iterdir())
    assert _snapshot(store) == _expected(n)


def test_old_segments_without_new_columns_are_conformed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    _add_segments(store, 0, 1, 5)
    frame = pd.DataFrame({"ts": pd.to_datetime([f"{DAY}T01:00:00Z"]), "request_id": ["old"], "model": ["m"]})
    pq.write_table(__import__("pyarrow").Table.from_pandas(frame, preserve_index=False),
                   store.events_dir / "s-00000000T000000-old.parquet")
    assert len(candidates(store, DAY)) == 2
    assert compact(store, DAY, settle_s=0).rows == 6
    assert store.sql("select count(*) as n from events").n[0] == 6


# A fork server: imports once, then forks one real process per compaction run (the test
# SIGKILLs those); re-importing pandas/scipy/duckdb per run would cost seconds each time.
_FORK_SERVER = r"""
import os, signal, sys
from monitor.compaction import compact
from monitor.store import Store
root, day, settle = sys.argv[1], sys.argv[2], float(sys.argv[3])
for line in sys.stdin:
    phase = line.strip()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        def hook(name):
            if name == "locked":
                os.write(w, b"x")  # started: the lock is held
                os.close(w)
            if name == phase:
                os.kill(os.getpid(), signal.SIGKILL)
        try:
            compact(Store(root), day, settle_s=settle, on_phase=hook)
        finally:
            os._exit(0)
    os.close(w)
    print(pid, flush=True)
    os.read(r, 1)
    os.close(r)
    print("started", flush=True)
    _, status = os.waitpid(pid, 0)
    print("killed" if os.WIFSIGNALED(status) else "finished", flush=True)
"""


class _Reader(threading.Thread):
    """Checks the store's rows over and over while compaction runs and dies."""

    def __init__(self, store: Store) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.expected: tuple[int, int, int] = (0, 0, 0)
        self.errors: list[str] = []
        self.reads = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()  # held by the test while it adds rows

    def run(self) -> None:
        while not self.stop.is_set():
            with self.lock:
                try:
                    got = _snapshot(self.store)
                except Exception as exc:  # noqa: BLE001 - report any read failure
                    self.errors.append(f"read failed: {type(exc).__name__}: {exc}")
                    continue
                self.reads += 1
                if got != self.expected:
                    self.errors.append(f"saw {got}, expected {self.expected}")
            time.sleep(0.002)  # let the test take the lock (threading.Lock is not fair)


def test_compaction_killed_at_random_points_never_loses_or_duplicates(tmp_path: Path) -> None:
    store = Store(tmp_path)
    rng = random.Random(20261126)
    next_id = _add_segments(store, 0, 20, 25)
    reader = _Reader(store)
    reader.expected = _expected(next_id)
    reader.start()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    # phase-targeted kills cover every step; the rest are kills at random times
    # settle 0.25 s in the killed runs: every run lasts longer than the 0-0.2 s random delay,
    # so each random kill lands somewhere between taking the lock and the last delete
    plan = ["locked", "read", "written", "settled", "deleted:0", "deleted:7"] + ["random"] * 8
    kills = 0
    server = subprocess.Popen([sys.executable, "-c", _FORK_SERVER, str(tmp_path), DAY, "0.25"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert server.stdin is not None and server.stdout is not None
    try:
        for phase in plan:
            # new small segments arrive before every run, so every run has work to be killed in
            with reader.lock:
                next_id = _add_segments(store, next_id, 8, 25)
                reader.expected = _expected(next_id)
            server.stdin.write(phase + "\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            assert server.stdout.readline().strip() == "started"
            if phase == "random":
                time.sleep(rng.uniform(0.0, 0.2))
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            outcome = server.stdout.readline().strip()
            kills += outcome == "killed"
            time.sleep(0.03)
        # a final, uninterrupted run cleans up whatever the killed ones left
        with reader.lock:
            report = compact(store, DAY, settle_s=0.05)
        time.sleep(0.2)
    finally:
        server.stdin.close()
        server.wait(timeout=30)
        reader.stop.set()
        reader.join(timeout=30)
    assert kills >= 10, f"only {kills} runs were killed"
    assert reader.reads > 20
    assert not reader.errors, reader.errors[:5]
    assert _snapshot(store) == _expected(next_id)
    # the final run merged what was left (or a killed run had already merged everything)
    assert len(store.live_segments()) == 1 and report.rows in (0, next_id)
    assert pq.read_metadata(store.live_segments()[0]).num_rows == next_id
    assert sorted(p.name for p in store.events_dir.iterdir()) == [p.name for p in store.live_segments()]
    assert not [p for p in store.tmp_dir.iterdir() if p.name.startswith("c-")]
