"""The floor under ingest: what its work costs in library kernels alone, beside ``read_ndjson``.

Issue 14 asks for ``ingest`` within 3x of DuckDB's bare ``read_ndjson`` of the same file. This
script measures how much of that budget the work itself takes when done by the fastest library
kernels with none of our code around them, so the gap between ``ingest`` and its floor (our glue)
can be told from the floor itself. For each file of ``benchmarks/ingest_check.py``'s generator,
in the same run, each step in a fresh process with its imports done before the clock starts:

1. ``read_ndjson``: DuckDB's reader of the file into an in-memory table (the reference, 1.0x,
   and the floor of the parse: no reader here is faster, ``pyarrow.json`` included);
2. ``ingest``: :meth:`monitor.api.Monitor.ingest` of the file into a fresh store;
3. the floor of the rest, on the events that store holds, block by block as ``ingest`` does
   (``BATCH_LINES`` rows), two threads as ``ingest`` uses:

   * ``text kernels``: the response's code points (``utf8_length``), its head cut and
     lower-cased (``utf8_slice_codeunits``, ``ascii_lower``: the generated text is ASCII, the
     cheapest case), every RE2 pass of the refusal gate over it (the alternations
     ``monitor.signals.refusal`` builds from the built-in rules, each one Arrow
     ``match_substring_regex`` call), and the word count (``ascii_split_whitespace`` and
     ``list_value_length``: ASCII again, about half the cost of ``utf8_split_whitespace`` and a
     little under our own kernel's), the passes spread over two threads;
   * ``Parquet``: writing each segment's table as stored (every column) with the store's
     writer options (``PARQUET_OPTIONS``, ``ROW_GROUP_ROWS``).

   Left out, so the floor is an under-estimate: the JSON checks of rows that expect JSON, the
   rule engine on gated rows, the quarantine screens, dedup, the segment summaries, the manifest
   commit and the imports ``ingest`` makes on first use.

Prints a table: the floor's parts and sum as multiples of ``read_ndjson``, and ``ingest``'s; and
the floor's CPU seconds (``read_ndjson``'s, the kernels' and the writer's, every thread) halved:
the wall time of that work on this machine's two cores if the stages overlapped perfectly (each
already runs on both cores at times), the lowest a pipeline of them could reach.
Medians of ``--runs`` runs (the machine is shared and noisy: compare within one run). Not a test.

    python benchmarks/ingest_floor.py --short-events 300000 --events 0 --runs 3 --workdir /tmp/ib1
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest_check import _run_child, generate  # noqa: E402  (the benchmark files, read_ndjson and ingest steps)


def _floor(store: str) -> dict:
    """The library kernels' time for the text signals and the Parquet segments of ``store``'s events."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from monitor.ingest import BATCH_LINES
    from monitor.signals.refusal import HEAD_CHARS, OPENING_CHARS, RULES, _gates
    from monitor.store import PARQUET_OPTIONS, ROW_GROUP_ROWS

    segments = [pq.read_table(p) for p in sorted((Path(store) / "events").glob("*.parquet"))]
    blocks = [seg.slice(k, BATCH_LINES) for seg in segments for k in range(0, seg.num_rows, BATCH_LINES)]
    responses = [pc.fill_null(b.column("response").combine_chunks(), "") for b in blocks]
    gate_open, gate_any = _gates(RULES)
    gates = list(gate_open or ())
    pool = ThreadPoolExecutor(2)

    t0, c0 = time.perf_counter(), time.process_time()
    for resp in responses:
        words = pool.submit(lambda r: pc.list_value_length(pc.ascii_split_whitespace(r)), resp)
        pc.utf8_length(resp)
        low = pc.ascii_lower(pc.utf8_slice_codeunits(resp, 0, HEAD_CHARS))
        first = pc.utf8_slice_codeunits(low, 0, OPENING_CHARS)
        passes = [pool.submit(pc.match_substring_regex, first, g) for g in gates]
        if gate_any is not None:
            passes.append(pool.submit(pc.match_substring_regex, low, gate_any))
        for job in (*passes, words):
            job.result()
    text_s, text_cpu = time.perf_counter() - t0, time.process_time() - c0

    out_dir = Path(tempfile.mkdtemp(prefix="llm-monitor-floor-"))
    t0, c0 = time.perf_counter(), time.process_time()
    for k, seg in enumerate(segments):
        with pq.ParquetWriter(out_dir / f"{k}.parquet", seg.schema, **PARQUET_OPTIONS) as writer:
            writer.write_table(seg, row_group_size=ROW_GROUP_ROWS)
    parquet_s, parquet_cpu = time.perf_counter() - t0, time.process_time() - c0
    shutil.rmtree(out_dir)
    return {"text_s": text_s, "text_cpu": text_cpu, "parquet_s": parquet_s, "parquet_cpu": parquet_cpu,
            "gate_passes": len(passes), "rows": sum(b.num_rows for b in blocks)}


