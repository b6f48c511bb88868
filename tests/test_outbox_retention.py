"""The outbox's retention: ``[outbox] retention_days``; finished entries older than it are deleted
by the sidecar (hourly) and the nightly job (``monitor.alerting.purge_outbox``); pending entries never."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from monitor.alerting import purge_outbox
from monitor.config import Config, load_config
from monitor.errors import ConfigError
from monitor.store import Store
from monitor.tail import run_tail
from sinks.outbox import Outbox, SendResult
from test_tail_support import native

DAY = 86400.0


def _finding(metric: str) -> dict:
    return {"metric": metric, "segment": {"route": "chat"}, "alert": True}


def _fill(box: Outbox, t0: float) -> None:
    """Enqueued at t0: one sent, one failed (permanent), one still pending after a failed attempt;
    at t0 + 6 days: one sent."""
    box.enqueue(_finding("sent_old"), now=t0)
    box.deliver(lambda p, e: SendResult(delivered=True, status=200), now=t0)
    box.enqueue(_finding("failed_old"), now=t0)
    box.deliver(lambda p, e: SendResult(delivered=False, status=400, permanent=True), now=t0)
    box.enqueue(_finding("sent_recent"), now=t0 + 6 * DAY)
    box.deliver(lambda p, e: SendResult(delivered=True, status=200), now=t0 + 6 * DAY + 3600)
    box.enqueue(_finding("pending_old"), now=t0)
    box.deliver(lambda p, e: SendResult(delivered=False, status=500), now=t0 + 6 * DAY + 3600)


def _metrics(box: Outbox) -> dict[str, str]:
    return {e.payload["finding"]["metric"]: e.state for e in box.entries()}


def test_entries_older_than_the_retention_are_purged_and_pending_never(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with Outbox(store.outbox_path) as box:
        _fill(box, 0.0)
        assert _metrics(box) == {"sent_old": "sent", "failed_old": "failed", "pending_old": "pending",
                                 "sent_recent": "sent"}
    config = Config()
    assert config.outbox_retention_days == 7
    assert purge_outbox(store, config, now=6 * DAY) == 0  # nothing is 7 days old yet
    assert purge_outbox(store, config, now=8 * DAY) == 2
    with Outbox(store.outbox_path) as box:
        assert _metrics(box) == {"pending_old": "pending", "sent_recent": "sent"}
    assert purge_outbox(store, config, now=1000 * DAY) == 1  # the recent one, in its turn
    with Outbox(store.outbox_path) as box:
        assert _metrics(box) == {"pending_old": "pending"}  # waits for a DSN, whatever its age
        assert box.counts() == {"pending": 1, "sent": 0, "failed": 0}
    other, short = Store(tmp_path / "other"), Config(outbox_retention_days=0.5)
    with Outbox(other.outbox_path) as box:
        box.enqueue(_finding("sent_today"), now=0)
        box.deliver(lambda p, e: SendResult(delivered=True, status=200), now=0)
    assert purge_outbox(other, short, now=0.4 * DAY) == 0
    assert purge_outbox(other, short, now=0.6 * DAY) == 1


def test_retention_days_is_a_config_key(tmp_path: Path) -> None:
    p = tmp_path / "llm-monitor.toml"
    p.write_text("[outbox]\nretention_days = 30\n")
    assert load_config(str(p)).outbox_retention_days == 30.0
    for bad in ("0", "-1", '"7d"', "true"):
        p.write_text(f"[outbox]\nretention_days = {bad}\n")
        with pytest.raises(ConfigError, match=r"outbox\.retention_days: must be days, a number > 0") as info:
            load_config(str(p))
        assert info.value.path == str(p)
    p.write_text("[outbox]\nretention = 7\n")
    with pytest.raises(ConfigError, match=r"outbox\.retention: unknown key; known keys here: outbox\.retention_days"):
        load_config(str(p))


def test_the_sidecar_applies_the_retention(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    now = time.time()
    with Outbox(store.outbox_path) as box:
        _fill(box, now - 10 * DAY)
    log = tmp_path / "app.log"
    log.write_bytes(native(1) + b"\n")
    cfg = tmp_path / "llm-monitor.toml"
    cfg.write_text("[outbox]\nretention_days = 3\n")
    assert run_tail([str(log)], store=store.root, config=cfg, once=True, quiet=True) == 0
    with Outbox(store.outbox_path) as box:
        assert _metrics(box) == {"pending_old": "pending"}
