"""Bounded disk: a real sidecar with small retention limits keeps its store bounded while events keep
coming, loses no event inside the retention window and no unsent alert, and does not read again
what retention deleted after a restart."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path

from monitor.store import Store
from sinks.alert_log import append_alerts, read_alerts
from sinks.outbox import Outbox, SendResult
from test_tail_support import TailProcess, native, run_once, write_config

EVENTS_S = 10.0  # events are kept for 10 seconds: time passes fast in a test
CONFIG = f"""[tail]
by = ["route"]
flush_interval_s = 0.2
housekeeping_interval_s = 1
compact_interval_s = 2
compact_min_segments = 4

[retention]
events_days = {EVENTS_S / 86400!r}
quarantine_days = 1
quarantine_max_bytes = 20000
alerts_max_bytes = 4000
alerts_keep = 2

[outbox]
retention_days = 1
"""


def _bytes(paths: list[Path]) -> int:
    total = 0
    for p in paths:
        try:
            total += p.stat().st_size
        except FileNotFoundError:
            pass
    return total


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_the_store_stays_bounded_and_nothing_inside_the_window_is_lost(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    write_config(tmp_path / "llm-monitor.toml", CONFIG)
    store = Store(store_dir)
    with Outbox(store.outbox_path) as box:  # two old delivered entries (purged) and two unsent ones (kept)
        for i in range(4):
            box.enqueue({"metric": "refusal_rate", "segment": {"route": f"r{i}"}}, now=1000.0 + i)
        report = box.deliver(lambda p, e: SendResult(delivered=True, status=200), now=2000.0, max_items=2)
        assert report.sent == 2
        pending_ids = {e.event_id for e in box.pending()}
    assert len(pending_ids) == 2

    log = tmp_path / "app.log"
    log.write_bytes(b"")
    proc = TailProcess(tmp_path, store_dir, [str(log)]).start()
    written: dict[str, float] = {}
    samples: list[tuple[float, int, int, int, int]] = []  # (t, events bytes, quarantine bytes, alert bytes, rows)
    alert_rows = 0
    started = time.monotonic()
    try:
        proc.wait_status(lambda s: s["uptime_s"] > 0, timeout=90)
        i = 0
        while time.monotonic() - started < 36:
            with open(log, "ab") as fh:
                for _ in range(100):
                    line = native(i, prefix="e", route="chat")
                    written[f"e-{i}"] = _ts(json.loads(line)["ts"])
                    fh.write(line + b"\n")
                    i += 1
                fh.write((b"{bad " + b"x" * 400 + b"\n") * 3)
            finding = {"metric": "refusal_rate", "segment": {"route": "chat"}, "alert": True, "note": "y" * 600}
            alert_rows += append_alerts(store.alert_log, [finding], run_id=f"check-{i}")  # a `check` run meanwhile
            time.sleep(0.5)
            samples.append((time.monotonic() - started,
                            _bytes(list(store.events_dir.glob("*.parquet"))),
                            _bytes(list(store.quarantine_dir.glob("*.jsonl"))),
                            _bytes(list(store_dir.glob("alerts.jsonl*"))),
                            len(written)))
        proc.wait_status(lambda s: s["lag_bytes"] == 0 and s["total_events"] == len(written), timeout=60)
        query_time = time.time()
        ids = set(Store(store_dir).sql("SELECT request_id FROM events").request_id)
    finally:
        rc, _ = proc.terminate()
    assert rc == 0, proc.stderr()[-3000:]
    assert "Traceback" not in proc.stderr()

    # nothing inside the retention window is lost (a segment goes only once its newest event is older)
    recent = {rid for rid, ts in written.items() if ts >= query_time - EVENTS_S}
    assert recent and recent <= ids, sorted(recent - ids)[:5]
    # ... and what is older did go: the store holds far fewer events than were written
    assert len(written) >= 3000 and len(ids) < len(written) / 2, (len(ids), len(written))

    # disk bounded: after the warm-up, the event segments stay at a steady size while the log grows
    steady = [s for s in samples if s[0] > 18]
    first, last = steady[: len(steady) // 2], steady[len(steady) // 2:]
    assert max(s[1] for s in last) <= 1.5 * max(s[1] for s in first), [s[:2] for s in steady]
    assert max(s[2] for s in steady) <= 20000 + 8000  # quarantine: its byte limit (+ one pass's worth)
    assert max(s[3] for s in steady) <= 3 * (4000 + 2000)  # alerts.jsonl + 2 rotated files, each ~ the limit
    assert {p.name for p in store_dir.glob("alerts.jsonl*")} <= {"alerts.jsonl", "alerts.jsonl.1", "alerts.jsonl.2"}
    assert read_alerts(store.alert_log.with_name("alerts.jsonl.1"))  # rotated, complete lines

    # no unsent alert lost; delivered entries older than retention_days deleted
    with Outbox(store.outbox_path) as box:
        assert {e.event_id for e in box.pending()} == pending_ids
        assert box.counts()["sent"] == 0

    # once retention has deleted every event of the file, a restart resumes past them (retained.json)
    time.sleep(EVENTS_S + 1)
    res = run_once(tmp_path, store_dir, [str(log)])  # its housekeeping deletes the rest
    assert res.returncode == 0, res.stderr
    assert int(Store(store_dir).sql("SELECT count(*) AS n FROM events").n[0]) == 0
    res = run_once(tmp_path, store_dir, [str(log)], "--status-file", str(tmp_path / "once.json"))
    assert res.returncode == 0, res.stderr
    again = json.loads((tmp_path / "once.json").read_text())
    # (only the 3 bad lines after the source's last event are read again, as after any restart)
    assert again["total_lines"] <= 3 and again["total_events"] == 0, again
    retained = json.loads((store_dir / "retained.json").read_text())
    assert list(retained) and all(k.startswith("tail:") for k in retained)
