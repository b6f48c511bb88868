"""The text signals of a batch whose kernels run at the same time on the thread pool equal the
signals of the batch computed in one thread, column for column; and the normalization steps
that now run on some rows only give what they give on every row.

The batches are hypothesis-generated from refusal fragments, quotes, code, Markdown, Unicode
(apostrophes, whitespace, code points whose lower case differs between Arrow and DuckDB),
empty strings and None, under the built-in rules and under user rules.
"""

from __future__ import annotations

import threading

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_refusal_engine import FRAGMENTS, USER_RULES

from monitor import pool
from monitor.signals import refusal as engine
from monitor.signals import signal_columns
from monitor.signals.refusal import RULES, active_rules

MORE = ["", "   ", "\n\n", "  > quoted\n", "- item ", "**bold** ", "_x_ ", "#", "\u2018quoted\u2019 ", "\u00ab \u00bb",
        "\u201e\u201c", "\u300c\u300d", "\u0130STANBUL ", "\u1e9e", "\u03a3\u03c3\u03c2 ", "\u01c5", "\x1c", "\x0b",
        "\u0085", "\u2028", "I\u2019m sorry, but I can\u2019t. ", "x" * 450, "y " * 1100]
_text = st.one_of(
    st.none(),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS + MORE), st.text(max_size=30)), min_size=0, max_size=8).map("".join),
)
_models = st.one_of(st.none(), st.sampled_from(["acme-7b", "m1", "other", "bench-model"]))

COLUMNS = ("chars", "words", "refusal_class", "refusal_rule", "refusal_span")


@pytest.fixture(autouse=True)
def _arrow_gate_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    # every test batch takes the Arrow gate, as a large batch does
    monkeypatch.setattr(engine, "GATE_COMPILED_ROWS", 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_text, _models), min_size=0, max_size=40),
       st.lists(st.sampled_from(range(len(USER_RULES))), unique=True, max_size=len(USER_RULES)))
def test_the_pool_gives_the_columns_of_one_thread(rows: list[tuple[str | None, str | None]], picked: list[int]) -> None:
    texts, models = [t for t, _ in rows], [m for _, m in rows]
    rules = active_rules([USER_RULES[i] for i in picked])
    one = engine._signal_columns(texts, models, rules, engine._decide, use_pool=False)
    both = engine._signal_columns(texts, models, rules, engine._decide, use_pool=True)
    for col in COLUMNS:
        assert one[col].tolist() == both[col].tolist(), col
    assert one["chars"].dtype == both["chars"].dtype == both["words"].dtype == np.int64
    assert one["words"].tolist() == [len((t or "").split()) for t in texts]
    assert one["chars"].tolist() == [len(t or "") for t in texts]


def test_a_large_batch_uses_the_pool_and_gives_what_one_thread_gives() -> None:
    # from PARALLEL_ROWS rows on (with more than one core) the gate's passes go to the pool
    base = ["I'm sorry, but I can't help with that.", "Sure, here it is.", "", None, "\u201cI can\u2019t\u201d he said.",
            "> I cannot\nBut I can.", "As an AI, I cannot browse.", "\u3000\u00a0x y", '{"a": "b"}']
    texts = (base * (pool.PARALLEL_ROWS // len(base) + 1))[: pool.PARALLEL_ROWS + 7]
    seen: set[str] = set()
    real = engine._matches

    def spy(text, pattern):
        seen.add(threading.current_thread().name)
        return real(text, pattern)

    engine._matches = spy
    try:
        default = engine._signal_columns(texts, None, RULES, engine._decide)
    finally:
        engine._matches = real
    one = engine._signal_columns(texts, None, RULES, engine._decide, use_pool=False)
    for col in COLUMNS:
        assert default[col].tolist() == one[col].tolist(), col
    assert len(seen) >= 2 if pool.cores() > 1 else len(seen) == 1


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_text, st.one_of(st.none(), st.booleans())), min_size=1, max_size=30))
def test_signal_columns_on_the_pool_equal_one_thread(rows: list[tuple[str | None, bool | None]]) -> None:
    # the whole of ingest's signals (parse status included) with the pool used for every batch
    texts = pa.array([t for t, _ in rows], type=pa.string())
    expects = pa.array([e for _, e in rows], type=pa.bool_())
    old = pool.PARALLEL_ROWS
    want = signal_columns(texts, None, None, expects)
    try:
        pool.PARALLEL_ROWS = 1
        got = signal_columns(texts, None, None, expects)
    finally:
        pool.PARALLEL_ROWS = old
    for col in want:
        assert np.asarray(want[col]).tolist() == np.asarray(got[col]).tolist(), col


@settings(max_examples=60, deadline=None)
@given(st.lists(_text, min_size=1, max_size=30), st.integers(0, 29), st.integers(0, 30))
def test_lengths_of_a_slice_are_those_of_its_strings(texts: list[str | None], lo: int, size: int) -> None:
    arr = pa.array(texts, type=pa.large_string()).slice(min(lo, len(texts)), size)
    chars, words = engine.lengths(arr)
    assert chars.tolist() == [len(t or "") for t in arr.to_pylist()]
    assert words.tolist() == [len((t or "").split()) for t in arr.to_pylist()]


