"""The spark engine: the same findings as DuckDB, and a backfill ingest equal to the local path.

One small Spark session (``local[2]``, see ``monitor.engines.spark.session.DEFAULT_CONF``) is
shared by every Spark test (the session-scoped ``spark`` fixture of ``conftest.py``). The store is generated: the demo's traffic ingested from
overlapping files (duplicate request ids), then compacted with copies of the replaced segments
put back (what a crash between the compacted rename and the deletions leaves), so both
engines must skip exactly the same segments.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

import monitor
from monitor.compaction import compact
from monitor.errors import UserError
from monitor.demo import NEW_VERSION, OLD_VERSION, generate_events, write_log
from monitor.engines.spark.backfill import expand_inputs
from monitor.stats import time_series, window_stats
from monitor.store import EVENT_SCHEMA, exposure

from helpers import event, kill_backfill_mid_job, overlapping_logs, run_cli, write_jsonl


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's 8 days in three overlapping files, compacted, with replaced segments left behind."""
    root = tmp_path_factory.mktemp("spark-store")
    events = generate_events(per_cell=400, seed=11)
    logs = root / "logs"
    third = len(events) // 3
    write_log(events[:third], logs / "a.jsonl")
    write_log(events[third // 2: 2 * third], logs / "b.jsonl")  # overlaps a: duplicate request ids
    write_log(events[third:], logs / "c.jsonl")                 # overlaps b
    m = monitor.open(root / "store")
    for name in ("a", "b"):
        m.ingest([str(logs / f"{name}.jsonl")])
    saved = root / "saved"
    shutil.copytree(m.store.events_dir, saved)
    report = compact(m.store, settle_s=0, small_bytes=1 << 40)
    assert report.merged == 2, report
    m.ingest([str(logs / "c.jsonl")])  # a plain segment after the compacted one
    for p in saved.iterdir():  # the replaced segments come back: a crash before their deletion
        shutil.copy(p, m.store.events_dir / p.name)
    assert len(list(m.store.events_dir.glob("*.parquet"))) == 4 and len(m.store.live_segments()) == 2
    return root / "store"


def test_window_statistics_identical(store_dir: Path, spark: Any) -> None:
    local, distributed = monitor.open(store_dir), monitor.open(store_dir, spark=spark)
    assert distributed.engine.name == "spark"
    by = ["model", "model_version", "route"]
    a = local.window("since=2026-01-01", by)
    b = distributed.window("since=2026-01-01", by)
    assert set(a) == set(b) and len(a) == 12  # 5 routes x 2 versions + the control model's 2
    for key in a:
        assert a[key] == b[key], key
    n = local.sql("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM events")
    assert int(n.n[0]) == int(n.d[0]) == sum(s.n for s in a.values())  # no row twice, none lost
    ts_a, ts_b = local.stats(freq="1h"), distributed.stats(freq="1h")
    pd.testing.assert_frame_equal(ts_a, ts_b, check_dtype=False)


def test_check_findings_identical(store_dir: Path, spark: Any) -> None:
    base, cur = f"model_version={OLD_VERSION}", f"model_version={NEW_VERSION}"
    a = monitor.open(store_dir).compare(base, cur)
    b = monitor.open(store_dir, spark=spark).compare(base, cur)
    assert a.to_dict() == b.to_dict()
    assert len(a.alerts) >= 2 and all(f.p_value is not None for f in a.items)


def test_nightly_findings_identical(store_dir: Path, spark: Any) -> None:
    day = pd.Timestamp(monitor.open(store_dir).sql("SELECT max(ts) AS t FROM events").t[0]).date()
    a = monitor.open(store_dir).nightly(day, compact=False)
    b = monitor.open(store_dir, spark=spark).nightly(day, compact=False)
    fa, fb = [f.to_dict() for f in a.alerts], [f.to_dict() for f in b.alerts]
    assert fa == fb and len(fa) >= 2
    assert all(f["changed_at"] for f in fa if f["metric"] != "new_model_version")  # change points ran on Spark too


# A Spark query costs seconds here: few examples, and no shrinking (the failing example is printed as found)
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.integers(0, 40), st.booleans(),
                          st.sampled_from([None, True, False]), st.integers(0, 47)), min_size=1, max_size=60))
