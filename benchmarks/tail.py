"""Benchmark of ``llm-monitor tail`` (prints tables; not a test).

1. **Alert latency**: a line written to the log -> the alert event received by a loopback
   Sentry receiver, after a step change (refusal rate 2% -> 100% on one route), at default
   settings. One trial per route; p50 / p99 over the trials. With ~50 events/s per route the
   statistical part of the delay is a handful of events (< 0.2 s); the rest is the system.
2. **Throughput**: ``tail --once`` over N events of ~1.2 KB, pinned to one core
   (``taskset -c 0``), start-up time subtracted; plus an in-process profile saying where the
   time of one batch goes (parse / convert+validate / signals / commit / statistics).
3. **Memory**: RSS of a tailer fed continuously (with rotations and deletion of old files)
   for ``--rss-minutes``; samples every 5 s.
4. **Metrics cost**: ``tail --once`` throughput with ``--metrics-addr`` (scraped every 0.5 s
   while it runs) against without, runs alternated, one core; the cost in percent.
5. **Disk**: bytes per million events in the store, as committed and after compaction.
6. **Footprint**: the RSS of importing what ``tail`` imports (fresh interpreter), and a sidecar
   at default settings fed at a fixed rate (1,000 and 20,000 events/s): RSS in steady state
   and CPU seconds per million events (from ``/proc/<pid>/stat``).

Usage::

    python benchmarks/tail.py                     # all of them, ~20 minutes
    python benchmarks/tail.py --only latency --trials 10
    python benchmarks/tail.py --only metrics
    python benchmarks/tail.py --only footprint --footprint-seconds 60
    python benchmarks/tail.py --only disk
    git worktree add --detach /tmp/before main
    python benchmarks/tail.py --only footprint --before /tmp/before   # before/after in one run
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

WORDS = ("alpha beta gamma delta answer model the quality summary result value data system output "
         "request token latency service").split()


def event_line(i: int, *, route: str = "chat", refuse: bool = False, rng: random.Random | None = None,
               ts: str | None = None, prefix: str = "e") -> bytes:
    """A native event of about 1.2 KB (its request id has a random part, like real ids: no order to exploit)."""
    rng = rng or random.Random(i)
    if refuse:
        text = "I can't help with that."
    else:
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(130, 170)))
    return json.dumps({"ts": ts or datetime.now(timezone.utc).isoformat(),
                       "request_id": f"{prefix}-{rng.getrandbits(48):012x}-{i}",
                       "model": "m", "model_version": "v1", "route": route,
                       "prompt": "Summarise the following support ticket for the on-call engineer.",
                       "response": text, "output_tokens": len(text) // 4}).encode()


def env_without_sentry(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SENTRY_DSN", "LLM_MONITOR_STORE")}
    env.update(extra)
    return env


def read_status(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def wait_status(path: Path, pred, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = read_status(path)
        if st is not None and pred(st):
            return st
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for status in {path}: {read_status(path)}")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))
    return s[k]


# ----------------------------------------------------------------------------- latency
def bench_latency(work: Path, trials: int, rate: float) -> None:
    from monitor.config import Config
    from monitor.ingest import ingest_files
    from monitor.store import Store
    from sentry_receiver import SentryReceiver

    routes = [f"r{k:02d}" for k in range(trials)]
    store = Store(work / "lat-store")
    base = work / "baseline.jsonl"
    rng = random.Random(1)
    ts = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()
    with open(base, "wb") as fh:
        for k, route in enumerate(routes):
            for i in range(1000):
                fh.write(event_line(k * 10_000 + i, route=route, refuse=rng.random() < 0.02, rng=rng, ts=ts,
                                    prefix="base") + b"\n")
    ingest_files([str(base)], store, Config(), input_format="native")
    receiver = SentryReceiver().start()
    log = work / "lat.log"
    log.write_bytes(b"")
    status = work / "lat-status.json"
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "tail", str(log), "--store", str(store.root),
                             "--status-file", str(status), "--status-interval", "1"],
                            env=env_without_sentry(SENTRY_DSN=receiver.dsn), stderr=subprocess.DEVNULL, cwd=work)
    wait_status(status, lambda s: s["segments_monitored"] == len(routes))
    regressed: set[str] = set()
    stop = threading.Event()
    first_bad: dict[str, float] = {}

    def writer() -> None:
        i = 0
        wrng = random.Random(2)
        with open(log, "ab") as fh:
            while not stop.is_set():
                t0 = time.monotonic()
                for _ in range(int(rate / 20)):
                    route = routes[i % len(routes)]
                    bad = route in regressed
                    fh.write(event_line(i, route=route, refuse=bad or wrng.random() < 0.02, rng=wrng, prefix="cur")
                             + b"\n")
                    fh.flush()
                    if bad and route not in first_bad:
                        first_bad[route] = time.time()
                    i += 1
                time.sleep(max(0.0, 0.05 - (time.monotonic() - t0)))

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    time.sleep(5)  # steady state
    latencies = []
    for route in routes:
        regressed.add(route)
        want = f"route={route}"
        ok = receiver.wait_for(lambda r: any(e["fingerprint"][2].endswith(want) for e in r.events()), timeout=60)
        if not ok:
            print(f"  no alert for {route} within 60 s")
            continue
        got = min(q.at for q in receiver.requests if q.status == 200 and q.envelope is not None and any(
            want in json.dumps(it.json().get("fingerprint", [])) for it in q.envelope.items_of("event")))
        latencies.append(got - first_bad[route])
        time.sleep(0.5)
    stop.set()
    w.join()
    proc.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    rc = proc.wait(30)
    shutdown = time.monotonic() - t0
    false_alerts = [e for e in receiver.events() if e["fingerprint"][1] != "refusal_rate"]
    receiver.stop()
    print("\n## Alert latency (line written -> event at the loopback receiver), default settings")
    print(f"step: refusal 2% -> 100% on one route; traffic {rate:.0f} events/s over {len(routes)} routes "
          f"({rate / len(routes):.0f}/s per route)")
    print("| trials | p50 s | p99 s | max s | min s | shutdown s (SIGTERM) | other alerts |")
    print("|---|---|---|---|---|---|---|")
    if latencies:
        print(f"| {len(latencies)} | {statistics.median(latencies):.2f} | {pct(latencies, 0.99):.2f} | "
              f"{max(latencies):.2f} | {min(latencies):.2f} | {shutdown:.2f} (rc {rc}) | {len(false_alerts)} |")


def bench_statistical_delay(runs: int) -> None:
    """Detection delay of the tailer's detectors alone (simulated clock, no I/O), for context."""
    import numpy as np

    from detectors.histogram import IntHistogram
    from monitor.config import Config
    from monitor.tail.detect import WindowState
    from monitor.stats import SegmentStats

    floors = Config().policy.floors
    rng = np.random.default_rng(9)

    def lengths(n: int) -> IntHistogram:
        return IntHistogram.from_samples(np.rint(rng.lognormal(6, 0.5, n)).astype(int))

    print("\nStatistical part alone (tail.detect.WindowState on a simulated clock, checks every second, "
          "default budget 1 false alarm / 30 days / metric-segment):")
    print("| change | rate | runs | median delay s | p90 delay s | missed (> 30 min) |")
    print("|---|---|---|---|---|---|")
    for p1, rate in ((0.06, 10.0), (0.10, 10.0), (0.06, 50.0)):
        delays = []
        for _ in range(runs):
            base = SegmentStats(n=50_000, refusals=int(rng.binomial(50_000, 0.02)), length=lengths(49_000))
            ws = WindowState(["route"], floors=floors)
            ws.set_baseline({("r",): base}, now=0.0)
            t = 0.0
            for _ in range(600):  # 10 minutes without change
                t += 1.0
                n = int(rng.poisson(rate))
                ref = int(rng.binomial(n, 0.02))
                ws.add({("r",): SegmentStats(n=n, refusals=ref, length=lengths(n - ref))}, now=t)
                ws.check(now=t)
            start = t
            found = None
            while t - start < 1800:
                t += 1.0
                n = int(rng.poisson(rate))
                ref = int(rng.binomial(n, p1))
                ws.add({("r",): SegmentStats(n=n, refusals=ref, length=lengths(n - ref))}, now=t)
                if any(f.alert and f.metric == "refusal_rate" for f in ws.check(now=t)):
                    found = t - start
                    break
            delays.append(found)
        hit = [d for d in delays if d is not None]
        med = statistics.median(hit) if hit else float("nan")
        print(f"| refusal 2% -> {p1:.0%} | {rate:.0f}/s | {runs} | {med:.0f} | "
              f"{pct(hit, 0.9) if hit else float('nan'):.0f} | {len(delays) - len(hit)} |")


