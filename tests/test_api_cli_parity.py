"""``m.compare(...)`` and ``llm-monitor check --format json`` are one implementation: on the same
store and selectors they give the same findings, field by field.

The headline case runs the CLI as a real subprocess; the other cases call the CLI's ``main(argv)``
in this process (the same code from argument parsing to printed JSON, without paying for a Python
start per case)."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import monitor
from helpers import run_cli
from monitor import demo

TODAY = dt.datetime.now(dt.timezone.utc).date()
OLD = f"model={demo.MODEL},model_version={demo.OLD_VERSION}"
NEW = f"model={demo.MODEL},model_version={demo.NEW_VERSION}"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a demo store (ingested through the API) and the demo log next to it."""
    root = tmp_path_factory.mktemp("parity")
    log = root / "demo-events.jsonl"
    demo.write_log(demo.generate_events(per_cell=300, seed=11, today=TODAY), log)
    report = monitor.open(root / "store").ingest([str(log)])
    assert report.ingested == 300 * 12
    return root


def _day(offset: int) -> str:
    return (TODAY - dt.timedelta(days=offset)).isoformat()


CASES: dict[str, tuple[str, str, str | None]] = {
    "versions by route": (OLD, NEW, "route"),
    "default segments": (OLD, NEW, None),
    "time windows": (f"since={_day(8)},until={_day(1)}", f"since={_day(1)}", "model,route"),
    "several values": (f"{OLD},route=chat|support", f"{NEW},route=chat|support", "route"),
    "by schema": (f"model_version={demo.OLD_VERSION}", f"model_version={demo.NEW_VERSION}", "model,schema_name"),
    "log file as baseline": ("demo-events.jsonl", NEW, "route"),
}
NOTHING_MATCHES = ("model=nobody", "model=nobody-either", "route")


def _plain(value: Any) -> Any:
    """DataFrame cell -> what the JSON carries (NaN/NA -> None, numpy scalars -> Python)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return _plain(value.item())
    return value


def _check_args(case: str) -> list[str]:
    baseline, current, by = CASES[case]
    args = ["check", "--store", "store", "--baseline", baseline, "--current", current, "--format", "json", "--no-sinks"]
    return args + ["--by", by] if by else args


SUBPROCESS_CASE = "versions by route"


@pytest.fixture(scope="module")
def subprocess_run(workdir: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*_check_args(SUBPROCESS_CASE), cwd=workdir)


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> subprocess.CompletedProcess[str]:
    """``llm-monitor ARGS`` through the console script's entry point, in this process."""
    from monitor.cli import main

    capsys.readouterr()
    code = main(args)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(["llm-monitor", *args], code, out.out, out.err)


