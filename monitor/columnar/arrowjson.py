"""Lines of a flat format read by pyarrow's JSON reader: one parse per line, straight into typed columns.

DuckDB's JSON functions parse a line once per function (:func:`monitor.columnar.predicates.fast_sql`
needs three: the keys, the types, the values). For a format whose fields all sit at the top level
and each have one JSON type (the native format; :func:`~monitor.columnar.predicates.typed_fields`),
pyarrow's JSON reader does it in one pass, on every core, with an explicit schema: it refuses the
whole batch when a value has another JSON type, an integer does not fit 64 bits, a key it reads
appears twice in a line, or a line is not JSON. A refused batch, and every line that may hold an
object-valued field (:func:`~monitor.columnar.predicates.typed_screens`), goes to the DuckDB
statement, so nothing is decided here that the DuckDB statement would decide differently: the
conditions on the typed values are the same SQL (:func:`~monitor.columnar.predicates.typed_sql`).

What pyarrow's reader accepts and ``orjson`` (the per-record parser) refuses never reaches it: the
lines are strict JSON object candidates already (:func:`~monitor.columnar.predicates.strict_candidates`:
no NaN / Infinity, no trailing comma, no number beyond a double, a ``{`` first), valid UTF-8, and
a line holding two objects makes the row count differ from the line count, which refuses the batch.

>>> import pyarrow as pa
>>> from monitor.adapters import columnar_mapping
>>> m = columnar_mapping("native")
>>> lines = pa.array(['{"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m", "response": "hi"}',
...                   '{"ts": "2026-11-01T10:00:00Z", "request_id": "r2", "model": "m", "response": 7}'],
...                  type=pa.large_string())
>>> read_typed(lines, m) is None                           # a number where the schema wants a string
True
>>> read_typed(lines[:1], m).column("f:request_id").to_pylist()
['r1']
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.adapters import ColumnarMapping

from .predicates import typed_fields, typed_schema

if TYPE_CHECKING:
    import pyarrow.json as pajson
else:
    from detectors._lazy import LazyModule

    pajson = LazyModule("pyarrow.json")

__all__ = ["read_typed"]

#: Bytes per block pyarrow's reader parses on one thread (its blocks run on every core).
BLOCK_BYTES = 4 << 20


@lru_cache(maxsize=16)
def _options(mapping: ColumnarMapping) -> tuple["pajson.ReadOptions", "pajson.ParseOptions"]:
    return (pajson.ReadOptions(use_threads=True, block_size=BLOCK_BYTES),
            pajson.ParseOptions(explicit_schema=typed_schema(mapping), unexpected_field_behavior="ignore",
                                newlines_in_values=False))


def _joined(lines: pa.Array) -> pa.Buffer:
    """The lines as one newline-delimited buffer: the lines' own bytes when each already ends with
    a newline (a block cut from a file), else a copy joined by newlines."""
    width = np.int64 if pa.types.is_large_string(lines.type) or pa.types.is_large_binary(lines.type) else np.int32
    _, offsets_buffer, data = lines.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=width)[lines.offset:lines.offset + len(lines) + 1]
    if data is not None and len(lines) and (offsets[1:] > offsets[:-1]).all() \
            and (np.frombuffer(data, dtype=np.uint8)[offsets[1:] - 1] == 10).all():
        return data.slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    listed = pa.LargeListArray.from_arrays(pa.array([0, len(lines)], type=pa.int64()), lines)
    return pc.binary_join(listed, pa.scalar("\n", type=lines.type))[0].as_buffer()


def read_typed(lines: pa.Array, mapping: ColumnarMapping) -> pa.Table | None:
    """The lines (Arrow strings, each a strict JSON object candidate, see the module docstring)
    as a table of one column ``f:<field>`` per :func:`~monitor.columnar.predicates.typed_fields`
    entry, row k from line k; None when pyarrow's reader refuses them (the caller then reads
    them with DuckDB)."""
    fields = typed_fields(mapping)
    if fields is None or not len(lines):
        return None
    read_options, parse_options = _options(mapping)
    data = _joined(lines)
    try:
        table = pajson.read_json(pa.BufferReader(data), read_options=read_options,
                                 parse_options=parse_options)
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    if table.num_rows != len(lines):  # a line with two objects (or none): not one event per line
        return None
    return table.rename_columns([f"f:{name}" for name in fields])
