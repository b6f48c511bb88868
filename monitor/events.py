"""The canonical inference event: its JSON Schema, validation, and its frame (an Arrow table).

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
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema_rs
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

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


def events_to_frame(events: list[dict[str, Any]]) -> pa.Table:
    """The event frame (an Arrow table, :func:`frame_from_columns`) of canonical events.

    ``ts`` values that are not ISO 8601 become null; the caller quarantines them.

    >>> f = events_to_frame([{"ts": "2026-11-01T10:00:00", "request_id": "r", "model": "m", "response": "ok"}])
    >>> f["model_version"][0].as_py(), f["route"][0].as_py(), str(f["ts"][0].as_py())
    ('unknown', 'default', '2026-11-01 10:00:00+00:00')
    """
    with paused_gc():  # per-event lists and strings only: nothing for the cyclic collector
        return _events_to_frame(events)


def _events_to_frame(events: list[dict[str, Any]]) -> pa.Table:
    def col(name: str) -> list[Any]:
        return [e.get(name) for e in events]

    dumps, opts = orjson.dumps, orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    columns: dict[str, Any] = {name: col(name) for name in FRAME_INPUTS if name != "attributes"}
    columns["attributes"] = [dumps(a, option=opts, default=str).decode() if a else None for a in col("attributes")]
    return frame_from_columns(columns, len(events))


#: The canonical fields a frame is built from (``attributes`` as JSON text with sorted keys).
FRAME_INPUTS = (*STRING_FIELDS, "ts", "output_tokens", "input_tokens", "latency_ms", "task_success",
                "expects_json", "schema", "attributes", "reasoning")

TS_TYPE = pa.timestamp("us", tz="UTC")
"""How an event's time is held, in the frame and in the store."""

FRAME_TYPES: dict[str, pa.DataType] = {
    **{name: pa.string() for name in STRING_FIELDS},
    "ts": TS_TYPE, "output_tokens": pa.int64(), "input_tokens": pa.int64(), "latency_ms": pa.float64(),
    "task_success": pa.bool_(), "expects_json": pa.bool_(), "schema_raw": pa.string(), "attributes": pa.string(),
    "reasoning": pa.string(),
}
"""The columns of the event frame built by :func:`frame_from_columns` and their Arrow types
(``schema_raw``: the event's ``schema`` value as JSON text, resolved later by :class:`SchemaResolver`)."""


def as_array(value: Any, n: int, type_: pa.DataType) -> pa.Array:
    """One column as an Arrow array of ``type_``: an Arrow array (cast), a list or numpy array of
    Python values (None = null), or None (all null).

    >>> as_array([1, None], 2, pa.int64()).to_pylist(), as_array(None, 2, pa.string()).null_count
    ([1, None], 2)
    """
    if value is None:
        return pa.nulls(n, type_)
    if isinstance(value, pa.ChunkedArray):
        value = value.combine_chunks()
    if isinstance(value, pa.Array):
        return value if value.type == type_ else value.cast(type_)
    return pa.array(value, type=type_, from_pandas=True)


def parse_ts(values: pa.Array) -> pa.Array:
    """ISO 8601 / RFC 3339 texts -> UTC timestamps (microseconds); null where the text is not one.

    A time without an offset is read as UTC. Whole batches in one common shape (all with an
    offset, or all without) are parsed by Arrow; a batch that mixes them, or holds a bad value,
    is parsed value by value (:func:`datetime.fromisoformat`, surrounding blanks ignored, week
    and ordinal dates refused).

    >>> [str(t) for t in parse_ts(pa.array(["2026-11-01T10:00:00+02:00", "2026-11-01", "soon", None])).to_pylist()]
    ['2026-11-01 08:00:00+00:00', '2026-11-01 00:00:00+00:00', 'None', 'None']
    """
    text = values.cast(pa.string()) if values.type != pa.string() else values
    for target in (pa.timestamp("ns", tz="UTC"), pa.timestamp("ns")):
        try:
            parsed = text.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return parsed.cast(pa.timestamp("ns", tz="UTC")).cast(TS_TYPE, safe=False)
    return pa.array([_parse_one(v) for v in text.to_pylist()], type=TS_TYPE)


def _parse_one(text: str | None) -> datetime | None:
    if text is None:
        return None
    text = text.strip()
    if "W" in text or "w" in text:  # ISO week dates: not a time stamp a log writes
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    return stamp.replace(tzinfo=timezone.utc) if stamp.tzinfo is None else stamp.astimezone(timezone.utc)


def frame_from_columns(columns: dict[str, Any], n: int) -> pa.Table:
    """The event frame, an Arrow table with the columns of :data:`FRAME_TYPES`, from one column
    per field of :data:`FRAME_INPUTS` (lists of Python values, missing = None, or Arrow arrays);
    the one conversion used by the per-record path (:func:`events_to_frame`) and the columnar
    one (:mod:`monitor.columnar`). Defaults are applied (``model_version``, ``route``) and ``ts``
    is parsed (:func:`parse_ts`).

    >>> f = frame_from_columns({"ts": ["2026-11-01T10:00:00Z"], "output_tokens": [3]}, 1)
    >>> f["route"][0].as_py(), f["output_tokens"][0].as_py(), f["response"][0].as_py()
    ('default', 3, None)
    """
    out: dict[str, pa.Array] = {}
    for name in STRING_FIELDS:
        out[name] = as_array(columns.get(name), n, pa.string())
    out["model_version"] = pc.fill_null(out["model_version"], DEFAULT_MODEL_VERSION)
    out["route"] = pc.fill_null(out["route"], DEFAULT_ROUTE)
    out["ts"] = parse_ts(as_array(columns.get("ts"), n, pa.string()))
    for name in ("output_tokens", "input_tokens", "latency_ms", "task_success", "expects_json"):
        out[name] = as_array(columns.get(name), n, FRAME_TYPES[name])
    schemas = columns.get("schema")
    if schemas is not None and not isinstance(schemas, (pa.Array, pa.ChunkedArray)):
        dumps = orjson.dumps
        schemas = [None if v is None else dumps(v).decode() for v in schemas]
    out["schema_raw"] = as_array(schemas, n, pa.string())
    out["attributes"] = as_array(columns.get("attributes"), n, pa.string())
    out["reasoning"] = as_array(columns.get("reasoning"), n, pa.string())  # measured, then dropped (not stored)
    return pa.table(out)


def first_occurrences(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A mask of the rows that hold the first occurrence of their value (the first event with a
    ``request_id`` wins; nulls are kept).

    >>> first_occurrences(pa.array(["a", "b", "a", None, None])).tolist()
    [True, True, False, True, True]
    """
    n = len(values)
    if not n:
        return np.zeros(0, dtype=bool)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    # one code per distinct value (nulls: -1); np.unique gives the first row of each code
    # (no Acero group-by: it loads pyarrow.dataset, 0.06 s of a one-line command's start-up)
    codes = pc.fill_null(values.dictionary_encode().indices, -1).to_numpy(zero_copy_only=False)
    keep = np.zeros(n, dtype=bool)
    keep[np.unique(codes, return_index=True)[1]] = True
    nulls = codes < 0
    return keep | np.asarray(nulls, dtype=bool)
