"""Sentry sink: one Sentry issue per (metric, segment), through the real ``sentry-sdk``.

Event shape
    * ``fingerprint``: ``["llm-monitor", metric, segment key]``, so every alert of one
      (metric, segment) groups into one issue, and an alert that comes back after the issue was
      resolved shows as a regression of that same issue;
    * ``tags``: ``metric``, ``model``, ``model_version``, ``route`` (+ any other segment key),
      ``direction``, ``severity``, ``alert_transition`` (opened/reopened/reminder) when known;
    * ``contexts.finding``: the numbers (n, baseline/current value, effect and CI, statistic,
      p and q values, reason, change point, details without example texts);
    * ``level`` from the finding's severity (info/warning/error);
    * ``message``: e.g. ``refusal_rate regression on model=m,route=chat: 2.0% -> 5.1% (+3.1 pp)``.

Privacy
    Prompt and response texts never leave the process unless ``send_text=True``: every key that
    names text (``examples``, ``prompt``, ``response``, ...) is removed from the finding, at any
    depth, before the event is built.

Learning the HTTP outcome (why a transport subclass)
    The SDK's HTTP transport sends on a background worker and, on a 429, 5xx or network error,
    logs and drops the envelope; ``capture_event`` only says the event was *queued*. An alert must
    not be lost that way, so :class:`OutcomeTransport` subclasses the SDK's own
    ``sentry_sdk.transport.HttpTransport`` (same pooling, compression, auth headers, proxy
    handling and rate-limit bookkeeping) and overrides two hooks:

    * ``_send_envelope(envelope)``: notes the envelope's ``event_id`` header, calls the SDK,
      and afterwards records an outcome for that id: the HTTP status it saw, a network error
      (the SDK re-raises it here), or "dropped locally" (the SDK's own rate-limit backoff removed
      the item before sending);
    * ``_request(...)``: the single place the SDK performs the HTTP request; it records the
      status and ``Retry-After`` / ``X-Sentry-Rate-Limits`` headers of the response.

    :meth:`SentrySink.send` captures the event with the outbox entry's ``event_id`` and waits
    for that id's outcome (a condition variable, bounded by ``timeout``). No outcome in time is
    reported as a retryable failure; the retry reuses the ``event_id``, and Sentry de-duplicates.
    These two methods are private SDK API (checked against sentry-sdk 2.75); the end-to-end tests
    against the loopback receiver fail loudly if a future SDK changes them.

Process-wide SDK state
    :class:`SentrySink` calls ``sentry_sdk.init`` (``default_integrations=False``: no excepthook,
    no logging breadcrumbs, no atexit; nothing of this process is captured automatically) and
    keeps a reference to the client it created, so later ``init`` calls elsewhere don't redirect
    its events. Client reports are off (the outbox does the accounting).

Example (no network: the event is only built):
    >>> f = {"metric": "refusal_rate", "segment": {"model": "m", "model_version": "v2", "route": "chat"},
    ...      "n_baseline": 3000, "n_current": 3000, "baseline_value": 0.02, "current_value": 0.051,
    ...      "effect": 0.031, "ci_low": 0.022, "ci_high": 0.04, "q_value": 1e-8, "alert": True,
    ...      "direction": "worse", "severity": "error",
    ...      "details": {"examples": [{"response": "I can't help with that"}]}}
    >>> ev = build_event(f, event_id="0" * 32)
    >>> ev["message"]
    'refusal_rate regression on model=m,model_version=v2,route=chat: 2.0% -> 5.1% (+3.1 pp)'
    >>> ev["fingerprint"], ev["level"], ev["tags"]["route"]
    (['llm-monitor', 'refusal_rate', 'model=m,model_version=v2,route=chat'], 'error', 'chat')
    >>> "examples" in ev["contexts"]["finding"]["details"]
    False
"""

from __future__ import annotations

import email.utils
import os
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import sentry_sdk
from sentry_sdk.transport import HttpTransport

