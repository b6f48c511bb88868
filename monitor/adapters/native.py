"""Native adapter: records already in the canonical event shape (monitor/event_schema.json).

Pass-through with light normalization only; the ingest validates against the JSON Schema after:

* a numeric ``ts`` (epoch s/ms/us/ns) becomes an ISO 8601 UTC string; string ``ts`` is kept;
* ``model_version`` missing or null becomes ``"unknown"``; ``route`` missing becomes the ``route``
  argument or ``"default"``;
* ``attributes`` missing becomes ``{}``; ``attributes.pinned`` is added when absent
  (:func:`monitor.adapters.identity.is_pinned`);
* a missing ``request_id`` becomes a stable hash of the record (so re-ingest deduplicates).
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from ._base import AdapterError, Converted, norm_ts, run_per_record, stable_hash
from .identity import is_pinned

__all__ = ["convert", "looks_like"]


def looks_like(rec: Any) -> bool:
    """True for a record that already has the canonical required keys.

    >>> looks_like({"ts": "2024-08-06T00:00:00Z", "request_id": "r1", "model": "m", "response": "x"})
    True
    >>> looks_like({"ts": 1, "model": "m", "response": {"choices": []}})
    False
    """
    return (isinstance(rec, dict) and "ts" in rec and "model" in rec
            and isinstance(rec.get("response"), str) and "choices" not in rec and "call_type" not in rec)


def convert(records: Sequence[tuple[int, Any]], *, route: str | None = None, **_: Any) -> Converted:
    """Pass canonical records through with light normalization.

    >>> out = convert([(1, {"ts": 1722965000, "request_id": "r1", "model": "llama3", "response": "ok"}),
    ...                (2, ["not", "an", "object"])])
    >>> ev = out.events[0][1]
    >>> ev["ts"], ev["model_version"], ev["route"], ev["attributes"]
    ('2024-08-06T17:23:20Z', 'unknown', 'default', {'pinned': False})
    >>> out.rejects
    [(2, 'not a JSON object (array)')]
    """
    return run_per_record(records, lambda line, rec: _one(rec, route))


def _one(rec: dict, route: str | None) -> Iterator[dict]:
    ev = dict(rec)
    ts = ev.get("ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        ev["ts"] = norm_ts(ts, "ts")
    if ev.get("model_version") is None:
        ev["model_version"] = "unknown"
    if ev.get("route") is None:
        ev["route"] = route or "default"
    if not isinstance(ev.get("request_id"), str) or not ev.get("request_id"):
        if "request_id" in ev and ev["request_id"] is not None and not isinstance(ev["request_id"], str):
            raise AdapterError("request_id is not a string")
        ev["request_id"] = stable_hash(rec)
    attrs = ev.get("attributes")
    if attrs is None:
        attrs = {}
    if isinstance(attrs, dict):
        attrs = dict(attrs)
        if "pinned" not in attrs and isinstance(ev.get("model"), str):
            mv = ev.get("model_version")
            attrs["pinned"] = is_pinned(ev["model"], mv if isinstance(mv, str) else None)
        ev["attributes"] = attrs
    yield ev
