"""``ingest`` as a pipeline (block N+1 loaded in a worker thread while block N is committed) writes
the same store as the one-thread path: events, quarantine, report; and an error while loading a
block leaves the store as the one-thread path leaves it."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import monitor.ingest
from monitor.config import Config
from monitor.errors import UserError
from monitor.ingest import IngestReport, ingest_files
from monitor.runahead import RunAhead
from monitor.store import Store

_ids = st.sampled_from([f"r{k}" for k in range(12)])  # a small pool: duplicates across blocks and files
_event = st.builds(lambda rid, minute, text, route: {"ts": f"2026-11-01T10:{minute:02d}:00Z", "request_id": rid,
                                                      "model": "m", "route": route, "response": text},
                   _ids, st.integers(0, 59), st.sampled_from(["Sure, here it is.", "I'm sorry, but I can't help.",
                                                              '{"a": 1}', "ok " * 30, ""]),
                   st.sampled_from(["chat", "extract"]))
_bad = st.sampled_from([b"{not json", b"", b"   ", b"\xff\xfe{}", b"[1, 2]",
                        b'{"ts": "yesterday", "request_id": "t1", "model": "m", "response": "x"}',
                        b'{"request_id": 5, "model": "m", "response": "x", "ts": "2026-11-01T00:00:00Z"}',
                        b'{"ts": "2026-11-01T00:00:00Z", "model": "m"}'])
_line = st.one_of(_event.map(lambda e: json.dumps(e).encode()), _event.map(lambda e: json.dumps(e).encode()), _bad)


def _segment_rows(report: IngestReport) -> list[list[dict[str, Any]]]:
    """Each committed segment's rows (in commit order), without the ingest time."""
    return [pq.read_table(p).drop_columns(["ingested_at"]).to_pylist() for p in report.segments]


def _quarantine(store: Store) -> list[tuple[Any, ...]]:
    """Every quarantine record but its time (``raw`` or ``raw_base64``, ``key`` and the rest)."""
    return sorted(tuple(sorted((k, v) for k, v in r.items() if k != "quarantined_at")) for r in store.quarantine_records())


def _counts(report: IngestReport) -> tuple[Any, ...]:
    return (report.files, report.lines, report.ingested, report.duplicates, report.quarantined, report.blank,
            len(report.segments), dict(report.reasons), report.formats)


def _ingest_both(tmp_path: Path, paths: list[str], **kwargs: Any) -> tuple[tuple[IngestReport, Store], ...]:
    out = []
    for run_ahead in (False, True):
        store = Store(tmp_path / f"store-{run_ahead}")
        out.append((ingest_files(paths, store, Config(), run_ahead=run_ahead, **kwargs), store))
    return tuple(out)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=st.lists(st.lists(_line, min_size=0, max_size=30), min_size=1, max_size=3), batch_lines=st.integers(1, 7),
       again=st.booleans())
def test_pipeline_writes_the_same_store_as_one_thread(tmp_path_factory: pytest.TempPathFactory, files: list[list[bytes]],
                                                      batch_lines: int, again: bool) -> None:
    tmp = tmp_path_factory.mktemp("pipe")
    paths = []
    for k, lines in enumerate(files):
        path = tmp / f"log{k}.jsonl"
        path.write_bytes(b"".join(line + b"\n" for line in lines))
        paths.append(str(path))
    (seq, seq_store), (pipe, pipe_store) = _ingest_both(tmp, paths, batch_lines=batch_lines)
    if again:  # a second ingest of the same files: everything is a duplicate, in both
        seq = ingest_files(paths, seq_store, Config(), run_ahead=False, batch_lines=batch_lines)
        pipe = ingest_files(paths, pipe_store, Config(), run_ahead=True, batch_lines=batch_lines)
        assert pipe.ingested == pipe.quarantined == 0
    assert _counts(pipe) == _counts(seq)
    assert _segment_rows(pipe) == _segment_rows(seq)
    assert _quarantine(pipe_store) == _quarantine(seq_store)
    nonblank = sum(1 for lines in files for line in lines if line.strip())
    if not again:
        assert pipe.ingested + pipe.duplicates + pipe.quarantined == nonblank


def _short_events(path: Path, n: int, *, start: int = 0) -> None:
    with open(path, "w") as fh:
        for i in range(start, start + n):
            fh.write(json.dumps({"ts": "2026-11-01T10:00:00Z", "request_id": f"r{i % 27_000}", "model": "m",
                                 "route": f"route-{i % 3}", "response": "I'm sorry, I can't." if i % 7 == 0
                                 else f"answer number {i}"}) + "\n")
            if i % 4_999 == 0:
                fh.write("{broken line\n")


