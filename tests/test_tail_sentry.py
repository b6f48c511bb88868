"""Sentry outage: receiver down, then 429 with Retry-After, then 500, then ok: every alert arrives once."""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from test_tail_support import TailProcess, clean_env, native, run_cli, write_config

CONFIG = """[tail]
by = ["route"]
flush_interval_s = 0.2
window_s = 60
retry_base_s = 0.2
retry_max_s = 0.5
sentry_timeout_s = 1.0

[sentry]
cooldown_s = 3600
"""
ROUTES = ("chat", "search", "summarize")


def _baseline(tmp_path: Path, store: Path) -> None:
    rng = random.Random(3)
    ts = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    lines = [native(i, prefix=f"base-{route}", route=route, refuse=rng.random() < 0.02, words=rng.randint(20, 40), ts=ts)
             for route in ROUTES for i in range(1500)]
    (tmp_path / "baseline.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    res = run_cli(tmp_path, "ingest", str(tmp_path / "baseline.jsonl"), "--store", str(store))
    assert res.returncode == 0, res.stderr


def _regressed(log: Path, start: int, n: int) -> None:
    rng = random.Random(start)
    with open(log, "ab") as fh:
        for i in range(start, start + n):
            for route in ROUTES:
                fh.write(native(i, prefix=f"cur-{route}", route=route, refuse=rng.random() < 0.4,
                                words=rng.randint(20, 40)) + b"\n")


def test_alerts_survive_a_sentry_outage_and_arrive_exactly_once(tmp_path: Path, sentry_receiver) -> None:
    store = tmp_path / "store"
    write_config(tmp_path / "llm-monitor.toml", CONFIG)
    _baseline(tmp_path, store)
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    sentry_receiver.stop()  # Sentry is down from the start
    proc = TailProcess(tmp_path, store, [str(log)], env=clean_env(SENTRY_DSN=sentry_receiver.dsn)).start()
    proc.wait_status(lambda s: s["segments_monitored"] == 3, timeout=60)
    _regressed(log, 0, 300)
    proc.wait_status(lambda s: s["open_alerts"] == 3 and s["outbox_pending"] == 3, timeout=60)
    time.sleep(1.0)  # a few failed delivery attempts against the closed port

    sentry_receiver.set_mode("429", retry_after=1)
    sentry_receiver.start()
    assert sentry_receiver.wait_for(lambda r: any(q.status == 429 for q in r.requests), timeout=20)
    sentry_receiver.set_mode("500")
    assert sentry_receiver.wait_for(lambda r: any(q.status == 500 for q in r.requests), timeout=20)
    assert sentry_receiver.events() == []
    sentry_receiver.set_mode("ok")
    assert sentry_receiver.wait_for(lambda r: len(r.events()) >= 3, timeout=30)
    proc.wait_status(lambda s: s["outbox_pending"] == 0, timeout=30)

    # the regression continues: the alerts stay open, nothing new is sent within the cooldown
    _regressed(log, 300, 300)
    proc.wait_status(lambda s: s["total_events"] >= 1800 and s["lag_bytes"] == 0, timeout=60)
    time.sleep(1.5)
    rc, took = proc.terminate(signal.SIGTERM)
    assert rc == 0 and took < 5

    events = sentry_receiver.events()
    assert len(events) == 3
    assert len({e["event_id"] for e in events}) == 3
    assert sorted(e["fingerprint"][2] for e in events) == [f"route={r}" for r in sorted(ROUTES)]
    assert {e["fingerprint"][1] for e in events} == {"refusal_rate"}
    assert all(e["tags"]["alert_transition"] == "opened" for e in events)
    with sqlite3.connect(store / "outbox.sqlite") as db:
        sent = {r[0] for r in db.execute("SELECT event_id FROM outbox WHERE state = 'sent'")}
        states = db.execute("SELECT state, count(*) FROM alerts GROUP BY state").fetchall()
    assert sent == {e["event_id"] for e in events}
    assert states == [("open", 3)]
    statuses = [q.status for q in sentry_receiver.requests]
    assert 429 in statuses and 500 in statuses
