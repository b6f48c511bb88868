"""The columnar fast path gives exactly what the per-record path gives.

Every fixture, the demo data and generated files with bad lines mixed in are loaded twice,
through :class:`monitor.ingest.BatchLoader` with the fast path (``columnar=True``, the default)
and without it: the event frames (every column, signals included), the quarantine rows with
their reasons, the blank-line counts and the detected formats must be equal.
"""
from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.adapters import columnar_mapping
from monitor.columnar import read_batch
from monitor.config import Config
from monitor.demo import generate_events, write_log
from monitor.columnar.lines import iter_line_blocks
from monitor.ingest import BatchLoader, iter_lines

FIX = Path(__file__).parent / "fixtures"


def _load(path: Path, config: Config, *, columnar: bool, batch_lines: int,
          blocks: bool = False) -> tuple[pd.DataFrame, list, int, str | None]:
    """Load a file batch by batch: as ingest does (``blocks``: :func:`iter_line_blocks`) or as the
    sidecar does (lists of :class:`Line`), with or without the fast path."""
    loader = BatchLoader(config, str(path), columnar=columnar, columnar_min_lines=0)
    frames, rejects = [], []
    batches = iter_line_blocks(path, batch_lines=batch_lines) if blocks else iter_lines(path, batch_lines=batch_lines)
    for lines in batches:
        batch = loader.load(lines)
        frames.append(batch.frame.drop_columns(["ingested_at"]))
        rejects.extend(batch.rejects)
    frame = pa.concat_tables(frames).to_pandas() if frames else pd.DataFrame()
    return frame, rejects, loader.blank, loader.fmt


def assert_same(path: Path, config: Config | None = None, *, batch_lines: int = 7) -> pd.DataFrame:
    """The per-record path over ``path`` against the fast path, fed as ingest and as the sidecar
    feed it; returns the fast path's frame."""
    config = config or Config()
    slow = _load(path, config, columnar=False, batch_lines=batch_lines)
    for blocks in (True, False):
        fast = _load(path, config, columnar=True, batch_lines=batch_lines, blocks=blocks)
        pd.testing.assert_frame_equal(fast[0], slow[0], check_exact=True)
        assert fast[1] == slow[1]
        assert fast[2:] == slow[2:]
    return fast[0]


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIX.glob("*.jsonl")))
def test_every_fixture_same_through_both_paths(fixture: str) -> None:
    config = Config()
    if fixture.startswith("mapping"):
        config = replace(config, mapping=tomllib.loads((FIX / "mapping_custom.toml").read_text())["mapping"])
    assert_same(FIX / fixture, config)


def test_demo_data_same_through_both_paths(tmp_path: Path) -> None:
    log = tmp_path / "demo.jsonl"
    write_log(generate_events(per_cell=60, seed=3), log)
    frame = assert_same(log, batch_lines=500)
    assert len(frame) == 720  # the demo's events, not only its three broken lines


def test_clean_native_lines_all_take_the_fast_path(tmp_path: Path) -> None:
    lines = [json.dumps({"ts": f"2026-11-01T10:00:{i:02d}Z", "request_id": f"r{i}", "model": "m",
                         "model_version": "v1", "response": "Sorry, I can't help with that." if i % 3 else '{"a": 1}',
                         "expects_json": i % 3 == 0, "output_tokens": i, "latency_ms": 12.5,
                         "attributes": {"team": "x", "n": [1, 2.5]}}).encode() for i in range(40)]
    rows = read_batch(lines, columnar_mapping("native"))
    assert rows.fast.all()
    log = tmp_path / "clean.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    frame = assert_same(log)
    assert frame["refusal"].sum() == 26 and frame["parse_status"].eq("ok").sum() == 14


