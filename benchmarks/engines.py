"""DuckDB vs Spark ``local[2]``: ``check`` and ``nightly`` over a generated store, and a backfill ingest.

For each size (``--events``, default 1M and 10M) a store is generated straight into Parquet
segments of one million events each, with the signals already derived (the queries read only
the store): 2 models x 4 routes over 8 days; on the last day model ``acme`` moves to version v2,
whose ``chat`` responses are 20% longer and whose ``support`` route refuses 3x as often.
Then each of ``check`` (the last day against the 7 before, by model and route) and ``nightly
--no-compact`` (the same windows, plus change points, version attribution and the model
inventory) runs in its own subprocess, once per engine. For each run the table gives

- wall: the command's time in the subprocess, Spark's session start excluded (shown apart);
- CPU s: the CPU seconds of the whole process tree, session included (for Spark: the JVM's JIT
  compiler and garbage collector too); less sensitive to the machine's load than wall time;
- peak MB: the peak resident memory of the subprocess and its children (for Spark ``local[2]``
  that is the Python driver plus the JVM, which holds the executors), sampled every 0.1 s;
- rows: the events the compared windows hold (sum of ``n_baseline + n_current`` over the
  findings of one metric), which must be equal for both engines;
- same: whether the findings are identical to DuckDB's, field by field;
- load: the machine's 1-minute load average when the run ended.

``--engines`` may add ``spark-before``: the spark engine with the JVM's default JIT compiler and
garbage collector, as the session was before the fix in docs/SCALE.md ("Why Spark was slow").

``--backfill N`` also ingests N generated events in JSON-lines files
(``benchmarks/ingest_check.py``'s generator, split by lines), with the local path and with ``--engine spark``, in 32 files.
Not a test: the machine is shared and noisy, so compare within one run.

    python benchmarks/engines.py --events 1000000,10000000 --backfill 1000000
    python benchmarks/engines.py --events 1000000 --engines duckdb,spark-before,spark --commands check
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROUTES = ["chat", "support", "extract", "summarize"]
MODELS = ["acme", "control"]
DAYS = 8
START = np.datetime64("2026-11-01T00:00:00", "us")
SEGMENT = 1_000_000
PARTS = 32
"""Backfill files: 1M events of 1.3 KB make 32 files of about 40 MB (a file is one Spark row)."""


def write_store(root: Path, n: int, seed: int = 5) -> None:
    """``n`` events with signals, as segments of the store at ``root`` (see the module doc)."""
    from monitor.store import EVENT_SCHEMA, Store

    store = Store(root)
    rng = np.random.default_rng(seed)
    for start in range(0, n, SEGMENT):
        k = min(SEGMENT, n - start)
        offset = rng.integers(0, DAYS * 86400 * 10**6, k)
        ts = START + offset.astype("timedelta64[us]")
        last_day = offset >= (DAYS - 1) * 86400 * 10**6
        model = rng.integers(0, len(MODELS), k)
        route = rng.integers(0, len(ROUTES), k)
        new = last_day & (model == 0)
        chars = np.clip(rng.lognormal(np.log(400), 0.5, k) * np.where(new & (route == 0), 1.2, 1.0), 1, 20000)
        refusal = rng.random(k) < np.where(route == 1, np.where(new, 0.06, 0.02), 0.005)
        expects = route == 2
        failed = expects & (rng.random(k) < 0.02)
        status = np.where(expects, np.where(failed, "not_json", "ok"), "not_expected")
        labelled = route == 3
        success = np.where(labelled, rng.random(k) < 0.85, False)
        columns = {
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "request_id": pa.array([f"e{i}" for i in range(start, start + k)], pa.string()),
            "model": pa.array(np.array(MODELS)[model], pa.string()),
            "model_version": pa.array(np.where(new, "v2", "v1"), pa.string()),
            "route": pa.array(np.array(ROUTES)[route], pa.string()),
            "chars": pa.array(chars.astype(np.int64)), "words": pa.array((chars // 6).astype(np.int64)),
            "refusal": pa.array(refusal), "expects_json": pa.array(expects), "parse_failed": pa.array(failed),
            "parse_status": pa.array(status, pa.string()),
            "task_success": pa.array(success, mask=~labelled), "pinned": pa.array(np.ones(k, bool)),
        }
        table = pa.table({f.name: columns.get(f.name, pa.nulls(k, f.type)) for f in EVENT_SCHEMA}, schema=EVENT_SCHEMA)
        store.write_segment(table)


BEFORE = {"spark.driver.extraJavaOptions": ""}
"""``spark-before``: the spark engine with the JVM's default JIT and collector (the session before
the fix of docs/SCALE.md "Why Spark was slow"), to show before and after in one run."""


def open_engine(store: str, engine: str) -> Any:
    """``monitor.open`` on ``engine`` (``duckdb``, ``spark`` or ``spark-before``), its session started."""
    import monitor

    m = monitor.open(store, engine=engine.split("-")[0])
    if engine == "spark-before":
        m.engine.conf = {**(m.engine.conf or {}), **BEFORE}
    getattr(m.engine, "session", None)  # the spark engine starts its session on first use: here
    return m


def run_one(command: str, engine: str, store: str, day: str) -> dict[str, Any]:
    """In the subprocess: one command on one engine; returns the figures as a dict."""
    started = time.perf_counter()
    m = open_engine(store, engine)
    session_s = time.perf_counter() - started
    started = time.perf_counter()
    base = f"since={np.datetime_as_string(START, 'D')},until={day}"
    cur = f"since={day}"
    if command == "check":
        result = m.compare(base, cur, by=["model", "route"])
        findings = [f.to_dict() for f in result.items]
    else:
        result = m.nightly(day, compact=False)
        findings = [f.to_dict() for f in result.comparison.items] + [f.to_dict() for f in result.new_versions]
    wall = time.perf_counter() - started
    rows = sum(f["n_baseline"] + f["n_current"] for f in findings if f["metric"] == "refusal_rate")
    return {"wall": wall, "session": session_s, "rows": rows, "findings": findings}


def run_ingest(engine: str, store: str, files: list[str]) -> dict[str, Any]:
    """In the subprocess: ingest ``files`` into a fresh store."""
    started = time.perf_counter()
    m = open_engine(store, engine)
    session_s = time.perf_counter() - started
    started = time.perf_counter()
    report = m.ingest(files)
    return {"wall": time.perf_counter() - started, "session": session_s, "rows": report.ingested,
            "findings": [report.summary()]}


def measure(args: list[str]) -> dict[str, Any]:
    """Run this script as a subprocess with ``args``; its JSON result plus the tree's peak RSS."""
    import psutil

    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    peak = 0
    cpu: dict[int, float] = {}  # CPU seconds of each process of the tree, as last seen
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        times = p.cpu_times()
                        cpu[p.pid] = times.user + times.system
            except psutil.Error:
                pass
            time.sleep(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    done.set()
    thread.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed with exit code {proc.returncode}")
    lines = out.strip().splitlines()
    if not lines:
        raise SystemExit(f"{' '.join(args[:2])} printed no result (exit code {proc.returncode})")
    result = json.loads(lines[-1])
    result["peak_mb"] = peak / 2**20
    result["cpu"] = sum(cpu.values())
    result["load"] = os.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", default="1000000,10000000", help="store sizes, comma-separated")
    parser.add_argument("--engines", default="duckdb,spark", help="duckdb, spark, spark-before (JVM defaults)")
    parser.add_argument("--commands", default="check,nightly")
    parser.add_argument("--backfill", type=int, default=0, help="events of the backfill ingest (0: none)")
    parser.add_argument("--workdir", default="/tmp/llm-monitor-bench-engines")
    parser.add_argument("--run", nargs=4, metavar=("COMMAND", "ENGINE", "STORE", "DAY"), help=argparse.SUPPRESS)
    parser.add_argument("--ingest", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(*args.run), default=str))
        return
    if args.ingest:
        print(json.dumps(run_ingest(args.ingest[0], args.ingest[1], args.ingest[2:])))
        return
    work = Path(args.workdir)
    day = str(np.datetime_as_string(START + np.timedelta64(DAYS - 1, "D"), "D"))
    rows_out = []
    print(f"{'events':>11} {'command':8} {'engine':12} {'wall s':>8} {'session s':>9} {'CPU s':>7} {'peak MB':>8} "
          f"{'rows read':>11} same  load")
    for n in [int(x) for x in args.events.split(",") if x]:
        root = work / f"store-{n}"
        if not (root / "events").is_dir() or not any((root / "events").iterdir()):
            t = time.perf_counter()
            write_store(root, n)
            print(f"# generated {n} events in {time.perf_counter() - t:.0f} s -> {root}", flush=True)
        for command in args.commands.split(","):
            reference = None
            for engine in args.engines.split(","):
                r = measure(["--run", command, engine, str(root), day])
                reference = reference if reference is not None else r["findings"]
                same = "yes" if r["findings"] == reference else "NO"
                rows_out.append((n, command, engine, r))
                print(f"{n:>11} {command:8} {engine:12} {r['wall']:>8.1f} {r['session']:>9.1f} {r['cpu']:>7.1f} "
                      f"{r['peak_mb']:>8.0f} {r['rows']:>11} {same:4} {r['load']:5.1f}", flush=True)
    if args.backfill:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from ingest_check import generate

        logs = work / f"logs-{args.backfill}"
        if not logs.is_dir():
            logs.mkdir(parents=True)
            whole = work / f"backfill-{args.backfill}.jsonl"
            generate(whole, args.backfill)
            with open(whole, "rb") as src:  # PARTS files of consecutive lines (distinct request ids)
                lines = src.readlines()
            per = -(-len(lines) // PARTS)
            for i in range(PARTS):
                (logs / f"part-{i}.jsonl").write_bytes(b"".join(lines[i * per:(i + 1) * per]))
            whole.unlink()
        files = sorted(str(p) for p in logs.glob("*.jsonl"))
        for engine in args.engines.split(","):
            target = work / f"ingest-{engine}-{time.time_ns()}"
            r = measure(["--ingest", engine, str(target), *files])
            print(f"{args.backfill:>11} {'ingest':8} {engine:12} {r['wall']:>8.1f} {r['session']:>9.1f} {r['cpu']:>7.1f} "
                  f"{r['peak_mb']:>8.0f} {r['rows']:>11} -    {r['load']:5.1f}", flush=True)


if __name__ == "__main__":
    main()
