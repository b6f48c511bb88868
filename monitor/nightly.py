"""``llm-monitor nightly``: compare a day with its trailing baseline, once a night.

Steps (each one line on stdout, a progress bar on stderr when it is a terminal):

1. compaction of the day's small segments (:mod:`monitor.compaction`; skipped with
   ``--no-compact``);
2. the comparison: current = the UTC day ``--date`` (default: yesterday), baseline = the
   ``nightly.baseline_days`` (default 7) days before it, or the pinned selector
   ``nightly.baseline`` from the config (e.g. ``model_version=2026-10-01``). Segments default to
   the configured ``segments.by`` without ``model_version`` (``model,route``): a new model version
   has no history of its own, so segmenting by it would compare nothing. The versions seen in
   each window are named in every finding's ``details`` (``versions_baseline``,
   ``versions_current``, ``new_versions``);
3. for every alert, the change point (:mod:`detectors.changepoint`) on the hourly series of the
   segment over baseline and current: ``changed_at`` (first hour of the new regime),
   ``changed_at_low`` / ``changed_at_high`` (95% credible interval) and
   ``versions_near_change`` (model versions first seen in the segment within an hour of that
   interval);
4. the findings go through :func:`monitor.alerting.dispatch` (alert log, lifecycle, outbox,
   Sentry with a DSN);
5. the retention: ``[outbox] retention_days`` and ``[retention]`` (:mod:`monitor.retention`:
   events older than ``events_days`` if set, old quarantine files, the alert log's rotation),
   after the comparison so that the day's baseline is read first; one line when it deleted anything;
6. with ``--report PATH`` (checked before anything runs), the HTML report
   (:func:`monitor.report.write_report`).

With a DSN (``SENTRY_DSN`` or ``sentry.dsn``) the whole job is wrapped in a Sentry Crons
check-in pair under ``sentry.monitor_slug`` (``in_progress``, then ``ok`` or ``error`` with the
same ``check_in_id``); the ``monitor_config`` carries ``sentry.schedule``, ``sentry.timezone``,
``sentry.checkin_margin`` and ``sentry.max_runtime``, so Sentry also alerts when the job never
starts or runs too long. Alerts found do not make the check-in an error: the job worked.

The command's exit codes: 0 = no alert, 1 = at least one alert, 2 = error or nothing to compare (one line
on stderr), 3 = a bug.

Example (a store with no events: nothing to compare, which is never a pass):
    >>> import sys, tempfile, monitor
    >>> m = monitor.open(tempfile.mkdtemp())
    >>> run_nightly(m, day="2026-11-25", out=sys.stdout)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    monitor.errors.NothingToCompare: nothing to compare: the baseline window 'since=2026-11-18,until=2026-11-25' is empty: ...
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, TextIO

import pandas as pd

from detectors.finding import Finding
from monitor.attribution import locate_changes, name_versions, version_inventory
from monitor.config import check_segment_keys
from monitor.errors import UserError
from monitor.progress import Progress


# ------------------------------------------------------------------------------- windows
def parse_day(text: str | None, *, today: dt.date | None = None) -> dt.date:
    """The day to check: ``YYYY-MM-DD``, default yesterday (UTC).

    >>> parse_day("2026-11-25"), parse_day(None, today=dt.date(2026, 3, 1))
    (datetime.date(2026, 11, 25), datetime.date(2026, 2, 28))
    """
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise UserError(f"day {text!r} is not a date: use YYYY-MM-DD") from None
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return today - dt.timedelta(days=1)


def nightly_windows(day: dt.date, baseline_days: int = 7, pinned: str | None = None) -> tuple[str, str]:
    """(baseline, current) selectors for ``day``.

    >>> nightly_windows(dt.date(2026, 11, 25))
    ('since=2026-11-18,until=2026-11-25', 'since=2026-11-25,until=2026-11-26')
    >>> nightly_windows(dt.date(2026, 11, 25), pinned="model_version=v1")[0]
    'model_version=v1'
    """
    current = f"since={day.isoformat()},until={(day + dt.timedelta(days=1)).isoformat()}"
    if pinned:
        return pinned, current
    start = day - dt.timedelta(days=baseline_days)
    return f"since={start.isoformat()},until={day.isoformat()}", current


def nightly_keys(by: str | None, configured: list[str]) -> list[str]:
    """Segment keys: ``--by`` if given, else the configured keys without ``model_version``.

    >>> nightly_keys(None, ["model", "model_version", "route"]), nightly_keys("route", [])
    (['model', 'route'], ['route'])
    """
    if by:
        return [k.strip() for k in by.split(",") if k.strip()]
    return [k for k in configured if k != "model_version"] or ["model"]


# ------------------------------------------------------------------------------- the job
@dataclass
class NightlyResult:
    """What one nightly run found: the comparison (with change points and versions), the new
    model versions of the day, and where the report went."""

    day: dt.date
    comparison: Any
    new_versions: list[Finding] = field(default_factory=list)
    report: Path | None = None
    crons_status: str | None = None
    """``ok`` / ``error`` of the Sentry Crons check-in; None without a DSN."""

    @property
    def alerts(self) -> list[Finding]:
        """The alerting findings, then one ``new_model_version`` finding per new version."""
        return list(self.comparison.alerts) + list(self.new_versions)


def _count(m: Any, selector: str) -> int:
    from monitor.selectors import parse_selector

    where, params = parse_selector(selector).where()
    return int(m.sql(f"SELECT count(*) AS n FROM events WHERE {where}", params).n.iloc[0])


def _say(out: TextIO | None, text: str) -> None:
    if out is not None:
        print(text, file=out)


def nightly_job(m: Any, *, day: dt.date | str | None = None, by: Iterable[str] | None = None,
                report: str | os.PathLike[str] | None = None, compact: bool = True,
                progress: Progress | None = None, out: TextIO | None = None) -> NightlyResult:
    """The job's body, without Sentry Crons (see the module docstring); one line per step to ``out``."""
    from monitor.alerting import dispatch, purge_outbox
    from monitor.compaction import compact as compact_day
    from monitor.retention import apply_retention
    from sinks.console import render_table, render_unmatched

    progress = progress or Progress(enabled=False)
    day = day if isinstance(day, dt.date) else parse_day(day)
    if report:
        from monitor.report import check_report_path

        check_report_path(report)
    if compact:
        summary = compact_day(m.store, day, progress=lambda d, t: progress.update("compaction", d, t))
        progress.done("compaction")
        _say(out, summary.summary())
    keys = check_segment_keys(list(by) if by else nightly_keys(None, m.config.segment_by))
    baseline, current = nightly_windows(day, m.config.nightly_baseline_days, m.config.nightly_baseline)
    n_base, n_cur = _count(m, baseline), _count(m, current)
    _say(out, f"baseline: {baseline} ({n_base} events); current: {current} ({n_cur} events)")
    if n_cur == 0 and n_base > 0:
        raise UserError(f"no events on {day.isoformat()} in {m.store.name} although the baseline has {n_base}: "
                        "is ingestion running?")
    progress.update("comparing", 0, 1)
    comparison = m.compare(baseline, current, by=keys)
    progress.done("comparing")
    inventory = version_inventory(m, comparison.by, baseline, current)
    name_versions(comparison.items, inventory, comparison.by)
    locate_changes(m, comparison.items, comparison.by, baseline, current, inventory=inventory, progress=progress)
    if comparison.items:
        _say(out, render_table([f.to_dict() for f in comparison.items]))
    if comparison.unmatched:
        _say(out, render_unmatched(comparison.unmatched))
    for f in comparison.alerts:
        since = f" since {f.changed_at} [{f.changed_at_low} .. {f.changed_at_high}]" if f.changed_at else ""
        versions = f"; versions near the change: {', '.join(f.versions_near_change)}" if f.versions_near_change else ""
        _say(out, f"ALERT {f.metric} {f.segment_key}{since}{versions}")
    result = NightlyResult(day, comparison, new_versions_on(m, day) if m.config.sentry.alert_on_new_model else [])
    for f in result.new_versions:
        _say(out, f"ALERT {f.reason}")
    # alerts first: a report problem must not hold them
    note = dispatch(comparison.items + result.new_versions, m.store, m.config, source="nightly")
    if note:
        _say(out, note)
    purge_outbox(m.store, m.config)  # the outbox's retention ([outbox] retention_days)
    kept = apply_retention(m.store, m.config.retention)  # the store's ([retention]), after the comparison
    if kept.event_segments or kept.quarantine_files or kept.alert_files:
        _say(out, kept.summary())
    if report:
        from monitor.report import write_report

        result.report = write_report(m, comparison, report)
        _say(out, f"report: {result.report}")
    _say(out, f"{len(result.alerts)} alert(s) for {day.isoformat()}")
    return result


