"""The API reads a store while ``llm-monitor ingest`` processes (real subprocesses, one new file
each time) write to it: every read succeeds, no lock error, counts never go down, and a read never
sees part of a segment or a row twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import monitor
from monitor.errors import NothingToCompare
from helpers import event, run_cli, write_jsonl
from monitor.errors import NothingToCompare

FILES = 3
PER_FILE = 150
REFUSAL = "I'm sorry, but I can't help with that request."


def _batch(k: int) -> list[dict]:
    """File k: v1 for even k, v2 for odd k; two routes; some refusals."""
    return [event(i, request_id=f"f{k}-{i}", model_version=f"v{1 + k % 2}", route=("chat", "support")[i % 2],
                  ts=f"2026-11-{1 + k:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
                  response=REFUSAL if (i + k) % 17 == 0 else "word " * (5 + i % 40))
            for i in range(PER_FILE)]


def test_reads_while_ingest_subprocesses_write(tmp_path: Path) -> None:
    store = tmp_path / "store"
    logs = [write_jsonl(tmp_path / f"batch-{k}.jsonl", _batch(k)) for k in range(FILES)]
    results: list = []
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for log in logs:
                results.append(run_cli("ingest", str(log), "--store", str(store), timeout=120))
                time.sleep(0.05)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    m = monitor.open(store)  # one long-lived handle, like a notebook's
    held = m.store.connect()  # and an open DuckDB connection over the segments, held throughout
    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[tuple[str, int]] = []
    last = 0

    def observe(what: str, n: int) -> None:
        nonlocal last
        assert n % PER_FILE == 0, f"{what}: {n} rows is not a whole number of files (partial segment?)"
        assert n >= last, f"{what}: count went down from {last} to {n}; reads so far: {seen[-5:]}"
        last = n
        seen.append((what, n))

    deadline = time.monotonic() + 240
    try:
        while True:
            assert time.monotonic() < deadline, "writer did not finish"
            writer_done = not thread.is_alive()  # then this round is the final read
            ids = m.events(columns=["request_id"]).request_id
            assert ids.is_unique, "a row was seen twice"
            observe("events", len(ids))

            counts = m.sql("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM events")
            assert counts.n[0] == counts.d[0]
            observe("sql", int(counts.n[0]))

            # A fresh handle each time too, as a second notebook would open it.
            try:
                r = monitor.open(store).compare("model_version=v1", "model_version=v2", by=["route"])
            except NothingToCompare:  # v1 (file 0) or v2 (file 1) not ingested yet
                assert len(ids) < 2 * PER_FILE, f"{len(ids)} events read, both versions in, yet nothing compared"
            else:
                refusal = [f for f in r.items if f.metric == "refusal_rate"]
                observe("compare", sum(f.n_baseline + f.n_current for f in refusal))

            observe("stats", int(m.stats(by=["route"], freq="1d").n.sum()))
            if writer_done:
                break
            time.sleep(0.05)  # leave the writer some of the two cores
    finally:
        thread.join(timeout=240)
        held.close()

    assert not failures, failures
    assert len(results) == FILES
    for result in results:
        assert result.returncode == 0, result.stderr
        assert f"{PER_FILE} ingested" in result.stdout
        assert "lock" not in result.stderr.lower()
    assert last == FILES * PER_FILE
    # The reads overlapped the writes: several distinct counts were observed on the way up.
    assert len({n for _, n in seen}) >= 3, seen
    assert len(seen) >= 4 * 3
    final = m.compare("model_version=v1", "model_version=v2", by=["route"])
    assert {f.segment["route"] for f in final.items} == {"chat", "support"}


def test_a_notebook_connection_does_not_block_the_writer(tmp_path: Path) -> None:
    """A reader holding a DuckDB connection over the store (mid-query even) never blocks ingest."""
    store = tmp_path / "store"
    m = monitor.open(store)
    m.ingest([str(write_jsonl(tmp_path / "a.jsonl", _batch(0)))])
    con = m.store.connect()
    cursor = con.execute("SELECT * FROM events")  # an open result over the existing segments
    cursor.fetchmany(10)
    try:
        second = write_jsonl(tmp_path / "b.jsonl", _batch(1))
        result = run_cli("ingest", str(second), "--store", str(store), timeout=60)
        assert result.returncode == 0, result.stderr
        assert len(cursor.fetchall()) == PER_FILE - 10  # the old view is stable
    finally:
        con.close()
    assert len(m.events()) == 2 * PER_FILE


@pytest.mark.parametrize("readers", [2])
def test_parallel_readers_agree(tmp_path: Path, readers: int) -> None:
    """Several threads reading the same store at once get the same answers."""
    store = tmp_path / "store"
    m0 = monitor.open(store)
    for k in range(2):
        m0.ingest([str(write_jsonl(tmp_path / f"p{k}.jsonl", _batch(k)))])
    answers: list[str] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            m = monitor.open(store)
            for _ in range(3):
                answers.append(m.compare("model_version=v1", "model_version=v2", by=["route"]).to_json())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(readers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(answers)) == 1 and len(answers) == 3 * readers


def test_reads_while_tail_follows_a_growing_log(tmp_path: Path) -> None:
    """The sidecar case: ``llm-monitor tail`` (a real subprocess) follows a log the test appends to,
    while the API reads the store: reads never fail, counts never go down, rows are never doubled,
    and every appended event arrives."""
    import json
    import os
    import signal
    import subprocess
    import sys

    log = tmp_path / "app.jsonl"
    log.write_text("")
    store = tmp_path / "store"
    env = {k: v for k, v in os.environ.items() if k not in ("SENTRY_DSN", "LLM_MONITOR_STORE")}
    tail = subprocess.Popen([sys.executable, "-m", "monitor.cli", "tail", str(log), "--store", str(store),
                             "--poll-interval", "0.1", "--status-interval", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    m = monitor.open(store)
    rounds, per_round = 12, 40
    total = rounds * per_round
    counts: list[int] = []

    def read() -> int:
        frame = m.events(columns=["request_id", "model_version"])
        ids = frame.request_id
        assert ids.is_unique, "a row was seen twice"
        try:
            r = m.compare("model_version=v1", "model_version=v2", by=["route"])
        except NothingToCompare:  # a version not stored yet; never once both were read before
            assert set(frame.model_version) != {"v1", "v2"}, "both versions stored, yet nothing compared"
            compared = None
        else:
            [refusal] = [f for f in r.items if f.metric == "refusal_rate"]
            assert refusal.segment == {"route": "chat"} and not r.unmatched
            compared = refusal.n_baseline + refusal.n_current
            assert compared >= len(ids), "the comparison missed events that were read before it"
        n = m.sql("SELECT count(*) AS n FROM events").n[0]
        assert n >= len(ids) and (compared is None or n >= compared)
        for value in (len(ids), int(n)):
            assert not counts or value >= counts[-1], f"count went down: {counts[-3:]} then {value}"
            counts.append(value)
        return int(n)

    try:
        with open(log, "a") as fh:
            for k in range(rounds):
                for i in range(per_round):
                    e = event(k * per_round + i, request_id=f"t{k}-{i}", model_version=f"v{1 + k % 2}",
                              response=REFUSAL if i % 9 == 0 else "word " * (5 + i))
                    fh.write(json.dumps(e) + "\n")
                fh.flush()
                read()
                time.sleep(0.1)
        deadline = time.monotonic() + 60
        while read() < total:
            assert tail.poll() is None, f"tail exited early: {tail.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, f"tail did not catch up: {counts[-5:]}"
            time.sleep(0.1)
    finally:
        if tail.poll() is None:
            tail.send_signal(signal.SIGTERM)
        try:
            out, err = tail.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            tail.kill()
            out, err = tail.communicate()
    assert "lock" not in err.lower(), err[-2000:]
    assert counts[-1] == total
    assert len(set(counts)) >= 3, counts  # reads overlapped the tailing
    [refusal] = [f for f in m.compare("model_version=v1", "model_version=v2", by=["route"]).items
                 if f.metric == "refusal_rate"]
    assert (refusal.n_baseline, refusal.n_current) == (total // 2, total // 2)