@settings(max_examples=100, deadline=None)
@given(st.lists(_text, min_size=1, max_size=40), st.integers(0, 39), st.integers(1, 64))
def test_lengths_counted_in_chunks_are_those_of_its_strings(texts: list[str | None], lo: int, chunk: int) -> None:
    # the word count runs over pieces of about WORDS_CHUNK_BYTES (cut between rows); with tiny
    # pieces every cut falls somewhere odd: inside a run of blanks, by empty rows, by a long row
    arr = pa.array(texts, type=pa.large_string()).slice(min(lo, len(texts)))
    old = engine.WORDS_CHUNK_BYTES
    try:
        engine.WORDS_CHUNK_BYTES = chunk
        chars, words = engine.lengths(arr)
    finally:
        engine.WORDS_CHUNK_BYTES = old
    assert chars.tolist() == [len(t or "") for t in arr.to_pylist()]
    assert words.tolist() == [len((t or "").split()) for t in arr.to_pylist()]


@settings(max_examples=60, deadline=None)
@given(st.lists(_text, min_size=1, max_size=30))
def test_steps_on_some_rows_give_what_they_give_on_every_row(texts: list[str | None]) -> None:
    # the cuts to HEAD_CHARS / OPENING_CHARS, the clean-up, the lower-casing and the leading
    # decoration run only on rows they can change: the same as applying them to every row
    resp = engine._to_arrow_str(texts)
    chars = engine.lengths(resp)[0]
    ascii_only = chars == pc.binary_length(resp).to_numpy(zero_copy_only=False)
    clean, first = engine._normalize(resp, ascii_only)
    everywhere = _normalize_every_row(resp)
    assert clean.to_pylist() == everywhere.to_pylist()
    assert first.to_pylist() == pc.utf8_slice_codeunits(everywhere, 0, engine.OPENING_CHARS).to_pylist()


def _normalize_every_row(resp: pa.Array) -> pa.Array:
    """The normalization as one sequence of whole-batch kernels (lower-casing by DuckDB)."""
    import duckdb

    head = pc.utf8_slice_codeunits(resp, 0, engine.HEAD_CHARS)
    clean = pc.replace_substring_regex(head, engine._CLEAN_RE, " ")
    for ch in engine._APOSTROPHES:
        clean = pc.replace_substring(clean, ch, "'")
    con = duckdb.connect(":memory:")
    try:
        con.register("t", pa.table({"i": pa.array(np.arange(len(clean))), "s": clean}))
        low = con.execute("SELECT lower(s) AS l FROM t ORDER BY i").fetchnumpy()["l"]
    finally:
        con.close()
    return pc.replace_substring_regex(pa.array(low.tolist(), type=pa.large_string()), engine._LEAD, "",
                                      max_replacements=1)


def test_run_all_keeps_order_and_raises_a_task_error() -> None:
    assert pool.run_all([lambda: 1, lambda: 2, lambda: 3], use_pool=True) == [1, 2, 3]
    assert pool.run_all([lambda: 1, lambda: 2], use_pool=False) == [1, 2]
    ended: list[int] = []

    def fail() -> int:
        raise ValueError("task 2")

    def slow() -> int:
        ended.append(3)
        return 3

    with pytest.raises(ValueError, match="task 2"):
        pool.run_all([lambda: 1, fail, slow], use_pool=True)
    assert ended == [3]  # every task ended before the error was raised


def test_run_all_shares_the_tasks_between_the_caller_and_the_pool() -> None:
    # the caller and the pool's threads take the tasks one at a time: on two cores the one pool
    # thread used to take every task but the first by itself, so 5 gate passes took 4 passes' time
    import threading
    import time

    if pool.cores() < 2:
        pytest.skip("one core: no pool thread to share with")
    takers: list[int] = []

    def task(k: int) -> int:
        takers.append(threading.get_ident())
        time.sleep(0.05)  # releases the GIL, as the Arrow kernels do
        return k

    assert pool.run_all([lambda k=k: task(k) for k in range(8)], use_pool=True) == list(range(8))
    assert takers.count(threading.get_ident()) >= 2  # before: exactly 1, the pool thread took 7


def test_run_all_does_not_wait_for_a_pool_thread_busy_elsewhere() -> None:
    import threading

    release, blocker_done = threading.Event(), threading.Event()

    def blocker() -> None:
        release.wait(10)
        blocker_done.set()

    n = max(1, pool.cores() - 1)
    waits = [pool.later(blocker, use_pool=True) for _ in range(n)]  # every pool thread busy
    try:
        assert pool.run_all([lambda: 1, lambda: 2, lambda: 3], use_pool=True) == [1, 2, 3]
        assert not blocker_done.is_set()  # the caller took every task and did not wait for the pool
    finally:
        release.set()
        for wait in waits:
            wait()
