"""Segment summaries (monitor/summaries.py): a window's statistics from the summaries in the
segments' footers equal the scan's, whatever the windows, keys and segments."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.compaction import compact
from monitor.engines import DuckDBEngine, scan_windows
from monitor.keys import SEGMENT_KEYS
from monitor.selectors import Selector
from monitor.store import EVENT_SCHEMA, Store, events_table
from monitor import pool, summaries
from monitor.summaries import SUMMARY_KEY, SUMMARY_MIN_ROWS, decode, segment_summaries, windows_stats

T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)

rows = st.fixed_dictionaries({
    "hour": st.integers(0, 47),
    "model": st.sampled_from(["a", "b"]),
    "model_version": st.sampled_from(["v1", "v2", None]),
    "route": st.sampled_from(["chat", "rag", "x"]),
    "schema_name": st.sampled_from([None, "s"]),
    "requested_model": st.sampled_from([None, "a"]),
    "chars": st.one_of(st.none(), st.integers(0, 40)),
    "words": st.integers(0, 9),
    "output_tokens": st.one_of(st.none(), st.integers(0, 20)),
    "reasoning_length": st.one_of(st.none(), st.integers(0, 30)),
    "refusal": st.one_of(st.none(), st.booleans()),
    "expects_json": st.booleans(),
    "parse_status": st.sampled_from(["ok", "not_json", "schema_violation", "not_expected"]),
    "schema": st.sampled_from([None, "{}"]),
    "task_success": st.one_of(st.none(), st.booleans()),
})


def table(batch: list[dict]) -> pa.Table:
    cols = {k: [r[k] for r in batch] for k in batch[0] if k != "hour"}
    cols["parse_failed"] = [r["expects_json"] and r["parse_status"] in ("not_json", "schema_violation") for r in batch]
    cols["ts"] = pa.array([T0 + timedelta(hours=r["hour"], seconds=i) for i, r in enumerate(batch)],
                          pa.timestamp("us", tz="UTC"))
    cols["request_id"] = [f"r{id(batch)}-{i}" for i in range(len(batch))]
    return events_table(cols, len(batch))


def window(hours: tuple[int | None, int | None], equals: dict[str, list[str]]) -> Selector:
    since = T0 + timedelta(hours=hours[0]) if hours[0] is not None else None
    until = T0 + timedelta(hours=hours[1]) if hours[1] is not None else None
    return Selector(text="w", since=since, until=until, equals=equals)


windows = st.builds(window, st.tuples(st.one_of(st.none(), st.integers(0, 48)), st.one_of(st.none(), st.integers(1, 49))),
                    st.dictionaries(st.sampled_from(["model", "model_version", "route"]),
                                    st.lists(st.sampled_from(["a", "v1", "v2", "chat", "rag"]), min_size=1, max_size=2),
                                    max_size=2))


@pytest.fixture(autouse=True)
def every_segment_summarized(monkeypatch, request):
    """Summaries on segments of any size (in production from SUMMARY_MIN_ROWS rows), so small
    hypothesis examples exercise them; the test of the threshold itself keeps it."""
    if "threshold" not in request.node.name:
        monkeypatch.setattr(summaries, "SUMMARY_MIN_ROWS", 1)
    # every table summarized on the process's pool beside the Parquet writer, as ingest's blocks are
    monkeypatch.setattr(pool, "PARALLEL_ROWS", 1)
    monkeypatch.setattr(pool, "cores", lambda: 2)


def scanned(store: Store, selectors: list[Selector], by: list[str], measure: str) -> list[dict]:
    return store.read(lambda con: scan_windows(con, selectors, by, measure))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.lists(st.lists(rows, min_size=1, max_size=12), min_size=1, max_size=3), min_size=1, max_size=4),
       old=st.integers(0, 3), sels=st.lists(windows, min_size=1, max_size=3),
       by=st.lists(st.sampled_from(SEGMENT_KEYS), unique=True, max_size=3),
       measure=st.sampled_from(["chars", "words", "output_tokens"]))
def test_summaries_equal_the_scan(tmp_path_factory, segments, old, sels, by, measure):
    """Segments of one or several tables (the writer's partial summaries added up), some without a
    summary (written before summaries existed), windows that cut through segments or not: the
    statistics from summaries equal the scan's, segment by segment, field by field."""
    store = Store(tmp_path_factory.mktemp("sum"))
    for i, tables in enumerate(segments):
        if i < old:  # a segment of an older release: no summary in its footer
            pq.write_table(pa.concat_tables([table(t) for t in tables]), store.events_dir / f"s-old-{i}.parquet")
        else:
            store.write_segment_from([table(t) for t in tables])
    sels = [s if s.since is None or s.until is None or s.since < s.until else Selector(text="w") for s in sels]
    assert DuckDBEngine(store).windows(sels, by, measure) == scanned(store, sels, by, measure)


def test_compaction_rebuilds_the_summary(tmp_path):
    """A compacted segment carries the summary of all its rows, and reads equal the scan."""
    store = Store(tmp_path / "s")
    batches = [[{"hour": h, "model": "a", "model_version": "v1", "route": r, "schema_name": None,
                 "requested_model": None, "chars": 10 + h, "words": 2, "output_tokens": None, "reasoning_length": None,
                 "refusal": h % 5 == 0, "expects_json": False, "parse_status": "not_expected", "schema": None,
                 "task_success": None} for h in range(k, k + 6) for r in ("chat", "rag")] for k in (0, 10, 20)]
    for b in batches:
        store.write_segment(table(b))
    compact(store, min_segments=2, settle_s=0)
    (seg,) = store.live_segments()
    assert seg.name.startswith("c-")
    summary = decode(pq.read_metadata(seg).metadata[SUMMARY_KEY])
    assert sum(summary.counts.column("n").to_pylist()) == 36
    assert summary.histogram("chars").num_rows > 0
    sels = [Selector(text="all"), window((3, 15), {"route": ["chat"]})]
    assert DuckDBEngine(store).windows(sels, ["route"], "chars") == scanned(store, sels, ["route"], "chars")


def test_a_window_covering_every_segment_reads_no_rows(tmp_path):
    """Windows that cut through no segment are answered from the footers: no scan is set up."""
    store = Store(tmp_path / "s")
    for k in (0, 1):
        store.write_segment(table([{"hour": k, "model": "a", "model_version": f"v{k + 1}", "route": "chat",
                                    "schema_name": None, "requested_model": None, "chars": 5, "words": 1,
                                    "output_tokens": 2, "reasoning_length": None, "refusal": False,
                                    "expects_json": False, "parse_status": "not_expected", "schema": None,
                                    "task_success": True}]))
    files = [str(p) for p in store.live_segments()]
    con = duckdb.connect()
    cut = window((0, 1), {})  # ends inside neither segment (each holds one instant)
    stats = windows_stats(con, files, [Selector(text="all"), window((None, None), {"model_version": ["v2"]}), cut],
                          ["model_version"], "chars")
    assert [sorted(s) for s in stats] == [[("v1",), ("v2",)], [("v2",)], [("v1",)]]
    assert con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name LIKE 'events_rest%'").fetchone()[0] == 0


def test_a_summary_of_another_version_is_ignored(tmp_path):
    """An unknown or damaged summary is never trusted: the segment is scanned."""
    store = Store(tmp_path / "s")
    path = store.write_segment(table([{"hour": 0, "model": "a", "model_version": "v1", "route": "chat",
                                       "schema_name": None, "requested_model": None, "chars": 5, "words": 1,
                                       "output_tokens": 2, "reasoning_length": None, "refusal": False,
                                       "expects_json": False, "parse_status": "not_expected", "schema": None,
                                       "task_success": True}]))
    data = pq.read_table(path)
    for value in (json.dumps({"version": 999}).encode(), b"not json", json.dumps({"version": 1}).encode()):
        pq.write_table(data.replace_schema_metadata({SUMMARY_KEY: value}), path)
        assert segment_summaries(duckdb.connect(), [str(path)]) == {}
        assert DuckDBEngine(store).windows([Selector(text="all")], ["route"], "chars")[0][("chat",)].n == 1


def test_an_empty_segment_has_no_summary(tmp_path):
    store = Store(tmp_path / "s")
    path = store.write_segment(EVENT_SCHEMA.empty_table())
    assert SUMMARY_KEY not in (pq.read_metadata(path).metadata or {})
    assert DuckDBEngine(store).windows([Selector(text="all")], ["route"], "chars") == [{}]


def test_the_threshold_small_segments_are_scanned_large_ones_summarized(tmp_path):
    """A segment under SUMMARY_MIN_ROWS rows (a sidecar commit) gets no summary; one at the
    threshold, written in several tables as compaction streams them, gets one of all its rows."""
    store = Store(tmp_path / "s")
    row = {"hour": 1, "model": "a", "model_version": "v1", "route": "chat", "schema_name": None,
           "requested_model": None, "chars": 7, "words": 1, "output_tokens": 2, "reasoning_length": None,
           "refusal": False, "expects_json": False, "parse_status": "not_expected", "schema": None,
           "task_success": True}
    small = store.write_segment(table([row] * (SUMMARY_MIN_ROWS - 1)))
    half = SUMMARY_MIN_ROWS // 2
    big, _ = store.write_segment_from([table([row] * half), table([dict(row, route="rag")] * (SUMMARY_MIN_ROWS - half))])
    assert SUMMARY_KEY not in (pq.read_metadata(small).metadata or {})
    summary = decode(pq.read_metadata(big).metadata[SUMMARY_KEY])
    assert sorted(zip(summary.counts.column("route").to_pylist(), summary.counts.column("n").to_pylist())) == \
        [("chat", half), ("rag", SUMMARY_MIN_ROWS - half)]
    sels = [Selector(text="all")]
    assert DuckDBEngine(store).windows(sels, ["route"], "chars") == scanned(store, sels, ["route"], "chars")


def test_a_summary_that_fails_fails_the_segment_and_leaves_nothing(tmp_path, monkeypatch):
    """The summary runs on the pool while the writer encodes: its error is the segment's error,
    no file is left in events/ or tmp/ beyond the write's own, and the next write works."""
    store = Store(tmp_path / "s")
    row = {"hour": 1, "model": "a", "model_version": "v1", "route": "chat", "schema_name": None,
           "requested_model": None, "chars": 7, "words": 1, "output_tokens": 2, "reasoning_length": None,
           "refusal": False, "expects_json": False, "parse_status": "not_expected", "schema": None,
           "task_success": True}

    def broken(self, table):
        raise RuntimeError("summary broke")

    with monkeypatch.context() as m:
        m.setattr(summaries.SummaryBuilder, "_summarize", broken)
        with pytest.raises(RuntimeError, match="summary broke"):
            store.write_segment_from([table([row] * 3), table([row] * 2)])
    assert not list(store.events_dir.iterdir())

    def tables():
        yield table([row] * 3)
        raise OSError("source broke")

    with pytest.raises(OSError, match="source broke"):  # the writer's side fails: its error, not the pool's
        store.write_segment_from(tables())
    assert not list(store.events_dir.iterdir())
    path, rows = store.write_segment_from([table([row] * 4)])
    assert rows == 4 and decode(pq.read_metadata(path).metadata[SUMMARY_KEY]).counts.column("n").to_pylist() == [4]
