"""The fast path's SQL, written from two declarations: the format's field mapping and the event
JSON Schema (``monitor/event_schema.json``). No rule of either is copied here.

Each canonical field becomes two expressions over ``x``, the record's fields as DuckDB JSON
values (``from_json(raw, '{"ts": "JSON", ...}')``, one parse per line):

* a *predicate*: the value has a JSON type the schema allows (null or missing only for optional
  fields), within its ``minLength`` / ``maxLength`` / ``minimum``, and of a shape this path
  converts exactly (integers within 64 bits; ``5.0`` for an integer field goes to the per-record
  path, which the schema also accepts);
* an *extraction*: the value as a typed column (text unescaped, integer, double, boolean), or
  its JSON text for object-valued fields (``schema``, ``attributes``), which Python reads back.

A row where any predicate is false, or that is not a strict JSON object (see :data:`LENIENT_RE`),
is left to the per-record path, which gives it its exact event or quarantine reason.

>>> from monitor.adapters import columnar_mapping
>>> sql = fast_sql(columnar_mapping("native"))
>>> "from_json(raw" in sql and "json_keys(raw)" in sql
True
"""
from __future__ import annotations

from typing import Any

from monitor.adapters import ColumnarMapping
from monitor.events import EVENT_SCHEMA

__all__ = ["fast_sql", "field_kind", "LENIENT_RE"]

#: DuckDB's JSON reader accepts what ``orjson`` (the per-record parser, strict RFC 8259) refuses:
#: trailing commas, NaN / Infinity literals and numbers that overflow a double. A line where this
#: RE2 pattern matches anywhere (also inside a string: harmless, the line just takes the slower
#: path) is parsed by ``orjson``.
LENIENT_RE = r",[ \t\r\n]*[\]}]|[:\[,][ \t\r\n]*[-+]?(?i:nan|inf)|[0-9.][eE][+]?[0-9]{3}|[0-9]{300}"

_DUCK_TYPES = {"string": ("VARCHAR",), "integer": ("BIGINT", "UBIGINT"), "number": ("BIGINT", "UBIGINT", "DOUBLE"),
               "boolean": ("BOOLEAN",), "object": ("OBJECT",)}


def field_kind(name: str) -> str:
    """How a field is extracted: ``text``, ``integer``, ``number``, ``boolean`` or ``json``.

    >>> field_kind("response"), field_kind("output_tokens"), field_kind("schema")
    ('text', 'integer', 'json')
    """
    types = _types(name)
    if "object" in types:
        return "json"
    for kind in ("integer", "number", "boolean"):
        if kind in types:
            return kind
    return "text"


def _types(name: str) -> list[str]:
    t = EVENT_SCHEMA["properties"][name].get("type", [])
    return [t] if isinstance(t, str) else list(t)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _predicate(name: str, key: str, required: bool) -> str:
    spec: dict[str, Any] = EVENT_SCHEMA["properties"][name]
    v = f'x."{key}"'
    types = _types(name)
    alternatives = []
    for t in types:
        if t == "null":
            continue
        checks = [f"json_type({v}) IN ({', '.join(_quote(d) for d in _DUCK_TYPES[t])})"] if t in _DUCK_TYPES else []
        if not checks:  # a type this path does not convert (a boolean schema): per-record path
            continue
        if t == "string":
            if "minLength" in spec:
                checks.append(f"length({v}->>'$') >= {int(spec['minLength'])}")
            if "maxLength" in spec:
                checks.append(f"length({v}->>'$') <= {int(spec['maxLength'])}")
        if t in ("integer", "number"):
            checks.append(f"TRY_CAST({v} AS {'BIGINT' if t == 'integer' else 'DOUBLE'}) IS NOT NULL")
            if "minimum" in spec:
                checks.append(f"TRY_CAST({v} AS DOUBLE) >= {float(spec['minimum'])!r}")
        alternatives.append("(" + " AND ".join(checks) + ")")
    typed = " OR ".join(alternatives) if alternatives else "FALSE"
    if required or "null" not in types:
        return f"coalesce({typed}, FALSE)"
    return f"({v} IS NULL OR coalesce({typed}, FALSE))"


def _extraction(name: str, key: str) -> str:
    v = f'x."{key}"'
    kind = field_kind(name)
    if kind == "text":
        return f"{v}->>'$'"
    if kind == "integer":
        return f"TRY_CAST({v} AS BIGINT)"
    if kind == "number":
        return f"TRY_CAST({v} AS DOUBLE)"
    if kind == "boolean":
        return f"TRY_CAST({v} AS BOOLEAN)"
    return f"CAST({v} AS VARCHAR)"


def fast_sql(mapping: ColumnarMapping, table: str = "lines") -> str:
    """One SELECT over ``table`` (columns ``i`` and ``raw`` text): ``fast`` (bool) per row and one
    column per mapped canonical field (NULL where ``fast`` is false).

    Only formats whose paths are top-level keys are read with ``from_json``'s struct; the JSON
    paths of the mapping name the keys (``$.ts`` -> ``ts``).
    """
    required = set(EVENT_SCHEMA.get("required", []))
    keys = {}
    for name, path in mapping.fields.items():
        if not path.startswith("$.") or "." in path[2:] or "[" in path:
            raise ValueError(f"columnar path {path!r} of {name!r}: only top-level keys are read by the fast path")
        keys[name] = path[2:]
    struct = "{" + ", ".join(f'{_json_key(key)}: "JSON"' for key in keys.values()) + "}"
    predicates = [_predicate(name, key, name in required) for name, key in keys.items()]
    predicates += ["FALSE" for name in required if name not in keys]
    extractions = ", ".join(f'CASE WHEN fast THEN {_extraction(name, key)} END AS "{name}"' for name, key in keys.items())
    return f"""
WITH parsed AS (
    SELECT i, raw, json_valid(raw) AND starts_with(ltrim(raw, ' \t\r'), '{{')
                   AND NOT regexp_matches(raw, {_quote(LENIENT_RE)}) AS ok
    FROM {table}
), records AS (
    SELECT i,
           CASE WHEN ok THEN len(json_keys(raw)) = len(list_distinct(json_keys(raw))) END AS unique_keys,
           CASE WHEN ok THEN from_json(raw, {_quote(struct)}) END AS x
    FROM parsed
), flagged AS (
    SELECT i, x, coalesce(unique_keys AND {' AND '.join(predicates)}, FALSE) AS fast FROM records
)
SELECT i, fast, {extractions} FROM flagged ORDER BY i
"""


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
