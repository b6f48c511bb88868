"""Ingest and check throughput, beside DuckDB's bare ``read_ndjson`` of the same file.

Generates N native events (default 1,000,000, about 1.2 KB each: prompt, response, usage,
one route in four expecting JSON), then times, in the same run:

1. DuckDB ``read_ndjson`` of the file into an in-memory table (the floor: parsing only);
2. ``llm-monitor ingest`` of the file into a fresh store (parse, validate, signals, dedup,
   Parquet segments);
3. one ``check`` of two model versions per route over the store.

Prints a table; the ratio ingest / read_ndjson is the figure to watch (the machine is
shared and noisy, so compare within a run). Not a test.

    python benchmarks/ingest_check.py --events 200000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from monitor.api import open as open_monitor

ROUTES = ["chat", "support", "extract", "summarize"]
FILLER = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et "
          "dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco laboris nisi ut aliquip").split()


def generate(path: Path, n: int, seed: int = 1, *, shape: str = "long", fmt: str = "native") -> int:
    """Write ``n`` events; returns the file size in bytes.

    ``shape="long"``: about 1.2 KB (prompt, response of about 90 words, usage, one route in four
    expecting JSON); ``"short"``: about 0.3 KB (no prompt, usage or labels; responses of 10-150 words, median 22).
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
            if route == "extract":
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
                if route == "extract":
                    request["response_format"] = {"type": "json_object"}
                event = {"ts": ts, "route": route, "latency_ms": 350.0, "task_success": bool(i % 5), "request": request,
                         "response": {"id": f"bench-{i}", "object": "chat.completion", "model": f"bench-model-v{versions[i] + 1}",
                                      "choices": [{"index": 0, "finish_reason": "stop",
                                                   "message": {"role": "assistant", "content": response}}],
                                      "usage": {"prompt_tokens": 150, "completion_tokens": out_tokens}}}
            else:
                event = {"ts": ts, "request_id": f"bench-{i}", "model": "bench-model", "model_version": f"v{versions[i] + 1}",
                         "route": route, "response": response, "output_tokens": out_tokens, "input_tokens": 150,
                         "finish_reason": "stop", "expects_json": route == "extract", "task_success": bool(i % 5),
                         "latency_ms": 350.0}
                if shape == "short":
                    for key in ("input_tokens", "finish_reason", "expects_json", "task_success", "latency_ms"):
                        del event[key]
                else:
                    event["prompt"] = prompt
            fh.write(json.dumps(event) + "\n")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workdir", default=None, help="where to put the file and store (default: a temp dir)")
    args = parser.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="llm-monitor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = work / "events.jsonl"
    t0 = time.perf_counter()
    size = generate(log, args.events)
    gen_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_ndjson('{log}')")
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    con.close()
    duck_s = time.perf_counter() - t0

    m = open_monitor(work / "store")
    t0 = time.perf_counter()
    report = m.ingest([str(log)])
    ingest_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = m.compare("model_version=v1", "model_version=v2", by=["model", "model_version", "route"])
    check_s = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(f"events: {args.events:,}  file: {size / 1e6:,.0f} MB  (generated in {gen_s:.1f} s)  cores: {os.cpu_count()}")
    print(f"{'step':<34} {'seconds':>8} {'events/s':>12} {'x read_ndjson':>14}")
    print(f"{'duckdb read_ndjson (bare)':<34} {duck_s:>8.2f} {rows / duck_s:>12,.0f} {1.0:>14.2f}")
    print(f"{'llm-monitor ingest':<34} {ingest_s:>8.2f} {report.ingested / ingest_s:>12,.0f} {ingest_s / duck_s:>14.2f}")
    print(f"{'llm-monitor check (v1 vs v2/route)':<34} {check_s:>8.2f} {args.events / check_s:>12,.0f} {check_s / duck_s:>14.2f}")
    print(f"ingested {report.ingested:,}, quarantined {report.quarantined}, findings {len(result.items)}, "
          f"alerts {len(result.alerts)}, peak RSS {rss_mb:,.0f} MB, work dir {work}")


if __name__ == "__main__":
    main()