def test_pipeline_on_the_columnar_path_same_store(tmp_path: Path) -> None:
    """Blocks of 10,000 lines take the columnar fast path (DuckDB in the worker thread)."""
    log = tmp_path / "big.jsonl"
    _short_events(log, 30_000)
    (seq, seq_store), (pipe, pipe_store) = _ingest_both(tmp_path, [str(log)], batch_lines=10_000)
    assert _counts(pipe) == _counts(seq)
    assert (pipe.ingested, pipe.duplicates, pipe.quarantined) == (27_000, 3_000, 7)
    assert len(pipe.segments) == 3  # the last block (7 lines) holds only duplicates
    assert _segment_rows(pipe) == _segment_rows(seq)
    assert _quarantine(pipe_store) == _quarantine(seq_store)


@pytest.mark.parametrize("run_ahead", [False, True])
def test_an_error_loading_a_block_leaves_the_blocks_before_it_committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         run_ahead: bool) -> None:
    """Block 2 of 3 fails to load: block 1 is committed (as on one thread), blocks 2 and 3 are
    not, the error is the loader's, and no worker thread is left running."""
    log = tmp_path / "events.jsonl"
    lines = [json.dumps({"ts": "2026-11-01T10:00:00Z", "request_id": f"r{i}", "model": "m", "response": "hi"})
             for i in range(12)]
    lines[1] = "{bad"
    log.write_text("\n".join(lines) + "\n")
    real_load = monitor.ingest.BatchLoader.load
    calls = []

    def load(self: monitor.ingest.BatchLoader, block: Any) -> Any:
        calls.append(int(block.numbers[0]))
        if block.numbers[0] == 5:
            raise UserError("block 2 cannot be read")
        return real_load(self, block)

    monkeypatch.setattr(monitor.ingest.BatchLoader, "load", load)
    threads = threading.active_count()
    store = Store(tmp_path / "store")
    with pytest.raises(UserError, match="block 2 cannot be read"):
        ingest_files([str(log)], store, Config(), run_ahead=run_ahead, batch_lines=4)
    assert calls == [1, 5]  # block 3 is never loaded
    assert threading.active_count() == threads
    assert sorted(store.sql("SELECT request_id FROM events").request_id) == ["r0", "r2", "r3"]
    assert [(r["line"], r["raw"]) for r in store.quarantine_records()] == [(2, "{bad")]
    # the same files again, without the fault: the rest is ingested, nothing twice
    monkeypatch.setattr(monitor.ingest.BatchLoader, "load", real_load)
    report = ingest_files([str(log)], store, Config(), run_ahead=run_ahead, batch_lines=4)
    assert (report.ingested, report.duplicates, report.quarantined) == (8, 4, 0)


@pytest.mark.parametrize("run_ahead", [False, True])
def test_an_error_in_a_commit_stops_the_loading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_ahead: bool) -> None:
    """A commit that fails (here: the second) raises its error; the worker is stopped and joined,
    and nothing after the failed commit is written."""
    log = tmp_path / "events.jsonl"
    _short_events(log, 40)
    real_commit = monitor.ingest.commit_batch
    commits = []

    def commit(store: Store, batch: Any, report: IngestReport) -> None:
        commits.append(batch.frame.num_rows)
        if len(commits) == 2:
            raise OSError("disk full")
        real_commit(store, batch, report)

    monkeypatch.setattr(monitor.ingest, "commit_batch", commit)
    threads = threading.active_count()
    store = Store(tmp_path / "store")
    with pytest.raises(OSError, match="disk full"):
        ingest_files([str(log)], store, Config(), run_ahead=run_ahead, batch_lines=10)
    assert threading.active_count() == threads
    assert len(commits) == 2
    assert store.sql("SELECT count(*) AS n FROM events").n[0] == 9  # block 1: 10 lines, one of them broken


@settings(max_examples=100, deadline=None)
@given(items=st.lists(st.integers(), max_size=40), fail_at=st.one_of(st.none(), st.integers(0, 40)),
       depth=st.integers(1, 4), stop_at=st.one_of(st.none(), st.integers(0, 40)))
def test_run_ahead_is_the_iterator_in_order(items: list[int], fail_at: int | None, depth: int, stop_at: int | None) -> None:
    """RunAhead gives what iterating in the caller's thread gives: the items in order, the error
    at its place, and after a ``break`` no thread is left."""
    def source():
        for k, item in enumerate(items):
            if k == fail_at:
                raise KeyError(k)
            yield item

    def consume(iterable) -> tuple[list[int], Any]:
        got: list[int] = []
        try:
            for k, item in enumerate(iterable):
                if k == stop_at:
                    break
                got.append(item)
        except KeyError as exc:
            return got, exc.args
        return got, None

    threads = threading.active_count()
    with RunAhead(source(), depth=depth) as ahead:
        result = consume(ahead)
    assert result == consume(source())
    assert threading.active_count() == threads


def test_run_ahead_holds_at_most_depth_items_ahead() -> None:
    made = []

    def source():
        for k in range(100):
            made.append(k)
            yield k

    with RunAhead(source(), depth=2) as ahead:
        first = next(iter(ahead))
        threading.Event().wait(0.3)  # the worker runs ahead as far as it may
        assert first == 0
        assert len(made) <= 1 + 2 + 1  # handed over, waiting in the queue, blocked in put
    assert len(made) <= 4
