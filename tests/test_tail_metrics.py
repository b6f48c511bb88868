"""``llm-monitor tail --metrics-addr``: a real sidecar subprocess, scraped over real HTTP, parsed with
``prometheus_client``'s parser; ``/healthz`` and ``/readyz``; ``--log-format json``; the DSN's key."""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from test_tail_support import TailProcess, clean_env, native, run_cli, run_once, write_config

ROUTES = ("chat", "search", "summarize")
CONFIG = """[tail]
by = ["route"]
flush_interval_s = 0.2
window_s = 60
metrics_max_segments = 2
"""


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (name, sorted labels) -> value."""
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = predicate()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"not reached in {timeout} s: {what}")


def _baseline(tmp_path: Path, store: Path) -> None:
    rng = random.Random(5)
    ts = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    lines = [native(i, prefix=f"base-{route}", route=route, refuse=rng.random() < 0.02, words=rng.randint(20, 40),
                    ts=ts) for route in ROUTES for i in range(1500)]
    (tmp_path / "baseline.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    res = run_cli(tmp_path, "ingest", str(tmp_path / "baseline.jsonl"), "--store", str(store))
    assert res.returncode == 0, res.stderr


def test_metrics_move_with_ingest_quarantine_a_step_change_and_alerts(tmp_path: Path) -> None:
    store = tmp_path / "store"
    write_config(tmp_path / "llm-monitor.toml", CONFIG)
    _baseline(tmp_path, store)
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    proc = TailProcess(tmp_path, store, [str(log)], "--metrics-addr", "127.0.0.1:0").start()
    try:
        st = proc.wait_status(lambda s: s["segments_monitored"] == 3 and s["metrics_url"], timeout=90)
        url = st["metrics_url"]
        assert url.startswith("http://127.0.0.1:")
        def evalue_labels(m: dict) -> set[str]:
            return {dict(k[1])["segment"] for k in m if k[0] == "llm_monitor_tail_log_evalue"
                    and dict(k[1])["metric"] == "refusal_rate"}

        m = wait_for(lambda: (lambda s: s if evalue_labels(s) else None)(scrape(url)), what="a first check")
        assert value(m, "llm_monitor_tail_events_ingested_total") == 0
        assert value(m, "llm_monitor_tail_rss_bytes") > 20e6
        # bounded cardinality: 3 segments, 2 labels of their own, the third folded into "other"
        labels = evalue_labels(m)
        assert len(labels) == 3 and "other" in labels, labels
        named = sorted(lab for lab in labels if lab != "other")[0]
        route = named.split("=", 1)[1]
        threshold = value(m, "llm_monitor_tail_log_threshold", metric="refusal_rate", segment=named)
        assert threshold is not None and threshold > 5

        with open(log, "ab") as fh:
            for i in range(60):
                fh.write(native(i, prefix="ok", route=route) + b"\n")
            fh.write(b"{oops\n" * 3)
        m = wait_for(lambda: (lambda s: s if value(s, "llm_monitor_tail_events_ingested_total") == 60 else None)(
            scrape(url)), what="60 events ingested")
        assert value(m, "llm_monitor_tail_lines_read_total") == 63
        assert value(m, "llm_monitor_tail_quarantined_total", reason_class="invalid_json") == 3
        assert value(m, "llm_monitor_tail_commit_seconds_count") >= 1
        assert value(m, "llm_monitor_tail_segments_live") >= 2
        m = wait_for(lambda: (lambda s: s if value(s, "llm_monitor_tail_sources") == 1 else None)(scrape(url)),
                     what="the source published (at most once a second)")
        assert value(m, "llm_monitor_tail_lag_bytes", file=str(log)) == 0
        assert value(m, "llm_monitor_tail_alerts_total", metric="refusal_rate") is None

        # a step change on the named route: every response a refusal, one line at a time
        evalues = [value(m, "llm_monitor_tail_log_evalue", metric="refusal_rate", segment=named)]
        alerts = 0.0
        for i in range(200):
            time.sleep(0.6)  # the sequential gauges are published at most once a second
            with open(log, "ab") as fh:
                fh.write(native(i, prefix="bad", route=route, refuse=True) + b"\n")
            want = 61 + i
            m = wait_for(lambda: (lambda s: s if value(s, "llm_monitor_tail_events_ingested_total") >= want
                                  else None)(scrape(url)), what=f"{want} events")
            alerts = value(m, "llm_monitor_tail_alerts_total", metric="refusal_rate") or 0.0
            if alerts:
                break
            evalues.append(value(m, "llm_monitor_tail_log_evalue", metric="refusal_rate", segment=named))
        assert alerts >= 1, evalues
        moves = [v for k, v in enumerate(evalues) if k == 0 or v != evalues[k - 1]]
        assert len(moves) >= 3 and max(moves[1:]) > moves[0], evalues
        rising = sum(b > a for a, b in zip(moves, moves[1:]))
        assert rising >= (len(moves) - 1) / 2, evalues  # mostly up while the refusals come in
        assert max(evalues) < threshold  # it alarmed when it reached the threshold, not before
        assert value(m, "llm_monitor_tail_outbox_pending") >= 1  # no DSN: the alert waits in the outbox
    finally:
        rc, _ = proc.terminate()
    assert rc == 0, proc.stderr()[-2000:]
    assert "Traceback" not in proc.stderr()


def test_metrics_off_by_default_and_bad_address_is_a_usage_error(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(native(1) + b"\n")
    res = run_once(tmp_path, tmp_path / "store", [str(log)], "--status-file", str(tmp_path / "st.json"))
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "st.json").read_text())["metrics_url"] is None
    assert "metrics on" not in res.stderr
    res = run_once(tmp_path, tmp_path / "store", [str(log)], "--metrics-addr", "localhost:notaport")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "metrics address 'localhost:notaport'" in res.stderr and "Traceback" not in res.stderr
    write_config(tmp_path / "llm-monitor.toml", "[tail]\nmetrics_addr = 9464\n")
    res = run_once(tmp_path, tmp_path / "store", [str(log)])
    assert res.returncode == 2 and "tail.metrics_addr" in res.stderr, res.stderr


def _lock(d: Path) -> Callable[[], None] | None:
    """Make directory ``d`` unwritable for this user (root ignores modes: the immutable attribute
    then); returns the undo, or None when it cannot be done here."""
    if os.getuid() != 0:
        os.chmod(d, 0o500)
        return lambda: os.chmod(d, 0o700)
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(d)], capture_output=True).returncode:
        return None
    return lambda: subprocess.run(["chattr", "-i", str(d)], check=True)


def test_healthz_and_readyz_follow_the_loop_and_the_store(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(native(1) + b"\n")
    store = tmp_path / "store"
    proc = TailProcess(tmp_path, store, [str(log)], "--metrics-addr", "0").start()
    undo = None
    try:
        url = proc.wait_status(lambda s: s["metrics_url"], timeout=90)["metrics_url"]
        assert wait_for(lambda: get(url + "/readyz")[0] == 200, what="ready")
        assert get(url + "/healthz") == (200, {"status": "alive"})
        assert get(url + "/readyz") == (200, {"status": "ready"})

        undo = _lock(store / "tmp")  # the store is no longer writable
        if undo is None:
            pytest.skip("cannot make a directory unwritable for root here (no chattr)")
        code, body = get(url + "/readyz")
        assert code == 503 and body["status"] == "not ready", body
        assert len(body["reasons"]) == 1 and body["reasons"][0].startswith("store not writable: "), body
        assert "tmp/" in body["reasons"][0]
        assert get(url + "/healthz") == (200, {"status": "alive"})  # alive all the same: a restart would not help

        undo()
        undo = None
        assert get(url + "/readyz") == (200, {"status": "ready"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "/nope", timeout=10)
        assert err.value.code == 404
    finally:
        if undo is not None:
            undo()
        rc, _ = proc.terminate()
    assert rc == 0, proc.stderr()[-2000:]
    with pytest.raises(OSError):  # the port is released at exit
        urllib.request.urlopen(url + "/healthz", timeout=5)


def test_json_log_lines_and_the_dsn_key_never_printed(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(native(1) + b"\n{oops\n")
    store = tmp_path / "store"
    store.mkdir(mode=0o755)
    os.chmod(store, 0o755)  # a loose store: warned about, as a JSON line too
    secret = "f00dfacecafe4242"
    status = tmp_path / "st.json"
    env = clean_env(SENTRY_DSN=f"http://{secret}@127.0.0.1:9/42")
    res = subprocess.run([sys.executable, "-m", "monitor.cli", "tail", str(log), "--store", str(store), "--once",
                          "--log-format", "json", "--status-file", str(status), "--metrics-addr", "0"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    records = [json.loads(line) for line in res.stderr.splitlines()]
    assert records and all({"ts", "level", "message", "logger"} <= set(r) for r in records)
    assert {r["level"] for r in records} <= {"info", "warning", "error"}
    loose = [r for r in records if "accessible to group or others" in r["message"]]
    assert loose and loose[0]["level"] == "warning"
    statuses = [r["status"] for r in records if "status" in r]
    assert statuses and statuses[-1]["total_events"] == 1 and statuses[-1]["total_quarantined"] == 1
    assert any("***@127.0.0.1:9/42" in r["message"] for r in records)
    assert secret not in res.stderr and secret not in status.read_text()


def test_store_modes_are_private_and_a_loose_store_is_warned(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(native(1) + b"\n" + native(1) + b"\n{oops\n")
    store = tmp_path / "store"
    script = ("import os, sys; os.umask(0o022); from monitor.cli import main; sys.exit(main(sys.argv[1:]))")
    for args in (["ingest", str(log), "--store", str(store)], ["tail", str(log), "--store", str(store), "--once"]):
        res = subprocess.run([sys.executable, "-c", script, *args], cwd=tmp_path, env=clean_env(),
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert "warning" not in res.stderr, res.stderr
    from detectors.finding import Finding
    from monitor.alerting import dispatch
    from monitor.config import Config
    from monitor.store import Store

    old = os.umask(0o022)
    try:
        f = Finding("refusal_rate", {"model": "m"}, 3000, 3000, 0.02, 0.06, 0.04, 0.03, 0.05, 7.0, 1e-9, 1e-9, True, "x")
        dispatch([f], Store(store), Config(), source="test", dsn="")
    finally:
        os.umask(old)
    seen = {p.relative_to(store).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [store, *store.rglob("*")]}
    assert {"events", "quarantine", "tmp", "alerts.jsonl", "outbox.sqlite", ".writer.lock"} <= set(seen), seen
    assert any(k.startswith("events/") for k in seen) and any(k.startswith("quarantine/") for k in seen)
    for name, mode in seen.items():
        want = 0o700 if (store / name).is_dir() else 0o600
        assert mode == want, (name, oct(mode))

    os.chmod(store / "events", 0o755)
    res = run_cli(tmp_path, "models", "--store", str(store))
    warn = [line for line in res.stderr.splitlines() if "warning" in line]
    assert warn == [f"llm-monitor: warning: store {store} is accessible to group or others (events/ 0755); it holds "
                    f"prompts and responses: run chmod -R go-rwx {store}"], res.stderr
    assert stat.S_IMODE((store / "events").stat().st_mode) == 0o755  # warned, not changed behind the user's back


def test_a_bad_dsn_is_a_usage_error_without_its_key(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(native(1) + b"\n")
    secret = "beefbeef9999"
    for dsn in (f"ftp://{secret}@127.0.0.1/1", f"http://{secret}@127.0.0.1", secret):
        res = subprocess.run([sys.executable, "-m", "monitor.cli", "tail", str(log), "--store", str(tmp_path / "s"),
                              "--once"], cwd=tmp_path, env=clean_env(SENTRY_DSN=dsn), capture_output=True, text=True,
                             timeout=120)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "is not valid" in lines[0] and "Traceback" not in res.stderr, res.stderr
        assert secret not in res.stderr
