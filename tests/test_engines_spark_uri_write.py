"""The Spark backfill into a store at a URI (here ``file://``, the same Hadoop code path as
``s3a://``): the local path's events and quarantine, read by both engines, idempotent, no
partial segment after ``kill -9``, and stale run directories cleaned up by the next run.

The session is the shared ``spark`` fixture of ``conftest.py``.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import monitor
from monitor.demo import NEW_VERSION, OLD_VERSION, generate_events, write_log
from monitor.engines.spark.runs import RUN_DIR, STALE_AFTER_S, remove_stale, run_name
from monitor.store import Store, exposure, state_dir

from helpers import event, kill_backfill_mid_job, overlapping_logs, write_jsonl


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two versions of the demo's traffic in overlapping files, plus bad lines."""
    d = tmp_path_factory.mktemp("uri-logs") / "logs"
    events = generate_events(per_cell=150, seed=3)
    half = len(events) // 2
    write_log(events[: half + 50], d / "a.jsonl")  # 50 request ids repeated in b
    write_log(events[half:], d / "b.jsonl")
    write_jsonl(d / "bad.jsonl", [event(1), b"{not json", b"\xff\xfe", json.dumps(event(2, ts="soon")).encode()])
    return d


def _stored(m: monitor.Monitor) -> pd.DataFrame:
    return m.events().drop(columns=["ingested_at"]).sort_values("request_id").reset_index(drop=True)


def _quarantine(store: Store) -> pd.DataFrame:
    q = store.quarantine()[["source", "line", "reason", "raw", "raw_base64"]]
    return q.sort_values(["source", "line"]).reset_index(drop=True)


def _old_run(root: Path, hours: float) -> Path:
    """A run directory named as started ``hours`` ago, with a staged file in it."""
    run = root / RUN_DIR / run_name(time.time() - hours * 3600)
    (run / "out").mkdir(parents=True)
    (run / "out" / "part-0.parquet").write_bytes(b"partial")
    return run


