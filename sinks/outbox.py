"""Durable local outbox and alert lifecycle, in one SQLite file (WAL mode).

Why SQLite: several processes (the ``tail`` sidecar, the nightly job, a manual ``check``) may
share one outbox. SQLite in WAL mode lets them all read and write the same file with short
write transactions and no long-held lock (DuckDB allows one writing process only).

Outbox
    An alert is *enqueued* (committed to disk) before anything is sent. Each entry gets a stable
    ``event_id`` at enqueue time and keeps it for every retry, so a retry after an ambiguous
    failure (timeout after the server may have stored the event) cannot create a second Sentry
    event: Sentry de-duplicates by ``event_id``. :meth:`Outbox.deliver` sends due entries through
    a *sender* (``sender(payload, event_id) -> SendResult``):

    * success (2xx): the entry becomes ``sent``;
    * 429: the entry stays ``pending``; nothing is sent to that outbox before ``Retry-After``
      (shared by every process using the file); the delivery pass stops;
    * 5xx, connection error, timeout, event dropped locally: the entry stays ``pending`` with
      exponential backoff (``base * 2**(attempts-1)``, capped), and the pass stops (the
      destination is evidently unhealthy; the next pass retries in order);
    * a permanent rejection (the sender says ``permanent=True``, e.g. 400/413): ``failed``,
      kept in the file with its error for inspection, never retried automatically.

    Two processes delivering at once do not send the same entry twice: an entry is *leased*
    (claimed in a write transaction) before it is sent.

Alert lifecycle (:class:`AlertLifecycle`)
    Per (metric, segment key): ``open`` -> still open (no new Sentry event within the cooldown;
    one reminder event per cooldown period after that) -> ``resolved`` once the signal has been
    back inside the floor (a testable finding with ``alert=False``) continuously for
    ``resolve_after`` seconds. A resolved alert that fires again is *reopened* and sent again with
    the same fingerprint, so Sentry shows it as a regression of the same issue. State changes and
    the outbox entry they cause are written in the same transaction.

Example:
    >>> import tempfile, os
    >>> box = Outbox(os.path.join(tempfile.mkdtemp(), "outbox.sqlite"))
    >>> eid = box.enqueue({"metric": "refusal_rate", "segment": {"model": "m"}, "alert": True}, now=0)
    >>> [e.event_id == eid for e in box.pending()]
    [True]
    >>> box.deliver(lambda payload, event_id: SendResult(delivered=False, status=429, retry_after=30), now=1)
    DeliveryReport(attempted=1, sent=0, failed=0, pending=1, blocked_until=31.0, errors=['HTTP 429'])
    >>> box.deliver(lambda payload, event_id: SendResult(delivered=True, status=200), now=2).sent  # too early
    0
    >>> box.deliver(lambda payload, event_id: SendResult(delivered=True, status=200), now=31).sent
    1
    >>> box.pending()
    []
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sinks.console import segment_key
from sinks.private import private_dir, private_file

__all__ = [
    "SendResult",
    "DeliveryReport",
    "OutboxEntry",
    "Outbox",
    "AlertLifecycle",
    "Transition",
    "alert_key",
    "fingerprint_for",
]


@dataclass(frozen=True)
class SendResult:
    """What a sender learned about one delivery attempt.

    ``delivered``: the destination accepted it (2xx). ``status``: the HTTP status if a response
    came back. ``retry_after``: seconds to wait (429). ``permanent``: retrying cannot help.
    """

    delivered: bool
    status: int | None = None
    retry_after: float | None = None
    error: str | None = None
    permanent: bool = False


Sender = Callable[[dict[str, Any], str], SendResult]


@dataclass
class DeliveryReport:
    """Outcome of one :meth:`Outbox.deliver` pass."""

    attempted: int = 0
    sent: int = 0
    failed: int = 0
    pending: int = 0
    blocked_until: float | None = None
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutboxEntry:
    """One outbox row."""

    id: int
    event_id: str
    kind: str
    key: str | None
    payload: dict[str, Any]
    state: str
    attempts: int
    created_at: float
    next_attempt_at: float
    last_status: int | None
    last_error: str | None
    sent_at: float | None


def alert_key(finding: Mapping[str, Any]) -> str:
    """The lifecycle key of a finding: ``metric|segment key``.

    >>> alert_key({"metric": "refusal_rate", "segment": {"route": "chat", "model": "m"}})
    'refusal_rate|model=m,route=chat'
    """
    return f"{finding.get('metric')}|{segment_key(finding.get('segment'))}"


def fingerprint_for(finding: Mapping[str, Any]) -> list[str]:
    """Sentry fingerprint: one issue per (metric, segment).

    >>> fingerprint_for({"metric": "refusal_rate", "segment": {"model": "m", "route": "chat"}})
    ['llm-monitor', 'refusal_rate', 'model=m,route=chat']
    """
    return ["llm-monitor", str(finding.get("metric")), segment_key(finding.get("segment"))]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    key TEXT,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    lease_until REAL,
    last_status INTEGER,
    last_error TEXT,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at, id);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS alerts (
    key TEXT PRIMARY KEY,
    metric TEXT NOT NULL,
    segment_key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    opened_at REAL NOT NULL,
    last_alert_at REAL NOT NULL,
    last_sent_at REAL,
    clear_since REAL,
    resolved_at REAL,
    occurrences INTEGER NOT NULL DEFAULT 1,
    last_finding TEXT NOT NULL
);
"""