# ------------------------------------------------------------------------ generated files
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_maybe = lambda s: st.one_of(st.none(), s)  # noqa: E731
_ts = st.one_of(
    st.datetimes(min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
                 max_value=pd.Timestamp("2099-01-01").to_pydatetime()).map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["2026-11-01", "2026-11-01T10:00:00+02:00", "2026-11-01 10:00:00", "2026-02-30T00:00:00Z",
                     "yesterday", "2026-11-01T10:00:00.123456789Z", "20261101T100000Z", ""]),
    st.integers(0, 2_000_000_000_000), st.floats(0, 2e9, allow_nan=False), st.none(), st.booleans())
_count = st.one_of(st.integers(-5, 2**63 - 1), st.sampled_from([0, 3.0, 2.5, "7", True, 2**63, 2**64 - 1]))
_attrs = st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.one_of(st.integers(-10, 10), st.floats(allow_nan=False, allow_infinity=False), _text, st.booleans(), st.none(), st.lists(st.integers(), max_size=3)), max_size=3),
                   st.just([1]), st.just("x"))
_schema = st.one_of(st.none(), st.just({"type": "object", "required": ["a"]}), st.just({"title": "Inv", "type": "object"}),
                    st.just("invoice"), st.just(True), st.just(3))
_response = st.one_of(_text, st.sampled_from(["I'm sorry, but I can't help with that.", '{"a": 1}', '```json\n{"a":1}\n```',
                                              "Je ne peux pas vous aider.", '{"a": ', "", "  ", "caf\u00e9 \U0001F600"]),
                      st.none(), st.integers())
_event = st.fixed_dictionaries(
    {"ts": _ts, "request_id": st.one_of(st.text(min_size=1, max_size=6), st.just(""), st.integers(), st.none()),
     "model": st.one_of(st.sampled_from(["m", "gpt-4o-2024-08-06", "llama3:latest"]), st.just(""), st.integers()),
     "response": _response},
    optional={"model_version": _maybe(st.sampled_from(["v1", "unknown", "", "x" * 600])), "route": _maybe(_text),
              "prompt": _maybe(_text), "output_tokens": _maybe(_count), "input_tokens": _maybe(_count),
              "finish_reason": _maybe(st.sampled_from(["stop", "length", "x" * 70])),
              "expects_json": st.one_of(st.none(), st.booleans(), st.just(1)),
              "task_success": st.one_of(st.none(), st.booleans(), st.just("yes")),
              "latency_ms": st.one_of(st.none(), st.floats(-1, 1e6, allow_nan=False), st.integers(-1, 10**6)),
              "schema": _schema, "attributes": _attrs, "extra": st.one_of(st.integers(), _text)})
_OK = b'"ts": "2026-11-01T00:00:00Z", "request_id": "b", "model": "m", "response": "r"'
# Complete events except for one thing DuckDB's reader accepts and orjson refuses (or reads
# differently), so only the strictness checks keep them off the fast path.
_bad = st.sampled_from([b"{not json", b"{" + _OK + b",}", b"{" + _OK + b', "latency_ms": NaN}',
                        b"{" + _OK + b', "latency_ms": -Infinity}', b"{" + _OK + b', "latency_ms": inf}',
                        b"{" + _OK + b', "x": 1e400}', b"{" + _OK + b', "x": [1, 2, ]}',
                        b"{" + _OK + b', "x": "\\ud800"}', b'{"ts": "2026-11-01T00:00:00Z", "request_id": "c", "model": "m", '
                        b'"response": "\\ud83d\\ude00 ok"}', b"[1, 2]", b'"text"', b"", b"   ", b"\xff\xfe{}",
                        b"{" + _OK + b', "ts": 5}', b"{" + _OK + b', "response": "second"}',
                        b'{"ts": "2026-11-01T00:00:00Z", "request_id": "t", "model": "m", "response": "a\tb"}',
                        b"{" + _OK + b"}\r", b" {" + _OK + b"} ", b"{" + _OK + b', "x": 12345678901234567890123}',
                        b"{" + _OK + b', "output_tokens": 18446744073709551615}', b"{" + _OK + b', "output_tokens": 5.0}',
                        b"{" + _OK + b', "n": ' + b"9" * 320 + b"}", b"{" + _OK + b', "response": "caf\xc3\xa9"}',
                        b"{" + _OK + b', "x": "\x00"}', b"{" + _OK + b', "attributes": {"k": 1, "k": 2}}'])