@example(rows=[("a", 0, False, None, 0), (None, 0, False, None, 0), (None, 7, True, True, 3)])
@example(rows=[(None, 0, False, False, 15), (None, 2, True, True, 30)])  # every key NULL: DuckDB's object None
def test_statistics_query_same_on_both_engines(spark: Any, rows: list[tuple[Any, ...]]) -> None:
    """The one query, on any rows (NULL keys, all-refusal buckets, missing labels): equal results."""
    import duckdb

    from monitor.engines.spark.reader import SparkConnection

    frame = pd.DataFrame({
        "route": [r[0] for r in rows], "chars": np.array([r[1] for r in rows], dtype=np.int64),
        "refusal": [r[2] for r in rows], "task_success": pd.array([r[3] for r in rows], dtype="boolean"),
        "ts": pd.Timestamp("2026-11-01", tz="UTC") + pd.to_timedelta([r[4] for r in rows], unit="h"),
        "expects_json": [r[1] % 3 == 0 for r in rows], "parse_failed": [r[1] % 5 == 0 for r in rows],
        "parse_status": ["schema_violation" if r[1] % 10 == 0 else "ok" for r in rows],
        "schema": [None if r[1] % 2 else "{}" for r in rows]})
    con = duckdb.connect()
    con.register("events", frame)
    table = pa.Table.from_pandas(frame, preserve_index=False).cast(pa.schema(
        [(name, EVENT_SCHEMA.field(name).type) for name in frame.columns]))
    spark.createDataFrame(table).createOrReplaceTempView("events")
    sc = SparkConnection(spark)
    assert window_stats(con, "TRUE", [], ["route"]) == window_stats(sc, "TRUE", [], ["route"])
    pd.testing.assert_frame_equal(time_series(con, "TRUE", [], ["route"], "1 hour"),
                                  time_series(sc, "TRUE", [], ["route"], "1 hour"), check_dtype=False)