class Outbox:
    """A durable outbox in a SQLite file shared by any number of processes.

    ``base_backoff`` / ``max_backoff`` (seconds) shape the retry schedule after a retryable
    failure; ``default_retry_after`` is used for a 429 without a usable ``Retry-After``;
    ``lease`` is how long a claimed entry is reserved for the process sending it.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        base_backoff: float = 2.0,
        max_backoff: float = 300.0,
        default_retry_after: float = 60.0,
        lease: float = 60.0,
        busy_timeout: float = 30.0,
    ) -> None:
        self.path = os.fspath(path)
        private_dir(os.path.dirname(os.path.abspath(self.path)))
        os.close(private_file(self.path, append=True))  # 0600 if new; SQLite gives -wal/-shm the same mode
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.default_retry_after = default_retry_after
        self.lease = lease
        self._lock = threading.RLock()  # one connection, shared by this process's threads
        # autocommit mode: transactions are explicit (BEGIN IMMEDIATE) below
        self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        with self.transaction():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self._db.execute(stmt)

    # -- plumbing --------------------------------------------------------------------------
    def transaction(self) -> "_Tx":
        """A write transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``/``ROLLBACK``)."""
        return _Tx(self._db, self._lock)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def _now(now: float | None) -> float:
        return time.time() if now is None else float(now)

    # -- writing ---------------------------------------------------------------------------
    def enqueue(
        self,
        finding: Mapping[str, Any],
        *,
        kind: str = "alert",
        extra: Mapping[str, Any] | None = None,
        event_id: str | None = None,
        now: float | None = None,
    ) -> str:
        """Commit an entry to the outbox and return its (stable) ``event_id``.

        The payload is ``{"finding": finding, **extra}``. Passing an ``event_id`` that is
        already in the outbox does nothing (idempotent enqueue) and returns it.
        """
        with self.transaction():
            return self._enqueue_in_tx(finding, kind=kind, extra=extra, event_id=event_id, now=self._now(now))

    def _enqueue_in_tx(
        self,
        finding: Mapping[str, Any],
        *,
        kind: str,
        extra: Mapping[str, Any] | None,
        event_id: str | None,
        now: float,
    ) -> str:
        event_id = event_id or uuid.uuid4().hex
        payload = {"finding": dict(finding), **(dict(extra) if extra else {})}
        self._db.execute(
            "INSERT OR IGNORE INTO outbox (event_id, kind, key, payload, state, attempts, created_at, next_attempt_at)"
            " VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
            (event_id, kind, alert_key(finding), json.dumps(payload, default=str, allow_nan=False), now, now),
        )
        return event_id

    # -- reading ---------------------------------------------------------------------------
    def _rows(self, where: str, args: Iterable[Any] = ()) -> list[OutboxEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, event_id, kind, key, payload, state, attempts, created_at, next_attempt_at,"
                f" last_status, last_error, sent_at FROM outbox WHERE {where} ORDER BY id",
                tuple(args),
            ).fetchall()
        return [
            OutboxEntry(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11])
            for r in rows
        ]

    def pending(self) -> list[OutboxEntry]:
        """Entries not yet delivered (oldest first)."""
        return self._rows("state = 'pending'")

    def entries(self, state: str | None = None) -> list[OutboxEntry]:
        """All entries, or those in one state (``pending``, ``sent``, ``failed``)."""
        return self._rows("1=1") if state is None else self._rows("state = ?", (state,))

    def blocked_until(self) -> float | None:
        """Time before which no delivery is attempted (after 429 or a failing destination)."""
        with self._lock:
            row = self._db.execute("SELECT v FROM meta WHERE k = 'blocked_until'").fetchone()
        return float(row[0]) if row else None

    # -- delivery --------------------------------------------------------------------------
    def _backoff(self, attempts: int) -> float:
        return min(self.max_backoff, self.base_backoff * (2 ** max(0, attempts - 1)))

    def _claim(self, now: float) -> OutboxEntry | None:
        with self.transaction():
            row = self._db.execute(
                "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT 1",
                (now, now),
            ).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE outbox SET lease_until = ? WHERE id = ?", (now + self.lease, row[0]))
        entries = self._rows("id = ?", (row[0],))
        return entries[0] if entries else None

    def deliver(self, sender: Sender, now: float | None = None, *, max_items: int | None = None) -> DeliveryReport:
        """Send due pending entries, oldest first, through ``sender``; see the module docstring.

        ``now`` (seconds since the epoch) defaults to the wall clock; tests pass it explicitly.
        """
        now = self._now(now)
        report = DeliveryReport()
        blocked = self.blocked_until()
        if blocked is not None and blocked > now:
            report.blocked_until = blocked
            report.pending = len(self.pending())
            return report
        while max_items is None or report.attempted < max_items:
            entry = self._claim(now)
            if entry is None:
                break
            report.attempted += 1
            try:
                result = sender(entry.payload, entry.event_id)
            except Exception as exc:  # noqa: BLE001 - a sender bug must not lose the entry
                result = SendResult(delivered=False, error=f"{type(exc).__name__}: {exc}")
            stop = self._record(entry, result, now, report)
            if stop:
                break
        report.pending = len(self.pending())
        return report

    def _record(self, entry: OutboxEntry, result: SendResult, now: float, report: DeliveryReport) -> bool:
        """Store the outcome of one attempt; return True when the pass should stop."""
        attempts = entry.attempts + 1
        with self.transaction():
            if result.delivered:
                self._db.execute(
                    "UPDATE outbox SET state = 'sent', attempts = ?, sent_at = ?, last_status = ?,"
                    " last_error = NULL, lease_until = NULL WHERE id = ?",
                    (attempts, now, result.status, entry.id),
                )
                self._db.execute("DELETE FROM meta WHERE k = 'blocked_until'")
                report.sent += 1
                return False
            error = result.error or (f"HTTP {result.status}" if result.status else "not delivered")
            report.errors.append(error)
            if result.permanent:
                self._db.execute(
                    "UPDATE outbox SET state = 'failed', attempts = ?, last_status = ?, last_error = ?,"
                    " lease_until = NULL WHERE id = ?",
                    (attempts, result.status, error, entry.id),
                )
                report.failed += 1
                return False
            if result.status == 429:
                wait = result.retry_after if result.retry_after and result.retry_after > 0 else self.default_retry_after
            elif result.retry_after and result.retry_after > 0:
                wait = max(result.retry_after, self._backoff(attempts))
            else:
                wait = self._backoff(attempts)
            until = now + wait
            self._db.execute(
                "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_status = ?, last_error = ?,"
                " lease_until = NULL WHERE id = ?",
                (attempts, until, result.status, error, entry.id),
            )
            self._db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('blocked_until', ?)", (repr(until),))
            report.blocked_until = until
            return True

    def purge(self, older_than: float, now: float | None = None) -> int:
        """Delete finished entries older than ``older_than`` seconds; return how many.

        Finished: ``sent`` (by the time it was delivered) or ``failed`` (permanently rejected;
        by the time it was enqueued). ``pending`` entries are never deleted, however old: they
        wait for a DSN or for Sentry to recover. The retention is
        ``[outbox] retention_days`` (:func:`monitor.alerting.purge_outbox`).

        >>> import tempfile, os
        >>> box = Outbox(os.path.join(tempfile.mkdtemp(), "o.sqlite"))
        >>> _ = box.enqueue({"metric": "m", "segment": {}}, now=0)
        >>> _ = box.deliver(lambda p, e: SendResult(delivered=True, status=200), now=0)
        >>> _ = box.enqueue({"metric": "m2", "segment": {}}, now=0)  # stays pending
        >>> box.purge(3600, now=100), box.purge(3600, now=7200), box.counts()
        (0, 1, {'pending': 1, 'sent': 0, 'failed': 0})
        """
        cutoff = self._now(now) - older_than
        with self.transaction():
            cur = self._db.execute(
                "DELETE FROM outbox WHERE (state = 'sent' AND sent_at < ?) OR (state = 'failed' AND created_at < ?)",
                (cutoff, cutoff))
            return cur.rowcount

    def counts(self) -> dict[str, int]:
        """Number of entries per state.

        >>> import tempfile, os
        >>> Outbox(os.path.join(tempfile.mkdtemp(), "o.sqlite")).counts()
        {'pending': 0, 'sent': 0, 'failed': 0}
        """
        out = {"pending": 0, "sent": 0, "failed": 0}
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall()
        for state, n in rows:
            out[state] = n
        return out


class _Tx:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._db.execute("COMMIT")
            else:
                self._db.execute("ROLLBACK")
        finally:
            self._lock.release()


@dataclass(frozen=True)
class Transition:
    """What :meth:`AlertLifecycle.observe` decided for one finding.

    ``action``: ``opened``, ``reopened``, ``reminder`` (sent: still firing after the cooldown),
    ``suppressed`` (still firing, within the cooldown: nothing sent), ``still_open`` (not
    firing but not back inside the floor either, or unknown), ``clearing`` (inside the floor,
    waiting ``resolve_after``), ``resolved``, ``ignored`` (no open alert and nothing to do).
    ``event_id`` is set when an outbox entry was enqueued.
    """

    key: str
    action: str
    event_id: str | None = None


def _default_is_clear(finding: Mapping[str, Any]) -> bool | None:
    """Is the signal back inside the floor? True / False, or None when unknown (too little data).

    Uses ``details.practical_size`` and ``details.floor`` (written by the alert policy) when
    present: a non-alerting finding whose worsening is still at least floor-sized (e.g. not
    significant on a small window) is *not* clear.

    >>> _default_is_clear({"alert": False, "p_value": 0.3, "direction": "worse",
    ...                    "details": {"practical_size": 0.02, "floor": 0.01}})
    False
    >>> _default_is_clear({"alert": False, "p_value": 0.3, "details": {}}), _default_is_clear({"p_value": None})
    (True, None)
    """
    if finding.get("alert"):
        return False
    if finding.get("p_value") is None:
        return None
    details = finding.get("details") or {}
    size, floor = details.get("practical_size"), details.get("floor")
    if finding.get("direction") == "worse" and isinstance(size, (int, float)) and isinstance(floor, (int, float)):
        return size < floor
    return True


class AlertLifecycle:
    """Alert state per (metric, segment key), stored next to the outbox (same SQLite file).

    ``cooldown``: seconds during which a still-open alert sends nothing new; after it, one
    ``reminder`` event per cooldown period (set ``reminders=False`` to never repeat).
    ``resolve_after``: seconds the signal must stay inside the floor before the alert resolves.
    ``is_clear(finding)``: True if inside the floor, False if not, None if unknown; the default
    treats a testable, non-alerting finding as inside unless its worsening is still at least
    floor-sized (``details.practical_size >= details.floor``), and an untestable one as unknown
    (unknown neither starts nor breaks the resolve timer).

    >>> import tempfile, os
    >>> box = Outbox(os.path.join(tempfile.mkdtemp(), "o.sqlite"))
    >>> life = AlertLifecycle(box, cooldown=600, resolve_after=300)
    >>> bad = {"metric": "refusal_rate", "segment": {"model": "m"}, "alert": True, "p_value": 1e-9}
    >>> ok = dict(bad, alert=False, p_value=0.6)
    >>> [life.observe(f, now=t).action for f, t in [(bad, 0), (bad, 60), (ok, 100), (ok, 500), (bad, 900)]]
    ['opened', 'suppressed', 'clearing', 'resolved', 'reopened']
    >>> len(box.pending())
    2
    """

    def __init__(
        self,
        outbox: Outbox,
        *,
        cooldown: float = 3600.0,
        resolve_after: float = 1800.0,
        reminders: bool = True,
        is_clear: Callable[[Mapping[str, Any]], bool | None] = _default_is_clear,
    ) -> None:
        self.outbox = outbox
        self.cooldown = cooldown
        self.resolve_after = resolve_after
        self.reminders = reminders
        self.is_clear = is_clear
        self._db = outbox._db

    def observe(self, finding: Mapping[str, Any], now: float | None = None) -> Transition:
        """Update the state of the finding's (metric, segment) and enqueue an alert if due."""
        now = Outbox._now(now)
        key = alert_key(finding)
        firing = bool(finding.get("alert"))
        with self.outbox.transaction():
            row = self._db.execute(
                "SELECT state, last_sent_at, clear_since, occurrences FROM alerts WHERE key = ?", (key,)
            ).fetchone()
            blob = json.dumps(dict(finding), default=str, allow_nan=False)
            if firing:
                if row is None or row[0] == "resolved":
                    action = "opened" if row is None else "reopened"
                    eid = self.outbox._enqueue_in_tx(
                        finding, kind="alert", extra={"transition": action}, event_id=None, now=now
                    )
                    self._db.execute(
                        "INSERT OR REPLACE INTO alerts (key, metric, segment_key, state, opened_at, last_alert_at,"
                        " last_sent_at, clear_since, resolved_at, occurrences, last_finding)"
                        " VALUES (?, ?, ?, 'open', ?, ?, ?, NULL, NULL, ?, ?)",
                        (key, str(finding.get("metric")), segment_key(finding.get("segment")), now, now, now,
                         (row[3] + 1) if row else 1, blob),
                    )
                    return Transition(key, action, eid)
                last_sent = row[1] if row[1] is not None else float("-inf")
                if self.reminders and now - last_sent >= self.cooldown:
                    eid = self.outbox._enqueue_in_tx(
                        finding, kind="alert", extra={"transition": "reminder"}, event_id=None, now=now
                    )
                    self._db.execute(
                        "UPDATE alerts SET last_alert_at = ?, last_sent_at = ?, clear_since = NULL,"
                        " last_finding = ? WHERE key = ?",
                        (now, now, blob, key),
                    )
                    return Transition(key, "reminder", eid)
                self._db.execute(
                    "UPDATE alerts SET last_alert_at = ?, clear_since = NULL, last_finding = ? WHERE key = ?",
                    (now, blob, key),
                )
                return Transition(key, "suppressed")
            # not firing
            if row is None or row[0] == "resolved":
                return Transition(key, "ignored")
            clear = self.is_clear(finding)
            if clear is None:
                return Transition(key, "clearing" if row[2] is not None else "still_open")
            if not clear:
                self._db.execute("UPDATE alerts SET clear_since = NULL WHERE key = ?", (key,))
                return Transition(key, "still_open")
            since = row[2] if row[2] is not None else now
            if now - since >= self.resolve_after:
                self._db.execute(
                    "UPDATE alerts SET state = 'resolved', resolved_at = ?, clear_since = ?, last_finding = ?"
                    " WHERE key = ?",
                    (now, since, blob, key),
                )
                return Transition(key, "resolved")
            self._db.execute("UPDATE alerts SET clear_since = ? WHERE key = ?", (since, key))
            return Transition(key, "clearing")

    def observe_all(self, findings: Iterable[Mapping[str, Any]], now: float | None = None) -> list[Transition]:
        """:meth:`observe` every finding with one timestamp."""
        now = Outbox._now(now)
        return [self.observe(f, now=now) for f in findings]

    def state(self, key: str) -> dict[str, Any] | None:
        """The stored state of one alert key (see :func:`alert_key`), or None."""
        with self.outbox._lock:
            row = self._db.execute(
                "SELECT key, metric, segment_key, state, opened_at, last_alert_at, last_sent_at, clear_since,"
                " resolved_at, occurrences FROM alerts WHERE key = ?",
                (key,),
            ).fetchone()
        if row is None:
            return None
        names = ("key", "metric", "segment_key", "state", "opened_at", "last_alert_at", "last_sent_at",
                 "clear_since", "resolved_at", "occurrences")
        return dict(zip(names, row))

    def open_alerts(self) -> list[str]:
        """Keys of currently open alerts."""
        with self.outbox._lock:
            rows = self._db.execute("SELECT key FROM alerts WHERE state = 'open' ORDER BY key").fetchall()
        return [r[0] for r in rows]