from .dsn import resolve_dsn

from sinks.console import format_effect, format_value, segment_key
from sinks.outbox import SendResult, fingerprint_for

__all__ = ["SentrySink", "OutcomeTransport", "build_event", "format_message", "redact", "TEXT_KEYS"]

TEXT_KEYS: frozenset[str] = frozenset(
    {
        "examples", "example", "samples", "sample",
        "prompt", "prompts", "response", "responses",
        "text", "texts", "completion", "completions",
        "messages", "input", "output", "content",
    }
)
"""Keys removed (at any depth) from a finding before it goes to Sentry, unless ``send_text``.
Keys ending in one of :data:`TEXT_SUFFIXES` (e.g. ``refusal_examples``) are removed too."""

TEXT_SUFFIXES: tuple[str, ...] = ("_example", "_examples", "_prompt", "_prompts", "_response", "_responses",
                                  "_text", "_texts", "_sample", "_samples")

_LEVELS = {"error": "error", "warning": "warning", "info": "info", "fatal": "fatal", "debug": "debug"}
_TAG_MAX = 200


def _is_text_key(key: str) -> bool:
    k = key.lower()
    return k in TEXT_KEYS or k.endswith(TEXT_SUFFIXES)


def redact(value: Any, send_text: bool = False) -> Any:
    """A copy of ``value`` without text-bearing keys (see :data:`TEXT_KEYS`), unless ``send_text``.

    >>> redact({"ks": 0.2, "examples": ["secret"], "nested": {"prompt": "p", "n": 1}, "refusal_examples": []})
    {'ks': 0.2, 'nested': {'n': 1}}
    >>> redact({"examples": ["x"]}, send_text=True)
    {'examples': ['x']}
    """
    if send_text:
        return value
    if isinstance(value, Mapping):
        return {k: redact(v) for k, v in value.items() if not _is_text_key(str(k))}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def _direction_word(finding: Mapping[str, Any]) -> str:
    d = finding.get("direction")
    return {"worse": "regression", "better": "improvement"}.get(str(d), "change")


def format_message(finding: Mapping[str, Any]) -> str:
    """The event's one-line message.

    >>> format_message({"metric": "response_length", "segment": {"model": "m"}, "direction": "worse",
    ...                 "baseline_value": 410.0, "current_value": 602.0, "effect": 0.468})
    'response_length regression on model=m: 410 chars -> 602 chars (+46.8%)'
    """
    metric = str(finding.get("metric"))
    msg = (
        f"{metric} {_direction_word(finding)} on {segment_key(finding.get('segment'))}: "
        f"{format_value(metric, finding.get('baseline_value'))} -> {format_value(metric, finding.get('current_value'))}"
    )
    eff = format_effect(metric, finding.get("effect"))
    if eff != "-":
        msg += f" ({eff})"
    return msg


def _tag(value: Any) -> str:
    s = str(value).replace("\n", " ")
    return s[:_TAG_MAX]


_CONTEXT_KEYS = (
    "metric", "n_baseline", "n_current", "baseline_value", "current_value", "effect", "ci_low",
    "ci_high", "statistic", "p_value", "q_value", "alert", "reason", "direction", "severity",
    "changed_at", "changed_at_low", "changed_at_high", "versions_near_change",
)


