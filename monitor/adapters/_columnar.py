"""The columnar declaration of a log format: where each canonical field sits in a record.

An adapter that declares a :class:`ColumnarMapping` can be read by the columnar fast path
(:mod:`monitor.columnar`): the batch is parsed by DuckDB's JSON reader and each canonical field
is taken from its declared JSON path as a column, with no per-record Python. The same
declaration drives the adapter's per-record conversion (its defaults), so a format is written
once. A format without a declaration takes the per-record path only.

Two kinds of field:

* ``fields``: canonical field -> JSON path (``$.a.b``, ``$.a[0].b``), read as the event JSON Schema
  types it; the schema's rules become the field's predicate (the native format);
* ``inputs`` + ``columns`` + ``predicates``: values read at JSON paths with a SQL type, SQL
  expressions over them for canonical fields, and SQL conditions a row must meet to be read here
  (a format whose adapter derives fields, such as OpenAI's). In those SQL texts ``v.<input>`` is
  the input's value and ``t.<input>`` its JSON type (DuckDB's ``json_type``: ``VARCHAR``,
  ``BIGINT``, ``UBIGINT``, ``DOUBLE``, ``BOOLEAN``, ``OBJECT``, ``ARRAY``, ``NULL``; SQL NULL
  when the path is missing); ``lets`` are SQL expressions computed once per row before the
predicates and columns, which read them as ``l.<name>``.

``derive`` computes fields in Python once per distinct value (the model identity, the
attributes): it takes the statement's columns (Arrow arrays of the rows read here) and returns the
canonical columns and a mask of the rows it keeps (the others take the per-record path).

>>> m = ColumnarMapping(fields={"ts": "$.ts", "response": "$.output.text"}, defaults={"route": "default"})
>>> m.path("response"), m.path("model")
('$.output.text', None)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

#: ``derive(columns, n)`` -> (canonical columns, mask of the rows kept); see the module docstring.
Derive = Callable[[dict[str, Any], int], tuple[dict[str, Any], np.ndarray]]


@dataclass(frozen=True, eq=False)  # hashed by identity: one declaration per format
class ColumnarMapping:
    """Canonical field -> JSON path (DuckDB JSONPath, ``$.a.b``) of a format whose records map
    field by field, plus the values given to fields that are missing or null, and for formats
    that derive fields: ``inputs`` (name -> (JSON path, SQL type: ``VARCHAR``, ``BIGINT``,
    ``DOUBLE``, ``BOOLEAN``, ``JSON``, or ``""``: only its JSON type is read)), ``columns`` (output name -> SQL expression),
    ``predicates`` (SQL conditions) and ``derive`` (see the module docstring).

    ``pinned_attribute``: the adapter adds ``attributes.pinned`` (from the model and version)
    when the record's attributes do not carry it.
    """

    fields: dict[str, str]
    defaults: dict[str, Any] = field(default_factory=dict)
    pinned_attribute: bool = True
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)
    columns: dict[str, str] = field(default_factory=dict)
    predicates: tuple[str, ...] = ()
    lets: dict[str, str] = field(default_factory=dict)
    derive: Derive | None = None

    def path(self, name: str) -> str | None:
        """The JSON path of canonical field ``name``, or None when the format does not carry it."""
        return self.fields.get(name)


def unique_keys(json_expr: str, path: str = "$") -> str:
    """SQL: true when no object at ``path`` (which may hold ``[*]``) of the JSON text ``json_expr``
    repeats a key (NULL text: true).

    >>> unique_keys("v.messages", "$[*]")
    "coalesce(list_bool_and(list_transform(json_keys(v.messages, '$[*]'), lambda k: len(k) = len(list_distinct(k)))), TRUE)"
    """
    return (f"coalesce(list_bool_and(list_transform(json_keys({json_expr}, '{path}'), "
            f"lambda k: len(k) = len(list_distinct(k)))), TRUE)")


def distinct_rows(*columns: Any) -> tuple[np.ndarray, list[tuple[Any, ...]]]:
    """The distinct tuples of values across ``columns`` (Arrow arrays of equal length, nulls as
    None), and per row the index of its tuple: for fields derived once per distinct value.

    >>> import pyarrow as pa
    >>> inverse, values = distinct_rows(pa.array(["a", "b", "a"]), pa.array([None, "x", None]))
    >>> inverse.tolist(), values
    ([0, 1, 0], [('a', None), ('b', 'x')])
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(columns[0])
    if not n:
        return np.zeros(0, dtype=np.int64), []
    codes = np.zeros(n, dtype=np.int64)
    for values in columns:
        encoded = (values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values).dictionary_encode()
        width = len(encoded.dictionary) + 1  # code 0: null
        codes = codes * width + pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1
        codes = np.unique(codes, return_inverse=True)[1].reshape(-1)  # below n again: no overflow
    _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    take = pa.array(first)
    picked = [values.take(take).to_pylist() for values in columns]
    return inverse.reshape(-1), list(zip(*picked))
