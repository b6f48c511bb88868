"""From findings to the sinks: alert log, alert lifecycle, outbox, Sentry.

Order of operations for one run:

1. every alert finding is appended to ``<store>/alerts.jsonl`` (fsync-ed);
2. the alert lifecycle (``<store>/outbox.sqlite``) decides per (metric, segment) whether this
   is a new alert (opened / reopened after a resolve / a reminder after the cooldown) or one
   still open within its cooldown, and enqueues what must be sent, in the same transaction;
3. with a DSN (``SENTRY_DSN`` or ``sentry.dsn``), the outbox is delivered through the real
   sentry-sdk; whatever cannot be delivered now (network down, 429, 5xx) stays pending and is
   sent by the next run (``check``, ``nightly``, ``tail``) that has a DSN.

Without a DSN nothing leaves the machine; alerts wait in the outbox.

Example:
    >>> import tempfile
    >>> from monitor.config import Config
    >>> from monitor.store import Store
    >>> from detectors.finding import Finding
    >>> store = Store(tempfile.mkdtemp())
    >>> f = Finding("refusal_rate", {"model": "m"}, 3000, 3000, 0.02, 0.06, 0.04, 0.03, 0.05, 7.0, 1e-9, 1e-9, True, "x")
    >>> dispatch([f], store, Config(), source="doctest", dsn="")  # doctest: +ELLIPSIS
    '1 alert(s) written to ... alert(s) waiting in the outbox (no SENTRY_DSN)'
"""

from __future__ import annotations

from typing import Iterable

from detectors.finding import Finding
from monitor.config import Config
from monitor.errors import UserError
from monitor.store import Store
from sinks.alert_log import append_alerts, new_run_id
from sinks.outbox import AlertLifecycle, Outbox


def dispatch(findings: Iterable[Finding], store: Store, config: Config, *, source: str,
             dsn: str | None = None, now: float | None = None) -> str:
    """Send one run's findings to the sinks; returns a one-line note for the user ('' if nothing to say)."""
    rows = [f.to_dict() for f in findings]
    alerts = [r for r in rows if r["alert"]]
    run_id = f"{source}-{new_run_id()}"
    written = append_alerts(store.alert_log, alerts, run_id) if alerts else 0
    with Outbox(store.outbox_path) as outbox:
        lifecycle = AlertLifecycle(outbox, cooldown=config.sentry.cooldown_s,
                                   resolve_after=config.sentry.resolve_after_s)
        transitions = lifecycle.observe_all(rows, now=now)
        opened = sum(1 for t in transitions if t.event_id)
        note = f"{written} alert(s) written to {store.alert_log}" if written else ""
        if dsn is None:
            dsn = config.sentry.resolved_dsn()
        pending = len(outbox.pending())
        if not dsn:
            if pending:
                note += ("; " if note else "") + f"{pending} alert(s) waiting in the outbox (no SENTRY_DSN)"
            return note
        from sinks.dsn import dsn_problem

        problem = dsn_problem(dsn)
        if problem:  # the alerts are safe in the outbox; the user's DSN is to be fixed
            raise UserError(f"{problem} (SENTRY_DSN or sentry.dsn); {pending} alert(s) wait in the outbox")
        return note + ("; " if note else "") + deliver_outbox(outbox, config, dsn, opened)


def deliver_outbox(outbox: Outbox, config: Config, dsn: str, opened: int = 0) -> str:
    """Deliver the pending outbox entries to Sentry; returns a summary."""
    from sinks.sentry import SentrySink

    sink = SentrySink(dsn=dsn, environment=config.sentry.environment, send_text=config.sentry.send_text)
    try:
        report = outbox.deliver(sink.send)
    finally:
        sink.flush()  # not close(): the process-wide client may still be needed (Crons check-ins)
    text = f"Sentry: {report.sent} sent"
    if report.pending:
        text += f", {report.pending} pending ({'; '.join(report.errors[:2]) or 'will retry'})"
    return text


def purge_outbox(store: Store, config: Config, *, now: float | None = None, outbox: Outbox | None = None) -> int:
    """Apply the outbox's retention: delete entries sent (or permanently failed) more than
    ``[outbox] retention_days`` ago; pending entries are kept whatever their age. Returns how
    many were deleted. The sidecar calls it hourly, the nightly job after its dispatch.

    ``outbox``: an open :class:`~sinks.outbox.Outbox` to use (default: the store's, opened and
    closed here).

    >>> import tempfile
    >>> from sinks.outbox import SendResult
    >>> store = Store(tempfile.mkdtemp())
    >>> with Outbox(store.outbox_path) as box:
    ...     _ = box.enqueue({"metric": "refusal_rate", "segment": {}}, now=0)
    ...     _ = box.deliver(lambda p, e: SendResult(delivered=True, status=200), now=0)
    >>> purge_outbox(store, Config(), now=6 * 86400), purge_outbox(store, Config(), now=8 * 86400)
    (0, 1)
    """
    older_than = config.outbox_retention_days * 86400.0
    if outbox is not None:
        return outbox.purge(older_than, now=now)
    with Outbox(store.outbox_path) as box:
        return box.purge(older_than, now=now)
