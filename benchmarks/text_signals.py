"""The signals of ingest's batches (lengths, refusal, parse status), before and after, in one run.

Usage: python benchmarks/text_signals.py --before DIR [--events 300000] [--rounds 5]

``DIR`` is a checkout of the code to compare with (``git worktree add --detach /tmp/x <commit>``).
The responses (with model and ``expects_json``) of ``--events`` short events of
``benchmarks/ingest_check.py`` are read once into Parquet; then each measurement runs in a fresh
process that imports one checkout and warms up on 3,000 rows, and times, wall and CPU seconds
(every thread):

* ``text``: ``text_signal_columns`` (lengths and refusal) over the responses in batches of
  ingest's ``BATCH_LINES`` (100,000);
* ``signals``: ``signal_columns`` (the above plus the parse status of the rows expecting JSON),
  the same batches: the call ingest makes;
* ``text, one thread``: ``text`` with the thread pool off (``pool.PARALLEL_ROWS`` raised past the
  batch; the "before" checkout has no pool): the effect of the other changes alone;
* ``sidecar``: ``signal_columns`` of one 5,000-row batch (below the size where the kernels are
  split over threads: it shows the cost of the other changes alone);
* ``first call``: import and the first ``signal_columns`` call of 1,000 rows in a new process (the
  one-off compile of the rules), wall seconds.

Before each round, a control measures how much of a second core the process can get at that
moment: a GIL-free numpy kernel run twice in one thread, then once in each of two threads
(``headroom`` = one-thread wall / two-thread wall: 2.0 with two idle cores, 1.0 when the machine
gives the process no more than one core, whatever its threads). The pool can only gain wall time
in rounds where the control shows headroom.

The checkouts alternate within each round; the table gives medians and ``after / before``, and
checks that both checkouts gave the same columns (a digest of every signal column). Not a test.
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
CASES = ("text", "text, one thread", "signals", "sidecar", "first call")
BATCH = 100_000


def _child(root: str, case: str, data: str) -> None:
    t_start = time.perf_counter()
    sys.path.insert(0, root)
    import numpy as np
    import pyarrow.parquet as pq

    from monitor.signals import signal_columns
    from monitor.signals.refusal import text_signal_columns

    if case == "text, one thread":
        try:
            from monitor import pool
        except ImportError:  # a checkout without the pool: one thread anyway
            pass
        else:
            pool.PARALLEL_ROWS = 1 << 62
    table = pq.read_table(data)
    resp, model, ej = (table[c].combine_chunks() for c in ("response", "model", "expects_json"))
    if case == "first call":
        out = signal_columns(resp[:1000], model[:1000], None, ej[:1000])
        wall, cpu, outs = time.perf_counter() - t_start, time.process_time(), [out]
    else:
        signal_columns(resp[:3000], model[:3000], None, ej[:3000])
        n = 5000 if case == "sidecar" else len(resp)
        step = n if case == "sidecar" else BATCH
        t0, c0 = time.perf_counter(), time.process_time()
        outs = [text_signal_columns(resp[i:i + step], model[i:i + step]) if case.startswith("text")
                else signal_columns(resp[i:i + step], model[i:i + step], None, ej[i:i + step])
                for i in range(0, n, step)]
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    digest = hashlib.sha256()
    for name in sorted(outs[0]):
        digest.update(json.dumps(np.concatenate([o[name] for o in outs]).tolist()).encode())
    print(json.dumps({"wall": wall, "cpu": cpu, "rows": sum(len(o["chars"]) for o in outs),
                      "digest": digest.hexdigest()[:16]}))


def _headroom() -> float:
    """One-thread wall / two-thread wall of the same GIL-free numpy work (see the docstring)."""
    import threading

    import numpy as np

    data = np.random.default_rng(0).integers(0, 255, 20_000_000, dtype=np.uint8)
    outs = [np.empty(len(data), dtype=bool) for _ in range(2)]  # no allocation in the timed part

    def work(k: int = 0) -> None:
        for _ in range(8):
            np.less_equal(data, 32, out=outs[k])
            np.count_nonzero(outs[k])

    work()
    t0 = time.perf_counter()
    work()
    work()
    one = time.perf_counter() - t0
    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return one / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="checkout of the code to compare with (required)")
    ap.add_argument("--events", type=int, default=300_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    if not args.before:
        ap.error("--before DIR is required")
    sys.path.insert(0, str(HERE))
    import duckdb
    from ingest_check import generate

    work = Path(tempfile.mkdtemp(prefix="text-signals-"))
    generate(work / "short.jsonl", args.events, shape="short")
    con = duckdb.connect()
    con.execute(f"COPY (SELECT response, model, expects_json FROM read_ndjson('{work / 'short.jsonl'}')) "
                f"TO '{work / 'short.parquet'}' (FORMAT parquet)")
    con.close()
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}", flush=True)
    runs: dict[tuple[str, str], list[dict]] = {}
    headroom = []
    for _ in range(args.rounds):
        headroom.append(_headroom())
        for case in CASES:
            for name, root in (("before", args.before), ("after", str(ROOT))):
                res = subprocess.run([sys.executable, __file__, "--child", root, case, str(work / "short.parquet")],
                                     capture_output=True, text=True, check=True)
                runs.setdefault((case, name), []).append(json.loads(res.stdout.strip().splitlines()[-1]))
    print("\n| case | rows | before wall s | after wall s | after / before (wall) | before CPU s | after CPU s "
          "| after / before (CPU) | same columns |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for case in CASES:
        b, a = runs[(case, "before")], runs[(case, "after")]
        wb, wa = (statistics.median(r["wall"] for r in x) for x in (b, a))
        cb, ca = (statistics.median(r["cpu"] for r in x) for x in (b, a))
        same = len({r["digest"] for r in a + b}) == 1
        print(f"| {case} | {a[0]['rows']:,} | {wb:.3f} | {wa:.3f} | {wa / wb:.2f} | {cb:.3f} | {ca:.3f} | {ca / cb:.2f} "
              f"| {'yes' if same else 'NO'} |")
    print(f"load average at end: {os.getloadavg()[0]:.1f}; headroom per round (2.0 = two idle cores, "
          f"1.0 = one core's worth): {', '.join(f'{h:.2f}' for h in headroom)}")


if __name__ == "__main__":
    main()
