"""Refusal classifier speed, before and after, in one run (``text_signals``: lengths + refusal).

Usage: python benchmarks/refusal_speed.py --before DIR [--rows 100000] [--rounds 3]

``DIR`` is a checkout of the code to compare with (e.g. ``git worktree add /tmp/main main``).
Each measurement runs in a fresh process that imports the classifier from one checkout, warms
it up on 1,000 rows (imports, one-time tables) and then times, in CPU seconds (every thread):

* ``dev x N``: the XSTest dev set's responses (about 45% refusals) replicated to ``--rows`` rows,
  one call;
* ``chat x N``: short chat answers of the ingest benchmark (2-4% refusals, a fifth JSON),
  ``--rows`` rows, one call;
* ``sidecar batch``: 5,000 rows of the same chat answers, one call: the sidecar's largest batch;
* ``small batch``: 1,000 rows of them: a sidecar's batch at about 1,000 events/s;
* ``one row``: a single refusal, one call: the fixed cost of a call.

The checkouts alternate within each round; the table gives the median per row and checks that
both checkouts gave the same class, rule and span on every row (a digest of the three columns).
Not a test.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEV = ROOT.parent / "shared" / "data" / "refusal_dev_xstest.jsonl"
CASES = ("dev", "chat", "sidecar batch", "small batch", "one row")
BATCH_ROWS = {"sidecar batch": 5000, "small batch": 1000}


def _texts(case: str, rows: int, chat_file: Path) -> list[str]:
    if case == "one row":
        return ["I'm sorry, but I can't help with that request."]
    if case == "dev":
        base = [json.loads(line)["response"] for line in DEV.open(encoding="utf-8")]
    else:
        base = [json.loads(line)["response"] for line in chat_file.open(encoding="utf-8")]
    n = BATCH_ROWS.get(case, rows)
    return (base * (n // len(base) + 1))[:n]


def _child(root: str, case: str, rows: int, chat_file: str) -> None:
    sys.path.insert(0, root)
    from monitor.signals.refusal import text_signals

    texts = _texts(case, rows, Path(chat_file))
    models = ["m"] * len(texts)
    text_signals(texts[:1000], models[:1000])
    text_signals(["I cannot help with that."], ["m"])
    c0 = time.process_time()
    out = text_signals(texts, models)
    cpu = time.process_time() - c0
    digest = hashlib.sha256(json.dumps([out[c].tolist() for c in ("refusal_class", "refusal_rule", "refusal_span")]
                                       ).encode()).hexdigest()[:16]
    print(json.dumps({"cpu": cpu, "rows": len(texts), "digest": digest}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="checkout of the code to compare with (required)")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        root, case, rows, chat = args.child
        _child(root, case, int(rows), chat)
        return
    if not args.before:
        ap.error("--before DIR is required")
    sys.path.insert(0, str(HERE))
    from ingest_check import generate

    work = Path(tempfile.mkdtemp(prefix="refusal-speed-"))
    chat = work / "chat.jsonl"
    generate(chat, 20_000, shape="short")
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    runs: dict[tuple[str, str], list[dict]] = {}
    for _ in range(args.rounds):
        for case in CASES:
            for name, root in (("before", args.before), ("after", str(ROOT))):
                res = subprocess.run([sys.executable, __file__, "--child", root, case, str(args.rows), str(chat)],
                                     capture_output=True, text=True, check=True)
                runs.setdefault((case, name), []).append(json.loads(res.stdout.strip().splitlines()[-1]))
    print("\n| case | rows | before: CPU s (median) | after: CPU s (median) | after / before | before s/100k | after s/100k | same decisions |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for case in CASES:
        b, a = runs[(case, "before")], runs[(case, "after")]
        mb, ma = statistics.median(r["cpu"] for r in b), statistics.median(r["cpu"] for r in a)
        n = a[0]["rows"]
        same = {r["digest"] for r in a + b}
        print(f"| {case} | {n:,} | {mb:.3f} | {ma:.3f} | {ma / mb:.2f} | {mb / n * 1e5:.2f} | {ma / n * 1e5:.2f} | "
              f"{'yes' if len(same) == 1 else 'NO'} |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
