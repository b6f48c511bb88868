"""Shared types and helpers for the log-format adapters (internal module).

Everything here is pure: no I/O, no global state (:func:`paused_gc` only pauses the cyclic
garbage collector during a batch loop).
"""
from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator, Sequence

from .identity import split_identity


class AdapterError(ValueError):
    """A record (or a mapping) that fits a format but cannot be converted.

    ``reason`` is a short human-readable reason, suitable for a quarantine row.

    >>> e = AdapterError("missing choices")
    >>> e.reason
    'missing choices'
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Converted:
    """Result of converting one batch of records.

    ``events``: (source line number, canonical event dict); one line may yield several events.
    ``rejects``: (source line number, reason) for records that fit the format but are malformed.

    >>> c = Converted()
    >>> c.events, c.rejects
    ([], [])
    """

    events: list[tuple[int, dict]] = field(default_factory=list)
    rejects: list[tuple[int, str]] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# small typed getters

def get_str(d: Any, key: str) -> str | None:
    """d[key] if it is a non-empty string, else None."""
    if isinstance(d, dict):
        v = d.get(key)
        if isinstance(v, str) and v != "":
            return v
    return None


def as_count(v: Any, what: str) -> int | None:
    """A token count: int >= 0, an integral float, or a decimal string (OTLP int64); None if null."""
    if v is None:
        return None
    if isinstance(v, bool):
        raise AdapterError(f"{what} is not an integer")
    if isinstance(v, int):
        if v < 0:
            raise AdapterError(f"{what} is negative")
        return v
    if isinstance(v, float) and math.isfinite(v) and v.is_integer() and v >= 0:
        return int(v)
    if isinstance(v, str) and v.isascii() and v.isdigit():
        return int(v)
    raise AdapterError(f"{what} is not an integer")


def as_number(v: Any) -> float | None:
    """A finite number or None (bools and strings are not numbers here)."""
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, (int, float)):
        f = float(v)
        return f if math.isfinite(f) else None
    return None


# ---------------------------------------------------------------------------------------------
# time

_FRACTION = re.compile(r"(\.\d{6})\d+")


def iso_from_epoch(value: float, unit: str = "s") -> str:
    """ISO 8601 UTC string from an epoch value in s, ms, us or ns.

    >>> iso_from_epoch(1722965000)
    '2024-08-06T17:23:20Z'
    >>> iso_from_epoch(1722965000123, "ms")
    '2024-08-06T17:23:20.123000Z'
    """
    div = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[unit]
    if isinstance(value, int) and div > 1:
        sec, rem = divmod(value, div)
        micro = rem * 1_000_000 // div
    else:
        f = float(value) / div
        sec = math.floor(f)
        micro = int(round((f - sec) * 1_000_000))
        if micro >= 1_000_000:
            sec, micro = sec + 1, 0
    try:
        dt = datetime.fromtimestamp(int(sec), tz=timezone.utc).replace(microsecond=micro)
    except (OverflowError, OSError, ValueError) as exc:
        raise AdapterError(f"timestamp out of range: {value!r}") from exc
    if micro:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def guess_epoch_unit(v: float) -> str:
    """Unit of an epoch number by magnitude (seconds up to year ~5138)."""
    a = abs(v)
    if a < 1e11:
        return "s"
    if a < 1e14:
        return "ms"
    if a < 1e17:
        return "us"
    return "ns"


def norm_ts(v: Any, what: str = "timestamp") -> str:
    """Normalize a timestamp (ISO string, or epoch number in s/ms/us/ns) to ISO 8601 UTC.

    Strings with a missing offset are read as UTC; fractions beyond microseconds are cut.

    >>> norm_ts("2024-07-22T20:37:41.123456789-07:00")
    '2024-07-23T03:37:41.123456Z'
    >>> norm_ts(1722965000.5)
    '2024-08-06T17:23:20.500000Z'
    """
    if isinstance(v, bool) or v is None:
        raise AdapterError(f"{what} missing")
    if isinstance(v, (int, float)):
        if isinstance(v, float) and not math.isfinite(v):
            raise AdapterError(f"{what} is not finite")
        if v <= 0:
            raise AdapterError(f"{what} is not a valid time")
        return iso_from_epoch(v, guess_epoch_unit(v))
    if isinstance(v, str):
        s = v.strip()
        if s.isascii() and s.isdigit():
            return norm_ts(int(s), what)
        if re.fullmatch(r"\d+\.\d+", s):   # epoch seconds with a fraction, as text
            return norm_ts(float(s), what)
        s2 = _FRACTION.sub(r"\1", s)
        if s2.endswith(("Z", "z")):
            s2 = s2[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(s2)
        except ValueError:
            raise AdapterError(f"{what} is not ISO 8601: {v[:40]!r}") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        dt = dt.astimezone(timezone.utc)
        if dt.microsecond:
            return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    raise AdapterError(f"{what} has the wrong type ({type(v).__name__})")


def epoch_seconds(v: Any) -> float | None:
    """Seconds since the epoch of a time given as an epoch number (s/ms/us/ns), a digit string or
    ISO 8601 text; None when it is none of these.

    >>> epoch_seconds(1722937500.5), epoch_seconds("2024-08-06T09:45:00.5Z"), epoch_seconds("soon")
    (1722937500.5, 1722937500.5, None)
    """
    if isinstance(v, str):
        try:
            v = v.strip()
            if re.fullmatch(r"\d+(\.\d+)?", v):
                v = float(v)
            else:
                return datetime.fromisoformat(norm_ts(v)[:-1] + "+00:00").timestamp()
        except (AdapterError, ValueError):
            return None
    n = as_number(v)
    if n is None or n <= 0:
        return None
    return n / {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[guess_epoch_unit(n)]


# ---------------------------------------------------------------------------------------------
# ids

def stable_hash(value: Any) -> str:
    """A stable id for a record without one: 'sha256:' + 32 hex chars of its sorted-key JSON.

    >>> stable_hash({"b": 1, "a": [1, 2]}) == stable_hash({"a": [1, 2], "b": 1})
    True
    >>> stable_hash({"a": 1})[:7]
    'sha256:'
    """
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def json_text(value: Any) -> str:
    """Compact JSON text of a value (for tool-call arguments given as objects)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