def build_event(
    finding: Mapping[str, Any],
    *,
    event_id: str | None = None,
    send_text: bool = False,
    transition: str | None = None,
) -> dict[str, Any]:
    """Build the Sentry event dict for one finding (pure; see the module docstring)."""
    f = redact(dict(finding), send_text=send_text)
    segment = dict(f.get("segment") or {})
    tags: dict[str, str] = {"metric": _tag(f.get("metric"))}
    for k in ("model", "model_version", "route"):
        if segment.get(k) is not None:
            tags[k] = _tag(segment[k])
    for k, v in segment.items():
        if k not in tags and v is not None:
            tags[f"segment.{k}"[:_TAG_MAX]] = _tag(v)
    for k in ("direction", "severity"):
        if f.get(k):
            tags[k] = _tag(f[k])
    if transition:
        tags["alert_transition"] = _tag(transition)
    context: dict[str, Any] = {k: f.get(k) for k in _CONTEXT_KEYS if k in f}
    context["segment"] = segment
    context["segment_key"] = segment_key(segment)
    context["details"] = f.get("details") or {}
    event: dict[str, Any] = {
        "level": _LEVELS.get(str(f.get("severity") or "").lower(), "warning"),
        "logger": "llm-monitor",
        "message": format_message(f),
        "fingerprint": fingerprint_for(f),
        "tags": tags,
        "contexts": {"finding": context},
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }
    if event_id:
        event["event_id"] = event_id
    return event


def _parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _parse_rate_limits(value: str | None) -> float | None:
    """Longest wait in an ``X-Sentry-Rate-Limits`` header (``secs:categories:scope...,...``)."""
    if not value:
        return None
    waits = []
    for part in value.split(","):
        head = part.strip().split(":", 1)[0]
        try:
            waits.append(float(head))
        except ValueError:
            continue
    return max(waits) if waits else None


