"""RecentIds, the sidecar's in-memory duplicate guard, against a plain-dict model."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.tail.dedup import RecentIds

ops = st.lists(st.tuples(st.sampled_from(["add", "seen"]), st.lists(st.integers(0, 40).map(lambda i: f"id-{i}"),
                                                                    max_size=12),
                         st.integers(0, 30)), max_size=60)


def _replay(recent: RecentIds, ops: list, horizon: int):
    """Run ``ops`` on ``recent`` and on a dict of last-seen times; after each step yield
    (ids looked up, what recent said, what the dict says) -- the lookups empty after an add."""
    model: dict[str, int] = {}
    now = 1_000
    for op, ids, step in ops:
        now += step
        if op == "add":
            recent.add(ids, now=now)
            model.update({i: now for i in ids})
            yield [], [], []
        else:
            yield ids, recent.seen(ids, now=now).tolist(), [i in model and model[i] >= now - horizon for i in ids]


@settings(max_examples=200, deadline=None)
@given(ops=ops, buffer=st.integers(1, 20), horizon=st.integers(1, 100))
def test_matches_a_dict_of_last_seen_times_when_capacity_suffices(ops, buffer: int, horizon: int) -> None:
    recent = RecentIds(horizon_s=horizon, capacity=10_000, buffer=buffer)
    for _ids, got, expected in _replay(recent, ops, horizon):
        assert got == expected


@settings(max_examples=300, deadline=None)
@given(ops=ops, buffer=st.integers(1, 20), capacity=st.integers(1, 15))
def test_a_small_capacity_forgets_but_never_invents(ops, buffer: int, capacity: int) -> None:
    recent = RecentIds(horizon_s=50, capacity=capacity, buffer=buffer)
    for _ids, got, expected in _replay(recent, ops, 50):
        assert not any(g and not e for g, e in zip(got, expected))
        # memory is bounded: capacity after a merge, plus the unmerged buffer
        assert len(recent) <= capacity + buffer + 12


def test_many_ids_in_one_second_are_still_capped() -> None:
    recent = RecentIds(horizon_s=600, capacity=1_000, buffer=500)
    for k in range(10):
        recent.add([f"s{k}-{i}" for i in range(500)] * 2, now=7_000)  # same second, each id twice
    assert len(recent) <= 1_000
    assert recent.seen([f"s{k}-{i}" for k in range(10) for i in range(500)], now=7_000).sum() == 1_000


def test_the_newest_ids_survive_eviction_and_memory_stays_bounded() -> None:
    recent = RecentIds(horizon_s=10**6, capacity=50_000, buffer=5_000)
    for k in range(40):
        recent.add([f"r{k}-{i}" for i in range(5_000)], now=1_000 + k)
    assert len(recent) <= 55_000
    assert recent.seen([f"r39-{i}" for i in range(5_000)], now=1_040).all()
    assert not recent.seen([f"r0-{i}" for i in range(5_000)], now=1_040).any()
    assert not recent.seen([f"x-{i}" for i in range(100_000)], now=1_040).any()  # no false hits in 10^5


def test_keys_differ_per_instance_and_values_are_compared_as_text() -> None:
    a, b = RecentIds(), RecentIds()
    assert not np.array_equal(a.hashes(["x", "y"]), b.hashes(["x", "y"]))
    a.add([17], now=5)
    assert a.seen(["17"], now=5).tolist() == [True]


@pytest.mark.parametrize("kw", [{"capacity": 0}, {"buffer": 0}, {"horizon_s": 0}])
def test_bad_sizes_are_refused(kw: dict) -> None:
    with pytest.raises(ValueError):
        RecentIds(**kw)


def test_duplicate_guard_sees_other_writers_and_survives_compaction(tmp_path) -> None:
    import pandas as pd

    from monitor.compaction import compact
    from monitor.store import Store
    from monitor.tail.dedup import DuplicateGuard
    from monitor.tail.writer import commit_tail_batch

    store = Store(tmp_path)

    def frame(ids: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"ts": pd.Timestamp("2026-11-25T10:00:00Z"), "request_id": ids, "model": "m",
                             "response": "hi", "source_id": "tail:x", "source_offset": range(1, len(ids) + 1),
                             "source_line": range(1, len(ids) + 1)})

    store.write_segment(store.frame_to_table(frame(["old-1", "old-2"])))  # before the tailer started
    guard = DuplicateGuard(store)
    r = commit_tail_batch(store, frame(["old-1", "a", "a", "b"]), [], {}, guard=guard)
    assert sorted(r.frame["request_id"].to_pylist()) == ["a", "b"] and r.duplicates == 2
    store.write_segment(store.frame_to_table(frame(["other-1"])))  # another writer, meanwhile
    compact(store, None, settle_s=0)  # everything merged into one new segment
    r = commit_tail_batch(store, frame(["other-1", "a", "old-2", "c"]), [], {}, guard=guard)
    assert r.frame["request_id"].to_pylist() == ["c"] and r.duplicates == 3
    assert guard.segments_read == 2  # the first segment, then the merge that holds other-1
    commit_tail_batch(store, frame(["d"]), [], {}, guard=guard)
    compact(store, None, settle_s=0)  # merges only segments whose ids the guard holds
    r = commit_tail_batch(store, frame(["c", "d", "e"]), [], {}, guard=guard)
    assert r.frame["request_id"].to_pylist() == ["e"] and guard.segments_read == 2
    ids = store.sql("select request_id from events order by 1").request_id.tolist()
    assert ids == ["a", "b", "c", "d", "e", "old-1", "old-2", "other-1"]