# ---------------------------------------------------------------------------------------------
# text content

def text_of(content: Any, what: str = "content") -> str | None:
    """Text of a message content: a string, or a list of text parts (OpenAI/Responses shapes).

    Returns None for null/missing. AdapterError for a wrong type.

    >>> text_of([{"type": "text", "text": "a"}, {"type": "output_text", "text": "b"}])
    'ab'
    """
    if content is None:
        return None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        out: list[str] = []
        for part in content:
            if isinstance(part, str):
                out.append(part)
            elif isinstance(part, dict):
                t = part.get("text", part.get("content"))
                if isinstance(t, str):
                    out.append(t)
        return "".join(out)
    raise AdapterError(f"{what} has the wrong type ({type(content).__name__})")


def last_user_prompt(messages: Any) -> str | None:
    """Text of the last user message in an OpenAI/Ollama-style messages list, or a prompt string."""
    if isinstance(messages, str):
        return messages
    if not isinstance(messages, list):
        return None
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            try:
                return text_of(m.get("content"))
            except AdapterError:
                return None
    return None


# ---------------------------------------------------------------------------------------------
# structured output

def json_expectation_openai(response_format: Any) -> tuple[bool | None, Any, str | None]:
    """(expects_json, schema, schema_name) from an OpenAI ``response_format`` / Responses ``text.format``.

    >>> json_expectation_openai({"type": "json_object"})
    (True, None, None)
    >>> json_expectation_openai({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}})
    (True, {'type': 'object'}, 'x')
    >>> json_expectation_openai({"type": "text"})
    (False, None, None)
    """
    if not isinstance(response_format, dict):
        return None, None, None
    t = response_format.get("type")
    if t == "json_object":
        return True, None, None
    if t == "json_schema":
        js = response_format.get("json_schema")
        if not isinstance(js, dict):  # Responses API: text.format holds name/schema directly
            js = response_format
        name = js.get("name") if isinstance(js.get("name"), str) else None
        schema = js.get("schema")
        if not isinstance(schema, (dict, bool)):
            schema = name  # fall back to the schema's name (resolved from the schemas directory)
        return True, schema, name
    if t == "text":
        return False, None, None
    return None, None, None


def tool_schemas(tools: Any) -> dict[str, Any]:
    """name -> parameters schema, from a Chat Completions, Responses, Ollama or OTel tools list."""
    out: dict[str, Any] = {}
    if not isinstance(tools, list):
        return out
    for t in tools:
        if not isinstance(t, dict):
            continue
        fn = t.get("function") if isinstance(t.get("function"), dict) else t
        name = fn.get("name")
        params = fn.get("parameters")
        if isinstance(name, str) and isinstance(params, (dict, bool)):
            out[name] = params
    return out


# ---------------------------------------------------------------------------------------------
# event assembly

