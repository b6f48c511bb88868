"""Mapping adapter: any JSON-lines log -> canonical events, by a declarative ``[mapping]`` table.

The ``[mapping]`` table of ``llm-monitor.toml`` maps a canonical field to a *path spec*::

    [mapping]
    ts              = "timestamp"
    request_id      = "trace.id"
    model           = "llm.response.model | llm.request.model"
    requested_model = "llm.request.model"
    response        = "llm.output[0].text"
    output_tokens   = "llm.usage.out"
    route           = "labels.feature | =default"
    expects_json    = "=false"
    "attributes.team" = "labels.team"

Path syntax:

* ``a.b.c`` -- object keys separated by dots; ``a[0].b`` / ``a[-1]`` -- array index (negative
  counts from the end); ``a["gen_ai.system"]`` or ``a['x y']`` -- a key containing dots or spaces;
  ``$`` -- the whole record.
* ``p1 | p2 | ...`` -- alternatives: the first that resolves to a non-null value wins.
* ``=literal`` -- a constant (as the last alternative: a default). The text after ``=`` is read as
  JSON when it parses (``=true``, ``=42``, ``=null``, ``={"type":"object"}``, ``="quoted"``),
  otherwise taken as a plain string (``=default``).
* A non-string TOML value (``expects_json = true``, ``schema = {type = "object"}``) is a constant.

Canonical fields: ``ts, request_id, model, model_version, requested_model, route, prompt, response,
output_tokens, input_tokens, finish_reason, expects_json, schema, task_success, latency_ms,
attributes`` and ``attributes.<name>`` for one attribute. ``ts``, ``model`` and ``response``
must be mapped. Values are coerced: ``ts`` from ISO text or epoch s/ms/us/ns; ``response`` from an
object/array as its JSON text; token counts from integers or digit strings; ``finish_reason``
from the first element of an array, an integer (an enum number) as its decimal text; ``task_success`` from a boolean or 0/1; ``prompt`` from a
string or the last user message of a messages array. ``request_id`` missing -> stable hash.
"""
from __future__ import annotations

import json
import re
from typing import Any, Iterator, Sequence

from ._base import (
    AdapterError,
    Converted,
    as_count,
    as_number,
    json_text,
    last_user_prompt,
    make_event,
    norm_ts,
    run_per_record,
    stable_hash,
)

__all__ = ["convert", "resolve", "parse_path", "validate_mapping", "CANONICAL_FIELDS"]

CANONICAL_FIELDS = ("ts", "request_id", "model", "model_version", "requested_model", "route",
                    "prompt", "response", "output_tokens", "input_tokens", "finish_reason",
                    "expects_json", "schema", "task_success", "latency_ms", "attributes")
_MISSING = object()
_TOKEN = re.compile(r"""\s*(?:\.?([^.\[\]"'\s]+)|\[\s*(-?\d+)\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[\s*'([^']*)'\s*\]|(\.))""")


def parse_path(path: str) -> list[str | int]:
    """Parse one dotted path into keys (str) and indices (int).

    >>> parse_path('a.b[0]["gen_ai.system"].c')
    ['a', 'b', 0, 'gen_ai.system', 'c']
    >>> parse_path("$")
    []
    """
    p = path.strip()
    if p in ("$", ""):
        if p == "":
            raise AdapterError("empty path")
        return []
    if p.startswith("$"):
        p = p[1:]
    out: list[str | int] = []
    pos = 0
    while pos < len(p):
        m = _TOKEN.match(p, pos)
        if not m or m.end() == pos:
            raise AdapterError(f"bad path {path!r} at position {pos}")
        key, idx, dq, sq, dot = m.groups()
        if key is not None:
            out.append(key)
        elif idx is not None:
            out.append(int(idx))
        elif dq is not None:
            out.append(json.loads(f'"{dq}"'))
        elif sq is not None:
            out.append(sq)
        pos = m.end()
    if not out:
        raise AdapterError(f"bad path {path!r}")
    return out


