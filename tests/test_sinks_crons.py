"""Sentry Crons check-ins through the real SDK to the loopback receiver."""

from __future__ import annotations

from typing import Any

import pytest

from sentry_receiver import SentryReceiver
from sinks.crons import checkin, cron_job, monitor_config


def test_checkin_pair_ok(sentry_receiver: SentryReceiver, make_sentry_sink: Any) -> None:
    make_sentry_sink()
    cfg = monitor_config("0 3 * * *", timezone="Europe/Berlin", checkin_margin=10, max_runtime=90)
    with cron_job("llm-monitor-nightly", cfg) as run:
        assert run.check_in_id
    assert run.status == "ok"
    assert sentry_receiver.wait_for(lambda r: len(r.checkins()) == 2)
    first, last = sentry_receiver.checkins()
    assert (first["status"], last["status"]) == ("in_progress", "ok")
    assert first["check_in_id"] == last["check_in_id"] == run.check_in_id
    assert first["monitor_slug"] == last["monitor_slug"] == "llm-monitor-nightly"
    assert first["monitor_config"] == {
        "schedule": {"type": "crontab", "value": "0 3 * * *"},
        "timezone": "Europe/Berlin",
        "checkin_margin": 10,
        "max_runtime": 90,
    }
    assert last["duration"] >= 0 and first["environment"] == "test"


def test_checkin_error_on_exception(sentry_receiver: SentryReceiver, make_sentry_sink: Any) -> None:
    make_sentry_sink()
    with pytest.raises(RuntimeError, match="store unreadable"):
        with cron_job("nightly", monitor_config("15 1 * * *")):
            raise RuntimeError("store unreadable")
    assert sentry_receiver.wait_for(lambda r: len(r.checkins()) == 2)
    first, last = sentry_receiver.checkins()
    assert (first["status"], last["status"]) == ("in_progress", "error")
    assert first["check_in_id"] == last["check_in_id"]
    # our own exception is not captured as an error event (no automatic integrations)
    assert sentry_receiver.events() == []


def test_checkin_error_on_nonzero_exit(sentry_receiver: SentryReceiver, make_sentry_sink: Any) -> None:
    make_sentry_sink()
    with pytest.raises(SystemExit):
        with cron_job("nightly"):
            raise SystemExit(2)
    with pytest.raises(SystemExit):
        with cron_job("nightly"):
            raise SystemExit(0)
    assert sentry_receiver.wait_for(lambda r: len(r.checkins()) == 4)
    assert [c["status"] for c in sentry_receiver.checkins()] == ["in_progress", "error", "in_progress", "ok"]


def test_without_client_is_noop() -> None:
    import sentry_sdk

    sentry_sdk.init(dsn=None, default_integrations=False)
    assert checkin("x", "in_progress") is None
    with cron_job("x") as run:
        pass
    assert run.check_in_id is None and run.status == "ok"
    with pytest.raises(ValueError):
        monitor_config("0 3 * *")