def make_event(
    *,
    ts: str,
    request_id: str,
    resolved_model: str | None,
    requested_model: str | None,
    response: str,
    version: str | None = None,
    route: str | None = None,
    prompt: str | None = None,
    output_tokens: int | None = None,
    input_tokens: int | None = None,
    finish_reason: str | None = None,
    expects_json: bool | None = None,
    schema: Any = None,
    task_success: bool | None = None,
    latency_ms: float | None = None,
    attributes: dict | None = None,
    reasoning: str | None = None,
) -> dict:
    """Assemble a canonical event; model identity is resolved by :func:`split_identity`.

    ``reasoning``: the model's reasoning text when the provider returns it apart from the answer
    (thinking blocks, thought parts, ``reasoning_content``); stored as ``reasoning`` and measured
    by the ``reasoning_length`` signal, never counted in the answer's length.
    """
    ident = split_identity(resolved_model, requested_model, version=version)
    if ident.model is None:
        raise AdapterError("no model name")
    attrs = dict(attributes or {})
    attrs["pinned"] = ident.pinned
    if schema is not None and expects_json is None:
        expects_json = True
    ev: dict[str, Any] = {
        "ts": ts,
        "request_id": request_id[:512],
        "model": ident.model[:512],
        "model_version": ident.model_version[:512],
        "requested_model": ident.requested_model[:512] if ident.requested_model else None,
        "route": route if route else "default",
        "prompt": prompt,
        "response": response,
        "output_tokens": output_tokens,
        "input_tokens": input_tokens,
        "finish_reason": finish_reason[:64] if isinstance(finish_reason, str) else None,
        "expects_json": expects_json,
        "schema": schema,
        "task_success": task_success if isinstance(task_success, bool) else None,
        "latency_ms": round(latency_ms, 3) if (latency_ms is not None and latency_ms >= 0) else None,
        "attributes": attrs,
    }
    if reasoning:
        ev["reasoning"] = reasoning
    return ev


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a loop that builds many acyclic objects.

    Each collection would rescan every live container of the batch (tens of thousands of
    event dicts) for cycles that cannot exist; reference counting still frees everything.
    Re-enabled on exit unless it was already off (another thread pausing it too is harmless).

    >>> with paused_gc():
    ...     gc.isenabled()
    False
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def run_per_record(
    records: Sequence[tuple[int, Any]],
    one: Callable[[int, Any], Iterable[dict]],
) -> Converted:
    """Apply ``one(line, record)`` to each record; AdapterError and any other error become rejects."""
    out = Converted()
    events, rejects = out.events, out.rejects
    with paused_gc():
        for line, rec in records:
            try:
                if not isinstance(rec, dict):
                    raise AdapterError(f"not a JSON object ({json_type(rec)})")
                for ev in one(line, rec):
                    events.append((line, ev))
            except AdapterError as exc:
                rejects.append((line, exc.reason))
            except Exception as exc:  # defensive: a record must never crash the batch
                rejects.append((line, f"unreadable record ({type(exc).__name__})"))
    return out


def json_type(v: Any) -> str:
    """JSON type name of a parsed value (for a reject reason)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return type(v).__name__


def record_route(rec: dict, default: str | None) -> str | None:
    """Route from a record's top-level ``route`` or ``metadata.route``, else the given default."""
    r = get_str(rec, "route")
    if r is None and isinstance(rec.get("metadata"), dict):
        r = get_str(rec["metadata"], "route")
    return r or default