def _line(item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    return json.dumps(item, ensure_ascii=bool(len(json.dumps(item)) % 2)).encode()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.one_of(_event, _event, _event, _bad), min_size=1, max_size=25),
       batch_lines=st.integers(1, 30))
def test_generated_native_files_same_through_both_paths(tmp_path: Path, items: list, batch_lines: int) -> None:
    log = tmp_path / "gen.jsonl"
    log.write_bytes(b"\n".join(_line(item) for item in items) + b"\n")
    fast = assert_same(log, replace(Config(), input_format="native"), batch_lines=batch_lines)
    lines = sum(1 for item in items if not (isinstance(item, bytes) and not item.strip()))
    quarantined = _load(log, replace(Config(), input_format="native"), columnar=True, batch_lines=batch_lines)[1]
    assert len(fast) + len(quarantined) == lines  # every non-blank line: an event or a quarantine row


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=60).map(lambda b: b.replace(b"a", b"\n").replace(b"b", b"\r")),
       batch_lines=st.integers(1, 5), chunk_bytes=st.integers(1, 16), start=st.integers(0, 10))
def test_line_blocks_are_the_lines_of_iter_lines(tmp_path: Path, data: bytes, batch_lines: int, chunk_bytes: int,
                                                 start: int) -> None:
    path = tmp_path / "bytes.log"
    path.write_bytes(data)
    start = min(start, len(data))
    expected = [(l.number, l.end_offset, l.raw) for b in iter_lines(path, start_offset=start, start_line=3,
                                                                    batch_lines=batch_lines) for l in b]
    blocks = list(iter_line_blocks(path, start_offset=start, start_line=3, batch_lines=batch_lines,
                                   chunk_bytes=chunk_bytes))
    assert all(0 < len(b) <= batch_lines for b in blocks)
    assert [(l.number, l.end_offset, l.raw) for b in blocks for l in b.lines()] == expected


def test_line_blocks_when_lines_grow_past_the_buffer_estimate(tmp_path: Path) -> None:
    """The buffer is sized from the lines seen so far; lines 50 times longer later must still be
    cut right, every earlier block intact (its bytes are never written again), no line lost."""
    path = tmp_path / "growing.log"
    lines = [b"s%d" % k for k in range(300)] + [b"L" * 500 + b"%d" % k for k in range(300)] + [b"tail"]
    path.write_bytes(b"\n".join(lines))
    blocks = list(iter_line_blocks(path, batch_lines=70, chunk_bytes=256))
    assert [len(b) for b in blocks] == [70] * 8 + [41]
    assert [l.raw for b in blocks for l in b.lines()] == lines
    assert [l.end_offset for b in blocks for l in b.lines()] == [
        l.end_offset for b in iter_lines(path, batch_lines=70) for l in b]


def test_token_count_beyond_64_bits_is_quarantined_with_its_reason(tmp_path: Path) -> None:
    """Found by the generated files: the per-record path used to crash the whole batch here."""
    log = tmp_path / "big.jsonl"
    log.write_bytes(b'{"ts": "2026-11-01T00:00:00Z", "request_id": "a", "model": "m", "response": "r"}\n'
                    b'{"ts": "2026-11-01T00:00:00Z", "request_id": "b", "model": "m", "response": "r", '
                    b'"output_tokens": 18446744073709551615}\n')
    _, rejects, _, _ = _load(log, Config(), columnar=True, batch_lines=10, blocks=True)
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "schema: output_tokens: 18446744073709551615 is greater than the maximum of 9223372036854775807")]
    assert_same(log)


# ------------------------------------------------------------------------ generated OpenAI files
_model = st.sampled_from(["gpt-4o-2024-08-06", "gpt-4o", " gpt-4o-mini ", "", "   ", "llama3@sha256:" + "a" * 12,
                          "m" * 600, "claude-3-5-sonnet-20241022"])
