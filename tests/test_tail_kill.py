"""Kill test: SIGKILL the tailer >= 20 times while a writer appends and rotates; nothing lost or doubled."""

from __future__ import annotations

import json
import os
import random
import shutil
import threading
import time
from pathlib import Path

from test_tail_support import TailProcess, native, quarantined_lines, run_cli, run_once, store_request_ids, write_config

N_LINES = 9_000
ROTATE_EVERY = 1_500
KILLS = 22


def hostile(i: int) -> bytes:
    kind = i % 4
    if kind == 0:
        return b'{"ts": "2026-11-01T00:00:00Z", "request_id": "h-%d", "broken' % i
    if kind == 1:
        return b"\xff\xfe invalid utf-8 %d" % i
    if kind == 2:
        return json.dumps({"ts": "2026-11-01T00:00:00Z", "request_id": i, "model": 5, "response": [1]}).encode()
    return json.dumps({"ts": "2026-11-01T00:00:00Z", "request_id": f"h-{i}", "model": "m"}).encode()  # no response


def writer(logdir: Path, all_path: Path, done: threading.Event, stats: dict[str, int]) -> None:
    app = logdir / "app.log"
    rng = random.Random(11)
    f = open(app, "ab")
    every = open(all_path, "wb")
    rotation = 0
    try:
        for i in range(N_LINES):
            if i % 37 == 5:
                line = hostile(i)
            elif i % 501 == 9:
                line = native(i - 1, prefix="k")  # duplicate request id of the previous line
            else:
                line = native(i, prefix="k", refuse=rng.random() < 0.02, words=rng.randint(10, 80))
            if i % 97 == 3:  # a line written in two parts: the tailer must wait for the newline
                f.write(line[:20])
                f.flush()
                time.sleep(0.01)
                f.write(line[20:] + b"\n")
            else:
                f.write(line + b"\n")
            f.flush()
            every.write(line + b"\n")
            if i and i % ROTATE_EVERY == 0:
                rotation += 1
                if rotation % 2:  # rename and create
                    f.close()
                    os.rename(app, logdir / f"app.log.{rotation}")
                    f = open(app, "ab")
                    stats["rename"] += 1
                else:  # copytruncate (the writer keeps its O_APPEND handle)
                    shutil.copyfile(app, logdir / f"app.log.{rotation}")
                    os.truncate(app, 0)
                    stats["copytruncate"] += 1
            if i % 40 == 0:
                time.sleep(0.12)
    finally:
        f.close()
        every.close()
        done.set()


def test_kill9_exactly_once(tmp_path: Path) -> None:
    logdir = tmp_path / "logs"
    logdir.mkdir()
    store = tmp_path / "store"
    all_path = tmp_path / "all.jsonl"
    # compaction runs often, so some kills land in the middle of one
    write_config(tmp_path / "llm-monitor.toml", "[tail]\ncompact_interval_s = 0.5\ncompact_min_segments = 3\n")
    done = threading.Event()
    stats = {"rename": 0, "copytruncate": 0}
    t = threading.Thread(target=writer, args=(logdir, all_path, done, stats), daemon=True)
    t.start()
    rng = random.Random(5)
    kills = 0
    pattern = str(logdir / "app.log*")
    running_kills = 0
    while kills < KILLS or running_kills < KILLS // 2 or not done.is_set():
        proc = TailProcess(tmp_path, store, [pattern], "--input-format", "native").start()
        if kills % 2:
            time.sleep(rng.uniform(0.1, 2.5))  # anywhere, start-up included
        else:  # while it runs: ingesting, committing, compacting
            proc.wait_status(lambda st: True, timeout=60)
            time.sleep(rng.uniform(0.0, 1.2))
            running_kills += 1
        proc.kill()
        kills += 1
    t.join()
    final = run_once(tmp_path, store, [pattern], "--input-format", "native")
    assert final.returncode == 0, final.stderr
    assert "Traceback" not in (tmp_path / "tail-stderr.log").read_text(errors="replace")
    assert stats["rename"] >= 2 and stats["copytruncate"] >= 2

    clean = tmp_path / "clean"
    res = run_cli(tmp_path, "ingest", str(all_path), "--store", str(clean), "--input-format", "native")
    assert res.returncode == 0, res.stderr

    got, want = store_request_ids(store), store_request_ids(clean)
    assert len(got) == len(set(got)), "duplicate events in the tailed store"
    assert set(got) == set(want)
    assert len(want) > N_LINES * 0.9
    q_got, q_want = quarantined_lines(store), quarantined_lines(clean)
    assert sum(q_want.values()) > 200
    assert q_got == q_want
    assert len(list((store / "events").glob("c-*.parquet"))) >= 1  # compaction ran (and was killed at times)
