"""Alert delivery for the sidecar: the ``tail-outbox`` thread, and the outbox's retention.

Alerts are committed to the outbox (``<store>/outbox.sqlite``) by the alert lifecycle before
anything is sent. :class:`Deliverer` sends pending entries to Sentry one at a time, so that a
SIGTERM never waits for more than one send; a failed send leaves the entry pending with its
backoff (:meth:`sinks.outbox.Outbox.deliver`). :class:`Housekeeping` applies the store's
retention (``[retention]``: events, quarantine, alert log) and ``[outbox] retention_days``
every ``[tail] housekeeping_interval_s`` (600 s), so the disk does not fill.

Example:
    >>> import tempfile, os, threading
    >>> from sinks.outbox import Outbox, SendResult
    >>> box = Outbox(os.path.join(tempfile.mkdtemp(), "outbox.sqlite"))
    >>> _ = box.enqueue({"metric": "refusal_rate", "segment": {"model": "m"}}, now=0)
    >>> class Sink:
    ...     def send(self, payload, event_id):
    ...         return SendResult(delivered=True, status=200)
    >>> wake, stop = threading.Event(), threading.Event()
    >>> d = Deliverer(box, Sink(), wake, stop); d.start()
    >>> for _ in range(100):
    ...     if not box.pending():
    ...         break
    ...     _ = wake.wait(0.05)
    >>> stop.set(); wake.set(); d.join(5); box.counts()["sent"]
    1
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from monitor.alerting import purge_outbox
from monitor.config import Config
from monitor.retention import RetentionReport, apply_retention
from monitor.store import Store

__all__ = ["Deliverer", "Housekeeping"]


class Deliverer(threading.Thread):
    """Delivers pending outbox entries to Sentry (``sink.send``), one at a time, until ``stop`` is set.

    ``wake`` is set by the loop when it enqueued something, so delivery starts at once;
    otherwise the thread looks every 0.5 s. ``on_report(sent, failed)`` is called after each
    attempt (the metrics).
    """

    def __init__(self, outbox: Any, sink: Any, wake: threading.Event, stop: threading.Event, *,
                 on_report: Callable[[int, int], None] | None = None) -> None:
        super().__init__(name="tail-outbox", daemon=True)
        self.outbox, self.sink, self.wake, self.stop_event = outbox, sink, wake, stop
        self.on_report = on_report

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                report = self.outbox.deliver(self.sink.send, max_items=1)
                more = report.sent > 0 and report.pending > 0
                if self.on_report is not None and report.attempted:
                    self.on_report(report.sent, report.attempted - report.sent)
            except Exception:  # noqa: BLE001 - keep delivering; the entry stays pending
                more = False
            if not more:
                self.wake.wait(0.5)
                self.wake.clear()


class Housekeeping:
    """The store's retention (:func:`monitor.retention.apply_retention`: events, quarantine,
    alert log) and the outbox's (:func:`monitor.alerting.purge_outbox`), applied at most every
    ``every_s`` seconds of the loop's clock (``[tail] housekeeping_interval_s``).

    >>> import tempfile
    >>> from sinks.outbox import Outbox
    >>> store = Store(tempfile.mkdtemp())
    >>> h = Housekeeping(store, Config(), Outbox(store.outbox_path))
    >>> h.due(0.0), h.run(0.0), h.due(10.0), h.due(3600.0)
    (True, (RetentionReport(event_segments=0, event_rows=0, quarantine_files=0, alert_files=0), 0), False, True)
    """

    def __init__(self, store: Store, config: Config, outbox: Any, *, every_s: float = 3600.0) -> None:
        self.store, self.config, self.outbox, self.every_s = store, config, outbox, every_s
        self._last: float | None = None

    def due(self, now: float) -> bool:
        """True when the retention was not applied in the last ``every_s`` seconds."""
        return self._last is None or now - self._last >= self.every_s

    def run(self, now: float) -> tuple[RetentionReport, int]:
        """Apply the retention now; returns what the store's retention deleted and how many
        outbox entries were deleted."""
        self._last = now
        report = apply_retention(self.store, self.config.retention)
        return report, purge_outbox(self.store, self.config, outbox=self.outbox)