_rare = lambda common, odd: st.integers(0, 9).flatmap(lambda k: odd if k == 0 else common)  # noqa: E731  9 in 10 common
_content = _rare(_text.filter(bool), st.one_of(st.sampled_from(["", "caf\u00e9"]), st.none(), st.integers(),
                                               st.just([{"type": "text", "text": "part"}])))
_message_odd = {"refusal": st.one_of(st.none(), st.just("I can't."), st.just(5)),
                "tool_calls": st.one_of(st.none(), st.just([]), st.just([{"id": "c1", "type": "function",
                                                                          "function": {"name": "f", "arguments": "{}"}}])),
                "function_call": st.one_of(st.none(), st.just({"name": "f", "arguments": "{}"})),
                "reasoning_content": st.one_of(st.none(), st.just("thinking"))}
_message = _rare(st.fixed_dictionaries({"role": st.just("assistant"), "content": _content}),
                 st.one_of(st.fixed_dictionaries({"role": st.just("assistant")},
                                                 optional={"content": _content, **_message_odd}), st.none(), st.just("x")))
_choice = st.fixed_dictionaries({"message": _message}, optional={
    "index": st.integers(0, 2), "finish_reason": _rare(st.just("stop"), st.sampled_from([None, "length", "x" * 70, 3]))})
_usage = _rare(st.fixed_dictionaries({}, optional={"completion_tokens": _maybe(_count), "prompt_tokens": _maybe(_count)}),
               st.one_of(st.none(), st.just("x")))
_user_message = st.fixed_dictionaries({"role": st.sampled_from(["user", "user", "system", "assistant", 5]),
                                       "content": _rare(_text, st.one_of(st.none(), st.integers(), st.just({"a": 1}),
                                                                         st.just([{"type": "text", "text": "p"}])))})
_request_messages = _rare(st.lists(_rare(_user_message, st.one_of(st.none(), st.just("hi"))), max_size=3),
                          st.one_of(st.none(), st.just("a prompt"), st.just({"role": "user"})))
_request = _rare(st.fixed_dictionaries({}, optional={
    "model": _rare(_model, st.integers()), "messages": _request_messages,
    "response_format": _rare(st.sampled_from([{"type": "json_object"}, {"type": "text"}]), st.sampled_from([
        None, "json", 
        {"type": 3}, {}, {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}]))}),
    st.one_of(st.none(), st.just("req")))
_created = _rare(st.one_of(st.none(), st.integers(1, 10**10)), st.one_of(
    st.integers(-5, 2 * 10**12), st.floats(0, 2e9, allow_nan=False), st.just("1722965000")))
_chat = st.fixed_dictionaries(
    {"choices": _rare(st.lists(_choice, min_size=1, max_size=1), st.one_of(st.lists(_choice, max_size=3), st.just("x"))),
     "id": _rare(st.text(min_size=1, max_size=6), st.one_of(st.just(""), st.integers(), st.just("i" * 600))),
     "model": _rare(_model, st.one_of(st.none(), st.integers())), "created": _created},
    optional={"object": _rare(st.just("chat.completion"), st.sampled_from(["response", "chat.completion.chunk"])),
              "system_fingerprint": st.one_of(st.none(), st.sampled_from(["fp_1", "", "fp_\u00e9"]), st.integers()),
              "service_tier": st.one_of(st.none(), st.sampled_from(["default", "scale"])), "usage": _usage})
_chat_odd = st.one_of(_chat.map(lambda c: {**c, "created_at": 1722965000}),
                      _chat.map(lambda c: {**c, "error": {"type": "server_error", "message": "boom"}}),
                      st.just("x"), st.just({"error": {"type": "rate_limit", "message": "slow"}}))
