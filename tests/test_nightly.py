"""``llm-monitor nightly`` end to end: a multi-day store, compaction, findings, Sentry Crons, report."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from helpers import run_cli
from monitor.demo import CONTROL_MODEL, MODEL, NEW_VERSION, OLD_VERSION, generate_events, write_log
from monitor.nightly import nightly_keys, nightly_windows, parse_day
from sentry_receiver import SentryReceiver

TODAY = dt.date(2026, 11, 26)
DAY = (TODAY - dt.timedelta(days=1)).isoformat()  # the new version's day
CURRENT_PARTS = 4


@pytest.fixture(scope="module")
def template_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo traffic (800 events per version and route) ingested day by day; the new
    version's day arrives in four files, so four small segments lie inside that day."""
    import monitor

    root = tmp_path_factory.mktemp("nightly") / "store"
    logs = root.parent / "logs"
    events = generate_events(per_cell=800, seed=7, today=TODAY)
    by_day: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_day.setdefault(e["ts"][:10], []).append(e)
    m = monitor.open(root)
    files = []
    for day, rows in sorted(by_day.items()):
        parts = CURRENT_PARTS if day == DAY else 1
        for i in range(parts):
            path = logs / f"{day}-{i}.jsonl"
            write_log(rows[i::parts], path)
            files.append(str(path))
    m.ingest(files)
    return root