@pytest.mark.parametrize("case", sorted(CASES))
def test_compare_equals_check_json(case: str, workdir: Path, subprocess_run: subprocess.CompletedProcess[str],
                                   capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    baseline, current, by = CASES[case]
    monkeypatch.chdir(workdir)  # same working directory (config lookup, relative log path) as the CLI
    monkeypatch.delenv("LLM_MONITOR_STORE", raising=False)
    cli = subprocess_run if case == SUBPROCESS_CASE else _main(_check_args(case), capsys)
    assert cli.returncode in (0, 1), cli.stderr
    cli_document = json.loads(cli.stdout)
    cli_findings = cli_document["findings"]

    m = monitor.open("store")
    r = m.compare(baseline=baseline, current=current, by=by.split(",") if by else None)

    # Exit code follows the alerts.
    assert cli.returncode == (1 if r.alerts else 0)
    # The same JSON document: findings, the compared keys and the unmatched segments.
    assert json.loads(r.to_json()) == cli_document
    assert set(cli_document) == {"compared", "findings", "unmatched"}
    # The DataFrame: same rows, same order, same fields, field by field.
    frame = r.findings
    assert len(frame) == len(cli_findings)
    for i, expected in enumerate(cli_findings):
        row = frame.iloc[i]
        assert set(row.index) == set(expected), f"row {i}: field names differ"
        for field, value in expected.items():
            got = _plain(row[field])
            assert got == value, f"{case}: finding {i} ({expected['metric']}, {expected['segment']}): {field}: {got!r} != {value!r}"
    if case in ("versions by route", "default segments"):
        assert any(f["alert"] for f in cli_findings)  # alerting rows are compared too
    if case == "default segments":  # model_version is found to be the compared key
        assert cli_document["compared"] == {"model_version": [demo.OLD_VERSION, demo.NEW_VERSION]}


def test_nothing_to_compare_is_the_same_error_in_both(workdir: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    baseline, current, by = NOTHING_MATCHES
    cli = _main(["check", "--store", "store", "--baseline", baseline, "--current", current, "--by", by], capsys)
    assert cli.returncode == 2 and cli.stdout == ""
    with pytest.raises(monitor.errors.NothingToCompare) as info:  # type: ignore[attr-defined]
        monitor.open("store").compare(baseline, current, by=[by])
    assert str(info.value) in cli.stderr and "selects none of the 3600 events" in cli.stderr
    assert cli.stderr.count("\n") == 1 and "Traceback" not in cli.stderr


def test_check_errors_are_user_errors_in_both(workdir: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    cli = _main(["check", "--store", "store", "--baseline", "colour=blue", "--current", NEW], capsys)
    assert cli.returncode == 2
    with pytest.raises(monitor.errors.UserError) as info:  # type: ignore[attr-defined]
        monitor.open("store").compare("colour=blue", NEW)
    assert str(info.value) in cli.stderr


def test_models_equals_models_json(workdir: Path, capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    since = _day(1)
    cli = _main(["models", "--store", "store", "--since", since, "--format", "json"], capsys)
    assert cli.returncode == 0, cli.stderr
    api = monitor.open("store").models(since=since)
    assert json.loads(cli.stdout) == json.loads(api.to_json(orient="records", date_format="iso"))
    assert [r["model_version"] for r in json.loads(cli.stdout) if r["new"]] == [demo.NEW_VERSION]


# ----------------------------------------------------------------------------- every other command
def test_ingest_equals_ingest(workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                              tmp_path: Path) -> None:
    monkeypatch.chdir(workdir)
    cli = _main(["ingest", "--store", str(tmp_path / "cli"), "demo-events.jsonl"], capsys)
    assert cli.returncode == 0, cli.stderr
    report = monitor.open(tmp_path / "api").ingest(["demo-events.jsonl"])
    assert cli.stdout.splitlines()[0] == report.summary()
    query = "SELECT request_id, refusal_class, parse_status, chars FROM events ORDER BY request_id"
    assert monitor.open(tmp_path / "cli").sql(query).equals(monitor.open(tmp_path / "api").sql(query))


def test_signals_equals_signals(workdir: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.cli import SIGNAL_COLUMNS

    monkeypatch.chdir(workdir)
    cli = _main(["signals", "demo-events.jsonl"], capsys)
    assert cli.returncode == 0
    rows = [json.loads(line) for line in cli.stdout.splitlines()]
    frame = monitor.open("store").signals("demo-events.jsonl")
    assert len(rows) == len(frame) == 300 * 12
    for row, (_, api) in zip(rows[:500], frame[SIGNAL_COLUMNS].iterrows()):
        assert row == {k: _plain(api[k]) for k in SIGNAL_COLUMNS}
    # the quarantined lines: the same reasons on stderr as in the frame's attrs
    assert len(cli.stderr.splitlines()) == len(frame.attrs["rejects"]) == 3


def test_sample_equals_sample(workdir: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    cli = _main(["sample", "--store", "store", "--where", "refusal_class=full_refusal|partial_refusal",
                 "--n", "12", "--seed", "3", "--format", "jsonl"], capsys)
    assert cli.returncode == 0, cli.stderr
    rows = [json.loads(line) for line in cli.stdout.splitlines()]
    api = monitor.open("store").sample(where={"refusal_class": ["full_refusal", "partial_refusal"]}, n=12, seed=3)
    assert [r["request_id"] for r in rows] == api.request_id.tolist() and len(rows) == 12
    assert all(r["refusal_rule"] and r["refusal_class"] != "compliance" for r in rows)
    table = _main(["sample", "--store", "store", "--where", "refusal_class=full_refusal", "--n", "3"], capsys)
    assert table.returncode == 0 and table.stdout.count("full_refusal") == 3


def test_nightly_equals_nightly(workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                tmp_path: Path) -> None:
    import shutil

    monkeypatch.chdir(workdir)
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    for name in ("cli", "api"):  # each run writes its alert log: two copies of the store
        shutil.copytree(workdir / "store", tmp_path / name)
    cli = _main(["nightly", "--store", str(tmp_path / "cli"), "--date", _day(1), "--no-compact"], capsys)
    result = monitor.open(tmp_path / "api").nightly(_day(1), compact=False)
    assert cli.returncode == (1 if result.alerts else 0) == 1, cli.stderr
    cli_alerts = sorted(line for line in cli.stdout.splitlines() if line.startswith("ALERT "))
    api_alerts = [f for f in result.comparison.alerts]
    assert len(cli_alerts) == len(api_alerts) + len(result.new_versions)
    for f in api_alerts:
        assert any(line.startswith(f"ALERT {f.metric} {f.segment_key}") for line in cli_alerts)


def test_demo_equals_run_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from monitor.demo import run_demo

    cli = _main(["demo", "--store", str(tmp_path / "cli"), "--events", "300", "--seed", "5"], capsys)
    assert cli.returncode == 0, cli.stderr
    result = run_demo(tmp_path / "api", events=300, seed=5, out=io.StringIO())
    alert_rows = [line for line in cli.stdout.splitlines() if "  ALERT  " in line]
    assert len(alert_rows) == len(result.alerts) >= 1
    assert f"{len(result.alerts)} alert(s) in" in cli.stdout
    assert cli.stdout.count("\n") > 10


def test_tail_once_equals_tail_once(workdir: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(workdir)
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    cli = _main(["tail", "--store", str(tmp_path / "cli"), "--once", "demo-events.jsonl"], capsys)
    assert cli.returncode == 0, cli.stderr
    code = monitor.open(tmp_path / "api").tail("demo-events.jsonl", once=True, quiet=True)
    assert code == 0
    query = "SELECT request_id, refusal_class, parse_status, chars FROM events ORDER BY request_id"
    a, b = monitor.open(tmp_path / "cli"), monitor.open(tmp_path / "api")
    assert len(a.sql(query)) == 300 * 12 and a.sql(query).equals(b.sql(query))
    assert len(a.quarantine()) == len(b.quarantine()) == 3
