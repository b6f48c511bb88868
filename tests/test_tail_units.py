"""In-process tests of the tailer's parts (fast; the real-process tests are in the other test_tail_* files)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from detectors.histogram import IntHistogram
from monitor.config import Config
from monitor.errors import UserError
from monitor.ingest import BatchLoader, Line
from monitor.store import Store
from monitor.tail import Tailer, TailSettings
from monitor.tail.detect import WindowState
from monitor.tail.follower import Follower
from monitor.stats import SegmentStats
from test_tail_support import native


def test_a_batch_that_crashes_the_loader_is_bisected_to_the_bad_line(tmp_path: Path) -> None:
    t = Tailer([str(tmp_path / "x.log")], Store(tmp_path / "s"), Config(), TailSettings(), quiet=True)
    loader = BatchLoader(Config(), "x", input_format="native")
    loader.source_id = "tail:x"
    real = loader.load

    def flaky(lines: list[Line]):  # an adapter bug triggered by one line
        if any(line.raw == b'{"boom": 1}' for line in lines):
            raise RecursionError("adapter bug")
        return real(lines)

    loader.load = flaky  # type: ignore[method-assign]
    lines = [Line(i + 1, (i + 1) * 300, native(i)) for i in range(100)]
    lines[61] = Line(62, 62 * 300, b'{"boom": 1}')
    batch = t._load(loader, lines)
    assert len(batch.frame) == 99
    assert [(r["line"], r["reason"].split(":")[0]) for r in batch.rejects] == [(62, "could not be processed")]


@pytest.mark.parametrize("table, needle", [({"window_s": 0}, "window_s"), ({"by": ["colour"]}, "by"),
                                           ({"max_batch_lines": 2.5}, "max_batch_lines"),
                                           ({"baseline": "nope=1"}, "nope"), ({"flush_interval_s": True}, "flush")])
def test_bad_tail_settings_name_the_key(table: dict, needle: str) -> None:
    with pytest.raises(UserError, match=needle):
        TailSettings.from_config(table)


def _lengths(rng: np.random.Generator, n: int, scale: float = 1.0) -> IntHistogram:
    return IntHistogram.from_samples(np.rint(scale * rng.lognormal(6, 0.5, n)).astype(int))


def test_window_state_is_quiet_without_change_and_alerts_on_a_step() -> None:
    rng = np.random.default_rng(7)
    base = SegmentStats(n=20_000, refusals=400, json_n=5_000, parse_failures=50, length=_lengths(rng, 19_600))
    ws = WindowState(["route"], floors={"refusal_rate": 0.005, "response_length": 0.05}, window_s=300)
    ws.set_baseline({("chat",): base}, now=0.0)
    t = 0.0
    for _ in range(360):  # one hour at 10 events/s, checked every 10 s: no alert
        t += 10
        n = 100
        ref = int(rng.binomial(n, 0.02))
        ws.add({("chat",): SegmentStats(n=n, refusals=ref, json_n=25, parse_failures=int(rng.binomial(25, 0.01)),
                                        length=_lengths(rng, n - ref))}, now=t)
        assert not [f for f in ws.check(now=t) if f.alert]
    alerted_at = None
    for _ in range(60):  # refusal rate 2% -> 8%
        t += 10
        ref = int(rng.binomial(100, 0.08))
        ws.add({("chat",): SegmentStats(n=100, refusals=ref, length=_lengths(rng, 100 - ref))}, now=t)
        alerts = [f for f in ws.check(now=t) if f.alert]
        if alerts:
            alerted_at = t
            assert alerts[0].metric == "refusal_rate" and alerts[0].direction == "worse"
            assert alerts[0].segment == {"route": "chat"}
            break
    assert alerted_at is not None and alerted_at - 3600 <= 300


def test_follower_copytruncate_and_resume(tmp_path: Path) -> None:
    app = tmp_path / "app.log"
    app.write_bytes(b"".join(native(i) + b"\n" for i in range(10)))
    f = Follower([str(tmp_path / "app.log*")], resume=lambda sid: (0, 0))
    f.scan()
    (src,) = f.sources()
    first = f.read(src, max_bytes=1 << 20, max_lines=4)
    assert [line.number for line in first.lines] == [1, 2, 3, 4]
    with open(app, "ab") as fh:
        fh.write(native(10) + b"\n")
    shutil.copyfile(app, tmp_path / "app.log.1")
    os.truncate(app, 0)
    app.write_bytes(native(100) + b"\n")
    f.scan()
    by_id = {s.id: s for s in f.sources()}
    assert src.id in by_id and len(by_id) == 2
    rest = f.read(by_id[src.id], max_bytes=1 << 20, max_lines=100)  # from the copy
    assert [json.loads(line.raw)["request_id"] for line in rest.lines] == [f"r-{i}" for i in range(4, 11)]
    new = next(s for s in by_id.values() if s.id != src.id)
    assert [json.loads(line.raw)["request_id"] for line in f.read(new, max_bytes=1 << 20, max_lines=9).lines] == ["r-100"]
    f.close()
    # a new follower resuming at line 4 of the old source reads the same rest
    g = Follower([str(tmp_path / "app.log*")], resume=lambda sid: (first.lines[-1].end_offset, 4) if sid == src.id else (0, 0))
    g.scan()
    again = g.read(next(s for s in g.sources() if s.id == src.id), max_bytes=1 << 20, max_lines=100)
    assert [line.number for line in again.lines] == list(range(5, 12))
    g.close()


def test_alert_opens_resolves_after_recovery_and_reopens(tmp_path: Path) -> None:
    from sinks.outbox import AlertLifecycle, Outbox

    rng = np.random.default_rng(3)
    base = SegmentStats(n=20_000, refusals=400, length=_lengths(rng, 19_600))
    ws = WindowState(["route"], floors={"refusal_rate": 0.005, "response_length": 0.05}, window_s=60)
    ws.set_baseline({("chat",): base}, now=0.0)
    life = AlertLifecycle(Outbox(tmp_path / "o.sqlite"), cooldown=3600, resolve_after=120)
    actions: list[str] = []

    def step(t: float, p: float) -> None:
        ref = int(rng.binomial(50, p))
        ws.add({("chat",): SegmentStats(n=50, refusals=ref, length=_lengths(rng, 50 - ref))}, now=t)
        for f in ws.check(now=t):
            if f.alert and f.metric == "refusal_rate":
                actions.append(life.observe(f.to_dict(), now=t).action)
        if life.open_alerts():
            f = ws.status_finding(("chat",), "refusal_rate", now=t)
            assert f is not None and not f.alert
            actions.append(life.observe(f.to_dict(), now=t).action)

    t = 0.0
    for p, seconds in ((0.02, 300), (0.15, 120), (0.02, 400), (0.15, 120)):
        for _ in range(int(seconds / 5)):
            t += 5
            step(t, p)
    assert actions.count("opened") == 1 and actions.count("reopened") == 1
    assert actions.index("opened") < actions.index("resolved") < actions.index("reopened")
    assert len(life.outbox.pending()) == 2  # opened + reopened; nothing while suppressed


def test_the_loop_returns_only_after_a_compaction_in_progress_ends(tmp_path: Path, monkeypatch) -> None:
    # Found by CI: the tailer exited with SIGABRT on SIGTERM once. The compactor is a daemon
    # thread; a merge still running in pyarrow / DuckDB while the interpreter is torn down aborts
    # the process. The loop now joins it, so a merge in progress ends before run() returns.
    import threading
    import time

    import monitor.tail.compactor as compactor

    started, finished = threading.Event(), threading.Event()

    def slow_merge(*args, **kwargs) -> int:
        started.set()
        time.sleep(1.0)
        finished.set()
        return 0

    monkeypatch.setattr(compactor, "compact_streaming", slow_merge)
    log = tmp_path / "x.log"
    log.write_bytes(native(1) + b"\n")
    t = Tailer([str(log)], Store(tmp_path / "s"), Config(), TailSettings(compact_interval_s=0.05), quiet=True)
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(t.run()))
    runner.start()
    assert started.wait(30)
    t.stop.set()
    runner.join(30)
    assert result == [0]
    assert finished.is_set() and not t._compactor.is_alive()
