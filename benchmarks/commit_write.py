"""The commit's cost, step by step, and Parquet writer options: write time vs file size vs read time.

Loads a file of short events (benchmarks/ingest_check.py's 0.3 KB shape, native format) once
with :class:`monitor.ingest.BatchLoader`, in blocks of :data:`monitor.ingest.BATCH_LINES`, then:

1. **the commit's steps** on those blocks, into a fresh store (the median of ``--repeat`` runs):
   dedup inside the batch (``first_occurrences``), dedup against the store (``StoreIds.seen``,
   the anti-join over the live segments), the quarantine lookup, the segment summary
   (``SummaryBuilder``) and the Parquet write itself;
2. **writer options**, each writing the same blocks as segments (one ``ParquetWriter`` per
   block, as a commit does): seconds to write, MB on disk, and seconds for DuckDB to read them
   back the two ways the store is read: the check's statistics scan over the segments (a
   window that cuts through them, so no footer summary is used: ``counts_sql`` and
   ``histogram_sql`` by route) and a full read of every column (notebooks, compaction).

All in one process, options alternated round-robin per repeat, medians printed, so the ratios
compare within one run on a shared machine.

3. with ``--before DIR`` (a checkout of other code), **the commit before and after**, alternated,
   each in a fresh process: ``commit_events`` of the blocks into a fresh store (new events), then
   of the same blocks again (all duplicates: a re-ingest), and the sidecar's commit
   (``commit_tail_batch`` with its ``DuplicateGuard``) of 30 batches of 5,000 new events.

Not a test.

    python benchmarks/commit_write.py --events 300000 --repeat 3 [--before DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest_check import generate  # noqa: E402

from monitor.columnar.lines import iter_line_blocks  # noqa: E402
from monitor.commit import StoreIds  # noqa: E402
from monitor.config import Config  # noqa: E402
from monitor.events import first_occurrences  # noqa: E402
from monitor.ingest import BatchLoader  # noqa: E402
from monitor.stats import counts_sql, histogram_sql  # noqa: E402
from monitor.store import EVENT_SCHEMA, PARQUET_OPTIONS, ROW_GROUP_ROWS, Store  # noqa: E402
from monitor.summaries import SummaryBuilder  # noqa: E402

#: Writer options compared (each row: a name and the ParquetWriter keyword arguments).
VARIANTS: list[tuple[str, dict]] = [
    ("zstd level 1 (pyarrow default level)", dict(compression="zstd")),
    ("store (PARQUET_OPTIONS)", dict(PARQUET_OPTIONS)),
    ("zstd level 3", dict(compression="zstd", compression_level=3)),
    ("zstd level -1", dict(compression="zstd", compression_level=-1)),
    ("snappy", dict(compression="snappy")),
    ("lz4", dict(compression="lz4")),
    ("none", dict(compression="none")),
    ("zstd, no statistics", dict(compression="zstd", write_statistics=False)),
    ("zstd, statistics on ts/request_id only", dict(compression="zstd", write_statistics=["ts", "request_id"])),
    ("zstd, no dictionary on text", dict(compression="zstd", use_dictionary=[
        n for n in EVENT_SCHEMA.names if n not in ("prompt", "response", "request_id", "refusal_span")])),
    ("zstd, row groups of 32k", dict(compression="zstd", row_group_size=32_000)),
    ("zstd, no dictionary on text, statistics on ts/request_id only", dict(
        compression="zstd", write_statistics=["ts", "request_id"], use_dictionary=[
            n for n in EVENT_SCHEMA.names if n not in ("prompt", "response", "request_id", "refusal_span")])),
]


def _write(dir_: Path, blocks: list[pa.Table], options: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds) to write ``blocks`` as segments with ``options``."""
    options = dict(options)
    row_group_size = options.pop("row_group_size", ROW_GROUP_ROWS)
    t0, c0 = time.perf_counter(), time.process_time()
    for k, table in enumerate(blocks):
        with pq.ParquetWriter(dir_ / f"s{k}.parquet", EVENT_SCHEMA, **options) as writer:
            writer.write_table(table, row_group_size=row_group_size)
    return time.perf_counter() - t0, time.process_time() - c0