def str_or_none(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


_json_type = json_type  # former private name


def tool_call_events(calls: Sequence[dict], *, kind: str, name_key: str, id_key: str, args_key: str,
                     request_id: str, output_tokens: int | None, schemas: dict[str, Any], attributes: dict,
                     **common: Any) -> list[dict]:
    """One event per tool call: response = the call's arguments as JSON text (``input_json`` when a
    stream joined it as text), expects_json with the declared schema of that tool, id suffixed
    ``:<call id>``; the output tokens only when there is one call (usage covers them all).

    >>> evs = tool_call_events([{"name": "f", "input": {"a": 1}, "id": "c1"}], kind="tool_use",
    ...     name_key="name", id_key="id", args_key="input", request_id="m1", output_tokens=5,
    ...     schemas={"f": {"type": "object"}}, attributes={}, ts="2025-01-01T00:00:00Z", resolved_model="m",
    ...     requested_model=None)
    >>> evs[0]["request_id"], evs[0]["response"], evs[0]["schema"], evs[0]["attributes"]["tool_name"]
    ('m1:c1', '{"a":1}', {'type': 'object'}, 'f')
    """
    events = []
    for pos, call in enumerate(calls):
        name = call.get(name_key)
        if not isinstance(name, str) or not name:
            raise AdapterError(f"{kind} has no name")
        args = call["input_json"] if isinstance(call.get("input_json"), str) else json_text(call.get(args_key, {}))
        cid = call.get(id_key) if isinstance(call.get(id_key), str) else str(pos)
        events.append(make_event(request_id=f"{request_id}:{cid}", response=args,
                                 output_tokens=output_tokens if len(calls) == 1 else None, expects_json=True,
                                 schema=schemas.get(name),
                                 attributes=dict(attributes, tool_name=name, tool_call=True, tool_call_id=cid),
                                 **common))
    return events


def wraps(rec: dict, single: Callable[[Any], bool], item: Callable[[Any], bool]) -> bool:
    """True when ``rec["response"]`` fits ``single``, or is a list (a stream) whose first element
    fits ``item``: the log wrapper ``{"request": ..., "response": ...}`` of a format.

    >>> wraps({"response": [{"a": 1}]}, lambda d: False, lambda d: "a" in d)
    True
    """
    resp = rec.get("response")
    if isinstance(resp, list):
        return bool(resp) and item(resp[0])
    return single(resp)


def unwrap(rec: dict) -> tuple[dict | None, Any]:
    """``(request, response)`` of a log record ``{"request": {...}, "response": ...}``.

    An API error body (bare, or as the response) raises ``AdapterError("API error: ...")``; a
    request that is not an object raises too.

    >>> unwrap({"request": {"model": "m"}, "response": [1]})
    ({'model': 'm'}, [1])
    """
    err = api_error(rec)
    if err is not None:
        raise AdapterError(err)
    request = rec.get("request")
    if request is not None and not isinstance(request, dict):
        raise AdapterError("request is not an object")
    return request, rec.get("response")


# ---------------------------------------------------------------------------------------------
# records without a time, API error bodies

def event_time(candidates: Iterable[tuple[Any, str]], fallback: str | None) -> tuple[str, bool]:
    """(ISO time, inferred?) from the first non-null candidate ``(value, field name)``.

    No candidate carries a time -> ``fallback`` (an ISO time the caller chose: the file's
    modification time at ingest, see docs/FORMATS.md) with ``inferred=True``; no fallback either
    -> AdapterError ``no timestamp``.

    >>> event_time([(None, "created"), ("2024-08-06T09:00:00Z", "ts")], None)
    ('2024-08-06T09:00:00Z', False)
    >>> event_time([(None, "ts")], "2024-08-06T10:00:00Z")
    ('2024-08-06T10:00:00Z', True)
    """
    for value, what in candidates:
        if value is not None:
            return norm_ts(value, what), False
    if fallback:
        return norm_ts(fallback, "fallback time"), True
    raise AdapterError("no timestamp in the record (and no fallback time)")


def wrapper_time(rec: dict) -> list[tuple[Any, str]]:
    """The time fields a log wrapper may carry around a provider payload, in order of preference."""
    return [(rec.get(k), k) for k in ("ts", "timestamp", "time", "@timestamp") if k in rec]


def api_error(rec: Any) -> str | None:
    """``API error: <type>: <message>`` for a provider's error body, else None.

    Shapes: OpenAI ``{"error": {"type", "message", "code"}}``, Anthropic ``{"type": "error",
    "error": {"type", "message"}}``, Google ``{"error": {"code", "status", "message"}}``, AWS
    ``{"__type" | "Error": {"Code", "Message"}}``; bare or as the ``response`` of a wrapper.

    >>> api_error({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    'API error: overloaded_error: Overloaded'
    >>> api_error({"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}})
    'API error: RESOURCE_EXHAUSTED: Resource exhausted'
    >>> api_error({"choices": []}) is None
    True
    """
    if not isinstance(rec, dict):
        return None
    if isinstance(rec.get("response"), dict) and "error" not in rec:
        return api_error(rec["response"])
    err = rec.get("error") if isinstance(rec.get("error"), dict) else rec.get("Error")
    if isinstance(err, dict):
        kind = next((str(err[k]) for k in ("type", "status", "Code", "code") if err.get(k) not in (None, "")), "error")
        msg = next((err[k] for k in ("message", "Message") if isinstance(err.get(k), str)), "")
        return f"API error: {kind}: {msg}"[:300]
    if isinstance(rec.get("__type"), str) and isinstance(rec.get("message", rec.get("Message")), str):
        kind = rec["__type"].rsplit("#", 1)[-1]
        return f"API error: {kind}: {rec.get('message', rec.get('Message'))}"[:300]
    return None


def lower_schema_types(schema: Any) -> Any:
    """A copy of an OpenAPI-subset schema with upper-case ``type`` names lower-cased.

    Gemini's ``responseSchema`` and function ``parameters`` spell types ``OBJECT``, ``STRING``;
    JSON Schema wants ``object``, ``string``.

    >>> lower_schema_types({"type": "OBJECT", "properties": {"a": {"type": "STRING"}}})
    {'type': 'object', 'properties': {'a': {'type': 'string'}}}
    """
    if isinstance(schema, dict):
        return {k: (v.lower() if k == "type" and isinstance(v, str) else lower_schema_types(v))
                for k, v in schema.items()}
    if isinstance(schema, list):
        return [lower_schema_types(v) for v in schema]
    return schema
