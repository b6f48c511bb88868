"""The columnar fast path: a batch of log lines -> canonical event columns, without per-line Python.

For a format that declares a :class:`~monitor.adapters.ColumnarMapping` (see
:func:`monitor.adapters.columnar_mapping`), :func:`read_batch`:

1. puts the batch's raw lines into one Arrow string array (UTF-8 checked once for the batch) and
   marks the JSON object lines (:func:`monitor.columnar.predicates.object_lines`: a ``{`` first,
   not nested deeper than ``orjson`` reads);
2. for a flat format (the native one; :func:`monitor.columnar.predicates.typed_fields`), reads
   the object lines that pass its screens (:func:`monitor.columnar.predicates.typed_screens`)
   with pyarrow's JSON reader straight into typed columns, in one pass on every core
   (:mod:`monitor.columnar.arrowjson`), and applies the event schema's rules to them as one
   DuckDB statement over those columns (:func:`monitor.columnar.predicates.typed_sql`); a batch
   the reader refuses (a value of another type, a repeated key, ...) goes to step 3 whole;
3. the other object lines in which :data:`monitor.columnar.predicates.LENIENT_RE` finds nothing
   go through one DuckDB statement (:func:`monitor.columnar.predicates.fast_sql`): DuckDB's JSON
   reader parses each line into the mapped fields, the event schema's rules are column
   predicates, and each field of the rows that pass is extracted as a typed column. Both
   statements write their rules from the same declarations (one copy: ``_rules``);
4. returns those columns and a mask of the lines read here.

The other rows (bad JSON, a wrong type, a numeric ``ts``, a missing ``request_id``, ...) go through
the per-record path (:class:`monitor.ingest.BatchLoader`), which gives them their exact event or
quarantine reason; both paths then meet in :func:`monitor.events.frame_from_columns` and the same
signals, dedup and commit. ``tests/test_columnar.py`` checks that the two paths give the same
events, signals and quarantine records, ``tests/test_columnar_typed.py`` that pyarrow's reader
decides as the DuckDB statement.

>>> from monitor.adapters import columnar_mapping
>>> rows = read_batch([b'{"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m", "response": "hi"}',
...                    b'{"ts": 1, "request_id": "r2", "model": "m", "response": "hi"}', b'{oops'],
...                   columnar_mapping("native"))
>>> rows.fast.tolist(), rows.columns["response"].to_pylist(), rows.columns["attributes"].tolist()
([True, False, False], ['hi'], ['{"pinned":false}'])
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from detectors._lazy import LazyModule
from monitor.adapters import ColumnarMapping
from monitor.adapters.identity import is_pinned
from monitor.pool import run_all, threaded

from .arrowjson import read_typed
from .predicates import (fast_sql, field_kind, lenient_lines, matching_lines, object_lines, typed_fields, typed_screens,
                         typed_sql)

if TYPE_CHECKING:
    import duckdb
else:  # imported at the first columnar read: a one-line file takes the per-record path (detectors/_lazy.py)
    duckdb = LazyModule("duckdb")

__all__ = ["FastRows", "pinned_flags", "read_batch"]

_local = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB connection per thread (not the event store)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = duckdb.connect(":memory:")
        _local.prepared = {}  # its prepared statements (_prepared)
    return con


@lru_cache(maxsize=16)
def _sql(mapping: ColumnarMapping) -> str:
    return fast_sql(mapping)


@lru_cache(maxsize=16)
def _typed_sql(mapping: ColumnarMapping) -> str:
    return typed_sql(mapping)


def _typed_rows(text: pa.Array, ok: np.ndarray, mapping: ColumnarMapping) -> tuple[np.ndarray, pa.Table] | None:
    """The rows of the batch that pyarrow's JSON reader reads (:mod:`.arrowjson`), and their
    typed columns; None when the mapping is not read that way, no row may be, or the reader
    refuses them (then every row goes to the DuckDB statement)."""
    if typed_fields(mapping) is None or not ok.any():
        return None
    screened = run_all([partial(matching_lines, text, pattern) for pattern in typed_screens(mapping)], threaded(len(text)))
    rows = np.flatnonzero(ok & ~np.logical_or.reduce(screened))
    if not len(rows):
        return None
    table = read_typed(text if len(rows) == len(text) else text.take(pa.array(rows)), mapping)
    return None if table is None else (rows, table)


def _statement(con: duckdb.DuckDBPyConnection, mapping: ColumnarMapping, rows: int, *, typed: bool = False) -> str:
    """The SQL that runs ``mapping``'s statement over ``rows`` registered rows: for a batch of
    fewer than :data:`SCAN_ROWS` rows (the sidecar's), ``EXECUTE`` of the statement prepared once
    per thread (:func:`_prepared`), which saves DuckDB's parse, bind and plan, 15-35 ms of CPU per
    batch for the native format and 35-70 ms for OpenAI's; for a larger batch the statement
    itself, planned for its size: a prepared plan keeps the parallelism of the batch it was
    prepared on, and ``ingest``'s blocks are read on every core (docs/BENCHMARKS.md, "The fast
    path's fixed cost")."""
    if rows < SCAN_ROWS:
        return f"EXECUTE {_prepared(con, mapping, typed=typed)}"
    return _typed_sql(mapping) if typed else _sql(mapping)


def _prepared(con: duckdb.DuckDBPyConnection, mapping: ColumnarMapping, *, typed: bool = False) -> str:
    """The name of ``mapping``'s statement prepared on ``con`` (this thread's connection, with
    ``lines`` or ``typed`` registered). Each ``EXECUTE`` reads the table registered at that
    moment. Formats' mappings are module constants, so the names are few."""
    names: dict[tuple[ColumnarMapping, bool], str] = _local.prepared
    name = names.get((mapping, typed))
    if name is None:
        name = f"llm_monitor_fast_{len(names)}"
        con.execute(f"PREPARE {name} AS {_typed_sql(mapping) if typed else _sql(mapping)}")
        names[(mapping, typed)] = name
    return name


@dataclass
class FastRows:
    """``fast``: per input line, True when it was read here; ``columns``: canonical field -> the
    values of the fast rows, in input order: an Arrow array (defaults applied), or for
    object-valued fields their JSON text (``attributes`` as a list of sorted-key JSON texts with
    ``pinned`` added as the adapter does; ``schema`` as an Arrow array of JSON texts, which
    :func:`monitor.events.frame_from_columns` takes as they are)."""

    fast: np.ndarray
    columns: dict[str, list[Any]]


def _as_text(raws: Sequence[bytes] | pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The lines as one Arrow string array, and a mask of the lines that are valid UTF-8 (the
    others are replaced by an empty string and left to the per-record path)."""
    binary = raws if isinstance(raws, pa.Array) else pa.array(raws, type=pa.large_binary())
    try:
        return binary.cast(pa.large_string()), np.ones(len(binary), dtype=bool)
    except pa.ArrowInvalid:
        pass
    values = binary.to_pylist()
    valid = np.ones(len(values), dtype=bool)
    for k, raw in enumerate(values):
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            valid[k] = False
    cleaned = [raw if ok else b"" for raw, ok in zip(values, valid)]
    return pa.array(cleaned, type=pa.large_binary()).cast(pa.large_string()), valid


#: Rows per Arrow record batch handed to DuckDB: its scan of a Python Arrow table runs one
#: batch per thread, so a block cut into pieces is parsed on every core.
SCAN_ROWS = 10_000


def read_batch(raws: Sequence[bytes] | pa.Array, mapping: ColumnarMapping, *, typed: bool = True) -> FastRows:
    """Read the lines of one batch (bytes, or an Arrow binary array) through the columnar path
    (see the module docstring). ``typed=False``: every line through the DuckDB statement, none
    through pyarrow's JSON reader (the reference that reader is tested against)."""
    text, utf8 = _as_text(raws)
    objects = object_lines(text) & utf8
    con = _connection()
    parts = []
    by_arrow = _typed_rows(text, objects, mapping) if typed else None
    if by_arrow is not None:
        rows, table = by_arrow
        con.register("typed", table.append_column("i", pa.array(rows)))
        try:
            parts.append(con.sql(_statement(con, mapping, len(rows), typed=True)).to_arrow_table())
        finally:
            con.unregister("typed")
        objects = objects.copy()
        objects[rows] = False
    rest = np.flatnonzero(objects)
    raw = text if len(rest) == len(text) else text.take(pa.array(rest))
    strict = ~lenient_lines(raw)  # lines DuckDB's reader would read and orjson refuses: the per-record path
    if not strict.all():  # they never reach DuckDB: a line its parser refuses would make `try` redo
        rest, raw = rest[strict], raw.filter(pa.array(strict))  # the rest of its vector row by row
    if len(rest) or not parts:
        table = pa.table({"i": pa.array(rest, type=pa.int64()), "raw": raw,
                          "ok": pa.array(np.ones(len(rest), dtype=bool))})
        lines = pa.Table.from_batches(table.to_batches(max_chunksize=SCAN_ROWS), schema=table.schema)
        con.register("lines", lines)
        try:
            parts.append(con.sql(_statement(con, mapping, len(rest))).to_arrow_table())
        finally:
            con.unregister("lines")
    kept = parts[0] if len(parts) == 1 else pa.concat_tables(parts)
    order = kept.column("i").to_numpy()
    if len(order) > 1 and not (np.diff(order) > 0).all():  # DuckDB keeps the scan's order; should it not
        kept = kept.take(pa.array(np.argsort(order, kind="stable")))
        order = kept.column("i").to_numpy()
    fast = np.zeros(len(text), dtype=bool)
    fast[order] = True
    columns: dict[str, Any] = {}
    for name in (*mapping.fields, *mapping.columns):
        values = kept.column(name).combine_chunks()
        if name in mapping.fields and field_kind(name) == "json":
            columns[name] = values.to_pylist() if name == "attributes" else values  # schema: its JSON text
        else:
            default = mapping.defaults.get(name)
            columns[name] = values if default is None else pc.fill_null(values, default)
    if mapping.derive is not None:
        columns, keep = mapping.derive(columns, kept.num_rows)
        if not keep.all():
            rows = np.flatnonzero(fast)
            fast[rows[~keep]] = False
            take = pa.array(np.flatnonzero(keep))
            columns = {name: _take(values, take) for name, values in columns.items()}
    if mapping.pinned_attribute:
        columns["attributes"] = _with_pinned(columns.get("attributes") or [None] * int(fast.sum()),
                                             columns["model"], columns["model_version"])
    return FastRows(fast, columns)


def _take(values: Any, rows: pa.Array) -> Any:
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values.take(rows)
    return np.asarray(values, dtype=object)[rows.to_numpy()]


def pinned_flags(models: pa.Array | pa.ChunkedArray, versions: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Per event, whether its (model, version) is pinned (:func:`monitor.adapters.identity.is_pinned`),
    computed once per distinct pair; a null version is passed as None.

    >>> pinned_flags(pa.array(["gpt-4o-2024-08-06", "gpt-4o", "gpt-4o"]), pa.array([None, None, "v1"])).tolist()
    [True, False, True]
    """
    n = len(models)
    if not n:
        return np.zeros(0, dtype=bool)
    model_codes = _encoded(models)
    version_codes = _encoded(versions)
    width = len(version_codes.dictionary) + 1  # code 0: null
    pair = ((pc.fill_null(model_codes.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1) * width
            + pc.fill_null(version_codes.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64) + 1)
    distinct, inverse = np.unique(pair, return_inverse=True)
    model_names = [None, *model_codes.dictionary.to_pylist()]
    version_names = [None, *version_codes.dictionary.to_pylist()]
    flags = np.array([is_pinned(model_names[p // width], version_names[p % width]) for p in distinct.tolist()],
                     dtype=bool)
    return flags[inverse.reshape(-1)]


def _encoded(values: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.dictionary_encode()


def _with_pinned(attributes: list[str | None], models: pa.Array, versions: pa.Array) -> np.ndarray:
    """``attributes`` JSON text with ``pinned`` added where absent, keys sorted, as the adapter's
    per-record conversion and :func:`monitor.events.events_to_frame` write it. ``pinned`` is
    computed once per distinct (model, version)."""
    pinned = pinned_flags(models, versions)
    out = np.where(pinned, '{"pinned":true}', '{"pinned":false}').astype(object)
    opts = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    for k, text in enumerate(attributes):
        if text is not None:
            attrs = orjson.loads(text)
            attrs.setdefault("pinned", bool(pinned[k]))
            out[k] = orjson.dumps(attrs, option=opts, default=str).decode()
    return out
