"""The columnar path's read step alone, beside DuckDB's bare ``read_ndjson`` of the same lines.

For each file (``--events`` short events of about 0.3 KB, in the native and the OpenAI format,
written by ``benchmarks/ingest_check.py``'s generator), times in the same run, each step in a
fresh process with its imports done before the clock starts:

1. ``read_ndjson``: DuckDB's reader of the file into an in-memory table (the floor);
2. ``read_batch``: :func:`monitor.columnar.read_batch` of every block that ``ingest`` reads
   (:func:`monitor.columnar.lines.iter_line_blocks`, ``BATCH_LINES`` lines each), the line
   splitting included; with ``--before DIR`` also with the code of that checkout, alternated.

Prints a table of wall and CPU seconds and their ratios to ``read_ndjson`` (the machine is shared
and noisy: compare within one run; under load the CPU ratio is the steadier one). Not a test.

    python benchmarks/columnar_read.py --events 300000 --before /tmp/parse-before --repeat 3
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ingest_check import _run_child, generate  # noqa: E402  (the benchmark files and the read_ndjson step)


def _child(path: str, fmt: str, root: str | None) -> None:
    """``read_batch`` of every block of the file in this process (imports and the statement's
    connection made before the clock starts); prints JSON."""
    if root:
        sys.path.insert(0, root)
    from monitor.adapters import columnar_mapping
    from monitor.columnar import read_batch
    from monitor.columnar.lines import iter_line_blocks
    from monitor.ingest import BATCH_LINES

    mapping = columnar_mapping(fmt)
    read_batch([b'{"ts": "2026-11-01T00:00:00Z"}'], mapping)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = fast = 0
    for block in iter_line_blocks(path, batch_lines=BATCH_LINES):
        got = read_batch(block.text, mapping)
        rows += len(block)
        fast += int(got.fast.sum())
    print(json.dumps({"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "rows": rows,
                      "fast": fast}))


def _run(kind: str, path: Path, fmt: str, root: str | None = None) -> dict:
    if kind == "duck":  # ingest_check's own read_ndjson step, in a fresh process
        out = _run_child("duck", path, path.parent / "unused")
        return {**out, "fast": out["rows"]}
    extra = ["--root", root] if root else []
    res = subprocess.run([sys.executable, __file__, "--child", str(path), fmt, *extra],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000, help="short events per file")
    parser.add_argument("--formats", default="native,openai", help="comma-separated: native, openai")
    parser.add_argument("--before", default=None, help="a checkout of other code: time its read_batch too")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each step (the table shows the median)")
    parser.add_argument("--workdir", default=None, help="where to put the files (default: a temp dir)")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "FORMAT"), help=argparse.SUPPRESS)
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(*args.child, root=args.root)
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="llm-monitor-read-"))
    work.mkdir(parents=True, exist_ok=True)
    steps = [("read_ndjson", "duck", None)] + ([("before: read_batch", "read", args.before)] if args.before else [])
    steps.append(("read_batch", "read", None))
    table = []
    for fmt in args.formats.split(","):
        log = work / f"short-{fmt}-{args.events}.jsonl"
        if not log.exists():
            generate(log, args.events, shape="short", fmt=fmt)
        runs: dict[str, list[dict]] = {name: [] for name, _, _ in steps}
        for _ in range(args.repeat):
            for name, kind, root in steps:  # alternated, so the load hits every step alike
                runs[name].append(_run(kind, log, fmt, root))
        median = {name: sorted(r, key=lambda x: x["seconds"])[len(r) // 2] for name, r in runs.items()}
        floor = median["read_ndjson"]
        for name, _, _ in steps:
            m = median[name]
            ratios = (m["seconds"] / floor["seconds"], m["cpu_s"] / floor["cpu_s"])
            table.append((fmt, name, m, ratios))
            print(f"  {fmt}: {name} {m['seconds']:.2f} s (CPU {m['cpu_s']:.2f} s), {ratios[0]:.2f}x wall, "
                  f"{ratios[1]:.2f}x CPU, fast rows {m['fast']:,}", flush=True)
    print("\n| file | step | wall s | CPU s | wall x read_ndjson | CPU x read_ndjson | fast rows |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for fmt, name, m, (wall, cpu) in table:
        print(f"| {args.events:,} short {fmt} | {name} | {m['seconds']:.2f} | {m['cpu_s']:.2f} | {wall:.2f} | {cpu:.2f} | "
              f"{m['fast']:,} |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