# ----------------------------------------------------------------------------- throughput
def bench_throughput(work: Path, n: int, before: str | None = None, runs: int = 1) -> None:
    path = work / "thr.jsonl"
    rng = random.Random(3)
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(event_line(i, route=f"r{i % 5}", refuse=rng.random() < 0.03, rng=rng, prefix="t") + b"\n")
    size = path.stat().st_size
    empty = work / "empty.jsonl"
    empty.write_bytes(b"")
    taskset = ["taskset", "-c", "0"] if shutil.which("taskset") else []

    def once(target: Path, store: Path, env: dict[str, str]) -> float:
        t0 = time.perf_counter()
        res = subprocess.run([*taskset, sys.executable, "-m", "monitor.cli", "tail", str(target), "--store", str(store),
                              "--once", "--input-format", "native"], env=env,
                             capture_output=True, text=True, cwd=work)
        if res.returncode:
            raise SystemExit(res.stderr)
        return time.perf_counter() - t0

    print(f"\n## Throughput, one core ({'taskset -c 0' if taskset else 'no taskset'}), tail --once, native format, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| code | events | bytes/event | wall s | start-up s | events/s (excl. start-up) | MB/s |")
    print("|---|---|---|---|---|---|---|")
    for k in range(runs):
        for label, env in code_variants(before):
            startup = min(once(empty, Path(tempfile.mkdtemp(dir=work)), env) for _ in range(2))
            total = once(path, Path(tempfile.mkdtemp(dir=work)), env)
            eps = n / max(1e-9, total - startup)
            print(f"| {label} | {n} | {size / n:.0f} | {total:.1f} | {startup:.1f} | {eps:,.0f} | "
                  f"{size / 1e6 / (total - startup):.1f} |")
    profile_batches(path, work, min(n, 50_000))