# ------------------------------------------------------------------------------------ backfill
@pytest.fixture(scope="module")
def mixed_logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of mixed-format files with bad lines and request ids repeated across files."""
    d = tmp_path_factory.mktemp("mixed") / "logs"
    (d / "2026-11-01").mkdir(parents=True)
    (d / "2026-11-02").mkdir()
    for name in ("openai_chat.jsonl", "ollama_chat_stream.jsonl", "otel_genai.jsonl", "litellm.jsonl"):
        shutil.copy(FIXTURES / name, d / "2026-11-01" / name)
    good = [event(i) for i in range(40)]
    write_jsonl(d / "2026-11-01" / "native.jsonl", good[:25] + [b"{not json", b"\xff\xfe", b"   ",
                                                              json.dumps({"ts": "x", "request_id": "t"}).encode()])
    write_jsonl(d / "2026-11-02" / "native.jsonl", good[20:] + [json.dumps(event(99, ts="not a time")).encode()])
    return d


def _stored(m: monitor.Monitor) -> pd.DataFrame:
    return m.events().drop(columns=["ingested_at"]).sort_values("request_id").reset_index(drop=True)


def _quarantine(m: monitor.Monitor) -> pd.DataFrame:
    q = m.quarantine()[["source", "line", "reason", "raw", "raw_base64"]]
    return q.sort_values(["source", "line"]).reset_index(drop=True)


def test_backfill_equals_local_ingest(mixed_logs: Path, tmp_path: Path, spark: Any) -> None:
    files = expand_inputs([str(mixed_logs)])
    local = monitor.open(tmp_path / "local")
    expected = local.ingest(files)
    distributed = monitor.open(tmp_path / "spark", spark=spark)
    got = distributed.ingest([str(mixed_logs / "*" / "*.jsonl")])
    assert (got.files, got.lines, got.ingested, got.duplicates, got.quarantined, got.blank) == \
        (expected.files, expected.lines, expected.ingested, expected.duplicates, expected.quarantined, expected.blank)
    assert got.reasons == expected.reasons and got.formats == expected.formats
    assert got.ingested > 40 and got.quarantined >= 4 and got.duplicates >= 5
    pd.testing.assert_frame_equal(_stored(local), _stored(monitor.open(distributed.store.root)))  # DuckDB reads it
    pd.testing.assert_frame_equal(_quarantine(local), _quarantine(distributed))
    assert exposure(distributed.store.root) == []  # Spark's files are made 0600 like the local path's
    again = distributed.ingest([str(mixed_logs)])  # against the store: nothing new
    assert (again.ingested, again.quarantined, again.segments) == (0, 0, [])
    assert again.duplicates == got.ingested + got.duplicates + got.quarantined
    assert not (distributed.store.root / "tmp-spark").exists() or \
        not any((distributed.store.root / "tmp-spark").iterdir())


def test_backfill_failure_leaves_nothing_visible(tmp_path: Path, spark: Any) -> None:
    """A run that fails on the executors (the mapping format with no [mapping] table) commits nothing."""
    logs = tmp_path / "logs"
    logs.mkdir()
    write_jsonl(logs / "a.jsonl", [event(i) for i in range(30)] + [b"{bad"])
    m = monitor.open(tmp_path / "store", spark=spark)
    with pytest.raises(UserError, match=r"\[mapping\]"):
        m.ingest([str(logs)], input_format="mapping")
    assert m.store.live_segments() == [] and m.quarantine().empty
    assert not any((m.store.root / "tmp-spark").iterdir())


def test_cli_engine_flag(store_dir: Path, tmp_path: Path) -> None:
    """The real CLI: check --engine spark prints the same JSON as DuckDB; a bad engine is exit 2."""
    args = ["check", "--store", str(store_dir), "--baseline", f"model_version={OLD_VERSION}",
            "--current", f"model_version={NEW_VERSION}", "--format", "json", "--no-sinks"]
    duck = run_cli(*args)
    sparky = run_cli(*args, "--engine", "spark")
    assert duck.returncode == sparky.returncode == 1, sparky.stderr[-2000:]
    assert json.loads(duck.stdout) == json.loads(sparky.stdout)
    bad = run_cli(*args, env={"LLM_MONITOR_ENGINE": "presto"})
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "unknown engine 'presto'" in bad.stderr
    flag = run_cli(*args, "--engine", "presto")
    assert flag.returncode == 2 and "invalid choice" in flag.stderr


# ------------------------------------------------------------------------------------ store URIs
def test_uri_store_same_findings_on_both_engines(store_dir: Path, spark: Any, monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    """A store given as a file:// URI goes through the URI path of each engine (Hadoop's file
    system for Spark, DuckDB's glob for DuckDB): the same live segments, the same findings."""
    from monitor.engines.duckdb_uri import live_segment_uris as duckdb_listing
    from monitor.engines.spark.hadoop import live_segment_uris as hadoop_listing

    monkeypatch.setenv("LLM_MONITOR_STATE", str(tmp_path / "state"))
    uri = store_dir.as_uri()
    local = monitor.open(store_dir)
    names = [p.name for p in local.store.live_segments()]
    assert len(names) == 2 and len(list(local.store.events_dir.glob("*.parquet"))) == 4  # 2 replaced ones left out
    import duckdb

    assert [u.rsplit("/", 1)[-1] for u in hadoop_listing(spark, uri)] == names
    assert [u.rsplit("/", 1)[-1] for u in duckdb_listing(duckdb.connect(), uri)] == names
    base, cur = f"model_version={OLD_VERSION}", f"model_version={NEW_VERSION}"
    expected = local.compare(base, cur).to_dict()
    on_spark, on_duckdb = monitor.open(uri + "/", spark=spark), monitor.open(uri, engine="duckdb")
    assert on_spark.store.location == on_duckdb.store.location == uri
    assert not (on_spark.store.root / "events").exists()  # only the local state (alert log, outbox) is local
    assert on_spark.compare(base, cur).to_dict() == expected
    assert on_duckdb.compare(base, cur).to_dict() == expected
    with pytest.raises(UserError, match=r"is a URI: llm-monitor reads it .* writes it with ingest --engine spark, "
                                        r"but cannot write segments there otherwise"):
        on_duckdb.ingest([str(FIXTURES / "openai_chat.jsonl")])  # the backfill writes it: test_engines_spark_uri_write.py
    with pytest.raises(UserError, match=r"cannot write segments there"):
        on_duckdb.nightly(pd.Timestamp("2026-01-02").date())  # compaction writes: --no-compact reads only


