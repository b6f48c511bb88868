"""One commit path: ``llm-monitor ingest`` and the sidecar's writer both commit through
``monitor.commit.commit_events`` (quarantine first, then dedup and the segment)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import monitor.commit
from monitor.config import Config
from monitor.ingest import BatchLoader, IngestReport, Line, commit_batch
from monitor.store import Store
from monitor.tail.dedup import DuplicateGuard
from monitor.tail.writer import commit_tail_batch
from test_tail_support import native


def _lines() -> list[Line]:
    """Valid events, a repeated request id, a line that is not JSON and one that fits no event."""
    raws = [native(i) for i in range(6)] + [native(2), b"{not json", json.dumps({"ts": "x"}).encode(), native(7)]
    out, offset = [], 0
    for n, raw in enumerate(raws, start=1):
        offset += len(raw) + 1
        out.append(Line(n, offset, raw))
    return out


def _loaded(source: str):
    loader = BatchLoader(Config(), source, input_format="native")
    loader.source_id = "tail:abc"
    return loader.load(_lines())


def _store_rows(store: Store) -> tuple[list[str], list[tuple[int, str]]]:
    ids = store.sql("SELECT request_id FROM events ORDER BY request_id").request_id.tolist()
    q = store.quarantine()
    return ids, sorted(zip(q.line.astype(int), q.reason.str.split(":").str[0]))


def test_ingest_and_tail_writer_commit_the_same_batch_the_same_way(tmp_path: Path) -> None:
    batch = _loaded("app.log")
    # the same batch committed twice by each path: the second commit adds nothing
    ingest_store, tail_store = Store(tmp_path / "ingest"), Store(tmp_path / "tail")
    reports = [IngestReport(), IngestReport()]
    for report in reports:
        commit_batch(ingest_store, batch, report)
    guard = DuplicateGuard(tail_store)
    first = commit_tail_batch(tail_store, batch.frame, batch.rejects, {}, guard=guard)
    known = {"tail:abc": {r["offset"] for r in batch.rejects}}
    second = commit_tail_batch(tail_store, batch.frame, batch.rejects, known, guard=guard)

    assert _store_rows(ingest_store) == _store_rows(tail_store)
    ids, quarantined = _store_rows(tail_store)
    assert ids == sorted(f"r-{i}" for i in (0, 1, 2, 3, 4, 5, 7))
    assert [line for line, _ in quarantined] == [8, 9]
    assert (reports[0].ingested, reports[0].duplicates, reports[0].quarantined) == (7, 1, 2)
    assert (len(first.frame), first.duplicates, first.quarantined) == (7, 1, 2)
    assert (reports[1].ingested, reports[1].duplicates, reports[1].quarantined) == (0, 8 + 2, 0)
    assert (len(second.frame), second.duplicates, second.quarantined, second.known_rejects) == (0, 8, 0, 2)


def test_both_paths_go_through_commit_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the shared implementation: the locked step of monitor.commit runs for both callers,
    and the quarantine file is renamed into place before the segment."""
    calls: list[str] = []
    real = monitor.commit._commit_locked
    order: list[str] = []

    def spy(store, frame, rejects, new_rejects, index):
        calls.append(type(index).__name__)
        return real(store, frame, rejects, new_rejects, index)

    monkeypatch.setattr(monitor.commit, "_commit_locked", spy)
    for name in ("write_quarantine", "write_segment"):
        original = getattr(Store, name)

        def wrapped(self, *a, _original=original, _name=name, **k):
            order.append(_name)
            return _original(self, *a, **k)

        monkeypatch.setattr(Store, name, wrapped)
    batch = _loaded("app.log")
    commit_batch(Store(tmp_path / "a"), batch, IngestReport())
    commit_tail_batch(Store(tmp_path / "b"), batch.frame, batch.rejects, {}, guard=DuplicateGuard(Store(tmp_path / "b")))
    assert calls == ["StoreIds", "DuplicateGuard"]
    assert order == ["write_quarantine", "write_segment"] * 2


def test_a_read_that_races_a_compaction_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import duckdb

    store = Store(tmp_path)
    failures = [duckdb.IOException("segment gone")]
    real = Store.stored_request_ids

    def flaky(self, ids):
        if failures:
            raise failures.pop()
        return real(self, ids)

    monkeypatch.setattr(Store, "stored_request_ids", flaky)
    frame = pd.DataFrame({"ts": pd.to_datetime(["2026-11-25T10:00:00Z"]), "request_id": ["a"], "model": ["m"]})
    r = monitor.commit.commit_events(store, frame, [])
    assert not failures and r.segment is not None and len(store.quarantine()) == 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=8), max_size=3),
       batch=st.lists(st.one_of(st.none(), st.sampled_from("abcdefghij")), max_size=20))
def test_stored_request_ids_is_membership_in_the_live_segments(tmp_path_factory: pytest.TempPathFactory,
                                                                 segments: list[list[str]], batch: list[str | None]) -> None:
    from monitor.store import events_table

    store = Store(tmp_path_factory.mktemp("ids"))
    for ids in segments:
        store.write_segment(events_table({"request_id": ids}, len(ids)))
    stored = {i for ids in segments for i in ids}
    assert store.stored_request_ids(batch).tolist() == [i is not None and i in stored for i in batch]


def test_commit_dedup_first_wins_then_store(tmp_path: Path) -> None:
    """In the batch the first event of an id wins; an id already stored is dropped wherever it is."""
    from datetime import datetime, timezone

    from monitor.store import events_table

    store = Store(tmp_path)
    ts = datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    monitor.commit.commit_events(store, events_table({"ts": [ts], "request_id": ["s"], "model": ["m"]}, 1), [])
    ids = ["a", "s", "b", "a", None, "s", None, "b", "c"]
    frame = events_table({"ts": [ts] * len(ids), "request_id": ids, "model": ["m"] * len(ids),
                          "source_line": list(range(len(ids)))}, len(ids))
    r = monitor.commit.commit_events(store, frame, [])
    assert r.frame["source_line"].to_pylist() == [0, 2, 4, 6, 8]
    assert r.duplicates == 4
