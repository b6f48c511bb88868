"""Nightly job and HTML report on a large store: time per step and report size. Not a test.

Generates the demo traffic (``monitor.demo``: acme-chat old version days -8..-2, new version
yesterday with four injected regressions, a control model every day) scaled to N events
(default 1,000,000), ingests it day by day (yesterday in 24 hourly files, so compaction has
small segments to merge), then times the steps of ``llm-monitor nightly --report`` and of a
model-swap ``check --report``, and prints the report's size.

    python benchmarks/report_build.py --events 1000000 [--store DIR]

With ``--store`` pointing at a store this script built before, generation and ingest are
skipped (compaction then finds nothing to merge).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import tempfile
import time
from pathlib import Path

import monitor
from monitor.compaction import compact
from monitor.demo import NEW_VERSION, OLD_VERSION, generate_events, write_log
from monitor.nightly import locate_changes, name_versions, nightly_windows, version_inventory
from monitor.report import write_report

CELLS = 12  # 5 routes x 2 versions + 2 control-model routes, as in monitor.demo.generate_events


def build(root: Path, events: int) -> dict[str, float]:
    """Generate and ingest; returns timings."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    rows = generate_events(per_cell=max(events // CELLS, 1), seed=7)
    timings["generate"] = time.perf_counter() - t
    yesterday = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
    groups: dict[str, list[dict]] = {}
    for e in rows:
        day = e["ts"][:10]
        key = f"{day}-{e['ts'][11:13]}" if day == yesterday else day
        groups.setdefault(key, []).append(e)
    del rows
    logs = root.parent / "logs"
    files = []
    t = time.perf_counter()
    for key, part in sorted(groups.items()):
        path = logs / f"{key}.jsonl"
        write_log(part, path)
        files.append(str(path))
    timings["write logs"] = time.perf_counter() - t
    del groups
    m = monitor.open(root)
    t = time.perf_counter()
    for path in files:  # one ingest per file: one segment per day, 24 for yesterday
        m.ingest([path])
    timings["ingest"] = time.perf_counter() - t
    shutil.rmtree(logs, ignore_errors=True)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--store", help="store directory (default: a fresh temporary one)")
    args = parser.parse_args()
    root = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="llm-monitor-bench-")) / "store"
    timings: dict[str, float] = {}
    if not (root / "events").is_dir() or not any((root / "events").iterdir()):
        timings.update(build(root, args.events))
    m = monitor.open(root)
    n = int(m.sql("select count(*) as n from events").n.iloc[0])
    segments_before = len(m.store.live_segments())
    day = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)

    t = time.perf_counter()
    report = compact(m.store, day)
    timings["nightly: compaction"] = time.perf_counter() - t
    baseline, current = nightly_windows(day, m.config.nightly_baseline_days)
    t = time.perf_counter()
    comparison = m.compare(baseline, current, by=["model", "route"])
    timings["nightly: compare"] = time.perf_counter() - t
    t = time.perf_counter()
    inventory = version_inventory(m, comparison.by, baseline, current)
    name_versions(comparison.items, inventory, comparison.by)
    locate_changes(m, comparison.items, comparison.by, baseline, current, inventory=inventory)
    timings["nightly: versions + change points"] = time.perf_counter() - t
    out = root.parent / "nightly-report.html"
    t = time.perf_counter()
    write_report(m, comparison, out)
    timings["nightly: report"] = time.perf_counter() - t

    swap = m.compare(f"model_version={OLD_VERSION}", f"model_version={NEW_VERSION}", by=["model", "route"])
    out2 = root.parent / "swap-report.html"
    t = time.perf_counter()
    write_report(m, swap, out2)
    timings["check (model swap): report"] = time.perf_counter() - t

    print(f"events in store: {n:,}; segments before compaction: {segments_before}; {report.summary()}")
    print(f"alerts: nightly {len(comparison.alerts)}, model swap {len(swap.alerts)}")
    print(f"{'step':<38}{'seconds':>10}")
    for name, seconds in timings.items():
        print(f"{name:<38}{seconds:>10.2f}")
    for label, path in (("nightly report", out), ("model-swap report", out2)):
        text = path.read_text()
        print(f"{label}: {path} {path.stat().st_size / 1e6:.2f} MB, {text.count('<img')} pictures")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.0f} MB")


if __name__ == "__main__":
    main()
