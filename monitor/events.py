"""The canonical inference event: its JSON Schema, validation, and the columnar frame.

One compiled validator (``jsonschema_rs``) gives the verdict for every event; ``jsonschema``
explains only the events that fail (the path and the failing keyword), so the common case
costs about a microsecond per event.

Example:
    >>> check_event({"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m", "response": "hi"}) is None
    True
    >>> check_event({"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m"})
    "schema: 'response' is a required property"
"""

from __future__ import annotations

import functools
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pandas as pd
import pyarrow as pa

from monitor.adapters._base import paused_gc
from monitor.errors import UserError

EVENT_SCHEMA: dict[str, Any] = json.loads(resources.files("monitor").joinpath("event_schema.json").read_text("utf-8"))
_VERDICT = jsonschema_rs.validator_for(EVENT_SCHEMA)


@functools.lru_cache(maxsize=1)
def _explainer() -> Any:
    """The ``jsonschema`` validator that names why an event fails (imported on the first failure)."""
    import jsonschema

    return jsonschema.Draft202012Validator(EVENT_SCHEMA)


DEFAULT_MODEL_VERSION = "unknown"
DEFAULT_ROUTE = "default"

STRING_FIELDS = ("request_id", "model", "model_version", "requested_model", "route", "prompt",
                 "response", "finish_reason")
"""Canonical text fields, stored as they are (prompt and response subject to redaction)."""


def check_event(event: Any) -> str | None:
    """None if ``event`` is a valid canonical event, else a one-line reason.

    >>> print(check_event({"ts": 5, "request_id": "r", "model": "m", "response": ""}))
    schema: ts: 5 is not of type 'string'
    """
    if _VERDICT.is_valid(event):
        return None
    import jsonschema

    error = jsonschema.exceptions.best_match(_explainer().iter_errors(event))
    if error is None:  # the two validators disagree; trust the compiled one's verdict
        return "schema: invalid event"
    where = "/".join(str(p) for p in error.absolute_path)
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"schema: {where + ': ' if where else ''}{message}"


class SchemaResolver:
    """Turns an event's ``schema`` (inline object or a name) into JSON text and a segment name.

    Names are looked up as ``<schemas_dir>/<name>.json`` (or ``<name>`` itself if it ends in
    ``.json``); each file is read once.

    >>> r = SchemaResolver(None)
    >>> r.resolve({"type": "object", "title": "Invoice"})[1]
    'Invoice'
    >>> r.resolve("invoice")
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: schema 'invoice' is a name but no schemas directory is configured (signals.schemas_dir)
    """

    def __init__(self, schemas_dir: str | None) -> None:
        self.schemas_dir = Path(schemas_dir) if schemas_dir else None
        self._by_name: dict[str, tuple[str, str]] = {}

    def resolve(self, schema: Any) -> tuple[str | None, str | None]:
        """(schema JSON text, schema name) for one event's ``schema`` value."""
        if schema is None:
            return None, None
        if isinstance(schema, str):
            if schema not in self._by_name:
                self._by_name[schema] = self._load(schema)
            return self._by_name[schema]
        text = json.dumps(schema, sort_keys=True, separators=(",", ":"))
        name = schema.get("title") if isinstance(schema, dict) else None
        if not isinstance(name, str) or not name:
            name = "inline-" + hashlib.sha1(text.encode()).hexdigest()[:8]
        return text, name

    def _load(self, name: str) -> tuple[str, str]:
        if self.schemas_dir is None:
            raise UserError(f"schema '{name}' is a name but no schemas directory is configured (signals.schemas_dir)")
        path = self.schemas_dir / (name if name.endswith(".json") else name + ".json")
        try:
            value = json.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            raise UserError(f"schema '{name}' not found: {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"schema file {path} is not valid JSON: {exc}") from None
        return json.dumps(value, sort_keys=True, separators=(",", ":")), name.removesuffix(".json")


def events_to_frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    """Columnar frame of canonical events (defaults applied, ``ts`` parsed to UTC).

    ``ts`` values that are not ISO 8601 become NaT; the caller quarantines them.

    >>> f = events_to_frame([{"ts": "2026-11-01T10:00:00", "request_id": "r", "model": "m", "response": "ok"}])
    >>> f.loc[0, "model_version"], f.loc[0, "route"], str(f.loc[0, "ts"])
    ('unknown', 'default', '2026-11-01 10:00:00+00:00')
    """
    with paused_gc():  # per-event lists and strings only: nothing for the cyclic collector
        return _events_to_frame(events)


def _events_to_frame(events: list[dict[str, Any]]) -> pd.DataFrame:
    def col(name: str) -> list[Any]:
        return [e.get(name) for e in events]

    dumps, opts = orjson.dumps, orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    columns: dict[str, Any] = {name: col(name) for name in FRAME_INPUTS if name != "attributes"}
    columns["attributes"] = [dumps(a, option=opts, default=str).decode() if a else None for a in col("attributes")]
    return frame_from_columns(columns, len(events))


#: The canonical fields a frame is built from (``attributes`` as JSON text with sorted keys).
FRAME_INPUTS = (*STRING_FIELDS, "ts", "output_tokens", "input_tokens", "latency_ms", "task_success",
                "expects_json", "schema", "attributes", "reasoning")


def frame_from_columns(columns: dict[str, Any], n: int) -> pd.DataFrame:
    """The event frame from one column per field of :data:`FRAME_INPUTS` (lists of Python values,
    missing = None, or Arrow arrays); the one conversion used by the per-record path
    (:func:`events_to_frame`) and the columnar one (:mod:`monitor.columnar`).

    >>> f = frame_from_columns({"ts": ["2026-11-01T10:00:00Z"], "output_tokens": [3]}, 1)
    >>> f.loc[0, "route"], int(f.loc[0, "output_tokens"]), f.loc[0, "response"]
    ('default', 3, None)
    """
    def col(name: str) -> Any:
        value = columns.get(name)
        if value is None:
            return [None] * n
        if isinstance(value, (pa.Array, pa.ChunkedArray)):
            return value.to_numpy(zero_copy_only=False)
        return value

    def typed(name: str, dtype: Any) -> Any:
        value = columns.get(name)
        if isinstance(value, (pa.Array, pa.ChunkedArray)):  # exact: no detour through float
            return dtype.__from_arrow__(value)
        return pd.array(col(name), dtype=dtype)

    frame = pd.DataFrame({name: pd.Series(col(name), dtype="object") for name in STRING_FIELDS})
    frame["ts"] = pd.to_datetime(pd.Series(col("ts"), dtype="object"), utc=True, format="ISO8601", errors="coerce")
    frame["model_version"] = frame["model_version"].fillna(DEFAULT_MODEL_VERSION)
    frame["route"] = frame["route"].fillna(DEFAULT_ROUTE)
    for name in ("output_tokens", "input_tokens"):
        frame[name] = typed(name, pd.Int64Dtype())
    frame["latency_ms"] = typed("latency_ms", pd.Float64Dtype())
    frame["task_success"] = typed("task_success", pd.BooleanDtype())
    frame["expects_json"] = typed("expects_json", pd.BooleanDtype())
    frame["schema_raw"] = pd.Series(col("schema"), dtype="object")
    frame["attributes"] = pd.Series(col("attributes"), dtype="object")
    frame["reasoning"] = pd.Series(col("reasoning"), dtype="object")  # measured, then dropped (not stored)
    return frame