def _compile(spec: Any) -> list[tuple[str, Any]]:
    """A spec -> list of ("path", keys) / ("const", value) alternatives."""
    if not isinstance(spec, str):
        return [("const", spec)]
    alts: list[tuple[str, Any]] = []
    for part in _split_alternatives(spec):
        part = part.strip()
        if part.startswith("="):
            lit = part[1:]
            try:
                val = json.loads(lit)
            except ValueError:
                val = lit
            alts.append(("const", val))
        else:
            alts.append(("path", parse_path(part)))
    if not alts:
        raise AdapterError(f"empty mapping spec {spec!r}")
    return alts


def _split_alternatives(spec: str) -> list[str]:
    parts, buf, quote, depth = [], [], None, 0
    for ch in spec:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return parts


def _walk(rec: Any, keys: list[str | int]) -> Any:
    cur = rec
    for k in keys:
        if isinstance(k, int):
            if isinstance(cur, list) and -len(cur) <= k < len(cur):
                cur = cur[k]
            else:
                return _MISSING
        else:
            if isinstance(cur, dict) and k in cur:
                cur = cur[k]
            elif isinstance(cur, list) and k.lstrip("-").isascii() and k.lstrip("-").isdigit() and -len(cur) <= int(k) < len(cur):
                cur = cur[int(k)]
            else:
                return _MISSING
    return cur


def resolve(record: Any, spec: Any) -> Any:
    """Value of a path spec in a record (None when no alternative resolves).

    >>> rec = {"llm": {"output": [{"text": "hi"}]}, "labels": {"gen_ai.system": "x"}}
    >>> resolve(rec, "llm.output[0].text"), resolve(rec, 'labels["gen_ai.system"]')
    ('hi', 'x')
    >>> resolve(rec, "llm.missing | =fallback"), resolve(rec, "=42"), resolve(rec, "nope")
    ('fallback', 42, None)
    """
    for kind, val in _compile(spec):
        if kind == "const":
            if val is not None:
                return val
            continue
        v = _walk(record, val)
        if v is not _MISSING and v is not None:
            return v
    return None


def validate_mapping(mapping: Any) -> dict[str, list[tuple[str, Any]]]:
    """Check a ``[mapping]`` table; AdapterError naming the bad key. Returns the compiled table.

    >>> validate_mapping({"ts": "time", "model": "m", "response": "out"}) and None
    >>> validate_mapping({"ts": "time", "model": "m"})
    Traceback (most recent call last):
    ...
    monitor.adapters._base.AdapterError: mapping must map 'response'
    >>> validate_mapping({"ts": "time", "model": "m", "response": "r", "colour": "c"})
    Traceback (most recent call last):
    ...
    monitor.adapters._base.AdapterError: mapping: unknown canonical field 'colour'
    """
    if not isinstance(mapping, dict) or not mapping:
        raise AdapterError("the mapping format needs a non-empty [mapping] table")
    compiled: dict[str, list[tuple[str, Any]]] = {}
    for key, spec in mapping.items():
        if not isinstance(key, str):
            raise AdapterError(f"mapping: bad key {key!r}")
        if key not in CANONICAL_FIELDS and not (key.startswith("attributes.") and len(key) > 11):
            raise AdapterError(f"mapping: unknown canonical field {key!r}")
        try:
            compiled[key] = _compile(spec)
        except AdapterError as exc:
            raise AdapterError(f"mapping.{key}: {exc.reason}") from None
    for req in ("ts", "model", "response"):
        if req not in compiled:
            raise AdapterError(f"mapping must map {req!r}")
    return compiled