def _run_floor(store: Path) -> dict:
    res = subprocess.run([sys.executable, __file__, "--floor-child", str(store)],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the 1.2 KB shape (0: none)")
    parser.add_argument("--short-events", type=int, default=300_000, help="events of the 0.3 KB shape (0: none)")
    parser.add_argument("--formats", default="native", help="comma-separated: native, openai")
    parser.add_argument("--runs", type=int, default=3, help="runs per file (medians are printed)")
    parser.add_argument("--workdir", default=None, help="where to put the files and stores (default: a temp dir)")
    parser.add_argument("--floor-child", metavar="STORE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_child:
        print(json.dumps(_floor(args.floor_child)))
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="llm-monitor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}, work dir {work}", flush=True)
    shapes = ([("short", args.short_events)] if args.short_events else []) + ([("long", args.events)] if args.events else [])
    rows = []
    for shape, n in shapes:
        for fmt in args.formats.split(","):
            log = work / f"{shape}-{fmt}-{n}.jsonl"
            if not log.exists():
                generate(log, n, shape=shape, fmt=fmt)
            store = work / f"floor-store-{shape}-{fmt}-{n}"
            runs = []
            for run in range(args.runs):
                duck = _run_child("duck", log, work / "unused")
                shutil.rmtree(store, ignore_errors=True)
                ing = _run_child("ingest", log, store)
                floor = _run_floor(store)
                runs.append((duck["seconds"], floor["text_s"], floor["parquet_s"], ing["seconds"],
                             duck["cpu_s"] + floor["text_cpu"] + floor["parquet_cpu"], ing["cpu_s"]))
                print(f"  {shape}/{fmt} run {run + 1}: read_ndjson {duck['seconds']:.2f} s, text kernels "
                      f"{floor['text_s']:.2f} s ({floor['gate_passes']} gate passes), Parquet {floor['parquet_s']:.2f} s, "
                      f"ingest {ing['seconds']:.2f} s", flush=True)
            rows.append((shape, fmt, n, [statistics.median(col) for col in zip(*runs)]))
    print("\n| file | events | read_ndjson s | text kernels s (x) | Parquet s (x) | floor: sum s (x read_ndjson) "
          "| floor CPU s, / 2 cores (x) | ingest s (x read_ndjson) | ingest CPU s | ingest / floor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for shape, fmt, n, (duck_s, text_s, parquet_s, ingest_s, floor_cpu, ingest_cpu) in rows:
        floor_s = duck_s + text_s + parquet_s
        print(f"| {shape} {fmt} | {n:,} | {duck_s:.2f} | {text_s:.2f} ({text_s / duck_s:.2f}) | "
              f"{parquet_s:.2f} ({parquet_s / duck_s:.2f}) | {floor_s:.2f} ({floor_s / duck_s:.2f}) | "
              f"{floor_cpu:.2f}, {floor_cpu / 2:.2f} ({floor_cpu / 2 / duck_s:.2f}) | "
              f"{ingest_s:.2f} ({ingest_s / duck_s:.2f}) | {ingest_cpu:.2f} | {ingest_s / floor_s:.2f} |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
