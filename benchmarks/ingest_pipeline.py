"""``ingest`` as a pipeline vs the same code on one thread, alternated in one run.

For each file, ``--runs`` pairs of runs, each in a fresh process (imports done before the clock
starts) into a fresh store: ``ingest_files(..., run_ahead=False)`` (read, load and commit one block
after the other) and ``run_ahead=True`` (monitor.ingest: lines read ahead, two blocks loaded at
once, commits in file order meanwhile). Prints wall seconds, CPU seconds, cores used (CPU / wall)
and peak RSS, with medians and the ratio pipeline / one thread. The machine is shared: the ratio
within the run is the figure, with the load average printed. Not a test.

    python benchmarks/ingest_pipeline.py --runs 3 FILE [FILE ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _child(path: str, store: str, run_ahead: bool) -> None:
    from monitor.config import Config
    from monitor.ingest import ingest_files
    from monitor.store import Store

    target = Store(store)
    t0, c0 = time.perf_counter(), time.process_time()
    report = ingest_files([path], target, Config(), run_ahead=run_ahead)
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                      "rows": report.ingested, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run(path: str, work: Path, run_ahead: bool) -> dict:
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    out = subprocess.run([sys.executable, __file__, "--child", path, str(store), "1" if run_ahead else "0"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], args.child[2] == "1")
        return
    work = Path(tempfile.mkdtemp(prefix="ingest-pipeline-"))
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    try:
        for path in args.files:
            runs: dict[bool, list[dict]] = {False: [], True: []}
            for k in range(args.runs):
                for run_ahead in ((False, True) if k % 2 == 0 else (True, False)):
                    r = _run(path, work, run_ahead)
                    runs[run_ahead].append(r)
                    print(f"  {Path(path).name} run_ahead={run_ahead}: {r['seconds']:.2f} s wall, "
                          f"{r['cpu_s']:.2f} s CPU, {r['rss_mb']:.0f} MB", flush=True)
            rows.append((Path(path).name, runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n| file | path | wall s (median) | CPU s | cores used | peak RSS MB | events/s | wall: pipeline / one thread |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, runs in rows:
        med = {ra: {key: statistics.median(r[key] for r in runs[ra]) for key in ("seconds", "cpu_s", "rss_mb", "rows")}
               for ra in runs}
        for ra in (False, True):
            m = med[ra]
            ratio = f"{med[True]['seconds'] / med[False]['seconds']:.2f}" if ra else ""
            print(f"| {name} | {'pipeline' if ra else 'one thread'} | {m['seconds']:.2f} | {m['cpu_s']:.2f} | "
                  f"{m['cpu_s'] / m['seconds']:.2f} | {m['rss_mb']:.0f} | {m['rows'] / m['seconds']:,.0f} | {ratio} |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