def _read(dir_: Path) -> tuple[float, float]:
    con = duckdb.connect()
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet('{dir_}/*.parquet')")
    t0 = time.perf_counter()
    con.execute(counts_sql("events", "route IS NOT NULL", ["route"])).fetchall()
    con.execute(histogram_sql("events", "route IS NOT NULL", ["route"], "chars")).fetchall()
    scan = time.perf_counter() - t0
    t0 = time.perf_counter()
    con.sql("SELECT * FROM events").to_arrow_table()
    full = time.perf_counter() - t0
    con.close()
    return scan, full


def _steps(work: Path, blocks: list[pa.Table]) -> dict[str, float]:
    """Seconds of each commit step over all blocks, into a fresh store (in commit order)."""
    root = work / "steps-store"
    shutil.rmtree(root, ignore_errors=True)
    store = Store(root)
    spent = dict.fromkeys(["dedup in batch", "dedup vs store", "quarantine lookup", "summary", "parquet write",
                           "whole commit_events"], 0.0)
    for table in blocks:
        t0 = time.perf_counter()
        table = table.filter(pa.array(first_occurrences(table["request_id"])))
        t1 = time.perf_counter()
        seen = StoreIds(store).seen(table["request_id"].combine_chunks())
        t2 = time.perf_counter()
        store.new_quarantine_rows([{"source": "x", "line": 1, "reason": "r", "raw": b"{"}])
        t3 = time.perf_counter()
        builder = SummaryBuilder(EVENT_SCHEMA)
        builder.add(table)
        builder.summary()
        t4 = time.perf_counter()
        store.write_segment(table.filter(pa.array(~seen)))
        t5 = time.perf_counter()
        spent["dedup in batch"] += t1 - t0
        spent["dedup vs store"] += t2 - t1
        spent["quarantine lookup"] += t3 - t2
        spent["summary"] += t4 - t3
        spent["parquet write"] += t5 - t4  # write_segment summarizes too: the summary is taken out below
    spent["parquet write"] -= spent["summary"]
    from monitor.commit import commit_events

    root2 = work / "steps-store-2"
    shutil.rmtree(root2, ignore_errors=True)
    store2 = Store(root2)
    t0 = time.perf_counter()
    for table in blocks:
        commit_events(store2, table, [])
    spent["whole commit_events"] = time.perf_counter() - t0
    return spent


def _commit_child(log: str) -> None:
    """The commit's seconds (wall and CPU) with the code on ``sys.path`` first; prints JSON."""
    import pyarrow.compute as pc

    from monitor.commit import commit_events as commit
    from monitor.ingest import Line
    from monitor.tail.dedup import DuplicateGuard
    from monitor.tail.writer import commit_tail_batch

    loader = BatchLoader(Config(), log)
    blocks = [loader.load(block).frame for block in iter_line_blocks(log)]
    store = Store(tempfile.mkdtemp(prefix="commit-child-"))
    out = {}
    for label in ("new events", "all duplicates"):
        t0, c0 = time.perf_counter(), time.process_time()
        for table in blocks:
            commit(store, table, [])
        out[label] = (time.perf_counter() - t0, time.process_time() - c0)
    lines, offset = [], 0
    with open(log, "rb") as fh:
        for number in range(1, 5001):
            raw = fh.readline().rstrip(b"\n")
            offset += len(raw) + 1
            lines.append(Line(number, offset, raw))
    batch = BatchLoader(Config(), log).load(lines).frame
    tail_store = Store(tempfile.mkdtemp(prefix="commit-child-tail-"))
    guard = DuplicateGuard(tail_store)
    t0, c0 = time.perf_counter(), time.process_time()
    for k in range(30):
        ids = pc.binary_join_element_wise(batch["request_id"], pa.scalar(f"-{k}"), "")
        commit_tail_batch(tail_store, batch.set_column(batch.schema.get_field_index("request_id"), "request_id", ids),
                          [], {}, guard=guard)
    out["sidecar: 30 x 5,000 new events"] = (time.perf_counter() - t0, time.process_time() - c0)
    shutil.rmtree(store.root, ignore_errors=True)
    shutil.rmtree(tail_store.root, ignore_errors=True)
    print(json.dumps(out))