class OutcomeTransport(HttpTransport):
    """The SDK's HTTP transport, plus a record of each envelope's HTTP outcome by event_id."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self._outcome_cond = threading.Condition()
        self._outcomes: dict[str, SendResult | None] = {}  # expected ids -> outcome (None = not yet)
        self._current_id: str | None = None
        self._current_result: SendResult | None = None

    # SDK hook 1: one call per envelope, on the worker thread
    def _send_envelope(self, envelope: Any) -> None:
        event_id = envelope.headers.get("event_id")
        self._current_id = event_id
        self._current_result = None
        try:
            super()._send_envelope(envelope)
        except Exception as exc:
            self._current_result = SendResult(delivered=False, error=f"network: {type(exc).__name__}: {exc}")
            raise
        finally:
            result = self._current_result
            if result is None:
                wait = None
                disabled = getattr(self, "_disabled_until", None) or {}
                if disabled:
                    wait = max(0.0, max(d.timestamp() for d in disabled.values()) - time.time())
                result = SendResult(delivered=False, retry_after=wait, error="dropped locally by the SDK (rate limit backoff)")
            if event_id:
                self._put(event_id, result)
            self._current_id = None
            self._current_result = None

    # SDK hook 2: the HTTP request itself
    def _request(self, method: str, endpoint_type: Any, body: Any, headers: Any) -> Any:
        response = super()._request(method, endpoint_type, body, headers)
        status = int(response.status)
        get = response.headers.get
        retry_after = _parse_retry_after(get("Retry-After")) if status == 429 else None
        if retry_after is None:
            retry_after = _parse_rate_limits(get("X-Sentry-Rate-Limits"))
        if 200 <= status < 300:
            result = SendResult(delivered=True, status=status)
        else:
            result = SendResult(
                delivered=False,
                status=status,
                retry_after=retry_after,
                error=f"HTTP {status}",
                permanent=status in (400, 413),
            )
        self._current_result = result
        return response

    def _put(self, event_id: str, result: SendResult) -> None:
        with self._outcome_cond:
            if event_id in self._outcomes:  # only ids someone asked for (not check-ins etc.)
                self._outcomes[event_id] = result
                self._outcome_cond.notify_all()

    def expect(self, event_id: str) -> None:
        """Register interest in the outcome of ``event_id`` (call before capturing it)."""
        with self._outcome_cond:
            self._outcomes[event_id] = None

    def wait_outcome(self, event_id: str, timeout: float) -> SendResult | None:
        """Block until the outcome of an :meth:`expect`-ed ``event_id`` is known (or ``timeout``).

        The registration is removed either way; None means no outcome in time.
        """
        deadline = time.monotonic() + timeout
        with self._outcome_cond:
            try:
                while self._outcomes.get(event_id) is None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return None
                    self._outcome_cond.wait(left)
                return self._outcomes[event_id]
            finally:
                self._outcomes.pop(event_id, None)


class SentrySink:
    """Send findings to Sentry; usable as an :class:`~sinks.outbox.Outbox` sender.

    ``dsn`` / ``environment`` default to ``SENTRY_DSN`` / ``SENTRY_ENVIRONMENT``. Without a DSN
    the sink is disabled (``enabled`` is False) and :meth:`send` reports a retryable failure,
    so nothing is marked sent. ``send_text=True`` opts in to sending example texts.
    ``timeout``: seconds to wait for the HTTP outcome of one event.
    ``sdk_options``: extra keyword arguments for ``sentry_sdk.init`` (e.g. ``release``).
    """

    def __init__(
        self,
        dsn: str | None = None,
        environment: str | None = None,
        send_text: bool = False,
        *,
        release: str | None = None,
        timeout: float = 10.0,
        sdk_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.dsn = dsn if dsn is not None else resolve_dsn(None)
        self.environment = environment if environment is not None else (os.environ.get("SENTRY_ENVIRONMENT") or None)
        self.send_text = send_text
        self.timeout = timeout
        self._client: Any = None
        if not self.dsn:
            return
        options: dict[str, Any] = {
            "dsn": self.dsn,
            "environment": self.environment or "production",
            "release": release,
            "default_integrations": False,
            "auto_enabling_integrations": False,
            "integrations": [],
            "transport": OutcomeTransport,
            "send_client_reports": False,
            "attach_stacktrace": False,
            "max_breadcrumbs": 0,
            "sample_rate": 1.0,
        }
        options.update(dict(sdk_options or {}))
        sentry_sdk.init(**options)
        self._client = sentry_sdk.get_client()

    @property
    def enabled(self) -> bool:
        """True when a DSN is configured."""
        return self._client is not None

    @property
    def transport(self) -> OutcomeTransport | None:
        t = getattr(self._client, "transport", None)
        return t if isinstance(t, OutcomeTransport) else None

    def send(self, payload: Mapping[str, Any], event_id: str) -> SendResult:
        """Send one outbox payload (``{"finding": ..., "transition": ...}``) with ``event_id``.

        Returns the HTTP outcome; see the module docstring for how it is learnt.
        """
        if not self.enabled:
            return SendResult(delivered=False, error="Sentry disabled: no DSN")
        finding = payload.get("finding", payload)
        transition = payload.get("transition") if "finding" in payload else None
        event = build_event(finding, event_id=event_id, send_text=self.send_text, transition=transition)
        transport = self.transport
        if transport is None:  # someone passed their own transport: fall back to flush-and-hope
            ok = self._client.capture_event(event) is not None
            self._client.flush(timeout=self.timeout)
            return SendResult(delivered=ok, error=None if ok else "dropped by the SDK")
        transport.expect(event_id)
        if self._client.capture_event(event) is None:
            transport.wait_outcome(event_id, 0)  # unregister
            return SendResult(delivered=False, error="dropped by the SDK before sending", permanent=False)
        result = transport.wait_outcome(event_id, self.timeout)
        if result is None:
            return SendResult(delivered=False, error=f"no outcome within {self.timeout}s (ambiguous; will retry)")
        return result

    __call__ = send

    def capture(self, finding: Mapping[str, Any], event_id: str | None = None) -> SendResult:
        """Send one finding directly (no outbox), waiting for its outcome."""
        import uuid

        return self.send({"finding": dict(finding)}, event_id or uuid.uuid4().hex)

    def flush(self, timeout: float | None = None) -> None:
        """Wait for queued envelopes (check-ins included) to be sent."""
        if self._client is not None:
            self._client.flush(timeout=self.timeout if timeout is None else timeout)

    def close(self) -> None:
        """Flush and shut the client down."""
        if self._client is not None:
            self._client.close(timeout=self.timeout)
            self._client = None