def test_backfill_into_uri_store(logs: Path, tmp_path: Path, spark: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MONITOR_STATE", str(tmp_path / "state"))
    local = monitor.open(tmp_path / "local")
    expected = local.ingest([str(p) for p in sorted(logs.iterdir())])
    folder = tmp_path / "remote"
    uri = folder.as_uri()
    # left by earlier runs: another machine's, 2 days old (stale) and 1 hour old (may be running);
    # this machine's, killed (its lock file here, free) and running (its lock held)
    old, recent = _old_run(folder, 48), _old_run(folder, 1)
    killed, running = _old_run(folder, 0.1), _old_run(folder, 0.1)
    for made in (folder, folder / RUN_DIR):  # made by the test: private, as a store's folders are
        made.chmod(0o700)
    locks = state_dir(uri) / RUN_DIR
    locks.mkdir(parents=True)
    (locks / f"{killed.name}.lock").touch()
    held = os.open(locks / f"{running.name}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        got = monitor.open(uri, spark=spark).ingest([str(logs)])
    finally:
        os.close(held)
    assert sorted(p.name for p in (folder / RUN_DIR).iterdir()) == sorted([recent.name, running.name])
    assert not (locks / f"{killed.name}.lock").exists()
    assert (got.files, got.lines, got.ingested, got.duplicates, got.quarantined, got.blank, got.reasons) == \
        (expected.files, expected.lines, expected.ingested, expected.duplicates, expected.quarantined,
         expected.blank, expected.reasons)
    assert got.ingested > 1000 and got.quarantined >= 3 and got.duplicates == 50
    assert all(s.startswith(uri + "/events/s-") for s in got.segments)
    # the store's layout: the same folder read as a local store holds the local path's rows and quarantine
    as_local = monitor.open(folder)
    pd.testing.assert_frame_equal(_stored(local), _stored(as_local))
    pd.testing.assert_frame_equal(_quarantine(local.store), _quarantine(as_local.store))
    assert not list((folder / "events").glob(".*")) and not list((folder / "quarantine").glob(".*"))  # no .crc
    for run in (recent, running):  # what the test made; the rest must be private
        for p in sorted(run.rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()
        run.rmdir()
    assert exposure(folder) == []
    # check on both engines at the URI: the local store's findings
    base, cur = f"model_version={OLD_VERSION}", f"model_version={NEW_VERSION}"
    findings = local.compare(base, cur).to_dict()
    assert monitor.open(uri, spark=spark).compare(base, cur).to_dict() == findings
    assert monitor.open(uri, engine="duckdb").compare(base, cur).to_dict() == findings
    # the quarantine at the URI, read through each engine: the local path's
    for engine in (monitor.open(uri, spark=spark), monitor.open(uri, engine="duckdb")):
        got_q = engine.quarantine()[["source", "line", "reason", "raw", "raw_base64"]]
        pd.testing.assert_frame_equal(got_q.sort_values(["source", "line"]).reset_index(drop=True),
                                      _quarantine(local.store))
    # a re-run adds nothing
    again = monitor.open(uri, spark=spark).ingest([str(logs)])
    assert (again.ingested, again.quarantined, again.segments) == (0, 0, [])
    assert again.duplicates == got.ingested + got.duplicates + got.quarantined
    assert not any((folder / RUN_DIR).iterdir()) and not any(locks.iterdir())


def test_remove_stale_by_lock_and_age(tmp_path: Path) -> None:
    """The rule on real folders and locks, without Spark: a run of this machine goes when its
    lock is free, another machine's when older than a day; names not of runs stay."""
    root = tmp_path / "store"
    old, young, free, held = (_old_run(root, h) for h in (STALE_AFTER_S / 3600 + 1, 23, 30, 30))
    (root / RUN_DIR / "notes").mkdir()
    (root / RUN_DIR / f"{free.name}.lock").touch()
    (root / RUN_DIR / "run-20261101T000000-0a1b2c3d.lock").touch()  # its run directory is gone
    fd = os.open(root / RUN_DIR / f"{held.name}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        entries = [(str(p), p.is_dir()) for p in sorted((root / RUN_DIR).iterdir())]
        removed = remove_stale(root, entries, lambda p: __import__("shutil").rmtree(p))
    finally:
        os.close(fd)
    assert sorted(removed) == sorted([old.name, free.name])
    assert sorted(p.name for p in (root / RUN_DIR).iterdir()) == \
        sorted([young.name, held.name, "notes", f"{held.name}.lock"])


def test_uri_backfill_killed_leaves_no_partial_segment(tmp_path: Path, spark: Any) -> None:
    """``kill -9`` of the CLI while it commits to a ``file://`` store: only whole segments are
    visible to either engine; the next run removes the killed run's staging and adds the rest."""
    logs = tmp_path / "logs"
    total = overlapping_logs(logs)
    folder = tmp_path / "remote"
    uri = folder.as_uri()
    env = {**os.environ, "LLM_MONITOR_STATE": str(tmp_path / "state")}
    env.pop("LLM_MONITOR_STORE", None)
    runs = folder / RUN_DIR
    kill_backfill_mid_job(uri, logs, runs, env)
    left = [p.name for p in runs.glob("run-*")]
    assert len(left) == 1
    for segment in (folder / "events").glob("*") if (folder / "events").exists() else []:
        assert segment.suffix == ".parquet" and pq.read_metadata(segment).num_rows > 0
        assert segment.stat().st_mode & 0o077 == 0
    os.environ["LLM_MONITOR_STATE"] = env["LLM_MONITOR_STATE"]
    try:
        seen = {}
        for name, m in (("duckdb", monitor.open(uri, engine="duckdb")), ("spark", monitor.open(uri, spark=spark))):
            counts = m.sql("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM events")
            seen[name] = (int(counts.n.iloc[0]), int(counts.d.iloc[0]))
            assert seen[name][0] == seen[name][1] < total
        assert seen["duckdb"] == seen["spark"]
        again = monitor.open(uri, spark=spark).ingest([str(logs)])
        assert again.ingested == total - seen["duckdb"][0]
        assert not any(runs.iterdir())  # the killed run's staging is gone (its lock was free)
        counts = monitor.open(uri, engine="duckdb").sql("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM events")
        assert int(counts.n.iloc[0]) == int(counts.d.iloc[0]) == total
    finally:
        del os.environ["LLM_MONITOR_STATE"]