_wrapped = st.fixed_dictionaries(
    {"response": _rare(_chat, _chat_odd),
     "ts": _rare(st.datetimes(min_value=pd.Timestamp("2000-01-01").to_pydatetime(),
                              max_value=pd.Timestamp("2099-01-01").to_pydatetime()).map(lambda d: d.isoformat() + "Z"), _ts)},
    optional={"request": _request,
              "route": _maybe(_rare(_text, st.just("r" * 600))), "metadata": _rare(
                  st.fixed_dictionaries({}, optional={"route": _maybe(_text)}), st.one_of(st.none(), st.just("m"))),
              "latency_ms": _rare(st.sampled_from([350.0, 12.5, 0, 7, 0.001]), st.one_of(
                  st.none(), st.floats(-1, 1e6, allow_nan=False), st.integers(-1, 10**6), st.just(True), st.just("12"),
                  st.just(0.1 + 0.2), st.just(1e16))),
              "task_success": st.one_of(st.none(), st.booleans(), st.just("yes"))})
_wrapped_odd = st.one_of(_wrapped.map(lambda r: {**r, "object": "chat.completion"}),
                         _wrapped.map(lambda r: {**r, "type": "response.created"}),
                         _wrapped.map(lambda r: {**r, "error": {"message": "x"}}),
                         _wrapped.map(lambda r: {**r, "timestamp": "2026-11-01T00:00:00Z"}))
_OPENAI_OK = (b'"ts": "2026-11-01T00:00:00Z", "request": {"model": "gpt-4o", "messages": [{"role": "user", "content": "q"}]}, '
              b'"response": {"id": "c", "object": "chat.completion", "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, '
              b'"finish_reason": "stop", "message": {"role": "assistant", "content": "a"}}]')
_openai_bad = st.sampled_from([
    b"{not json", b"{" + _OPENAI_OK + b"}}", b"{" + _OPENAI_OK + b", }}", b"{" + _OPENAI_OK + b', "x": NaN}}',
    b"{" + _OPENAI_OK + b', "id": "d"}}', b"{" + _OPENAI_OK + b', "model": "gpt-4o"}}',
    b'{"ts": "2026-11-01T00:00:00Z", "response": {"id": "e", "model": "m", "choices": [{"message": {"role": "assistant", '
    b'"content": "a", "content": "b"}}]}}',
    b'{"ts": "2026-11-01T00:00:00Z", "request": {"messages": [{"role": "user", "content": "a", "role": "system"}]}, '
    b'"response": {"id": "f", "model": "m", "choices": [{"message": {"role": "assistant", "content": "a"}}]}}',
    b'{"ts": "2026-11-01T00:00:00Z", "route": "a", "route": "b", "response": {"id": "g", "model": "m", '
    b'"choices": [{"message": {"role": "assistant", "content": "a"}}]}}',
    b'{"ts": "2026-11-01T00:00:00Z", "metadata": {"route": "a", "route": "b"}, "response": {"id": "h", "model": "m", '
    b'"choices": [{"message": {"role": "assistant", "content": "a"}}]}}',
    b'{"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1722965000, "model": "m", '
    b'"choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": "stop"}]}',
    b'{"error": {"type": "invalid_request_error", "message": "bad"}}', b"[1, 2]", b"", b"   ", b"\xff\xfe{}",
    b"{" + _OPENAI_OK + b', "usage": {"completion_tokens": 18446744073709551615}}}',
    b"{" + _OPENAI_OK + b', "usage": {"completion_tokens": 5.0, "prompt_tokens": -1}}}',
    b'{"ts": "2026-02-30T00:00:00Z", "response": {"id": "i", "model": "m", "choices": [{"message": {"content": "a"}}]}}',
    b'{"ts": "2026-11-01T00:00:00.123456789Z", "response": {"id": "j", "model": "m", "choices": [{"message": {"content": "a"}}]}}'])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(items=st.lists(st.one_of(_wrapped, _wrapped, _wrapped, _wrapped_odd, _openai_bad), min_size=1, max_size=25),
       batch_lines=st.integers(1, 30))
def test_generated_openai_files_same_through_both_paths(tmp_path: Path, items: list, batch_lines: int) -> None:
    log = tmp_path / "gen-openai.jsonl"
    log.write_bytes(b"\n".join(_line(item) for item in items) + b"\n")
    assert_same(log, replace(Config(), input_format="openai"), batch_lines=batch_lines)