def _before_after(log: Path, before: str, repeat: int) -> None:
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for k in range(repeat):
        for code in (("before", "after") if k % 2 == 0 else ("after", "before")):
            root = before if code == "before" else str(Path(__file__).resolve().parent.parent)
            res = subprocess.run([sys.executable, __file__, "--commit-child", str(log), "--root", root],
                                 capture_output=True, text=True, check=True)
            runs[code].append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"\n| commit | before: wall s | CPU s | after: wall s | CPU s | after / before (CPU) |  (medians of {repeat})")
    print("|---|---|---|---|---|---|")
    for label in runs["after"][0]:
        b = [statistics.median(r[label][i] for r in runs["before"]) for i in (0, 1)]
        a = [statistics.median(r[label][i] for r in runs["after"]) for i in (0, 1)]
        print(f"| {label} | {b[0]:.2f} | {b[1]:.2f} | {a[0]:.2f} | {a[1]:.2f} | {a[1] / b[1]:.2f} |")


def main() -> None:
    if "--commit-child" in sys.argv:  # before the package is imported: the code to measure comes first
        args = sys.argv[sys.argv.index("--commit-child") + 1:]
        sys.path.insert(0, args[2])
        for name in [m for m in sys.modules if m == "monitor" or m.startswith("monitor.")]:
            del sys.modules[name]
        globals().update(_fresh_imports())
        _commit_child(args[0])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--file", default=None, help="an existing native log file (else one is generated)")
    parser.add_argument("--before", default=None, help="a checkout of other code: the commit before and after")
    parser.add_argument("--only-before-after", action="store_true", help="with --before: skip steps 1 and 2")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="commit-write-"))
    try:
        log = Path(args.file) if args.file else work / "short.jsonl"
        if not args.file:
            generate(log, args.events, shape="short")
        if args.before:
            _before_after(log, args.before, args.repeat)
            if args.only_before_after:
                return
        loader = BatchLoader(Config(), str(log))
        blocks = [loader.load(block).frame for block in iter_line_blocks(log)]
        rows = sum(b.num_rows for b in blocks)
        print(f"{rows:,} events in {len(blocks)} blocks, {sum(b.nbytes for b in blocks) / 1e6:.0f} MB in Arrow")
        steps = [_steps(work, blocks) for _ in range(args.repeat)]
        print("\n| commit step | seconds (median) | share of commit_events |")
        print("|---|---|---|")
        whole = statistics.median(s["whole commit_events"] for s in steps)
        for name in steps[0]:
            value = statistics.median(s[name] for s in steps)
            print(f"| {name} | {value:.3f} | {value / whole:.0%} |")
        results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _ in VARIANTS}
        for _ in range(args.repeat):
            for name, options in VARIANTS:
                dir_ = work / "variant"
                shutil.rmtree(dir_, ignore_errors=True)
                dir_.mkdir()
                write, cpu = _write(dir_, blocks, options)
                size = sum(p.stat().st_size for p in dir_.iterdir()) / 1e6
                scan, full = _read(dir_)
                results[name].append((write, cpu, size, scan, full))
        print(f"\n| writer options | write s | write CPU s | MB | check scan s | full read s |  (medians of {args.repeat})")
        print("|---|---|---|---|---|---|")
        for name, runs in results.items():
            med = [statistics.median(r[i] for r in runs) for i in range(5)]
            print(f"| {name} | {med[0]:.3f} | {med[1]:.3f} | {med[2]:.1f} | {med[3]:.3f} | {med[4]:.3f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _fresh_imports() -> dict:
    """The names this script uses from ``monitor``, imported again (after ``--root`` is put first)."""
    from monitor.columnar.lines import iter_line_blocks
    from monitor.config import Config
    from monitor.ingest import BatchLoader
    from monitor.store import Store

    return {"iter_line_blocks": iter_line_blocks, "Config": Config, "BatchLoader": BatchLoader, "Store": Store}


if __name__ == "__main__":
    main()
