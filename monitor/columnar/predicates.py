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

A row where any predicate is false, or that is not a strict JSON object (see :data:`LENIENT_RE`,
checked before the statement by :func:`strict_candidates`), is left to the per-record path, which
gives it its exact event or quarantine reason.

>>> from monitor.adapters import columnar_mapping
>>> sql = fast_sql(columnar_mapping("native"))
>>> "from_json(raw" in sql and "json_keys(raw, ['$'])" in sql and "json_type(raw, ['$.ts'" in sql
True
"""
from __future__ import annotations

import re
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.adapters import ColumnarMapping
from monitor.adapters._columnar import unique_keys
from monitor.events import EVENT_SCHEMA

__all__ = ["fast_sql", "field_kind", "lenient_lines", "matching_lines", "object_lines", "strict_candidates", "typed_screens", "typed_fields", "typed_schema",
           "typed_sql", "unique_keys", "LENIENT_RE"]

#: DuckDB's JSON reader accepts what ``orjson`` (the per-record parser, strict RFC 8259) refuses:
#: trailing commas, NaN / Infinity literals and numbers that overflow a double. A line where this
#: RE2 pattern matches anywhere (also inside a string: harmless, the line just takes the slower
#: path) is parsed by ``orjson``.
LENIENT_RE = r",[ \t\r\n]*[\]}]|[:\[,][ \t\r\n]*[-+]?(?i:nan|inf)|[0-9.][eE][+]?[0-9]{3}|[0-9]{300}"



#: ``orjson`` refuses JSON nested deeper than 1024 levels; DuckDB's and pyarrow's readers read
#: it. A line that deep holds at least this many ``[`` or ``{``, so a line that holds as many
#: (counted only in lines of twice as many bytes) takes the per-record path.
DEEP_BRACKETS = 1000


def object_lines(text: pa.Array) -> np.ndarray:
    """Per line (Arrow string array), whether it starts with ``{`` after blanks and is not
    possibly nested deeper than ``orjson`` reads (:data:`DEEP_BRACKETS`).

    >>> object_lines(pa.array([' {"a": 1}', '[1]', '{"a": ' + '[' * 1200 + ']' * 1200 + '}', ''])).tolist()
    [True, False, False, False]
    """
    first = _first_bytes(text)
    opens = first == ord("{")
    blank = np.isin(first, np.frombuffer(b" \t\r", dtype=np.uint8))  # rare: the regexp decides
    if blank.any():
        rows = np.flatnonzero(blank)
        opens[rows] = pc.match_substring_regex(text.take(pa.array(rows)), r"^[ \t\r]*\{").to_numpy(zero_copy_only=False)
    long = np.flatnonzero(opens & (pc.binary_length(text).to_numpy(zero_copy_only=False) >= 2 * DEEP_BRACKETS))
    if len(long):
        brackets = pc.count_substring_regex(text.take(pa.array(long)), r"[\[{]").to_numpy(zero_copy_only=False)
        opens[long[brackets >= DEEP_BRACKETS]] = False
    return opens


def strict_candidates(text: pa.Array) -> pa.Array:
    """Per line (Arrow string array), whether the DuckDB statement may read it: an object line
    (:func:`object_lines`) in which :data:`LENIENT_RE` finds nothing. RE2 in Arrow's kernel: the
    same engine as DuckDB's ``regexp_matches``, one pass per line, about twice as fast on the
    same lines.

    >>> strict_candidates(pa.array([' {"a": 1}', '{"a": 1,}', '[1]', '{"a": NaN}', '{"a": "nan"}'])).to_pylist()
    [True, False, False, False, True]
    """
    return pa.array(object_lines(text) & ~lenient_lines(text))


def matching_lines(text: pa.Array, pattern: str) -> np.ndarray:
    """Per line, whether the RE2 ``pattern`` finds something in it (a null line: True), Arrow's kernel.

    >>> matching_lines(pa.array(['{"a": NaN}', '{"a": 1}', None]), "NaN").tolist()
    [True, False, True]
    """
    return pc.fill_null(pc.match_substring_regex(text, pattern), True).to_numpy(zero_copy_only=False)


def lenient_lines(text: pa.Array) -> np.ndarray:
    """Per line, whether :data:`LENIENT_RE` finds something in it (a null line: True)."""
    return matching_lines(text, LENIENT_RE)


def _first_bytes(text: pa.Array) -> np.ndarray:
    """The first byte of each string of ``text`` (0 for an empty one), read from Arrow's buffers.

    >>> _first_bytes(pa.array(["ab", "", "c"], type=pa.large_string())[1:]).tolist()
    [0, 99]
    """
    width = np.int64 if pa.types.is_large_string(text.type) or pa.types.is_large_binary(text.type) else np.int32
    _, offsets, data = text.buffers()
    ends = np.frombuffer(offsets, dtype=width)[text.offset:text.offset + len(text) + 1].astype(np.int64)
    out = np.zeros(len(text), dtype=np.uint8)
    nonempty = ends[1:] > ends[:-1]
    if data is not None and nonempty.any():
        out[nonempty] = np.frombuffer(data, dtype=np.uint8)[ends[:-1][nonempty]]
    return out


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


def _predicate(name: str, required: bool) -> str:
    """The rule of field ``name`` on its JSON type ``t.name`` and its typed value ``v.name``."""
    spec: dict[str, Any] = EVENT_SCHEMA["properties"][name]
    t, v = f't."{name}"', f'v."{name}"'
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


def _steps(path: str) -> list[str | int]:
    """The keys and array indexes of a JSON path (``$.a[0].b`` -> ``['a', 0, 'b']``).

    >>> _steps("$.response.choices[0].message")
    ['response', 'choices', 0, 'message']
    """
    if not path.startswith("$"):
        raise ValueError(f"columnar path {path!r}: must start with '$'")
    steps: list[str | int] = []
    for m in re.finditer(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]|(.)", path[1:]):
        if m.group(3) is not None:
            raise ValueError(f"columnar path {path!r}: only .key and [n] steps are read by the fast path")
        steps.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return steps


def _struct_type(inputs: dict[str, tuple[str, str]]) -> str:
    """The nested struct type that ``from_json`` reads every input into (JSON text of its type)."""
    tree: dict[Any, Any] = {}
    for name, (path, sql_type) in inputs.items():
        node, steps = tree, _steps(path)
        for step in steps[:-1]:
            node = node.setdefault(step, {})
            if not isinstance(node, dict):
                raise ValueError(f"columnar input {name!r}: {path!r} goes inside a value read whole")
        if steps[-1] in node:
            raise ValueError(f"columnar input {name!r}: {path!r} is read twice")
        node[steps[-1]] = sql_type

    def render(node: Any) -> str:
        if isinstance(node, str):
            return _json_key(node)
        if 0 in node:
            if len(node) != 1:
                raise ValueError("columnar paths: an array is read by index [0] only")
            return "[" + render(node[0]) + "]"
        return "{" + ", ".join(f"{_json_key(k)}: {render(v)}" for k, v in node.items()) + "}"

    return render(tree)


def _access(path: str) -> str:
    """SQL that takes the value at ``path`` out of ``x`` (the struct read by ``from_json``)."""
    out = "x"
    for step in _steps(path):
        out += f"[{step + 1}]" if isinstance(step, int) else "." + _ident(step)
    return out


def _path(steps: list[str | int]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)


def _object_keys(paths: Iterable[str]) -> dict[str, list[str]]:
    """``$`` and every object a path goes through, each with the keys the paths read in it: where
    a repeated key must send the line to the per-record path (DuckDB reads the first of two equal
    keys, ``orjson`` the last). A repeated key that no path reads changes nothing.

    >>> _object_keys(["$.a.b", "$.a.c[0].d", "$.e"])
    {'$': ['a', 'e'], '$.a': ['b', 'c'], '$.a.c[0]': ['d']}
    """
    out: dict[str, list[str]] = {"$": []}
    for path in paths:
        steps = _steps(path)
        for k in range(len(steps)):
            if isinstance(steps[k], str):
                keys = out.setdefault(_path(steps[:k]), [])
                if steps[k] not in keys:
                    keys.append(steps[k])
    return out


def _child(obj: str, key: str) -> str:
    return f"$.{key}" if obj == "$" else f"{obj}.{key}"


def _inputs(mapping: ColumnarMapping) -> dict[str, tuple[str, str]]:
    """Every value the statement reads: the mapped canonical fields (as the schema types them)
    and the mapping's own inputs."""
    out = {name: (path, _SQL_TYPES[field_kind(name)]) for name, path in mapping.fields.items()}
    for name, spec in mapping.inputs.items():
        if name in out:
            raise ValueError(f"columnar input {name!r} is also a mapped field")
        out[name] = spec
    return out


def _once(objects: dict[str, list[str]], typed: list[str]) -> str:
    """SQL: no key the mapping reads appears twice in its object (``keys[j]``: the keys of the
    ``j``-th object; ``types``: the JSON types of ``typed``).

    Per object, the number of mapped keys present (their types are not NULL) against its key
    list: the list is never shorter, and when it is as long, each entry is a different mapped key
    and no key repeats (no list walk); otherwise the mapped keys among the list are counted, which
    an unmapped key does not change.
    """
    checks = []
    for j, (obj, keys) in enumerate(objects.items(), start=1):
        present = " + ".join(f"(types[{typed.index(_child(obj, key)) + 1}] IS NOT NULL)::INTEGER" for key in keys)
        listed = f"coalesce(len(keys[{j}]), 0)"
        mapped = (f"coalesce(len(list_filter(keys[{j}], lambda k: k IN ({', '.join(_quote(key) for key in keys)}))), 0)")
        checks.append(f"({listed} = {present} OR {mapped} = {present})")  # the list walk only where the first fails
    return " AND ".join(checks)


def fast_sql(mapping: ColumnarMapping, table: str = "lines") -> str:
    """One SELECT over ``table`` (columns ``i``, ``raw`` text and ``ok``: the line is a strict JSON
    object candidate, see :func:`strict_candidates`): ``i`` and one typed column per mapped
    canonical field and per ``columns`` entry, for the rows read here (every predicate true), in
    the order of ``table``. The rows not returned take the per-record path.

    Each line is parsed by DuckDB three times, each a single pass in C (``try``: a line that is
    not JSON gives NULL, and takes the per-record path): the keys of every object the paths go
    through (a duplicated key takes the per-record path: DuckDB reads the first, ``orjson`` the
    last), the JSON types of the paths, and ``from_json`` into a typed (nested) struct. The typed
    values are exact wherever the JSON type is the one the predicate asks for.
    """
    inputs = _inputs(mapping)
    read = {name: spec for name, spec in inputs.items() if spec[1]}  # "" as the type: only its JSON type is read
    struct = _struct_type(read)
    # Keys read twice: per object, the mapped keys among its keys (json_keys) against the mapped
    # keys present (json_type not NULL); a key the mapping does not read may repeat.
    objects = _object_keys(path for path, _ in inputs.values())
    typed = [path for path, _ in inputs.values()]
    typed += [_child(obj, key) for obj, keys in objects.items() for key in keys if _child(obj, key) not in typed]
    paths = "[" + ", ".join(_quote(path) for path in typed) + "]"
    objects_sql = "[" + ", ".join(_quote(obj) for obj in objects) + "]"
    names = {f"v.{name}": _access(path) for name, (path, _) in read.items()}
    names.update({f"t.{name}": f"types[{k}]" for k, name in enumerate(inputs, start=1)})
    names.update({f"l.{name}": _ident(f"l:{name}") for name in mapping.lets})

    def bind(sql: str) -> str:  # v.<input>, t.<input>, l.<let> -> what the statement computes
        return _bound(sql, names)

    predicates, outputs = _rules(mapping)
    extractions = ", ".join(f"{bind(expr)} AS {_ident(name)}" for name, expr in outputs.items())
    lets = "".join(f"), let_{k} AS (\n    SELECT *, {bind(expr)} AS {_ident(f'l:{name}')} FROM {'records' if k == 0 else f'let_{k - 1}'}\n"
                   for k, (name, expr) in enumerate(mapping.lets.items()))
    last = f"let_{len(mapping.lets) - 1}" if mapping.lets else "records"
    return f"""
WITH records AS (
    SELECT i, ok,
           try(json_keys(raw, {objects_sql})) AS keys,
           try(json_type(raw, {paths})) AS types,
           try(from_json(raw, {_quote(struct)})) AS x
    FROM {table}
{lets})
SELECT i, {extractions} FROM {last}
WHERE coalesce(ok AND x IS NOT NULL AND {_once(objects, typed)}
               AND {bind(' AND '.join(predicates))}, FALSE)
"""


def _rules(mapping: ColumnarMapping) -> tuple[list[str], dict[str, str]]:
    """The rows' conditions and the output columns' expressions (over ``t.<name>`` / ``v.<name>`` /
    ``l.<name>``), the same for both statements (:func:`fast_sql`, :func:`typed_sql`)."""
    required = set(EVENT_SCHEMA.get("required", []))
    predicates = [_predicate(name, name in required) for name in mapping.fields]
    predicates += ["FALSE" for name in required if name not in mapping.fields and name not in mapping.columns
                   and not mapping.derive]
    predicates += [f"coalesce({p}, FALSE)" for p in mapping.predicates]
    outputs = {name: f"CAST(v.{_ident(name)} AS VARCHAR)" if field_kind(name) == "json" else f"v.{_ident(name)}"
               for name in mapping.fields}
    outputs.update(mapping.columns)
    return predicates, outputs


def _bound(sql: str, names: dict[str, str]) -> str:
    """``v.<name>``, ``t.<name>`` and ``l.<name>`` in ``sql`` replaced by what ``names`` gives them."""
    return re.sub(r'(?<![\w."])([vtl])\.(?:"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*))',
                  lambda m: names.get(f"{m.group(1)}.{m.group(2) or m.group(3)}", m.group(0)), sql)


# ---------------------------------------------------------------- rows read by pyarrow's JSON reader
#: The Arrow type pyarrow's JSON reader gives a field of each kind, and the JSON type name
#: (DuckDB's ``json_type``) its non-null values then have. The reader refuses a batch where a
#: value has another JSON type, a number does not fit, or a key read here repeats.
_ARROW_KINDS = {"text": (pa.string(), "VARCHAR"), "integer": (pa.int64(), "BIGINT"),
                "number": (pa.float64(), "DOUBLE"), "boolean": (pa.bool_(), "BOOLEAN")}
_KIND_TYPES = {"text": {"string"}, "integer": {"integer"}, "number": {"number", "integer"}, "boolean": {"boolean"}}


def typed_fields(mapping: ColumnarMapping) -> dict[str, str] | None:
    """Canonical field -> JSON key, of the fields pyarrow's JSON reader reads as typed columns
    (:mod:`monitor.columnar.arrowjson`), or None when the mapping cannot be read that way: it
    has inputs, lets, columns, predicates or ``derive``, a path below the top level, or a field
    whose schema allows two JSON types of different Arrow types. Object-valued fields (``json``
    kind) are left out: a line that may hold one is read by :func:`fast_sql`
    (:func:`typed_screens`).

    >>> from monitor.adapters import columnar_mapping
    >>> sorted(typed_fields(columnar_mapping("native")))[:3], typed_fields(columnar_mapping("openai"))
    (['expects_json', 'finish_reason', 'input_tokens'], None)
    """
    if mapping.inputs or mapping.lets or mapping.columns or mapping.predicates or mapping.derive:
        return None
    out: dict[str, str] = {}
    for name, path in mapping.fields.items():
        steps = _steps(path)
        if len(steps) != 1 or not isinstance(steps[0], str):
            return None
        kind = field_kind(name)
        if kind == "json":
            continue
        if not set(_types(name)) - {"null"} <= _KIND_TYPES[kind]:
            return None
        out[name] = steps[0]
    return out


def typed_schema(mapping: ColumnarMapping) -> pa.Schema:
    """The explicit schema pyarrow's JSON reader reads :func:`typed_fields` with (JSON keys)."""
    fields = typed_fields(mapping) or {}
    return pa.schema([(key, _ARROW_KINDS[field_kind(name)][0]) for name, key in fields.items()])


#: A JSON value pyarrow's JSON reader reads and ``orjson`` refuses: ``NaN``, ``Infinity``,
#: ``-Infinity``, ``Inf``, and a number beyond a double (the reader gives ``inf`` in a field it
#: reads and skips it in one it does not), conservatively a number of 300 integer digits or with
#: a three-digit exponent. The reader refuses every other lenient spelling and trailing commas
#: by itself.
UNSAFE_VALUE = r"-?(?:NaN|Inf|[0-9]{300}|[0-9]+(?:\.[0-9]+)?[eE]\+?[0-9]{3})"
#: :data:`UNSAFE_VALUE` where a JSON value can stand: after ``:`` (a member), ``[`` or ``,`` (an
#: element) and JSON blanks. One pattern per separator, so each starts with a fixed byte.
TYPED_UNSAFE = tuple(f"{sep}[ \t\r\n]*{UNSAFE_VALUE}" for sep in (":", ",", r"\["))


def typed_screens(mapping: ColumnarMapping) -> list[str]:
    """RE2 patterns of the lines pyarrow's JSON reader must not read (they go to the DuckDB
    statement): those holding a value of :data:`TYPED_UNSAFE` (in a string too: a line that only
    looks like it costs only that), and, when the mapping has object-valued fields,
    which that reader cannot give as JSON text, those holding such a field's key, plain or with a
    ``\\u`` escape anywhere in a key. Each pattern starts with a fixed byte, so RE2 skips to it
    with ``memchr``: these passes together cost about what one of :data:`LENIENT_RE` does, whose
    alternatives start with a character class, and run side by side on the pool
    (docs/BENCHMARKS.md, "The fast path's screens").

    >>> import pyarrow.compute as pc
    >>> from monitor.adapters import columnar_mapping
    >>> screens = typed_screens(columnar_mapping("native"))
    >>> lines = pa.array(['{"a": NaN}', '{"schema": {}}', '{"sch\\u0065ma": 1}', '{"response": "caf\\u00e9"}',
    ...                   '{"a": "nan"}', '{"a": [1, 2e308]}', '{"a": ' + '9' * 320 + '}', '{"a": 1e30}'])
    >>> [any(pc.match_substring_regex(lines, p)[k].as_py() for p in screens) for k in range(len(lines))]
    [True, True, True, False, False, True, True, False]
    """
    screens = list(TYPED_UNSAFE)
    keys = [_steps(path)[0] for name, path in mapping.fields.items() if field_kind(name) == "json"]
    if keys:
        screens.append('"(?:' + "|".join(re.escape(str(key)) for key in keys) + ')"')  # one pass for all
        screens.append('\\\\u[0-9a-fA-F]{4}[^"]*"[ \t\r\n]*:')
    return screens


def typed_sql(mapping: ColumnarMapping, table: str = "typed") -> str:
    """The SELECT of :func:`fast_sql` over a table of typed columns instead of JSON text: ``i``
    and one column ``f:<field>`` per :func:`typed_fields` entry, as pyarrow's JSON reader gives
    them. The same conditions and outputs (:func:`_rules`); a field's JSON type is its kind's
    type where the value is not null, and NULL where it is missing or null (both read alike by
    every condition: a required field must have a value, an optional one may lack it); the
    object-valued fields are NULL (a line that may hold one is not in ``table``).

    >>> from monitor.adapters import columnar_mapping
    >>> sql = typed_sql(columnar_mapping("native"))
    >>> '"f:response"' in sql and "from_json" not in sql
    True
    """
    fields = typed_fields(mapping)
    if fields is None:
        raise ValueError("typed_sql: this mapping is not read by pyarrow's JSON reader (typed_fields is None)")
    names: dict[str, str] = {}
    for name in mapping.fields:
        column = _ident(f"f:{name}")
        if name in fields:
            names[f"v.{name}"] = column
            names[f"t.{name}"] = f"(CASE WHEN {column} IS NOT NULL THEN '{_ARROW_KINDS[field_kind(name)][1]}' END)"
        else:
            names[f"v.{name}"] = "CAST(NULL AS VARCHAR)"
            names[f"t.{name}"] = "CAST(NULL AS VARCHAR)"
    predicates, outputs = _rules(mapping)
    extractions = ", ".join(f"{_bound(expr, names)} AS {_ident(name)}" for name, expr in outputs.items())
    return f"SELECT i, {extractions} FROM {table}\nWHERE coalesce({_bound(' AND '.join(predicates), names)}, FALSE)\n"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _json_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