def test_common_openai_records_take_the_fast_path(tmp_path: Path) -> None:
    """The wrapped chat completion with one text choice is read by DuckDB, not record by record, and
    gives what the adapter gives (time from ``created`` or ``ts``, identity, prompt, attributes)."""
    lines = []
    for i in range(30):
        record = {"route": "chat" if i % 2 else None, "latency_ms": 12.5, "task_success": bool(i % 3),
                  "request": {"model": "gpt-4o", "messages": [{"role": "system", "content": "be brief"},
                                                              {"role": "user", "content": f"question {i}"}],
                              **({"response_format": {"type": "json_object"}} if i % 5 == 0 else {})},
                  "response": {"id": f"chatcmpl-{i}", "object": "chat.completion", "model": "gpt-4o-2024-08-06",
                               "system_fingerprint": "fp_1", "choices": [{"index": 0, "finish_reason": "stop",
                               "message": {"role": "assistant", "content": "Sorry, I can't help with that." if i % 4 else '{"a": 1}'}}],
                               "usage": {"prompt_tokens": 9, "completion_tokens": i}}}
        if i % 2:
            record["response"]["created"] = 1722965000 + i
        else:
            record["ts"] = f"2026-11-01T10:00:{i:02d}.5Z"
        lines.append(json.dumps(record).encode())
    rows = read_batch(lines, columnar_mapping("openai"))
    assert rows.fast.all()
    log = tmp_path / "openai.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    frame = assert_same(log)
    assert frame["model_version"].eq("2024-08-06").all() and frame["requested_model"].eq("gpt-4o").all()
    assert frame["prompt"].tolist() == [f"question {i}" for i in range(30)]
    assert frame["route"].tolist() == ["chat" if i % 2 else "default" for i in range(30)]
    assert str(frame["ts"][1]) == "2024-08-06 17:23:21+00:00"


def test_a_repeated_key_leaves_the_fast_path_only_when_a_mapping_reads_it(tmp_path: Path) -> None:
    """DuckDB reads the first of two equal keys and ``orjson`` the last: a repeated key that a path
    reads sends the line to the per-record path; one that no path reads changes nothing."""
    ok = b'"ts": "2026-11-01T00:00:00Z", "request_id": "r1", "model": "m", "response": "hi"'
    lines = [b"{" + ok + b', "extra": 1, "extra": 2}', b"{" + ok + b', "model": "other"}',
             b"{" + ok + b', "attributes": {"k": 1, "k": 2}}']
    assert read_batch(lines, columnar_mapping("native")).fast.tolist() == [True, False, True]
    log = tmp_path / "repeated.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    assert_same(log)
    chat = (b'"ts": "2026-11-01T00:00:00Z", "response": {"id": "c", "model": "gpt-4o", "x": 1, "x": 2, '
            b'"choices": [{"message": {"role": "assistant", "content": "a"%s}}]}')
    openai_lines = [b"{" + chat % b"" + b"}", b"{" + chat % b', "content": "b"' + b"}",
                    b"{" + chat % b', "extra": 1, "extra": 2' + b"}"]
    assert read_batch(openai_lines, columnar_mapping("openai")).fast.tolist() == [True, False, True]
    log.write_bytes(b"\n".join(openai_lines) + b"\n")
    assert_same(log, replace(Config(), input_format="openai"))


_NATIVE_KEYS = ("route", "model_version", "prompt", "finish_reason")  # mapped, optional
_KEY_VALUE = {"route": '"r"', "model_version": '"v1"', "prompt": "null", "finish_reason": '"stop"',
              "extra": "1", "other": '"x"', "nested": '{"route": "a", "route": "b"}'}


@settings(max_examples=150, deadline=None)
@given(keys=st.lists(st.sampled_from(_NATIVE_KEYS + ("extra", "other", "nested")), max_size=8),
       repeat_required=st.sampled_from([None, "ts", "request_id", "model", "response"]))
