"""The statistics query of ``check``: 1M vs 1M stored events, 20 segments x 4 metrics.

Builds (or reuses) the store of ``benchmarks/ingest_check.py``'s check step: ``--events`` short
events (half ``model_version=v1``, half ``v2``, 20 routes) ingested in segments of 100,000 rows,
whose footers carry summaries (monitor/summaries.py). ``--from-store DIR`` copies the segments of
an existing store instead (rewritten through the store's writer, so they get summaries).

Then, in one process, alternating, ``--repeat`` times each: both windows' statistics
(``Monitor.window`` of v1 and of v2, as ``check`` reads them, on one listing)

- by the scan of every row (the statistics query over the ``events`` view: what ``main`` did),
- from the segments' summaries (what ``check`` does now),
- by the summaries path on a store whose segments have none (the fallback: a store written
  before summaries),

and ``llm-monitor check --no-sinks`` as a subprocess (wall time with start-up), and with
``--before DIR`` the same ``Monitor.window`` x 2 by another checkout in a child process. Prints a
table; the machine is shared, so compare within a run. Usage::

    python benchmarks/check_query.py --from-store /tmp/lead-bench/store-check-2000000
    python benchmarks/check_query.py --events 2000000 --work /tmp/check-bench --before /path/to/main
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent))

BY = ["model", "model_version", "route"]
WINDOWS = ("model_version=v1", "model_version=v2")


def build(work: Path, events: int, from_store: str | None) -> tuple[Path, Path]:
    """The store with summaries and one without (same rows)."""
    import pyarrow.parquet as pq

    from monitor.store import Store

    with_summaries, without = work / "store-summaries", work / "store-plain"
    if with_summaries.exists() and without.exists():
        return with_summaries, without
    if from_store is None:
        from ingest_check import generate  # the check step's log (benchmarks/ingest_check.py)
        from monitor.api import open as open_monitor

        log = work / f"check-{events}.jsonl"
        if not log.exists():
            generate(log, events, shape="short")
        open_monitor(with_summaries).ingest([str(log)])
        source = with_summaries
    else:
        source = Path(from_store)
        store = Store(with_summaries)
        for seg in Store(source).live_segments():
            store.write_segment(pq.read_table(seg))
    plain = Store(without)
    for seg in Store(source).live_segments():  # the same rows, footers without summaries
        target = plain.events_dir / seg.name
        pq.write_table(pq.read_table(seg).replace_schema_metadata(None), target, compression="zstd",
                       row_group_size=128_000)
        os.chmod(target, 0o600)  # as private as the store's own segments
    return with_summaries, without


def both_windows(store: Path, how: str) -> float:
    """Seconds for both windows' statistics, ``how`` = ``scan`` or ``summaries``."""
    from monitor.api import open as open_monitor
    from monitor.engines import scan_windows
    from monitor.selectors import parse_selector

    m = open_monitor(store)
    sels = [parse_selector(w) for w in WINDOWS]
    t0 = time.perf_counter()
    if how == "scan":
        m.engine.read(lambda con: scan_windows(con, sels, BY, m.config.length_measure))
    else:
        m.engine.windows(sels, BY, m.config.length_measure)
    return time.perf_counter() - t0


def before_child(root: str, store: Path, repeat: int) -> list[float]:
    """``Monitor.window`` x 2 by the code of another checkout, in a child process."""
    code = ("import sys, time, json; sys.path.insert(0, sys.argv[1]); from monitor.api import open as o; "
            "m = o(sys.argv[2]); by = ['model', 'model_version', 'route']; out = []\n"
            "for _ in range(int(sys.argv[3])):\n"
            "    t0 = time.perf_counter(); m.window('model_version=v1', by); m.window('model_version=v2', by); "
            "out.append(time.perf_counter() - t0)\n"
            "print(json.dumps(out))")
    res = subprocess.run([sys.executable, "-c", code, root, str(store), str(repeat + 1)], capture_output=True,
                         text=True, check=True, cwd=root)
    return json.loads(res.stdout.strip().splitlines()[-1])[1:]


def cli(store: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monitor.cli", "check", "--store", str(store), "--baseline", WINDOWS[0],
                    "--current", WINDOWS[1], "--no-sinks"], capture_output=True, check=False)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--from-store", default=None, help="copy the segments of this store instead of ingesting")
    parser.add_argument("--work", default="/tmp/check-query-bench")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--before", default=None, help="a checkout of other code: its Monitor.window x 2 too")
    parser.add_argument("--fresh", action="store_true", help="rebuild the stores")
    args = parser.parse_args()
    work = Path(args.work)
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    with_summaries, plain = build(work, args.events, args.from_store)

    from monitor.api import open as open_monitor
    from monitor.engines import scan_windows
    from monitor.selectors import parse_selector

    m = open_monitor(with_summaries)
    base, cur = (m.window(w, BY) for w in WINDOWS)
    sels = [parse_selector(w) for w in WINDOWS]
    assert [base, cur] == m.engine.read(lambda con: scan_windows(con, sels, BY, m.config.length_measure)), \
        "summaries and scan differ"
    print(f"store: {sum(s.n for s in base.values()):,} vs {sum(s.n for s in cur.values()):,} events, "
          f"{len(base)} segments x 4 metrics, {len(m.store.live_segments())} Parquet segments; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    times: dict[str, list[float]] = {"scan": [], "summaries": [], "summaries, store without": [], "cli": []}
    for how in ("scan", "summaries"):  # warm the page cache and the imports
        both_windows(with_summaries, how)
    both_windows(plain, "summaries")
    for _ in range(args.repeat):
        times["scan"].append(both_windows(with_summaries, "scan"))
        times["summaries"].append(both_windows(with_summaries, "summaries"))
        times["summaries, store without"].append(both_windows(plain, "summaries"))
    for _ in range(3):
        times["cli"].append(cli(with_summaries))
    if args.before:
        times["before (other checkout)"] = before_child(args.before, plain, args.repeat)
    labels = {"scan": "both windows, scan of every row (main's query)",
              "summaries": "both windows, from the segments' summaries",
              "summaries, store without": "both windows, summaries path, store without summaries (fallback scan)",
              "before (other checkout)": f"both windows, Monitor.window x 2 by {args.before}",
              "cli": "`llm-monitor check --no-sinks`, wall time with start-up"}
    print("\n| step | median s | min s | runs |\n|---|---:|---:|---:|")
    for key, xs in times.items():
        print(f"| {labels[key]} | {statistics.median(xs):.3f} | {min(xs):.3f} | {len(xs)} |")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