def convert(records: Sequence[tuple[int, Any]], *, mapping: dict | None = None,
            route: str | None = None, **_: Any) -> Converted:
    """Convert records with a ``[mapping]`` table (AdapterError if the table itself is invalid).

    >>> m = {"ts": "time", "model": "llm.model", "response": "llm.out", "output_tokens": "llm.n",
    ...      "route": "feature | =chat", "attributes.team": "team"}
    >>> rec = {"time": 1722965000, "llm": {"model": "llama3.1:8b", "out": "hi", "n": "2"}, "team": "search"}
    >>> (n, ev), = convert([(1, rec)], mapping=m).events
    >>> ev["ts"], ev["model"], ev["response"], ev["output_tokens"], ev["route"], ev["attributes"]["team"]
    ('2024-08-06T17:23:20Z', 'llama3.1:8b', 'hi', 2, 'chat', 'search')
    >>> convert([(2, {"llm": {"model": "m"}, "time": 1})], mapping=m).rejects
    [(2, 'response not found (mapping: llm.out)')]
    """
    compiled = validate_mapping(mapping)
    raw = dict(mapping or {})
    return run_per_record(records, lambda line, rec: _one(rec, compiled, raw, route))


def _get(rec: dict, compiled: dict, key: str) -> Any:
    alts = compiled.get(key)
    if alts is None:
        return None
    for kind, val in alts:
        if kind == "const":
            if val is not None:
                return val
            continue
        v = _walk(rec, val)
        if v is not _MISSING and v is not None:
            return v
    return None


def _one(rec: dict, compiled: dict, raw: dict, route: str | None) -> Iterator[dict]:
    def need_str(key: str) -> str | None:
        v = _get(rec, compiled, key)
        if v is None:
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)
        if not isinstance(v, str):
            raise AdapterError(f"{key} is not a string")
        return v or None

    model = need_str("model")
    if model is None:
        raise AdapterError(f"model not found (mapping: {raw.get('model')})")
    resp = _get(rec, compiled, "response")
    if resp is None:
        raise AdapterError(f"response not found (mapping: {raw.get('response')})")
    if not isinstance(resp, str):
        resp = json_text(resp)
    ts_v = _get(rec, compiled, "ts")
    if ts_v is None:
        raise AdapterError(f"no timestamp (mapping: {raw.get('ts')})")
    ts = norm_ts(ts_v, "ts")
    rid = need_str("request_id") or stable_hash(rec)
    fr = _get(rec, compiled, "finish_reason")
    if isinstance(fr, list):
        fr = fr[0] if fr else None
    if isinstance(fr, int) and not isinstance(fr, bool):
        fr = str(fr)  # an enum number (protobuf-JSON exports such as Vertex's finishReason)
    if fr is not None and not isinstance(fr, str):
        raise AdapterError("finish_reason is not a string")
    ej = _get(rec, compiled, "expects_json")
    if ej is not None and not isinstance(ej, bool):
        raise AdapterError("expects_json is not a boolean")
    schema = _get(rec, compiled, "schema")
    if schema is not None and not isinstance(schema, (dict, str, bool)):
        raise AdapterError("schema is not an object or a name")
    ts_ok = _get(rec, compiled, "task_success")
    if ts_ok in (0, 1) and not isinstance(ts_ok, bool):
        ts_ok = bool(ts_ok)
    if ts_ok is not None and not isinstance(ts_ok, bool):
        raise AdapterError("task_success is not a boolean")
    lat = _get(rec, compiled, "latency_ms")
    if lat is not None and as_number(lat) is None:
        raise AdapterError("latency_ms is not a number")
    prompt = _get(rec, compiled, "prompt")
    if prompt is not None and not isinstance(prompt, str):
        prompt = last_user_prompt(prompt)
    attrs: dict[str, Any] = {"source": "mapping"}
    whole = _get(rec, compiled, "attributes")
    if isinstance(whole, dict):
        attrs.update(whole)
    for key in compiled:
        if key.startswith("attributes."):
            v = _get(rec, compiled, key)
            if v is not None:
                attrs[key[len("attributes."):]] = v
    yield make_event(
        ts=ts, request_id=rid, resolved_model=model, requested_model=need_str("requested_model"),
        version=need_str("model_version"), route=need_str("route") or route, prompt=prompt,
        response=resp, output_tokens=as_count(_get(rec, compiled, "output_tokens"), "output_tokens"),
        input_tokens=as_count(_get(rec, compiled, "input_tokens"), "input_tokens"),
        finish_reason=fr, expects_json=ej, schema=schema, task_success=ts_ok,
        latency_ms=as_number(lat), attributes=attrs)