@pytest.fixture
def store(template_store: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(template_store, target)
    return target


def _day_segments(store: Path) -> int:
    import monitor

    m = monitor.open(store)
    return int(m.sql("select count(distinct filename) as n from read_parquet("
                     f"'{store}/events/*.parquet', filename = true) where ts >= '{DAY}' and "
                     f"ts < '{TODAY.isoformat()}'").n[0])


def test_nightly_with_sentry_crons_alerts_and_report(store: Path, tmp_path: Path,
                                                      sentry_receiver: SentryReceiver) -> None:
    report = tmp_path / "report.html"
    assert _day_segments(store) == CURRENT_PARTS
    proc = run_cli("nightly", "--store", str(store), "--date", DAY, "--report", str(report),
                   env={"SENTRY_DSN": sentry_receiver.dsn})
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert f"compaction: {CURRENT_PARTS} segment(s)" in out
    assert f"baseline: since={(TODAY - dt.timedelta(days=8)).isoformat()},until={DAY}" in out
    # 4 regressions (the extract route's on both structured-output metrics) + the new version
    assert "6 alert(s) for" in out and f"report: {report}" in out
    assert f"ALERT new model version in traffic: {MODEL} {NEW_VERSION}" in out
    assert "\r" not in proc.stderr  # no progress bar when stderr is not a terminal
    assert _day_segments(store) == 1

    # Sentry Crons: in_progress then ok, same check_in_id, with the monitor config
    assert sentry_receiver.wait_for(lambda r: len(r.checkins()) >= 2, timeout=10)
    first, last = sentry_receiver.checkins()
    assert first["status"] == "in_progress" and last["status"] == "ok"
    assert first["check_in_id"] == last["check_in_id"]
    assert first["monitor_slug"] == "llm-monitor-nightly"
    assert first["monitor_config"]["schedule"] == {"type": "crontab", "value": "0 3 * * *"}
    assert first["monitor_config"]["checkin_margin"] == 30 and first["monitor_config"]["max_runtime"] == 60
    assert last.get("duration", 0) > 0

    # one alert event per injected regression, none for the unchanged route or model,
    # and one for the version first seen that day
    assert sentry_receiver.wait_for(lambda r: len(r.events()) >= 6, timeout=10)
    events = sentry_receiver.events()
    assert len(events) == 6
    new = [e for e in events if e["tags"]["metric"] == "new_model_version"]
    assert len(new) == 1 and new[0]["tags"]["model_version"] == NEW_VERSION
    events = [e for e in events if e["tags"]["metric"] != "new_model_version"]
    got = {(e["tags"]["metric"], e["tags"]["route"], e["tags"]["model"]) for e in events}
    assert got == {("response_length", "chat", MODEL), ("refusal_rate", "support", MODEL),
                   ("json_invalid_rate", "extract", MODEL), ("schema_violation_rate", "extract", MODEL),
                   ("task_success_rate", "summarize", MODEL)}
    for e in events:
        finding = e["contexts"]["finding"]
        assert finding["changed_at"] and finding["changed_at_low"] <= finding["changed_at"] <= finding["changed_at_high"]
        if e["tags"]["metric"] == "schema_violation_rate":  # sparse: the change hour is not pinned down
            assert NEW_VERSION in finding["versions_near_change"]
        else:
            assert finding["versions_near_change"] == [NEW_VERSION]
        assert finding["details"]["new_versions"] == [NEW_VERSION]
        assert list(finding["details"]["versions_baseline"]) == [OLD_VERSION]
        raw = json.dumps(e)
        assert "invoice_id" not in raw and "I'm sorry" not in raw and "user request" not in raw

    assert report.is_file() and report.stat().st_size > 50_000
    text = report.read_text()
    assert "4 regression(s)" in text and NEW_VERSION in text


def test_change_points_and_versions_in_alert_log(store: Path) -> None:
    proc = run_cli("nightly", "--store", str(store), "--date", DAY, "--no-compact")
    assert proc.returncode == 1, proc.stderr
    assert "compaction" not in proc.stdout and _day_segments(store) == CURRENT_PARTS
    rows = [json.loads(line) for line in (store / "alerts.jsonl").read_text().splitlines()]
    assert [r["segment"]["model_version"] for r in rows if r["metric"] == "new_model_version"] == [NEW_VERSION]
    rows = [r for r in rows if r["metric"] != "new_model_version"]
    assert len(rows) == 5  # the extract route alerts on both structured-output metrics
    change = f"{DAY}T00:00:00Z"
    for row in rows:
        assert row["segment"]["model"] == MODEL and "model_version" not in row["segment"]
        assert row["changed_at_low"] <= change <= row["changed_at_high"]  # the true change is in the interval
        if row["metric"] == "schema_violation_rate":  # 0.3% -> 1.9%: too few events an hour to pin the hour
            assert NEW_VERSION in row["versions_near_change"]
        else:
            assert row["versions_near_change"] == [NEW_VERSION]


def test_quiet_day_exits_0_and_control_model_never_alerts(store: Path, tmp_path: Path) -> None:
    day = (TODAY - dt.timedelta(days=3)).isoformat()  # old version only, baseline = the days before
    report = tmp_path / "quiet.html"
    proc = run_cli("nightly", "--store", str(store), "--date", day, "--report", str(report))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 alert(s) for" in proc.stdout
    assert "No regression found" in report.read_text()
    assert CONTROL_MODEL in proc.stdout  # the control model is compared too


def test_pinned_baseline_from_config(store: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "llm-monitor.toml"
    cfg.write_text(f'[nightly]\nbaseline = "model_version={OLD_VERSION}"\n')
    proc = run_cli("nightly", "--store", str(store), "--config", str(cfg), "--date", DAY, "--no-compact")
    assert proc.returncode == 1, proc.stderr
    assert f"baseline: model_version={OLD_VERSION} (" in proc.stdout
    assert "ALERT refusal_rate model=acme-chat,route=support" in proc.stdout


def test_failing_job_checks_in_error_and_exits_2(store: Path, sentry_receiver: SentryReceiver) -> None:
    (store / "events" / "s-99999999T000000-broken.parquet").write_bytes(b"PAR1 not a parquet file")
    proc = run_cli("nightly", "--store", str(store), "--date", DAY, env={"SENTRY_DSN": sentry_receiver.dsn})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llm-monitor nightly: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert sentry_receiver.wait_for(lambda r: len(r.checkins()) >= 2, timeout=10)
    first, last = sentry_receiver.checkins()
    assert (first["status"], last["status"]) == ("in_progress", "error")
    assert first["check_in_id"] == last["check_in_id"]


def test_bad_date_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run_cli("nightly", "--store", str(tmp_path / "s"), "--date", "yesterday")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "llm-monitor nightly: error: day 'yesterday' is not a date: use YYYY-MM-DD"


def test_window_helpers() -> None:
    assert parse_day(None, today=dt.date(2026, 1, 1)) == dt.date(2025, 12, 31)
    assert nightly_windows(dt.date(2026, 1, 10), 3) == ("since=2026-01-07,until=2026-01-10",
                                                         "since=2026-01-10,until=2026-01-11")
    assert nightly_keys(None, ["model", "model_version", "route", "schema_name"]) == ["model", "route", "schema_name"]
    assert nightly_keys("model,model_version", ["route"]) == ["model", "model_version"]


def test_progress_bar_only_on_a_terminal() -> None:
    import io

    from monitor.nightly import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet = io.StringIO()
    bar = Progress(quiet)
    for _ in bar.steps("compaction", range(5), 5):
        pass
    assert quiet.getvalue() == ""
    tty = Tty()
    bar = Progress(tty, enabled=True)
    assert list(bar.steps("compaction", range(3), 3)) == [0, 1, 2]
    text = tty.getvalue()
    assert "\rcompaction" in text and "3/3" in text and text.endswith("\r")


def test_empty_day_after_traffic_is_an_error(store: Path) -> None:
    proc = run_cli("nightly", "--store", str(store), "--date", TODAY.isoformat(), "--no-compact")
    assert proc.returncode == 2
    assert "no events on 2026-11-26" in proc.stderr and "is ingestion running?" in proc.stderr


def test_malformed_dsn_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run_cli("nightly", "--store", str(tmp_path / "s"), env={"SENTRY_DSN": "not a dsn"})
    assert proc.returncode == 2
    assert proc.stderr.startswith("llm-monitor nightly: error: Sentry DSN:") and proc.stderr.count("\n") == 1


def test_bad_report_path_fails_before_any_work(store: Path, tmp_path: Path) -> None:
    proc = run_cli("nightly", "--store", str(store), "--date", DAY, "--report", str(tmp_path / "no" / "r.html"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
    assert _day_segments(store) == CURRENT_PARTS and not (store / "alerts.jsonl").exists()