def new_versions_on(m: Any, day: dt.date) -> list[Finding]:
    """``new_model_version`` findings for each model/version first seen on ``day`` (UTC)."""
    from monitor.models import new_version_findings

    inventory = m.models(since=day.isoformat())
    end = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    inventory["new"] = inventory["new"] & (inventory["first_seen"] < end)
    return new_version_findings(inventory)


def run_nightly(m: Any, *, day: dt.date | str | None = None, by: Iterable[str] | None = None,
                report: str | os.PathLike[str] | None = None, compact: bool = True,
                progress: Progress | None = None, out: TextIO | None = None) -> NightlyResult:
    """The nightly job, wrapped in a Sentry Crons check-in pair when a DSN is configured.

    Errors are :class:`UserError` (after a failed check-in when there is a DSN).
    """
    options = dict(day=day, by=by, report=report, compact=compact, progress=progress, out=out)
    dsn = m.config.sentry.resolved_dsn()
    if not dsn:
        return nightly_job(m, **options)
    return _run_with_crons(m, dsn, options)


def _run_with_crons(m: Any, dsn: str, options: dict[str, Any]) -> NightlyResult:
    from sinks.crons import cron_job, monitor_config
    from sinks.sentry import SentrySink

    s = m.config.sentry
    try:
        cfg = monitor_config(s.schedule, timezone=s.timezone, checkin_margin=s.checkin_margin,
                             max_runtime=s.max_runtime)
    except ValueError as exc:
        raise UserError(f"sentry.schedule: {exc}") from None
    try:
        sink = SentrySink(dsn=dsn, environment=s.environment, send_text=s.send_text)
    except Exception as exc:  # noqa: BLE001 - a malformed DSN is the user's to fix
        raise UserError(f"Sentry DSN: {type(exc).__name__}: {exc}") from None
    try:
        with cron_job(s.monitor_slug, cfg) as run:
            try:
                result = nightly_job(m, **options)
            finally:
                # dispatch() delivers through its own Sentry client and closes it; the closing
                # check-in needs a live client again.
                if not sentry_client_active():
                    sink = SentrySink(dsn=dsn, environment=s.environment, send_text=s.send_text)
        result.crons_status = run.status
        _say(options.get("out"), f"Sentry Crons: {s.monitor_slug} {run.status}")
        return result
    except UserError as exc:
        raise UserError(f"{exc} (Sentry Crons: error)") from None
    finally:
        sink.close()


def sentry_client_active() -> bool:
    """True when the process-wide Sentry client is configured and open."""
    import sentry_sdk

    client = sentry_sdk.get_client()
    return bool(client.is_active()) and getattr(client, "transport", None) is not None
