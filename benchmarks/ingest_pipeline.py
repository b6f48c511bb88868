"""``ingest`` as a pipeline vs the same code on one thread, alternated in one run.

For each file, ``--runs`` rounds of runs, each in a fresh process (imports done before the clock
starts) into a fresh store, the variants' order reversed every other round: ``one thread``
(``ingest_files(..., run_ahead=False)``: read, load and commit one block after the other),
and ``pipeline`` (``run_ahead=True``: lines read ahead, block N+1 loaded while block N is
committed).
Prints wall seconds, CPU seconds, cores used (CPU / wall) and peak RSS, with medians and each
variant's wall time over the first variant's. The machine is shared: the ratio
within the run is the figure, with the load average printed. Not a test.

    python benchmarks/ingest_pipeline.py --runs 3 --variants "one thread,pipeline" FILE [FILE ...]
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


def _child(path: str, store: str, variant: str) -> None:
    from monitor.config import Config
    from monitor.ingest import ingest_files
    from monitor.store import Store

    run_ahead = variant == "pipeline"

    target = Store(store)
    t0, c0 = time.perf_counter(), time.process_time()
    report = ingest_files([path], target, Config(), run_ahead=run_ahead)
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                      "rows": report.ingested, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


VARIANTS = ["one thread", "pipeline"]


def _run(path: str, work: Path, variant: str) -> dict:
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    out = subprocess.run([sys.executable, __file__, "--child", path, str(store), variant],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default="one thread,pipeline",
                        help=f"comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="ingest-pipeline-"))
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    rows = []
    try:
        for path in args.files:
            variants = args.variants.split(",")
            runs: dict[str, list[dict]] = {v: [] for v in variants}
            for k in range(args.runs):
                for variant in (variants if k % 2 == 0 else variants[::-1]):
                    r = _run(path, work, variant)
                    runs[variant].append(r)
                    print(f"  {Path(path).name} {variant}: {r['seconds']:.2f} s wall, "
                          f"{r['cpu_s']:.2f} s CPU, {r['rss_mb']:.0f} MB", flush=True)
            rows.append((Path(path).name, runs))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| file | path | wall s (median) | CPU s | cores used | peak RSS MB | events/s | wall / first row's |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, runs in rows:
        med = {v: {key: statistics.median(r[key] for r in runs[v]) for key in ("seconds", "cpu_s", "rss_mb", "rows")}
               for v in runs}
        base = next(iter(med.values()))["seconds"]
        for variant, m in med.items():
            print(f"| {name} | {variant} | {m['seconds']:.2f} | {m['cpu_s']:.2f} | {m['cpu_s'] / m['seconds']:.2f} | "
                  f"{m['rss_mb']:.0f} | {m['rows'] / m['seconds']:,.0f} | {m['seconds'] / base:.2f} |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
