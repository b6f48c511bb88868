"""The fast path's SQL, written from two declarations: the format's field mapping and the event
JSON Schema (``monitor/event_schema.json``). No rule of either is copied here.

Each canonical field becomes two expressions:

* a *predicate*: the value has a JSON type the schema allows (null or missing only for optional
  fields), within its ``minLength`` / ``maxLength`` / ``minimum`` / ``maximum``, and of a shape this path
  converts exactly (integers within 64 bits; ``5.0`` for an integer field goes to the per-record
  path, which the schema also accepts);
* an *extraction*: the value as a typed column (text unescaped, integer, double, boolean), or
  its JSON text for object-valued fields (``schema``, ``attributes``), which Python reads back.

Each field's JSON type comes from ``json_type(raw, [paths])`` and its value from ``from_json``
into a typed struct; ``from_json`` converts leniently (``"12"`` into an integer field gives 12),
so a value is used only where its JSON type is the one the predicate asks for.

A row where any predicate is false, or that is not a strict JSON object (see :data:`LENIENT_RE`),
is left to the per-record path, which gives it its exact event or quarantine reason.

>>> from monitor.adapters import columnar_mapping
>>> sql = fast_sql(columnar_mapping("native"))
>>> "from_json(raw" in sql and "json_keys(raw)" in sql and "json_type(raw, ['$.ts'" in sql
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


_SQL_TYPES = {"text": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "json": "JSON"}


def _predicate(name: str, key: str, k: int, required: bool) -> str:
    """The rule of field ``name`` on its JSON type ``t[k]`` and its typed value ``x."key"``."""
    spec: dict[str, Any] = EVENT_SCHEMA["properties"][name]
    t, v = f"t[{k}]", f'x."{key}"'
    alternatives = []
    for json_type in _types(name):
        if json_type == "null" or json_type not in _DUCK_TYPES:
            continue
        if field_kind(name) != "json" and json_type == "object":
            continue
        checks = [f"{t} IN ({', '.join(_quote(d) for d in _DUCK_TYPES[json_type])})"]
        if json_type == "string" and field_kind(name) == "text":
            if "minLength" in spec:
                checks.append(f"length({v}) >= {int(spec['minLength'])}")
            if "maxLength" in spec:
                checks.append(f"length({v}) <= {int(spec['maxLength'])}")
        if json_type in ("integer", "number"):
            checks.append(f"{v} IS NOT NULL")  # an integer beyond 64 bits: the per-record path
            if "minimum" in spec:
                checks.append(f"{v} >= CAST({float(spec['minimum'])!r} AS DOUBLE)")
            if "maximum" in spec and json_type == "number":
                checks.append(f"{v} <= CAST({float(spec['maximum'])!r} AS DOUBLE)")
        alternatives.append("(" + " AND ".join(checks) + ")")
    typed = " OR ".join(alternatives) if alternatives else "FALSE"
    if required or "null" not in _types(name):
        return f"coalesce({typed}, FALSE)"
    return f"({t} IS NULL OR {t} = 'NULL' OR coalesce({typed}, FALSE))"


def fast_sql(mapping: ColumnarMapping, table: str = "lines") -> str:
    """One SELECT over ``table`` (columns ``i`` and ``raw`` text): ``fast`` (bool) per row and one
    typed column per mapped canonical field (NULL where ``fast`` is false).

    Each line is parsed by DuckDB three times, each a single pass in C (``try``: a line that is
    not JSON gives NULL, and takes the per-record path): its top-level keys (a duplicated key takes the per-record path: DuckDB reads the first, ``orjson``
    the last), the JSON types of the mapped paths, and ``from_json`` into a typed struct. The
    typed values are exact wherever the JSON type is the one the predicate asks for.
    Only top-level keys are read this way (``$.ts``).
    """
    required = set(EVENT_SCHEMA.get("required", []))
    keys = {}
    for name, path in mapping.fields.items():
        if not path.startswith("$.") or "." in path[2:] or "[" in path:
            raise ValueError(f"columnar path {path!r} of {name!r}: only top-level keys are read by the fast path")
        keys[name] = path[2:]
    struct = "{" + ", ".join(f'{_json_key(key)}: "{_SQL_TYPES[field_kind(name)]}"' for name, key in keys.items()) + "}"
    paths = "[" + ", ".join(_quote(path) for path in mapping.fields.values()) + "]"
    predicates = [_predicate(name, key, k, name in required) for k, (name, key) in enumerate(keys.items(), start=1)]
    predicates += ["FALSE" for name in required if name not in keys]
    extractions = ", ".join(f'CASE WHEN fast THEN {"CAST(" if field_kind(name) == "json" else ""}x."{key}"'
                            f'{" AS VARCHAR)" if field_kind(name) == "json" else ""} END AS "{name}"'
                            for name, key in keys.items())
    return f"""
WITH parsed AS (
    SELECT i, raw, starts_with(ltrim(raw, ' \t\r'), '{{') AND NOT regexp_matches(raw, {_quote(LENIENT_RE)}) AS ok
    FROM {table}
), records AS (
    SELECT i,
           CASE WHEN ok THEN try(json_keys(raw)) END AS keys,
           CASE WHEN ok THEN try(json_type(raw, {paths})) END AS t,
           CASE WHEN ok THEN try(from_json(raw, {_quote(struct)})) END AS x
    FROM parsed
), flagged AS (
    SELECT i, x, coalesce(len(keys) = len(list_distinct(keys)) AND x IS NOT NULL AND {' AND '.join(predicates)}, FALSE) AS fast
    FROM records
)
SELECT i, fast, {extractions} FROM flagged ORDER BY i
"""


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
