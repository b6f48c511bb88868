"""The analyst API (``monitor.open``): every method on an empty store and on a demo store,
and bad inputs answered with :class:`monitor.errors.UserError` (never a raw library error)."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
from pathlib import Path

import pandas as pd
import pytest

import monitor
from detectors.finding import Finding
from helpers import event, run_cli, write_jsonl
from monitor import demo
from monitor.errors import NothingToCompare, UserError

OLD = f"model={demo.MODEL},model_version={demo.OLD_VERSION}"
NEW = f"model={demo.MODEL},model_version={demo.NEW_VERSION}"
PER_CELL = 600
TOTAL = PER_CELL * 12  # 5 routes x 2 versions of acme-chat + 2 routes of the control model


def shared_demo_store(tmp_path_factory: pytest.TempPathFactory, events: int = PER_CELL) -> Path:
    """``llm-monitor demo --events N`` built once per test session (per xdist worker) and shared
    read-only by the API, notebook and docs tests, so the alert log and quarantine are filled too.
    Tests that write use their own store."""
    root = tmp_path_factory.getbasetemp() / f"shared-demo-{events}"
    store = root / "store"
    root.mkdir(exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "done").exists():
            result = run_cli("demo", "--store", str(store), "--events", str(events))
            assert result.returncode == 0, result.stderr
            (root / "done").write_text("ok")
    return store


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_demo_store(tmp_path_factory)


@pytest.fixture
def m(demo_store: Path) -> monitor.Monitor:
    return monitor.open(demo_store)


@pytest.fixture
def empty(tmp_path: Path) -> monitor.Monitor:
    return monitor.open(tmp_path / "empty-store")


# ----------------------------------------------------------------------------- open
def test_open_creates_a_missing_store(tmp_path: Path) -> None:
    m = monitor.open(tmp_path / "new")
    assert (tmp_path / "new" / "events").is_dir()
    assert isinstance(m, monitor.Monitor)


def test_open_defaults_to_the_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MONITOR_STORE", str(tmp_path / "from-env"))
    assert monitor.open().store.root == tmp_path / "from-env"


def test_open_with_a_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "llm-monitor.toml"
    cfg.write_text('[segments]\nby = ["route"]\n')
    m = monitor.open(tmp_path / "s", config=str(cfg))
    assert m.config.segment_by == ["route"]


def test_open_missing_config_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such file"):
        monitor.open(tmp_path / "s", config=str(tmp_path / "nope.toml"))


def test_open_a_file_is_a_user_error(tmp_path: Path) -> None:
    path = tmp_path / "a-file"
    path.write_text("x")
    with pytest.raises(UserError):
        monitor.open(path)


# ----------------------------------------------------------------------------- empty store
def test_every_reader_on_an_empty_store(empty: monitor.Monitor) -> None:
    ev = empty.events()
    assert ev.empty and {"ts", "request_id", "model", "chars", "refusal", "parse_status"} <= set(ev.columns)
    assert empty.events(route="chat", since="2026-01-01", columns=["ts", "route"]).columns.tolist() == ["ts", "route"]
    st = empty.stats(by=["route"], freq="1d")
    assert st.empty and {"route", "bucket", "n", "refusals"} <= set(st.columns)
    with pytest.raises(NothingToCompare, match=r"the baseline window .* is empty: store .* has no events"):
        empty.compare(OLD, NEW, by=["route"])
    assert empty.models().empty and empty.models(since="2026-01-01").empty
    assert empty.quarantine().empty
    assert empty.alerts().empty
    assert empty.sql("select count(*) as n from events").n[0] == 0
    assert empty.window("route=chat", ["model"]) == {}


def test_alerts_on_an_empty_store_has_the_alert_columns(empty: monitor.Monitor) -> None:
    assert {"ts", "metric", "segment_key", "reason"} <= set(empty.alerts().columns)


# ----------------------------------------------------------------------------- demo store: events
def test_events_returns_every_event_with_signals_oldest_first(m: monitor.Monitor) -> None:
    ev = m.events()
    assert len(ev) == TOTAL
    assert ev.ts.is_monotonic_increasing
    assert ev.request_id.is_unique
    assert {"chars", "words", "refusal", "refusal_rule", "parse_status", "parse_failed"} <= set(ev.columns)
    assert ev.ts.iloc[0].utcoffset() == dt.timedelta(0)  # tz-aware UTC


def test_events_keyword_filters_equal_the_selector_string(m: monitor.Monitor) -> None:
    a = m.events(route="support", model_version=demo.NEW_VERSION)
    b = m.events(f"route=support,model_version={demo.NEW_VERSION}")
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == PER_CELL and set(a.route) == {"support"}


def test_events_several_values_limit_and_columns(m: monitor.Monitor) -> None:
    ev = m.events(route="chat|faq", model=demo.MODEL, columns=["request_id", "route"], limit=7)
    assert ev.columns.tolist() == ["request_id", "route"]
    assert len(ev) == 7 and set(ev.route) <= {"chat", "faq"}
    assert set(m.events(route="chat|faq", model=demo.MODEL).route) == {"chat", "faq"}


def test_events_since_is_inclusive_until_exclusive(m: monitor.Monitor) -> None:
    ev = m.events(columns=["ts"])
    cut = ev.ts.iloc[len(ev) // 2]
    before = m.events(until=cut.isoformat(), columns=["ts"])
    after = m.events(since=cut.isoformat(), columns=["ts"])
    assert len(before) + len(after) == len(ev)
    assert (before.ts < cut).all() and (after.ts >= cut).all()
    assert after.ts.iloc[0] == cut


def test_events_last_is_relative_to_now(m: monitor.Monitor) -> None:
    # The new version served yesterday (UTC); the old one up to two days ago.
    recent = m.events("last=2d", model=demo.MODEL, columns=["model_version"])
    assert demo.NEW_VERSION in set(recent.model_version)
    assert m.events("last=1s").empty


# ----------------------------------------------------------------------------- demo store: stats / window
def test_stats_counts_add_up_to_the_events(m: monitor.Monitor) -> None:
    for freq in ("1h", "6h", "1d", "15min"):
        st = m.stats(by=["model_version", "route"], freq=freq)
        totals = st.groupby(["model_version", "route"]).n.sum()
        direct = m.events(columns=["model_version", "route"]).value_counts(["model_version", "route"])
        assert totals.sort_index().tolist() == direct.sort_index().tolist(), freq
    st = m.stats(by="route", freq="1d", selector=NEW)
    assert st.n.sum() == 5 * PER_CELL
    assert st.bucket.nunique() == 1  # the new version served one day
    refusals = m.events(NEW, route="support").refusal.sum()
    assert st.set_index("route").loc["support", "refusals"] == refusals


def test_stats_default_segments(m: monitor.Monitor) -> None:
    st = m.stats()
    assert {"model", "model_version", "route", "bucket", "n", "median_chars", "p90_chars"} <= set(st.columns)
    assert st.n.sum() == TOTAL


def test_window_matches_events(m: monitor.Monitor) -> None:
    stats = m.window(NEW, ["route"])
    assert set(stats) == {("chat",), ("extract",), ("faq",), ("support",), ("summarize",)}
    ev = m.events(NEW)
    for (route,), s in stats.items():
        rows = ev[ev.route == route]
        assert s.n == len(rows)
        assert s.refusals == int(rows.refusal.sum())
        assert s.parse_failures == int((rows.expects_json & rows.parse_failed).sum())
        assert s.length.n == int((~rows.refusal).sum())


# ----------------------------------------------------------------------------- demo store: compare
def test_compare_finds_the_injected_regressions(m: monitor.Monitor) -> None:
    r = m.compare(baseline=OLD, current=NEW, by=["route"])
    assert {(f.segment["route"], f.metric) for f in r.alerts} == {
        ("chat", "response_length"), ("support", "refusal_rate"),
        ("extract", "json_invalid_rate"), ("summarize", "task_success_rate")}
    assert not [f for f in r.alerts if f.segment["route"] == "faq"]
    assert r.by == ["route"]
    # A segment key both selectors pin to different values is the thing compared: routes are matched.
    full = m.compare(OLD, NEW, by=["model", "model_version", "route"])
    assert full.by == ["model", "route", "model_version"]
    assert {f.segment["model_version"] for f in full.items} == {demo.NEW_VERSION}
    assert {f.details["baseline_model_version"] for f in full.items} == {demo.OLD_VERSION}
    findings = r.findings
    assert len(findings) == len(r.items)
    assert findings.columns.tolist() == list(Finding.__dataclass_fields__)
    assert findings.alert.sum() == len(r.alerts)
    assert json.loads(r.to_json()) == {"compared": {}, "findings": [f.to_dict() for f in r.items], "unmatched": []}


def test_compare_by_accepts_a_string_and_defaults_to_the_config(m: monitor.Monitor) -> None:
    a = m.compare(OLD, NEW, by="route").to_json()
    assert a == m.compare(OLD, NEW, by=["route"]).to_json()
    default = m.compare(OLD, NEW)
    assert default.to_json() == m.compare(OLD, NEW, by=m.config.segment_by).to_json()


def test_compare_a_log_file_with_the_store(m: monitor.Monitor, tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "cur.jsonl", [
        event(i, model=demo.MODEL, model_version="v-file", route="chat",
              response="I'm sorry, but I can't help with that request." if i % 3 == 0 else "word " * 60)
        for i in range(200)])
    r = m.compare(baseline=f"{OLD},route=chat", current=str(log), by=["route"])
    refusal = next(f for f in r.items if f.metric == "refusal_rate")
    assert refusal.n_current == 200 and refusal.alert


def test_comparison_plot_when_plots_exist(m: monitor.Monitor) -> None:
    pytest.importorskip("monitor.report.plots", reason="monitor/plots.py not there yet")
    import matplotlib

    matplotlib.use("Agg")
    fig = m.compare(OLD, NEW, by=["route"]).plot("response_length")
    assert hasattr(fig, "savefig")


# ----------------------------------------------------------------------------- demo store: the rest
def test_models_inventory(m: monitor.Monitor) -> None:
    inv = m.models()
    assert set(zip(inv.model, inv.model_version)) == {
        (demo.MODEL, demo.OLD_VERSION), (demo.MODEL, demo.NEW_VERSION), (demo.CONTROL_MODEL, demo.CONTROL_VERSION)}
    assert inv.events.sum() == TOTAL
    assert not inv.new.any()
    yesterday = (dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)).isoformat()
    new = m.models(since=yesterday)
    assert set(new[new.new].model_version) == {demo.NEW_VERSION}


def test_alerts_and_quarantine(m: monitor.Monitor) -> None:
    alerts = m.alerts()
    assert len(alerts) == 4
    assert {"ts", "run_id", "metric", "segment_key", "reason"} <= set(alerts.columns)
    q = m.quarantine()
    assert len(q) == 3
    assert q.columns.tolist() == ["quarantined_at", "source", "line", "reason", "raw", "raw_base64"]
    assert sorted(q.line) == [12, 23, 34]


def test_sql_with_parameters(m: monitor.Monitor) -> None:
    out = m.sql("select route, count(*) as n from events where model = ? group by route order by route",
                [demo.MODEL])
    assert out.route.tolist() == ["chat", "extract", "faq", "summarize", "support"]
    assert (out.n == 2 * PER_CELL).all()
    assert m.sql("select 1 + 1 as two").two[0] == 2


def test_ingest_through_the_api_is_idempotent(tmp_path: Path) -> None:
    m = monitor.open(tmp_path / "s")
    log = write_jsonl(tmp_path / "a.jsonl", [event(i) for i in range(40)] + [b"{broken"])
    first = m.ingest([str(log)])
    assert (first.ingested, first.quarantined) == (40, 1)
    second = m.ingest([str(log)])
    assert second.ingested == 0
    assert len(m.events()) == 40 and len(m.quarantine()) == 1


# ----------------------------------------------------------------------------- bad inputs
BAD_CALLS = {
    "events: unknown column": lambda m: m.events(columns=["colour"]),
    "events: unknown filter key": lambda m: m.events(colour="blue"),
    "events: bad since": lambda m: m.events(since="yesterday-ish"),
    "events: empty range": lambda m: m.events(since="2026-11-02", until="2026-11-01"),
    "events: a file selector": lambda m: m.events(__file__),
    "events: bad term": lambda m: m.events("route"),
    "events: negative limit": lambda m: m.events(limit=-1),
    "stats: unknown segment key": lambda m: m.stats(by=["colour"]),
    "stats: bad freq": lambda m: m.stats(freq="hourly"),
    "stats: bad selector": lambda m: m.stats(selector="last=forever"),
    "compare: unknown key": lambda m: m.compare("colour=1", NEW),
    "compare: empty selector": lambda m: m.compare("", NEW),
    "compare: missing file": lambda m: m.compare("/no/such/file.jsonl", NEW),
    "compare: unknown by": lambda m: m.compare(OLD, NEW, by=["colour"]),
    "compare: unknown by string": lambda m: m.compare(OLD, NEW, by="colour"),
    "models: bad since": lambda m: m.models(since="not a date"),
    "sql: syntax": lambda m: m.sql("selec 1"),
    "sql: unknown table": lambda m: m.sql("select * from no_such_table"),
    "sql: unknown column": lambda m: m.sql("select colour from events"),
    "sql: wrong parameter count": lambda m: m.sql("select ? as a", [1, 2]),
    "ingest: missing file": lambda m: m.ingest(["/no/such/file.jsonl"]),
    "window: bad selector": lambda m: m.window("colour=x", ["route"]),
    "events: limit not a number": lambda m: m.events(limit="ten"),
    "stats: zero freq": lambda m: m.stats(freq="0h"),
    "window: unknown segment key": lambda m: m.window("route=chat", ["colour"]),
    "ingest: unknown input format": lambda m: m.ingest([__file__], input_format="yaml"),
    "ingest: unknown redact mode": lambda m: m.ingest([__file__], redact="shred"),
    "plot: unknown metric": lambda m: m.compare(OLD, NEW, by=["route"]).plot("bogus"),
}


@pytest.mark.parametrize("store", ["empty", "demo"])
@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_input_is_a_user_error(name: str, store: str, request: pytest.FixtureRequest) -> None:
    target = request.getfixturevalue("empty" if store == "empty" else "m")
    with pytest.raises(UserError) as info:
        BAD_CALLS[name](target)
    assert str(info.value).strip() and "\n" not in str(info.value).strip()


def test_events_limit_zero_returns_no_rows(m: monitor.Monitor) -> None:
    assert m.events(limit=0).empty
