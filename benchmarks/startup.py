"""Start-up of ``llm-monitor --help`` and ``llm-monitor signals`` of a one-line file.

For each command, ``--runs`` times, alternating this tree and ``--before DIR`` (another
checkout, e.g. of ``main``): the sum of the top-level import times reported by
``python -X importtime`` and the process's wall time, each in a fresh process. Prints medians
in a table, with the load average (the machine is shared: compare within a run), and
where the import time goes: the own import time of each heavy package's modules, and of ours::

    python benchmarks/startup.py --before /path/to/main --runs 7
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$")  # one space of indent: a top-level import
_SELF = re.compile(r"import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)$")  # every module's own time
GROUPS = ("numpy", "pyarrow", "duckdb", "pandas", "scipy", "detectors", "monitor")
"""Packages whose modules' own import times are summed (``monitor`` and ``detectors``: ours)."""


def run(root: Path, args: list[str]) -> tuple[float, float, dict[str, float]]:
    """(import seconds, wall seconds, seconds per package of :data:`GROUPS`) of one ``llm-monitor``
    run from ``root``; the import seconds are the sum of the top-level imports' cumulative times."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "monitor.cli", *args], cwd=root,
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    lines = res.stderr.splitlines()
    top = {m.group(2): int(m.group(1)) / 1e6 for m in map(_LINE.match, lines) if m}
    groups = dict.fromkeys(GROUPS, 0.0)
    for m in filter(None, map(_SELF.match, lines)):
        package = m.group(2).split(".")[0].lstrip("_")
        if package in groups:
            groups[package] += int(m.group(1)) / 1e6
    return sum(top.values()), wall, groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=None, help="another checkout to alternate with")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    log = Path(tempfile.mkdtemp(prefix="startup-bench-")) / "one.jsonl"
    log.write_text(json.dumps({"ts": "2026-11-01T00:00:00Z", "request_id": "r1", "model": "m",
                               "response": "Sure, here is the answer."}) + "\n")
    commands = {"llm-monitor --help": ["--help"], "llm-monitor signals one-line.jsonl": ["signals", str(log)]}
    trees = {"this tree": HERE, **({"before": Path(args.before).resolve()} if args.before else {})}
    results: dict[tuple[str, str], list[tuple[float, float, dict[str, float]]]] = {}
    loads = [os.getloadavg()[0]]
    for _ in range(args.runs):
        for name, argv in commands.items():
            for tree, root in trees.items():
                results.setdefault((name, tree), []).append(run(root, argv))
    loads.append(os.getloadavg()[0])
    print(f"load average {loads[0]:.1f} -> {loads[1]:.1f}, {args.runs} runs each, alternating\n")
    print("| command | tree | imports (median s) | wall (median s) | " + " | ".join(GROUPS) + " |")
    print("|---|---|---:|---:|" + "---:|" * len(GROUPS))
    for (name, tree), rs in results.items():
        own = " | ".join(f"{statistics.median(r[2][g] for r in rs):.3f}" for g in GROUPS)
        print(f"| `{name}` | {tree} | {statistics.median(r[0] for r in rs):.3f} | "
              f"{statistics.median(r[1] for r in rs):.3f} | {own} |")
    print("\n(the package columns: the sum of the package's modules' own import times, median s)")


if __name__ == "__main__":
    main()
