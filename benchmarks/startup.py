"""Start-up of ``llm-monitor --help``, ``signals`` of a one-line file and ``check`` of two small files.

For each command, ``--runs`` times, alternating this tree and ``--before DIR`` (another
checkout, e.g. ``git worktree add --detach /tmp/startup-before <commit>``): in a fresh process
with ``python -X importtime``, the sum of the top-level imports' cumulative times, and in another
fresh process (no ``-X importtime``) the wall time and the peak resident memory. Prints medians in a table, with the load
average (the machine is shared: compare within a run), where the import time goes (the own
import time of each heavy package's modules, and of ours), and the floor no command that
derives signals can go under: ``import pyarrow.compute`` alone (it brings numpy and pyarrow).

Bytecode caches are written first (one warm-up run of each command in each tree, with
``PYTHONDONTWRITEBYTECODE`` unset), as an installed package has them::

    python benchmarks/startup.py --before /tmp/startup-before --runs 7 [--also patched=/tmp/other-checkout]
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
FLOOR = "import pyarrow.compute"


def _env(root: Path) -> dict[str, str]:
    """The child's environment: ``root``'s ``monitor`` first on the path, bytecode caches on, no sinks."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "SENTRY_DSN", "LLM_MONITOR_STORE", "PYTHONPATH")}
    env["PYTHONPATH"] = str(root)
    return env


def _argv(args: list[str]) -> list[str]:
    return ["-c", FLOOR] if args == [FLOOR] else ["-m", "monitor.cli", *args]


def imports(root: Path, args: list[str], cwd: Path) -> tuple[float, dict[str, float]]:
    """(import seconds, seconds per package of :data:`GROUPS`) of one run from ``root``: the sum
    of the top-level imports' cumulative times reported by ``-X importtime``."""
    res = subprocess.run([sys.executable, "-X", "importtime", *_argv(args)], cwd=cwd, env=_env(root),
                         capture_output=True, text=True, check=False)
    lines = res.stderr.splitlines()
    top = [int(m.group(1)) / 1e6 for m in map(_LINE.match, lines) if m]
    groups = dict.fromkeys(GROUPS, 0.0)
    for m in filter(None, map(_SELF.match, lines)):
        package = m.group(2).split(".")[0].lstrip("_")
        if package in groups:
            groups[package] += int(m.group(1)) / 1e6
    return sum(top), groups


def wall(root: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one run from ``root`` (the child's own rusage, from
    ``os.wait4``); a run that fails (exit 2 or 3) stops the benchmark."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen([sys.executable, *_argv(args)], cwd=cwd, env=_env(root),
                                 stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in (0, 1):
            err.seek(0)
            raise SystemExit(f"{args} in {root} exited {child.returncode}: {err.read().decode()[-500:]}")
    return elapsed, usage.ru_maxrss / 1024


def _inputs(folder: Path) -> dict[str, list[str]]:
    one = folder / "one.jsonl"
    one.write_text(json.dumps({"ts": "2026-11-01T00:00:00Z", "request_id": "r1", "model": "m",
                               "response": "Sure, here is the answer."}) + "\n")
    for name, version, words in (("old.jsonl", "v1", 20), ("new.jsonl", "v2", 35)):
        with open(folder / name, "w") as fh:
            for i in range(100):
                fh.write(json.dumps({"ts": f"2026-11-01T00:{i % 60:02d}:00Z", "request_id": f"{version}-{i}",
                                     "model": "m", "model_version": version, "route": ("chat", "faq")[i % 2],
                                     "response": "word " * (words + i % 9)}) + "\n")
    return {"llm-monitor --help": ["--help"],
            "llm-monitor signals one-line.jsonl": ["signals", str(one)],
            "llm-monitor check (2 files of 100 events)": ["check", "--baseline", str(folder / "old.jsonl"),
                                                          "--current", str(folder / "new.jsonl"), "--no-sinks",
                                                          "--store", str(folder / "store")],
            f"python -c '{FLOOR}' (the floor)": [FLOOR]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=None, help="another checkout to alternate with")
    parser.add_argument("--also", action="append", default=[], metavar="NAME=DIR",
                        help="more checkouts to alternate with (e.g. this tree with a patch applied)")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    commands = _inputs(folder)
    trees = {"this tree": HERE, **({"before": Path(args.before).resolve()} if args.before else {})}
    for spec in args.also:
        name, sep, where = spec.partition("=")
        if not sep or not Path(where).is_dir():
            parser.error(f"--also {spec!r}: expected NAME=DIR with an existing DIR")
        trees[name] = Path(where).resolve()
    for root in trees.values():  # bytecode caches, as an installed package has them
        for argv in commands.values():
            wall(root, argv, folder)
    results: dict[tuple[str, str], list[tuple[float, float, float, dict[str, float]]]] = {}
    loads = [os.getloadavg()[0]]
    for _ in range(args.runs):
        for name, argv in commands.items():
            for tree, root in trees.items():
                if argv == [FLOOR] and tree != "this tree":
                    continue  # the same packages in both trees
                seconds, groups = imports(root, argv, folder)
                results.setdefault((name, tree), []).append((seconds, *wall(root, argv, folder), groups))
    loads.append(os.getloadavg()[0])
    print(f"load average {loads[0]:.1f} -> {loads[1]:.1f}, {args.runs} runs each, alternating; "
          f"{os.cpu_count()} cores\n")
    print("| command | tree | imports (median s) | wall (median s) | peak RSS (MB) | " + " | ".join(GROUPS) + " |")
    print("|---|---|---:|---:|---:|" + "---:|" * len(GROUPS))
    for (name, tree), rs in results.items():
        own = " | ".join(f"{statistics.median(r[3][g] for r in rs):.3f}" for g in GROUPS)
        print(f"| `{name}` | {tree} | {statistics.median(r[0] for r in rs):.3f} | "
              f"{statistics.median(r[1] for r in rs):.3f} | {statistics.median(r[2] for r in rs):.0f} | {own} |")
    print("\n(the package columns: the sum of the package's modules' own import times, median s)")


if __name__ == "__main__":
    main()
