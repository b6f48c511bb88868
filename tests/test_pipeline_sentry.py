"""The whole pipeline to Sentry: `llm-monitor demo` / `check` with SENTRY_DSN pointing at a real
loopback envelope receiver, through the real sentry-sdk in a real subprocess."""

from __future__ import annotations

import json
import time
from pathlib import Path

from helpers import run_cli

DEMO_ALERTS = {("chat", "response_length"), ("support", "refusal_rate"), ("extract", "json_invalid_rate"),
               ("extract", "schema_violation_rate"),
               ("summarize", "task_success_rate")}


def test_demo_sends_each_alert_once_without_text(tmp_path: Path, sentry_receiver) -> None:
    store = tmp_path / "store"
    result = run_cli("demo", "--store", str(store), "--events", "3000",
                     env={"SENTRY_DSN": sentry_receiver.dsn, "SENTRY_ENVIRONMENT": "ci"})
    assert result.returncode == 0, result.stderr
    assert "Sentry: 5 sent" in result.stdout, result.stdout
    events = sentry_receiver.events()
    assert len(events) == 5
    seen = {(e["tags"]["route"], e["tags"]["metric"]) for e in events}
    assert seen == DEMO_ALERTS
    for e in events:
        assert e["fingerprint"][0] == "llm-monitor" and e["fingerprint"][1] == e["tags"]["metric"]
        assert e["tags"]["model"] == "acme-chat" and e["tags"]["model_version"] == "2026-11-20"
        assert e["environment"] == "ci"
        assert e["level"] in ("warning", "error")
        n_current = e["contexts"]["finding"]["n_current"]
        if e["tags"]["metric"] in ("refusal_rate", "json_invalid_rate", "task_success_rate"):
            assert n_current == 3000
        elif e["tags"]["metric"] == "schema_violation_rate":  # among the events whose JSON parsed
            finding = e["contexts"]["finding"]
            assert 2500 < n_current < 3000 and finding["details"]["baseline_model_version"] == "2026-10-01"
        else:  # length counts the responses that are not refusals
            assert 2900 < n_current <= 3000
    raw = b"".join(r.envelope.raw for r in sentry_receiver.requests if r.envelope is not None)
    assert raw
    for text in (b"user request #", b"I'm sorry", b"INV-0", b"invoice_id"):
        assert text not in raw
    # a second run within the cooldown sends nothing new: the alerts are still open
    again = run_cli("check", "--store", str(store), "--baseline", "model=acme-chat,model_version=2026-10-01",
                    "--current", "model=acme-chat,model_version=2026-11-20", env={"SENTRY_DSN": sentry_receiver.dsn})
    assert again.returncode == 1
    assert len(sentry_receiver.events()) == 5


def test_alerts_wait_in_outbox_until_sentry_is_reachable(tmp_path: Path, sentry_receiver) -> None:
    store = tmp_path / "store"
    sentry_receiver.stop()
    first = run_cli("demo", "--store", str(store), "--events", "3000", env={"SENTRY_DSN": sentry_receiver.dsn})
    assert first.returncode == 0, first.stderr
    assert "pending" in first.stdout
    sentry_receiver.start()
    time.sleep(2.5)  # the failed delivery backs off (outbox base_backoff = 2 s) before it is retried
    again = run_cli("check", "--store", str(store), "--baseline", "model=acme-chat,model_version=2026-10-01",
                    "--current", "model=acme-chat,model_version=2026-11-20", env={"SENTRY_DSN": sentry_receiver.dsn})
    assert again.returncode == 1
    assert sentry_receiver.wait_for(lambda r: len(r.events()) >= 4, timeout=10)
    assert {(e["tags"]["route"], e["tags"]["metric"]) for e in sentry_receiver.events()} == DEMO_ALERTS
    assert len(sentry_receiver.events()) == 5
