"""Ingest and check throughput, beside DuckDB's bare ``read_ndjson`` of the same file.

For each file (300,000 events of about 0.3 KB, ``--events`` events of about 1.2 KB, each in the
native and the OpenAI format), times in the same run, each step in a fresh process:

1. DuckDB ``read_ndjson`` of the file into an in-memory table (the floor: parsing only);
2. ``ingest`` of the file into a fresh store (parse, validate, signals, dedup, Parquet
   segments), with the process's peak RSS.

Then ``check`` of v1 against v2 (4 metrics x 20 routes) over a store of ``--check-events``
short events: the statistics queries alone, the whole comparison, and the CLI's wall time
with its start-up; and the cost of per-event schemas (a ``check`` of two files of 1,000 events
that each carry their own JSON Schema, against the same files without them).

Prints tables; the ratio ingest / read_ndjson is the figure to watch (the machine is shared
and noisy, so compare within a run). ``--before DIR`` (a checkout of other code, e.g. of
``main``) also ingests each file with that code, alternating with this tree, in the same run.
Not a test.

    python benchmarks/ingest_check.py --events 200000 --short-events 100000 --check-events 200000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

ROUTES = [f"{kind}-{k}" for k in range(5) for kind in ("chat", "support", "extract", "summarize")]  # 20 segments
FILLER = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et "
          "dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip").split()


def generate(path: Path, n: int, seed: int = 1, *, shape: str = "long", fmt: str = "native") -> int:
    """Write ``n`` events; returns the file size in bytes.

    ``shape="long"``: about 1.2 KB (prompt, response of about 90 words, usage, one route in four
    expecting JSON); ``"short"``: about 0.3 KB (no prompt, input tokens or latency; responses of 10-150 words,
    median 22). Twenty routes (five of each kind), so a check has 20 segments.
    ``fmt="openai"`` writes the same events as ``{"ts", "route", "request", "response":
    chat.completion}`` records of the OpenAI adapter.
    """
    rng = np.random.default_rng(seed)
    words = np.array(FILLER)
    if shape == "short":
        lengths = np.clip(rng.lognormal(np.log(22), 0.6, size=n).astype(int), 10, 150)
    else:
        lengths = np.clip(rng.lognormal(np.log(90), 0.35, size=n).astype(int), 5, 400)
    routes = rng.integers(0, len(ROUTES), size=n)
    versions = rng.integers(0, 2, size=n)
    refuse = rng.random(n) < np.where(versions == 1, 0.04, 0.02)
    pool = [" ".join(rng.choice(words, size=160)) for _ in range(64)]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            route = ROUTES[routes[i]]
            if route.startswith("extract"):
                response = json.dumps({"id": i, "total": float(lengths[i]), "items": ["a", "b"]})
            elif refuse[i]:
                response = "I'm sorry, but I can't help with that request."
            elif shape == "short":
                response = " ".join(pool[i % 64].split(" ", lengths[i])[: lengths[i]])
            else:
                response = pool[i % 64][: lengths[i] * 6]
            ts = f"2026-11-{1 + versions[i] * 10 + i % 7:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}Z"
            prompt = None if shape == "short" else pool[(i * 7) % 64][:600]
            out_tokens = int(lengths[i] * 1.3)
            if fmt == "openai":
                request = {"model": "bench-model", "messages": [{"role": "user", "content": prompt or "hi"}]}
                if route.startswith("extract"):
                    request["response_format"] = {"type": "json_object"}
                event = {"ts": ts, "route": route, "latency_ms": 350.0, "task_success": bool(i % 5), "request": request,
                         "response": {"id": f"bench-{i}", "object": "chat.completion", "model": f"bench-model-v{versions[i] + 1}",
                                      "choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": response}}],
                                      "usage": {"prompt_tokens": 150, "completion_tokens": out_tokens}}}
            else:
                event = {"ts": ts, "request_id": f"bench-{i}", "model": "bench-model", "model_version": f"v{versions[i] + 1}",
                         "route": route, "response": response, "output_tokens": out_tokens, "input_tokens": 150,
                         "finish_reason": "stop", "expects_json": route.startswith("extract"), "task_success": bool(i % 5),
                         "latency_ms": 350.0}
                if shape == "short":
                    for key in ("input_tokens", "finish_reason", "latency_ms"):
                        del event[key]
                else:
                    event["prompt"] = prompt
            fh.write(json.dumps(event) + "\n")
    return path.stat().st_size


def _child(kind: str, path: str, store: str, root: str | None = None) -> None:
    """One measured step in a fresh process (imports done before the clock starts); prints JSON.
    ``root``: import the package from this checkout instead of this tree."""
    if root:
        sys.path.insert(0, root)
    from monitor.api import open as open_monitor

    if kind == "duck":
        t0, c0 = time.perf_counter(), time.process_time()
        con = duckdb.connect()
        con.execute(f"CREATE TABLE t AS SELECT * FROM read_ndjson('{path}')")
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
        out = {"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "rows": rows}
    else:
        m = open_monitor(store)
        t0, c0 = time.perf_counter(), time.process_time()
        report = m.ingest([path])
        out = {"seconds": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "rows": report.ingested,
               "quarantined": report.quarantined}
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _run_child(kind: str, path: Path, store: Path, root: str | None = None) -> dict:
    extra = ["--root", root] if root else []
    res = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(store), *extra],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _ingest_rows(work: Path, shapes: list[tuple[str, int]], formats: list[str], before: str | None = None) -> list[tuple]:
    """Per file: read_ndjson, then ingest with ``before`` (when given) and with this tree."""
    rows = []
    for shape, n in shapes:
        for fmt in formats:
            log = work / f"{shape}-{fmt}-{n}.jsonl"
            size = log.stat().st_size if log.exists() else generate(log, n, shape=shape, fmt=fmt)
            duck = _run_child("duck", log, work / "unused")
            store = work / f"store-{shape}-{fmt}-{n}"
            old = None
            if before:
                shutil.rmtree(store, ignore_errors=True)
                old = _run_child("ingest", log, store, before)
                print(f"  {shape}/{fmt}: before: ingest {old['seconds']:.2f} s ({old['seconds'] / duck['seconds']:.2f}x "
                      f"read_ndjson), CPU {old.get('cpu_s', float('nan')):.2f} s", flush=True)
            shutil.rmtree(store, ignore_errors=True)
            ing = _run_child("ingest", log, store)
            rows.append((shape, fmt, n, size / n, duck, ing, old))
            print(f"  {shape}/{fmt}: read_ndjson {duck['seconds']:.2f} s, ingest {ing['seconds']:.2f} s "
                  f"({ing['seconds'] / duck['seconds']:.2f}x), CPU {ing['cpu_s']:.2f} s, peak RSS {ing['rss_mb']:.0f} MB",
                  flush=True)
    return rows


def _check_rows(work: Path, n: int) -> dict:
    """``check`` of v1 against v2 (n/2 events each) per route over a store of ``n`` short events."""
    log = work / f"check-{n}.jsonl"
    if not log.exists():
        generate(log, n, shape="short")
    store = work / f"store-check-{n}"
    if not store.exists():
        _run_child("ingest", log, store)
    from monitor.api import open as open_monitor

    m = open_monitor(store)
    by = ["model", "model_version", "route"]
    m.compare("model_version=v1", "model_version=v2", by=by)  # warm: file listing, page cache
    t0 = time.perf_counter()
    base, cur = m.window("model_version=v1", by), m.window("model_version=v2", by)
    query_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = m.compare("model_version=v1", "model_version=v2", by=by)
    compare_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "monitor.cli", "check", "--store", str(store), "--baseline", "model_version=v1",
                    "--current", "model_version=v2", "--no-sinks"], capture_output=True, check=False)
    cli_s = time.perf_counter() - t0
    return {"n": n, "segments": len(base), "base": sum(s.n for s in base.values()), "cur": sum(s.n for s in cur.values()),
            "findings": len(result.items), "query_s": query_s, "compare_s": compare_s, "cli_s": cli_s}


def _schema_rows(work: Path, n: int = 1000) -> dict:
    """``check`` of two files of ``n`` events whose events each carry their own tool schema,
    against the same files without the schemas (JSON validity only)."""
    def write(path: Path, seed: int, schemas: bool) -> None:
        rng = np.random.default_rng(seed)
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(n):
                props = {f"p{j}_{seed}_{i}": {"type": "integer" if rng.random() < 0.5 else "string"} for j in range(4)}
                args = {k: (1 if v["type"] == "integer" else "x") for k, v in props.items()}
                if rng.random() < 0.1:
                    args.pop(next(iter(props)))
                event = {"ts": f"2026-11-{seed:02d}T10:00:00Z", "request_id": f"t{seed}-{i}", "model": "m",
                         "route": "tools", "response": json.dumps(args), "expects_json": True}
                if schemas:
                    event["schema"] = {"type": "object", "title": f"tool_{seed}_{i}", "properties": props,
                                       "required": list(props)[:2]}
                fh.write(json.dumps(event) + "\n")

    out = {}
    for schemas in (False, True):
        a, b = work / f"tools-a-{schemas}.jsonl", work / f"tools-b-{schemas}.jsonl"
        write(a, 1, schemas)
        write(b, 2, schemas)
        from monitor.api import open as open_monitor

        m = open_monitor(work / "store-tools")
        m.compare(str(a), str(b), by=["model", "route"])  # warm: imports, rule compilation
        t0 = time.perf_counter()
        m.compare(str(a), str(b), by=["model", "route"])
        out[schemas] = time.perf_counter() - t0
    return {"plain_s": out[False], "schema_s": out[True], "per_schema_ms": (out[True] - out[False]) / (2 * n) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events of the 1.2 KB shape (0: none)")
    parser.add_argument("--short-events", type=int, default=300_000, help="events of the 0.3 KB shape (0: none)")
    parser.add_argument("--check-events", type=int, default=2_000_000,
                        help="short events in the check store (half v1, half v2)")
    parser.add_argument("--formats", default="native,openai", help="comma-separated: native, openai")
    parser.add_argument("--skip", default="", help="comma-separated steps to skip: ingest, check, schemas")
    parser.add_argument("--workdir", default=None, help="where to put the files and stores (default: a temp dir)")
    parser.add_argument("--before", default=None, help="a checkout of other code: ingest each file with it too")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "PATH", "STORE"), help=argparse.SUPPRESS)
    parser.add_argument("--root", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child, root=args.root)
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="llm-monitor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    skip = set(filter(None, args.skip.split(",")))
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}, work dir {work}", flush=True)
    if "ingest" not in skip:
        shapes = ([("short", args.short_events)] if args.short_events else []) + ([("long", args.events)] if args.events else [])
        rows = _ingest_rows(work, shapes, args.formats.split(","), args.before)
        print("\n| file | events | bytes/event | read_ndjson s | ingest s | events/s | x read_ndjson | peak RSS MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for shape, fmt, n, per, duck, ing, _ in rows:
            print(f"| {shape} {fmt} | {n:,} | {per:,.0f} | {duck['seconds']:.2f} | {ing['seconds']:.2f} | "
                  f"{ing['rows'] / ing['seconds']:,.0f} | {ing['seconds'] / duck['seconds']:.2f} | {ing['rss_mb']:,.0f} |")
        if args.before:
            print("\n| file | before: ingest s | events/s | x read_ndjson | after: ingest s | events/s | x read_ndjson | after / before |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for shape, fmt, n, per, duck, ing, old in rows:
                print(f"| {shape} {fmt} | {old['seconds']:.2f} | {old['rows'] / old['seconds']:,.0f} | "
                      f"{old['seconds'] / duck['seconds']:.2f} | {ing['seconds']:.2f} | {ing['rows'] / ing['seconds']:,.0f} | "
                      f"{ing['seconds'] / duck['seconds']:.2f} | {ing['seconds'] / old['seconds']:.2f} |")
    if "check" not in skip:
        c = _check_rows(work, args.check_events)
        print(f"\ncheck, {c['base']:,} vs {c['cur']:,} stored events, {c['segments']} segments x 4 metrics "
              f"({c['findings']} findings): query {c['query_s']:.3f} s, compare {c['compare_s']:.3f} s, "
              f"CLI wall {c['cli_s']:.2f} s")
    if "schemas" not in skip:
        sc = _schema_rows(work)
        print(f"\nper-event schemas, check of 2 x 1,000 events: {sc['schema_s']:.2f} s with a schema per event, "
              f"{sc['plain_s']:.2f} s with JSON validity only: {sc['per_schema_ms']:.2f} ms per distinct schema")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