def test_object_store_without_connector_is_one_line(spark: Any, monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    """s3a:// with no hadoop-aws jar on the classpath (none here: Maven Central is out of reach):
    a UserError naming the missing connector, for a store and for backfill input alike."""
    monkeypatch.setenv("LLM_MONITOR_STATE", str(tmp_path / "state"))
    m = monitor.open("s3a://llm-monitor-test/store", spark=spark)
    with pytest.raises(UserError, match=r"^cannot reach s3a://llm-monitor-test/store/events through Hadoop: .*S3AFileSystem"):
        m.window("since=2026-01-01", ["model"])
    with pytest.raises(UserError, match=r"^cannot reach s3a://llm-monitor-test/logs/\*\.jsonl through Hadoop"):
        monitor.open(tmp_path / "store", spark=spark).ingest(["s3a://llm-monitor-test/logs/*.jsonl"])


def test_duckdb_engine_on_unreachable_uris_is_exit_2(tmp_path: Path) -> None:
    """The real CLI: hdfs:// (no DuckDB reader) and s3a:// (httpfs not installable offline, or no
    such bucket online) each stop with exit 2 and one line; an unknown scheme too."""
    env = {"LLM_MONITOR_STATE": str(tmp_path / "state")}
    for store, expected in (("hdfs://namenode:8020/store", "DuckDB has no HDFS reader; use --engine spark"),
                            ("s3a://llm-monitor-test/store", "s3a://llm-monitor-test/store"),
                            ("ftp://host/store", "unsupported URI scheme ftp://")):
        r = run_cli("check", "--store", store, "--baseline", "model_version=a", "--current", "model_version=b",
                    "--no-sinks", env=env)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and expected in r.stderr, (store, r.stderr)
        assert "Traceback" not in r.stderr


def test_uri_store_quarantine_read_by_the_duckdb_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``Monitor.quarantine()`` of a store at a URI reads the store's quarantine files through the
    engine (DuckDB's reader here), not the empty local state folder: the same rows as the store
    read from its folder, bytes that are not UTF-8 included."""
    monkeypatch.setenv("LLM_MONITOR_STATE", str(tmp_path / "state"))
    log = tmp_path / "bad.jsonl"
    write_jsonl(log, [event(1), b"{not json", b"\xff\xfe", json.dumps(event(2, ts="soon")).encode()])
    local = monitor.open(tmp_path / "store")
    local.ingest([str(log)])
    local.ingest([str(FIXTURES / "openai_chat.jsonl")])  # a second batch: a second quarantine file or none
    expected = local.quarantine()
    assert len(expected) >= 3 and expected["raw_base64"].notna().sum() == 1
    on_uri = monitor.open((tmp_path / "store").as_uri(), engine="duckdb")
    assert on_uri.store.location is not None and on_uri.store.quarantine().empty  # the local state holds none
    pd.testing.assert_frame_equal(on_uri.quarantine(), expected)
    empty = monitor.open((tmp_path / "empty").as_uri(), engine="duckdb")
    assert empty.quarantine().empty and list(empty.quarantine().columns) == list(expected.columns)


def test_backfill_reads_uri_globs(mixed_logs: Path, tmp_path: Path, spark: Any) -> None:
    """Backfill input given as a file:// glob goes through Hadoop's globbing: the same store as local paths."""
    files = expand_inputs([str(mixed_logs)])
    local = monitor.open(tmp_path / "local")
    local.ingest(files)
    distributed = monitor.open(tmp_path / "spark", spark=spark)
    got = distributed.ingest([mixed_logs.as_uri() + "/2026-11-0[12]/*.jsonl"])
    assert got.files == len(files) and got.ingested > 40
    pd.testing.assert_frame_equal(_stored(local), _stored(monitor.open(distributed.store.root)))
    pd.testing.assert_frame_equal(_quarantine(local), _quarantine(distributed))
    with pytest.raises(UserError, match=r"^no such file: file:"):
        distributed.ingest([mixed_logs.as_uri() + "/*.csv"])


# ------------------------------------------------------------------------------------ crash safety
def test_backfill_killed_mid_job_leaves_no_partial_segment(tmp_path: Path, spark: Any) -> None:
    """``kill -9`` of the CLI while Spark writes the new segments: no partial segment is visible
    to either engine, and running the backfill again completes it with no duplicates."""
    import pyarrow.parquet as pq

    logs = tmp_path / "logs"
    total = overlapping_logs(logs)
    store = tmp_path / "store"
    runs = store / "tmp-spark"
    kill_backfill_mid_job(str(store), logs, runs)
    assert any(runs.glob("run-*/out"))  # killed while the segments were being written
    for segment in (store / "events").glob("*"):  # whatever is visible is a whole, private segment
        assert segment.suffix == ".parquet" and pq.read_metadata(segment).num_rows > 0
        assert segment.stat().st_mode & 0o077 == 0
    seen = {}
    for name, m in (("duckdb", monitor.open(store)), ("spark", monitor.open(store, spark=spark))):
        counts = m.sql("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM events")
        seen[name] = (int(counts.n.iloc[0]), int(counts.d.iloc[0]))
        assert seen[name][0] == seen[name][1] < total
    assert seen["duckdb"] == seen["spark"]
    again = monitor.open(store, spark=spark).ingest([str(logs)])
    assert again.ingested == total - seen["duckdb"][0] and again.quarantined == 0
    for m in (monitor.open(store), monitor.open(store, spark=spark)):
        counts = m.sql("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM events")
        assert int(counts.n.iloc[0]) == int(counts.d.iloc[0]) == total
