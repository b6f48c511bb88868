"""Start-up of ``llm-monitor --help`` and ``llm-monitor signals`` of a one-line file.

For each command, ``--runs`` times, alternating this tree and ``--before DIR`` (another
checkout, e.g. of ``main``): the sum of the top-level import times reported by
``python -X importtime`` and the process's wall time, each in a fresh process. Prints medians
in a table, with the load average (the machine is shared: compare within a run)::

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


def run(root: Path, args: list[str]) -> tuple[float, float, dict[str, float]]:
    """(import seconds, wall seconds, top-level modules' seconds) of one ``llm-monitor`` run from ``root``."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-X", "importtime", "-m", "monitor.cli", *args], cwd=root,
                         capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    top = {m.group(2): int(m.group(1)) / 1e6 for m in map(_LINE.match, res.stderr.splitlines()) if m}
    return sum(top.values()), wall, top


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
    print("| command | tree | imports (median s) | wall (median s) | biggest top-level imports (median s) |")
    print("|---|---|---:|---:|---|")
    for (name, tree), rs in results.items():
        mods: dict[str, list[float]] = {}
        for _, _, top in rs:
            for mod, s in top.items():
                mods.setdefault(mod, []).append(s)
        biggest = sorted(((statistics.median(v), k) for k, v in mods.items()), reverse=True)[:4]
        print(f"| `{name}` | {tree} | {statistics.median(r[0] for r in rs):.3f} | "
              f"{statistics.median(r[1] for r in rs):.3f} | {', '.join(f'{k} {s:.2f}' for s, k in biggest)} |")


if __name__ == "__main__":
    main()