def test_repeated_keys_decide_the_fast_path_as_the_key_count_says(keys: list[str], repeat_required: str | None) -> None:
    """Any mix of mapped, unmapped, null-valued and repeated keys: a line is read here exactly when
    no key the mapping reads appears twice in the record (both ways of checking it: the key list
    no longer than the mapped keys present, and the count of mapped keys in a longer list)."""
    members = ['"ts": "2026-11-01T00:00:00Z"', '"request_id": "r1"', '"model": "m"', '"response": "hi"']
    members += [f'"{key}": {_KEY_VALUE[key]}' for key in keys]
    if repeat_required:
        members.append(f'"{repeat_required}": ' + ('"2026-11-02T00:00:00Z"' if repeat_required == "ts" else '"again"'))
    line = ("{" + ", ".join(members) + "}").encode()
    repeated = repeat_required is not None or any(keys.count(key) > 1 for key in _NATIVE_KEYS)
    assert read_batch([line], columnar_mapping("native")).fast.tolist() == [not repeated]


def test_strict_candidates_is_the_rule_duckdb_applied_before() -> None:
    """The strictness pre-check runs in Arrow's RE2 kernel; it is the same rule as DuckDB's
    ``starts_with(ltrim(raw, ' \\t\\r'), '{') AND NOT regexp_matches(raw, LENIENT_RE)``, which the
    statement used to evaluate, on any text (hypothesis)."""
    import duckdb

    from monitor.columnar.predicates import LENIENT_RE, strict_candidates

    pieces = st.sampled_from(["{", "}", "[", "]", ",", ":", " ", "\t", "\r", "\n", "NaN", "-inf", "+Infinity", "nAn",
                              "1e400", "1.5E+308", "e999", "0" * 301, '"a"', "null", "\u00e9", "\U0001F600", "x"])
    con = duckdb.connect()
    pattern = LENIENT_RE.replace("'", "''")

    @settings(max_examples=200, deadline=None)
    @given(texts=st.lists(st.lists(pieces, max_size=12).map("".join), min_size=1, max_size=20))
    def check(texts: list[str]) -> None:
        got = strict_candidates(pa.array(texts, type=pa.large_string())).to_pylist()
        con.register("t", pa.table({"raw": pa.array(texts, type=pa.large_string())}))
        want = [row[0] for row in con.sql(
            f"SELECT starts_with(ltrim(raw, ' \t\r'), '{{') AND NOT regexp_matches(raw, '{pattern}') FROM t").fetchall()]
        con.unregister("t")
        assert got == want

    check()


def test_outputs_are_computed_only_for_the_rows_read_here() -> None:
    """The statement returns only the rows that pass every predicate, so an output expression
    that would fail on another row (``created`` x 10^6 beyond 64 bits) is never evaluated on it,
    also when such rows share DuckDB's vectors with rows read here."""
    line = (b'{"ts": "2026-11-01T00:00:00Z", "response": {"id": "c", "model": "gpt-4o", "created": %d, '
            b'"choices": [{"message": {"role": "assistant", "content": "a"}}]}}')
    rows = read_batch([line % created for created in (1722965000, 10**13, 9 * 10**18, 2**63 - 1)] * 3000,
                      columnar_mapping("openai"))
    assert rows.fast.tolist() == [True, False, False, False] * 3000
    assert set(rows.columns["ts"].to_pylist()) == {"2024-08-06T17:23:20Z"}


@pytest.mark.parametrize("fmt", ["native", "openai"])
def test_a_batch_with_no_readable_line_reads_nothing(fmt: str) -> None:
    """Every line ruled out before DuckDB (not an object, lenient JSON, not UTF-8): no fast row,
    and every column empty."""
    rows = read_batch([b"[1]", b"plain text", b'{"ts": NaN}', b"\xff{", b""], columnar_mapping(fmt))
    assert not rows.fast.any() and len(rows.fast) == 5
    assert {len(values) for values in rows.columns.values()} == {0}
