"""pyarrow's JSON reader on the fast path (monitor/columnar/arrowjson.py) decides as the DuckDB statement.

The lines here have the JSON types the event schema allows (so the reader takes them), with the
values at every rule's edge, escaped keys, unknown keys, object-valued fields (which keep the
line off the reader) and, sometimes, a repeated key (which makes the reader refuse the batch).
``read_batch`` with the reader and without it must give the same rows and columns, and both the
per-record path's events (``assert_same`` of tests/test_columnar.py).
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import monitor.columnar as columnar
from monitor.adapters import columnar_mapping
from monitor.columnar import read_batch
from monitor.columnar.arrowjson import _joined, read_typed
from monitor.columnar.lines import iter_line_blocks
from monitor.config import Config

from test_columnar import assert_same

NATIVE = columnar_mapping("native")

_str = lambda lo, hi: st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=lo, max_size=hi)  # noqa: E731
_edge_str = lambda limit: st.one_of(_str(0, 4), st.integers(max(0, limit - 1), limit + 1).map(lambda n: "x" * n))  # noqa: E731
_ts = st.one_of(st.sampled_from(["2026-11-01T10:00:00Z", "2026-11-01", "2026-11-01T10:00:00+02:00", "yesterday",
                                 "2026-02-30T00:00:00Z", "2026-11-01T10:00:00.123456789Z"]),
                st.integers(9, 65).map(lambda n: ("2026-11-01T10:00:00" + "0" * 60)[:n]))
_int = st.one_of(st.integers(-2, 5), st.sampled_from([2**63 - 1, -(2**63)]))
_number = st.one_of(st.integers(-2, 10**6), st.floats(-1, 1e6, allow_nan=False), st.sampled_from([-0.0, 1e20, 0.1 + 0.2]),
                    st.just(10**20))
_FIELDS = {
    "ts": _ts, "request_id": _edge_str(512), "model": _edge_str(512), "response": _str(0, 20),
    "model_version": _edge_str(512), "requested_model": _edge_str(512), "route": _edge_str(512), "prompt": _str(0, 8),
    "reasoning": _str(0, 8), "output_tokens": _int, "input_tokens": _int, "finish_reason": _edge_str(64),
    "expects_json": st.booleans(), "task_success": st.booleans(), "latency_ms": _number,
}
_REQUIRED = ("ts", "request_id", "model", "response")
_event = st.fixed_dictionaries(
    {name: st.one_of(_FIELDS[name], _FIELDS[name], _FIELDS[name], st.none()) for name in _REQUIRED},
    optional={**{name: st.one_of(s, st.none()) for name, s in _FIELDS.items() if name not in _REQUIRED},
              "extra": st.one_of(st.integers(), _str(0, 5), st.lists(st.integers(), max_size=2), st.none(),
                                 st.dictionaries(_str(0, 3), st.integers(), max_size=2)),
              "schema": st.sampled_from([{"type": "object"}, "invoice", True, None]),
              "attributes": st.sampled_from([{"team": "x"}, None])})
_spelling = st.sampled_from(["plain", "ascii", "escaped key", "spaces", "repeated key"])


def _line(event: dict, spelling: str) -> bytes:
    """One line of ``event``, written as a logger might: plain UTF-8, ASCII with ``\\u`` escapes,
    one key escaped, extra blanks, or (refused by the reader) a key written twice."""
    if spelling == "ascii":
        return json.dumps(event).encode()
    text = json.dumps(event, ensure_ascii=False, separators=(", ", ": ") if spelling == "spaces" else (",", ":"))
    if spelling == "escaped key" and event:
        key = sorted(event)[0]
        text = text.replace(f'"{key}"', '"' + "".join(f"\\u{ord(c):04x}" for c in key[:1]) + key[1:] + '"', 1)
    if spelling == "repeated key" and event:
        key = sorted(event)[0]
        text = text[:-1] + ("," if len(event) else "") + f'"{key}":' + json.dumps(event[key]) + "}"
    if spelling == "spaces":
        text = "  " + text + " \r"
    return text.encode()


def _same_rows(a: columnar.FastRows, b: columnar.FastRows) -> None:
    assert a.fast.tolist() == b.fast.tolist()
    assert list(a.columns) == list(b.columns)
    for name in a.columns:
        x, y = a.columns[name], b.columns[name]
        x = x.to_pylist() if isinstance(x, (pa.Array, pa.ChunkedArray)) else list(x)
        y = y.to_pylist() if isinstance(y, (pa.Array, pa.ChunkedArray)) else list(y)
        assert x == y, name


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.tuples(_event, _spelling), min_size=1, max_size=30))
def test_the_reader_decides_as_the_duckdb_statement(lines: list) -> None:
    raws = [_line(event, spelling) for event, spelling in lines]
    _same_rows(read_batch(raws, NATIVE, typed=True), read_batch(raws, NATIVE, typed=False))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.tuples(_event, _spelling.filter(lambda s: s != "repeated key")), min_size=1, max_size=20),
       batch_lines=st.integers(1, 25))
def test_files_read_by_the_reader_give_the_per_record_events(tmp_path: Path, monkeypatch, lines: list,
                                                             batch_lines: int) -> None:
    """Through ingest's loader as a whole (every column, signals included, quarantine reasons),
    and the reader really read lines (no repeated key here, so it never refuses a batch)."""
    taken = []

    def counting(text, mapping):
        table = read_typed(text, mapping)
        taken.append(table is not None)
        return table

    monkeypatch.setattr(columnar, "read_typed", counting)
    log = tmp_path / "typed.jsonl"
    log.write_bytes(b"\n".join(_line(event, spelling) for event, spelling in lines) + b"\n")
    assert_same(log, replace(Config(), input_format="native"), batch_lines=batch_lines)
    assert all(taken)  # called, it never refused: no key repeats here
    if any(spelling == "plain" and not {"schema", "attributes", "extra"} & set(event) for event, spelling in lines):
        assert taken  # a line no exclusion can touch was read by pyarrow's reader


def test_a_repeated_key_or_two_objects_on_a_line_make_the_reader_refuse() -> None:
    good = b'{"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m", "response": "hi"}'
    lines = pa.array([good.decode()] * 3, type=pa.large_string())
    assert read_typed(lines, NATIVE).num_rows == 3
    for bad in (good[:-1] + b', "model": "n"}', good + b" " + good, b'{"ts": "a\tb"}', good[:-1] + b', "route": 5}',
                good[:-1] + b', "output_tokens": 18446744073709551615}', good[:-1] + b', "output_tokens": 5.0}'):
        assert read_typed(pa.array([good.decode(), bad.decode(), good.decode()], type=pa.large_string()), NATIVE) is None


def test_lines_are_joined_without_a_copy_when_cut_from_a_file(tmp_path: Path) -> None:
    log = tmp_path / "f.jsonl"
    log.write_bytes(b'{"a": 1}\n{"a": 2}\r\n{"a": 3}')
    block = next(iter_line_blocks(log))
    text = block.text.cast(pa.large_string())
    assert _joined(text[:2]).to_pybytes() == b'{"a": 1}\n{"a": 2}\r\n'          # the file's own bytes
    assert _joined(text).to_pybytes() == b'{"a": 1}\n\n{"a": 2}\r\n\n{"a": 3}'  # the last line has no newline
    assert _joined(pa.array(["x", "y"], type=pa.large_string())).to_pybytes() == b"x\ny"


def test_object_valued_fields_keep_their_lines_on_the_duckdb_statement() -> None:
    lines = [b'{"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m", "response": "hi", "attributes": {"t": 1}}',
             b'{"ts": "2026-11-01T10:00:00Z", "request_id": "r2", "model": "m", "response": "hi", "sch\\u0065ma": "inv"}',
             b'{"ts": "2026-11-01T10:00:00Z", "request_id": "r3", "model": "m", "response": "caf\\u00e9"}']
    rows = read_batch(lines, NATIVE)
    assert rows.fast.all()
    assert rows.columns["attributes"].tolist()[0] == '{"pinned":false,"t":1}'
    assert rows.columns["schema"].to_pylist() == [None, '"inv"', None]
    _same_rows(rows, read_batch(lines, NATIVE, typed=False))


@pytest.mark.parametrize("fmt", ["openai"])
def test_formats_that_derive_fields_are_not_read_by_the_reader(fmt: str) -> None:
    assert read_typed(pa.array(['{"a": 1}'], type=pa.large_string()), columnar_mapping(fmt)) is None
    assert np.array_equal(read_batch([b'{"a": 1}'], columnar_mapping(fmt)).fast, [False])


def test_a_line_nested_deeper_than_orjson_reads_is_quarantined_by_both_paths(tmp_path: Path) -> None:
    """DuckDB's and pyarrow's readers read JSON nested 1,100 levels deep; orjson refuses it. The
    fast path leaves such a line to the per-record path, which quarantines it (found while adding
    pyarrow's reader: the DuckDB statement used to read it)."""
    ok = '{"ts": "2026-11-01T10:00:00Z", "request_id": "r%d", "model": "m", "response": "hi", "extra": %s}'
    log = tmp_path / "deep.jsonl"
    log.write_text("\n".join([ok % (1, "1"), ok % (2, "[" * 1100 + "]" * 1100), ok % (3, "[" * 900 + "]" * 900)]) + "\n")
    rows = read_batch(log.read_bytes().splitlines(), NATIVE)
    assert rows.fast.tolist() == [True, False, True]
    frame = assert_same(log, replace(Config(), input_format="native"))
    assert frame["request_id"].tolist() == ["r1", "r3"]


def test_a_line_longer_than_the_readers_block_is_read_whole() -> None:
    """pyarrow's reader parses its input in blocks of BLOCK_BYTES; a line longer than a block is
    still one row (the reader grows the block), with the DuckDB statement's result."""
    from monitor.columnar.arrowjson import BLOCK_BYTES

    ok = '{"ts": "2026-11-01T10:00:00Z", "request_id": "r%d", "model": "m", "response": "%s"}'
    lines = [(ok % (1, "hi")).encode(), (ok % (2, "x" * (BLOCK_BYTES + 10))).encode(), (ok % (3, "yo")).encode()]
    table = read_typed(pa.array([raw.decode() for raw in lines], type=pa.large_string()), NATIVE)
    assert [len(r) for r in table.column("f:response").to_pylist()] == [2, BLOCK_BYTES + 10, 2]
    rows = read_batch(lines, NATIVE)
    assert rows.fast.tolist() == [True, True, True]
    _same_rows(rows, read_batch(lines, NATIVE, typed=False))


@pytest.mark.parametrize("value", ["9" * 320, "-" + "9" * 320, "9" * 320 + ".5", "1.8e308", "2E+308", "1.7976931348623159e308",
                                   "NaN", "-Infinity", "Inf", "[1, " + "9" * 320 + "]", "{\"k\": 2e308}"])
@pytest.mark.parametrize("key", ["latency_ms", "extra"])
def test_numbers_beyond_a_double_never_reach_the_reader(tmp_path: Path, value: str, key: str) -> None:
    """Found by CI's generated files: pyarrow's reader gives ``inf`` for a number beyond a double
    in a field it reads and skips it in one it does not, where orjson refuses the line. Such a
    value keeps its line off the reader, in any field and any position."""
    ok = '{"ts": "2026-11-01T10:00:00Z", "request_id": "r%d", "model": "m", "response": "hi"%s}'
    lines = [(ok % (1, "")).encode(), (ok % (2, f', "{key}": {value}')).encode(), (ok % (3, ', "latency_ms": 1.5e300')).encode()]
    _same_rows(read_batch(lines, NATIVE), read_batch(lines, NATIVE, typed=False))
    log = tmp_path / "big.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    frame = assert_same(log, replace(Config(), input_format="native"))
    assert "r2" not in frame["request_id"].tolist()
