"""Sentry Crons check-ins for scheduled jobs (``llm-monitor nightly``).

A job checks in ``in_progress`` when it starts and ``ok`` or ``error`` (same ``check_in_id``,
with the duration) when it ends, under a monitor slug with a ``monitor_config`` (crontab
schedule, timezone, check-in margin, max runtime). Sentry then alerts when the job fails, runs
too long, or never starts at all.

Check-ins go through ``sentry_sdk.crons.capture_checkin`` on the client that is current when
the job runs (create a :class:`sinks.sentry.SentrySink` first, or call ``sentry_sdk.init``).
Without a configured client the calls are no-ops and the job still runs. Check-ins are not put
in the outbox: a late "ok" for a run is worthless, and Sentry itself flags a missing check-in.
They are flushed before :func:`cron_job` returns.

Example (no DSN configured: check-ins are skipped, the body still runs):
    >>> cfg = monitor_config("0 3 * * *", timezone="UTC", checkin_margin=10, max_runtime=60)
    >>> cfg["schedule"]
    {'type': 'crontab', 'value': '0 3 * * *'}
    >>> with cron_job("llm-monitor-nightly", cfg) as job:
    ...     result = 1 + 1
    >>> job.status, result
    ('ok', 2)
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sentry_sdk
from sentry_sdk.crons import capture_checkin

__all__ = ["monitor_config", "cron_job", "CronRun", "checkin"]


def monitor_config(
    schedule: str,
    *,
    timezone: str = "UTC",
    checkin_margin: int | None = 5,
    max_runtime: int | None = 60,
    failure_issue_threshold: int | None = None,
    recovery_threshold: int | None = None,
) -> dict[str, Any]:
    """Build a Sentry ``monitor_config`` for a crontab schedule (margins in minutes).

    >>> monitor_config("30 2 * * *", timezone="Europe/Paris", checkin_margin=15, max_runtime=120)
    {'schedule': {'type': 'crontab', 'value': '30 2 * * *'}, 'timezone': 'Europe/Paris', 'checkin_margin': 15, 'max_runtime': 120}
    """
    if len(schedule.split()) != 5:
        raise ValueError(f"crontab schedule must have 5 fields: {schedule!r}")
    cfg: dict[str, Any] = {"schedule": {"type": "crontab", "value": schedule}, "timezone": timezone}
    if checkin_margin is not None:
        cfg["checkin_margin"] = int(checkin_margin)
    if max_runtime is not None:
        cfg["max_runtime"] = int(max_runtime)
    if failure_issue_threshold is not None:
        cfg["failure_issue_threshold"] = int(failure_issue_threshold)
    if recovery_threshold is not None:
        cfg["recovery_threshold"] = int(recovery_threshold)
    return cfg


def checkin(
    slug: str,
    status: str,
    *,
    check_in_id: str | None = None,
    duration: float | None = None,
    monitor_config: Mapping[str, Any] | None = None,
) -> str | None:
    """Send one check-in; return its ``check_in_id`` (None when no Sentry client is configured)."""
    if status not in ("in_progress", "ok", "error"):
        raise ValueError(f"bad check-in status {status!r}")
    if not sentry_sdk.get_client().is_active():
        return None
    return capture_checkin(
        monitor_slug=slug,
        check_in_id=check_in_id,
        status=status,
        duration=duration,
        monitor_config=dict(monitor_config) if monitor_config else None,
    )


@dataclass
class CronRun:
    """State of one :func:`cron_job` run: its ``check_in_id`` and final ``status``."""

    slug: str
    check_in_id: str | None = None
    status: str = "in_progress"
    duration: float | None = None


@contextmanager
def cron_job(
    slug: str,
    monitor_config: Mapping[str, Any] | None = None,
    *,
    flush_timeout: float = 5.0,
) -> Iterator[CronRun]:
    """Wrap a job in an ``in_progress`` -> ``ok``/``error`` check-in pair.

    Any exception (``SystemExit`` with a non-zero code and ``KeyboardInterrupt`` included) is
    reported as ``error`` and re-raised. Both check-ins carry ``monitor_config`` so the monitor
    is created or updated by the first run (Sentry's upsert).
    """
    run = CronRun(slug)
    start = time.monotonic()
    run.check_in_id = checkin(slug, "in_progress", monitor_config=monitor_config)
    try:
        yield run
    except SystemExit as exc:
        run.status = "ok" if exc.code in (0, None) else "error"
        raise
    except BaseException:
        run.status = "error"
        raise
    else:
        run.status = "ok"
    finally:
        run.duration = time.monotonic() - start
        if run.check_in_id is not None:
            checkin(slug, run.status, check_in_id=run.check_in_id, duration=run.duration,
                    monitor_config=monitor_config)
            sentry_sdk.flush(timeout=flush_timeout)