def profile_batches(path: Path, work: Path, n: int) -> None:
    """Where the time of the tail pipeline goes, in process, on the first ``n`` lines."""
    import duckdb

    from monitor.config import Config
    from monitor.ingest import BatchLoader
    from monitor.store import Store
    from monitor.tail.dedup import DuplicateGuard, RecentIds
    from monitor.tail.detect import batch_stats
    from monitor.tail.follower import Follower
    from monitor.tail.settings import TailSettings
    from monitor.tail.writer import commit_tail_batch

    sub = work / "prof.jsonl"
    with open(path, "rb") as src, open(sub, "wb") as dst:
        for _ in range(n):
            dst.write(src.readline())
    store = Store(work / "prof-store")
    follower = Follower([str(sub)], resume=lambda sid: (0, 0))
    follower.scan()
    loader = BatchLoader(Config(), str(sub), input_format="native")
    con = duckdb.connect()
    defaults = TailSettings()
    guard = DuplicateGuard(store, horizon_s=defaults.dedup_horizon_s, capacity=defaults.dedup_max_ids)

    def run() -> None:
        src = follower.sources()[0]
        loader.source_id = src.id
        while True:
            chunk = follower.read(src, max_bytes=defaults.max_batch_bytes, max_lines=defaults.max_batch_lines)
            if not chunk.lines:
                break
            batch = loader.load(chunk.lines)
            res = commit_tail_batch(store, batch.frame, batch.rejects, {}, guard=guard)
            batch_stats(con, res.frame, ["model", "route"])

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    run()
    prof.disable()
    wall = time.perf_counter() - t0
    st = pstats.Stats(prof)
    cum = {}
    for (file, line, func), (_cc, _nc, _tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        cum[(os.path.basename(file), func)] = cum.get((os.path.basename(file), func), 0.0) + ct
        cum[(os.path.basename(file), line, func)] = ct  # methods of the same name in one file
    rows = [
        ("read + split lines (tail.follower.Follower.read)", ("follower.py", "read")),
        ("columnar fast path: parse, predicates, columns (columnar.read_batch)", ("__init__.py", "read_batch")),
        ("  of which pyarrow's JSON reader (columnar.arrowjson.read_typed)", ("arrowjson.py", "read_typed")),
        ("per-record path: parse JSON (ingest.parse_lines, orjson)", ("ingest.py", "parse_lines")),
        ("adapter convert (adapters.convert)", ("__init__.py", "convert")),
        ("validate events (events.check_event)", ("events.py", "check_event")),
        ("columns -> frame (events.frame_from_columns)", ("events.py", "frame_from_columns")),
        ("signals (signals.signal_columns)", ("__init__.py", "signal_columns")),
        ("  of which refusal and lengths (refusal.text_signal_columns)", ("refusal.py", "text_signal_columns")),
        ("commit (tail.writer.commit_tail_batch)", ("writer.py", "commit_tail_batch")),
        ("  of which dedup: new segments' ids (DuplicateGuard.refresh)", ("dedup.py", "refresh")),
        ("  of which dedup: lookup (RecentIds.seen)", ("dedup.py", RecentIds.seen.__code__.co_firstlineno, "seen")),
        ("  of which Parquet write (Store.write_segment_from)", ("store.py", "write_segment_from")),
        ("window statistics (tail.detect.batch_stats)", ("detect.py", "batch_stats")),
    ]
    print(f"\nWhere the time goes (in process, profiled, {n} events, {wall:.1f} s = {n / wall:,.0f} events/s "
          "under the profiler):")
    print("| stage | seconds | share | µs/event |")
    print("|---|---|---|---|")
    for label, key in rows:
        secs = cum.get(key, 0.0)
        print(f"| {label} | {secs:.2f} | {secs / wall * 100:.0f}% | {secs / n * 1e6:.0f} |")


# ----------------------------------------------------------------------------- memory
def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


WARM_UP_S = 120.0


def bench_rss(work: Path, minutes: float) -> None:
    logs = work / "rss-logs"
    logs.mkdir()
    store = work / "rss-store"
    status = work / "rss-status.json"
    app = logs / "app.log"
    app.write_bytes(b"")
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "tail", str(logs / "*.log"), "--store", str(store),
                             "--status-file", str(status), "--status-interval", "2", "--input-format", "native"],
                            env=env_without_sentry(), stderr=subprocess.DEVNULL, cwd=work)
    wait_status(status, lambda s: True)
    stop = threading.Event()
    written = [0]

    def writer() -> None:
        rng = random.Random(4)
        lines = [event_line(i, route=f"r{i % 5}", refuse=rng.random() < 0.02, rng=rng) for i in range(2000)]
        rotated = 0
        fh = open(app, "ab")
        while not stop.is_set():
            st = read_status(status) or {}
            if st.get("lag_bytes", 0) > 30 << 20:
                time.sleep(0.2)
                continue
            base = written[0]
            fh.write(b"".join(l.replace(b'"request_id": "e-', b'"request_id": "w%d-' % base, 1) + b"\n"
                              for l in lines))
            fh.flush()
            written[0] += len(lines)
            if written[0] // 300_000 > rotated:
                rotated += 1
                fh.close()
                os.rename(app, logs / f"app.{rotated}.old")
                fh = open(app, "ab")
                for old in logs.glob("app.*.old"):
                    if old.name != f"app.{rotated}.old":
                        old.unlink()  # the tailer has drained it (or reads it through its open handle)
        fh.close()

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    samples = []
    t_end = time.monotonic() + minutes * 60
    t0 = time.monotonic()
    while time.monotonic() < t_end:
        time.sleep(5)
        st = read_status(status) or {}
        samples.append((time.monotonic() - t0, rss_kb(proc.pid) / 1024, st.get("total_events", 0)))
    stop.set()
    w.join()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    print(f"\n## Memory: RSS of the tailer over {minutes:.0f} min of continuous input (rotation every 300k lines)")
    if not samples:
        return
    early = [smp[1] for smp in samples if smp[0] < WARM_UP_S]
    if early:
        print(f"warm-up (first {WARM_UP_S:.0f} s, until the first compaction has merged the first ~200 segments): "
              f"RSS {min(early):.0f}-{max(early):.0f} MB")
    warm = [smp for smp in samples if smp[0] >= WARM_UP_S] or samples
    tenth = max(1, len(warm) // 10)
    print("RSS sampled every 5 s after warm-up, by tenth of the run:")
    print("| part | events ingested | RSS min MB | RSS median MB | RSS max MB |")
    print("|---|---|---|---|---|")
    for k in range(0, len(warm), tenth):
        part = warm[k:k + tenth]
        rss = [smp[1] for smp in part]
        print(f"| {k // tenth + 1} | {part[0][2]:,}-{part[-1][2]:,} | {min(rss):.0f} | {statistics.median(rss):.0f} "
              f"| {max(rss):.0f} |")
    rss = [smp[1] for smp in warm]
    lo, hi, med = min(rss), max(rss), statistics.median(rss)
    first = statistics.median(rss[:tenth])
    last = statistics.median(rss[-tenth:])
    print(f"after warm-up: RSS {lo:.0f}-{hi:.0f} MB, median {med:.0f} MB; max/min {hi / lo:.3f} "
          f"(all samples within {100 * max(hi - med, med - lo) / med:.1f}% of the median); "
          f"median of the last tenth / first tenth {last / first:.3f}; "
          f"{samples[-1][2]:,} events in {samples[-1][0]:.0f} s "
          f"({samples[-1][2] / (samples[-1][0] or 1):,.0f} events/s sustained on 2 shared cores, writer included)")


# ----------------------------------------------------------------------------- metrics cost
def bench_metrics_cost(work: Path, n: int, runs: int) -> None:
    """``tail --once`` over ``n`` events with and without ``--metrics-addr`` (alternated; median of ``runs``)."""
    import re
    import urllib.request

    path = work / "met.jsonl"
    rng = random.Random(5)
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(event_line(i, route=f"r{i % 5}", refuse=rng.random() < 0.03, rng=rng, prefix="mt") + b"\n")
    empty = work / "met-empty.jsonl"
    empty.write_bytes(b"")
    taskset = ["taskset", "-c", "0"] if shutil.which("taskset") else []

    def once(target: Path, store: Path, metrics: bool) -> tuple[float, float, int]:
        """(wall seconds, CPU seconds of the tailer process, scrapes)."""
        import resource

        extra = ["--metrics-addr", "127.0.0.1:0"] if metrics else []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.Popen([*taskset, sys.executable, "-m", "monitor.cli", "tail", str(target), "--store",
                                 str(store), "--once", "--input-format", "native", *extra], env=env_without_sentry(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=work)
        scrapes = 0
        assert proc.stderr is not None
        for line in proc.stderr:
            m = re.search(r"metrics on (http://[0-9.:]+)/metrics", line)
            if m:  # scrape every 0.5 s until the run ends (Prometheus' default is every 15 s)
                url = m.group(1)

                def scraper() -> None:
                    nonlocal scrapes
                    while proc.poll() is None:
                        try:
                            urllib.request.urlopen(url + "/metrics", timeout=2).read()
                            scrapes += 1
                        except OSError:
                            pass
                        time.sleep(0.5)

                threading.Thread(target=scraper, daemon=True).start()
        if proc.wait():
            raise SystemExit(f"tail --once failed ({proc.returncode})")
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return wall, cpu, scrapes

    results: dict[bool, list[float]] = {False: [], True: []}
    cpu_us: dict[bool, list[float]] = {False: [], True: []}
    scraped = []
    for k in range(runs):
        for metrics in (False, True) if k % 2 == 0 else (True, False):
            wall0, cpu0, _ = once(empty, work / f"met-empty-{k}-{metrics}", metrics)
            wall, cpu, scrapes = once(path, work / f"met-store-{k}-{metrics}", metrics)
            results[metrics].append(n / max(1e-9, wall - wall0))
            cpu_us[metrics].append((cpu - cpu0) / n * 1e6)
            if metrics:
                scraped.append(scrapes)
    off, on = statistics.median(results[False]), statistics.median(results[True])
    c_off, c_on = statistics.median(cpu_us[False]), statistics.median(cpu_us[True])
    print(f"\n## Metrics cost: tail --once, {n} events, one core ({'taskset -c 0' if taskset else 'no taskset'}), "
          f"{runs} alternated runs each, start-up (an empty file, same flags) subtracted; load average "
          f"{os.getloadavg()[0]:.1f}")
    print("| metrics | events/s (median) | runs (events/s) | CPU µs/event (median) | runs (µs/event) | scrapes per run |")
    print("|---|---|---|---|---|---|")
    print(f"| off | {off:,.0f} | {', '.join(f'{x:,.0f}' for x in results[False])} | {c_off:.1f} | "
          f"{', '.join(f'{x:.1f}' for x in cpu_us[False])} | - |")
    print(f"| on, scraped every 0.5 s | {on:,.0f} | {', '.join(f'{x:,.0f}' for x in results[True])} | {c_on:.1f} | "
          f"{', '.join(f'{x:.1f}' for x in cpu_us[True])} | {', '.join(map(str, scraped))} |")
    print(f"cost: throughput {100 * (off - on) / off:+.1f}%, CPU per event {100 * (c_on - c_off) / c_off:+.1f}% "
          "(medians; a negative cost is noise)")
    bench_metrics_updates()


def bench_metrics_updates(batches: int = 2000) -> None:
    """The metrics' own work in process: what the loop adds per committed batch and per check."""
    from monitor.tail.metrics import TailMetrics

    m = TailMetrics()
    reasons = ["invalid JSON: x"] * 5
    t0 = time.perf_counter()
    for _ in range(batches):
        m.committed(lines=5000, events=4995, duplicates=0, reasons=reasons, seconds=0.1)
    per_batch = (time.perf_counter() - t0) / batches
    stats = {((f"m{i % 4}", f"r{i}"), metric): (1.0, 12.0) for i in range(100)
             for metric in ("refusal_rate", "task_success_rate", "schema_violation_rate", "response_length")}
    t0 = time.perf_counter()
    for _ in range(200):
        m.sequential(stats, ["model", "route"])
    per_check = (time.perf_counter() - t0) / 200
    m.files({f"/var/log/app{i}.log": i for i in range(6)})
    t0 = time.perf_counter()
    for _ in range(50):
        m.exposition()
    per_scrape = (time.perf_counter() - t0) / 50
    print("\nThe metrics' own work, in process (TailMetrics):")
    print("| operation | time |")
    print("|---|---|")
    print(f"| per committed batch (counters, 5 quarantine reasons, histogram) | {per_batch * 1e6:.1f} µs |")
    print(f"| per check, 100 segments x 4 metrics (gauges, folding into 50 + other) | {per_check * 1e3:.2f} ms |")
    print(f"| per scrape (exposition of every series) | {per_scrape * 1e3:.2f} ms |")


# ----------------------------------------------------------------------------- disk
def bench_disk(work: Path, n: int) -> None:
    """Bytes on disk per million events: the sidecar's segments as committed, and after compaction."""
    from monitor.compaction import compact
    from monitor.store import Store

    path = work / "disk.jsonl"
    rng = random.Random(7)
    with open(path, "wb") as fh:
        for i in range(n):
            fh.write(event_line(i, route=f"r{i % 5}", refuse=rng.random() < 0.03, rng=rng, prefix="d") + b"\n")
    log_bytes = path.stat().st_size
    store = Store(work / "disk-store")
    res = subprocess.run([sys.executable, "-m", "monitor.cli", "tail", str(path), "--store", str(store.root), "--once",
                          "--input-format", "native"], env=env_without_sentry(), capture_output=True, text=True, cwd=work)
    if res.returncode:
        raise SystemExit(res.stderr)

    def events_bytes() -> tuple[int, int]:
        files = list(store.events_dir.glob("*.parquet"))
        return sum(p.stat().st_size for p in files), len(files)

    raw, raw_n = events_bytes()
    compact(store, None, settle_s=0)
    merged, merged_n = events_bytes()
    per_m = 1e6 / n
    print(f"\n## Disk per million events ({n} events of {log_bytes / n:.0f} bytes as JSON lines, native format)")
    print("| state | segments | MB per million events | bytes per event | share of the log's size |")
    print("|---|---|---|---|---|")
    for label, b, k in (("as committed by tail --once (batches of 5,000)", raw, raw_n),
                        ("after compaction", merged, merged_n)):
        print(f"| {label} | {k} | {b * per_m / 1e6:,.0f} | {b / n:,.0f} | {b / log_bytes:.0%} |")


# ----------------------------------------------------------------------------- footprint
def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def smaps_breakdown(pid: int) -> dict[str, float]:
    """Resident MB of a process by kind of mapping: private anonymous memory (with glibc's heap),
    and the pages of each large shared library (code and read-only data)."""
    groups: dict[str, float] = {}
    name = "anonymous + heap"
    with open(f"/proc/{pid}/smaps") as fh:
        for line in fh:
            parts = line.split()
            if "-" in parts[0] and not parts[0].endswith(":"):
                path = parts[5] if len(parts) > 5 else ""
                base = os.path.basename(path)
                name = ("anonymous + heap" if not path.startswith("/") else "DuckDB" if "_duckdb" in base
                        else "Arrow" if base.startswith(("libarrow", "libparquet")) else "other files")
            elif parts[0] == "Rss:":
                groups[name] = groups.get(name, 0.0) + int(parts[1]) / 1024
    return groups


def bench_import_rss() -> None:
    code = ("import sys, monitor.cli, monitor.api, monitor.tail.loop\n"
            "rss = [int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS')][0] / 1024\n"
            "heavy = [m for m in ('pandas', 'scipy', 'scipy.stats', 'scipy.special', 'matplotlib', 'duckdb', "
            "'pyarrow', 'pyarrow.parquet', 'sentry_sdk', 'jsonschema', 'prometheus_client') if m in sys.modules]\n"
            "print(f'{rss:.0f}', ' '.join(heavy))")
    base = subprocess.run([sys.executable, "-c", "print([int(l.split()[1]) for l in open('/proc/self/status') "
                           "if l.startswith('VmRSS')][0] / 1024)"], capture_output=True, text=True, cwd=ROOT)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    rss, _, heavy = res.stdout.strip().partition(" ")
    print("\n## Footprint: importing what `tail` imports (monitor.cli, monitor.api, monitor.tail.loop), fresh interpreter")
    print("| RSS MB | bare interpreter MB | heavy modules loaded |")
    print("|---|---|---|")
    print(f"| {rss} | {float(base.stdout):.0f} | {heavy} |")


def code_variants(before: str | None) -> list[tuple[str, dict[str, str]]]:
    """(label, environment) of the code to run: this tree, and with ``--before DIR`` first that
    checkout's code (put ahead on ``PYTHONPATH``), so before and after are measured in one run."""
    here = ("this tree" if before else "", env_without_sentry())
    if not before:
        return [here]
    return [(f"before ({before})", env_without_sentry(PYTHONPATH=str(Path(before).resolve()))),
            ("after (this tree)", here[1])]


def bench_footprint(work: Path, rates: list[float], seconds: float, warm_up: float = 20.0,
                    before: str | None = None) -> None:
    """A sidecar at default settings fed ``rate`` events/s: steady-state RSS and CPU seconds per million events."""
    print(f"\n## Footprint: the sidecar at default settings, fed at a fixed rate ({warm_up:.0f} s warm-up, then "
          f"{seconds:.0f} s measured; RSS every 2 s; the writer runs on the same 2 shared cores; load average "
          f"{os.getloadavg()[0]:.1f} at the start)")
    print("| code | rate asked | events/s reached | RSS median MB | RSS max MB | CPU s per 1M events | CPU % of a core "
          "| heavy modules loaded at the end |")
    print("|---|---|---|---|---|---|---|---|")
    for rate in rates:
        for label, env in code_variants(before):
            bench_footprint_one(work, rate, seconds, warm_up, label, env)


def bench_footprint_one(work: Path, rate: float, seconds: float, warm_up: float, label: str,
                        env: dict[str, str]) -> None:
    """One row of :func:`bench_footprint`."""
    d = Path(tempfile.mkdtemp(prefix=f"fp-{int(rate)}-", dir=work))
    log, status = d / "app.log", d / "status.json"
    log.write_bytes(b"")
    # a baseline of the last hour, so the sidecar runs its detectors as in production (5 routes)
    base = work / "fp-baseline.jsonl"
    if not base.exists():
        rng = random.Random(8)
        ts = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
        base.write_bytes(b"".join(event_line(i, route=f"r{i % 5}", refuse=rng.random() < 0.02, rng=rng, ts=ts,
                                             prefix="base") + b"\n" for i in range(5000)))
    res = subprocess.run([sys.executable, "-m", "monitor.cli", "ingest", str(base), "--store", str(d / "store"),
                          "--input-format", "native"], env=env, capture_output=True, text=True, cwd=d)
    if res.returncode:
        raise SystemExit(res.stderr)
    proc = subprocess.Popen([sys.executable, "-m", "monitor.cli", "tail", str(log), "--store", str(d / "store"),
                             "--status-file", str(status), "--status-interval", "1"],
                            env=env, stderr=subprocess.DEVNULL, cwd=d)
    wait_status(status, lambda s: True)
    stop = threading.Event()

    def writer() -> None:
        rng = random.Random(6)
        lines = [event_line(i, route=f"r{i % 5}", refuse=rng.random() < 0.02, rng=rng) for i in range(1000)]
        tick, n = 0.02, 0
        per_tick = rate * tick
        owed = 0.0
        with open(log, "ab") as fh:
            t_next = time.monotonic()
            while not stop.is_set():
                owed += per_tick
                k = int(owed)
                owed -= k
                fh.write(b"".join(lines[(n + j) % len(lines)].replace(b'"request_id": "e-', b'"request_id": "w%d-'
                                                                      % (n + j), 1) + b"\n" for j in range(k)))
                fh.flush()
                n += k
                t_next += tick
                time.sleep(max(0.0, t_next - time.monotonic()))

    w = threading.Thread(target=writer, daemon=True)
    w.start()
    time.sleep(warm_up)
    cpu0, ev0, t0 = cpu_seconds(proc.pid), (read_status(status) or {}).get("total_events", 0), time.monotonic()
    rss = []
    while time.monotonic() - t0 < seconds:
        time.sleep(2)
        rss.append(rss_kb(proc.pid) / 1024)
    cpu1, final, t1 = cpu_seconds(proc.pid), read_status(status) or {}, time.monotonic()
    ev1 = final.get("total_events", 0)
    parts = smaps_breakdown(proc.pid)
    threads = len(os.listdir(f"/proc/{proc.pid}/task"))
    stop.set()
    w.join()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    events = max(1, ev1 - ev0)
    heavy = " ".join(final.get("heavy_modules", ["(not reported)"]))
    print(f"| {label} | {rate:,.0f}/s | {events / (t1 - t0):,.0f} | {statistics.median(rss):.0f} | {max(rss):.0f} | "
          f"{(cpu1 - cpu0) / events * 1e6:.1f} | {100 * (cpu1 - cpu0) / (t1 - t0):.0f}% | {heavy} |")
    print(f"|  | at the end: {threads} threads; resident MB "
          + ", ".join(f"{k} {v:.0f}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1])) + " | | | | | | |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["latency", "throughput", "rss", "metrics", "footprint", "disk"])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--rate", type=float, default=1000.0, help="events/s written in the latency run")
    ap.add_argument("--events", type=int, default=200_000, help="events in the throughput run")
    ap.add_argument("--throughput-runs", type=int, default=1, help="runs of each code (alternated with --before)")
    ap.add_argument("--rss-minutes", type=float, default=6.0)
    ap.add_argument("--delay-runs", type=int, default=20, help="simulated runs per step size (statistical delay)")
    ap.add_argument("--metrics-events", type=int, default=100_000, help="events per run of the metrics-cost runs")
    ap.add_argument("--metrics-runs", type=int, default=3, help="runs with and without metrics")
    ap.add_argument("--disk-events", type=int, default=100_000, help="events of the disk-use run")
    ap.add_argument("--footprint-seconds", type=float, default=60.0, help="measured seconds per footprint rate")
    ap.add_argument("--footprint-rates", default="1000,20000", help="events/s, comma-separated")
    ap.add_argument("--before", metavar="DIR", help="also run the sidecar of the checkout DIR (footprint, "
                    "throughput), alternated with this tree's: before/after in one run")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-tail-"))
    try:
        print(f"# llm-monitor tail benchmark ({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
        if args.only in (None, "latency"):
            bench_latency(work, args.trials, args.rate)
            bench_statistical_delay(args.delay_runs)
        if args.only in (None, "throughput"):
            bench_throughput(work, args.events, before=args.before, runs=args.throughput_runs)
        if args.only in (None, "rss"):
            bench_rss(work, args.rss_minutes)
        if args.only in (None, "metrics"):
            bench_metrics_cost(work, args.metrics_events, args.metrics_runs)
        if args.only in (None, "disk"):
            bench_disk(work, args.disk_events)
        if args.only in (None, "footprint"):
            bench_import_rss()
            bench_footprint(work, [float(r) for r in args.footprint_rates.split(",")], args.footprint_seconds,
                            before=args.before)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
