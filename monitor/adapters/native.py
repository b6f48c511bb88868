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

from typing import Any, Sequence

from ._base import AdapterError, Converted, json_type, norm_ts, paused_gc, stable_hash
from ._columnar import ColumnarMapping
from .identity import is_pinned

__all__ = ["convert", "looks_like", "COLUMNAR"]

#: The native record is the canonical event: every field at its own top-level key. Both the
#: per-record conversion below and the columnar fast path (monitor.columnar) read this.
COLUMNAR = ColumnarMapping(
    fields={name: f"$.{name}" for name in (
        "ts", "request_id", "model", "model_version", "requested_model", "route", "prompt", "response",
        "output_tokens", "input_tokens", "finish_reason", "expects_json", "schema", "task_success",
        "latency_ms", "attributes", "reasoning")},
    defaults={"model_version": "unknown", "route": "default"},
)


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
    # One loop, no generator per record: the same events and rejects, in the same order, as
    # ``run_per_record(records, lambda line, rec: [_one(rec, route)])``.
    out = Converted()
    events, rejects = out.events, out.rejects
    default_route = route or COLUMNAR.defaults["route"]
    with paused_gc():  # only acyclic dicts are made here; collections would just rescan the batch
        for line, rec in records:
            if not isinstance(rec, dict):
                rejects.append((line, f"not a JSON object ({json_type(rec)})"))
                continue
            try:
                events.append((line, _one(rec, default_route)))
            except AdapterError as exc:
                rejects.append((line, exc.reason))
            except Exception as exc:  # defensive: a record must never crash the batch
                rejects.append((line, f"unreadable record ({type(exc).__name__})"))
    return out


def _one(rec: dict, default_route: str) -> dict:
    ev = rec.copy() if type(rec) is dict else dict(rec)
    get = ev.get
    ts = get("ts")
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        ev["ts"] = norm_ts(ts, "ts")
    mv = get("model_version")
    if mv is None:
        ev["model_version"] = mv = COLUMNAR.defaults["model_version"]
    if get("route") is None:
        ev["route"] = default_route
    rid = get("request_id")
    if not isinstance(rid, str) or not rid:
        if rid is not None and not isinstance(rid, str):
            raise AdapterError("request_id is not a string")
        ev["request_id"] = stable_hash(rec)
    attrs = get("attributes")
    if attrs is None:
        attrs = {}
    if isinstance(attrs, dict):
        attrs = dict(attrs)
        model = get("model")
        if "pinned" not in attrs and isinstance(model, str):
            attrs["pinned"] = is_pinned(model, mv if isinstance(mv, str) else None)
        ev["attributes"] = attrs
    return ev
