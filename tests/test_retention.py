"""``monitor.retention``: exactly the events older than the cutoff go, crash-safely; the
``[retention]`` keys are validated; the alert log's rotation loses no complete line."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.compaction import recover
from monitor.config import ConfigError, load_config
from monitor.retention import expire_events, retained_positions, rotate_alert_log
from monitor.store import Store
from sinks.alert_log import append_alerts, read_alerts

NOW = pd.Timestamp("2026-11-30T00:00:00Z")


def _segment(store: Store, ages_h: list[int], start: int, source: str = "tail:abc") -> None:
    n = len(ages_h)
    frame = pd.DataFrame({"ts": [NOW - pd.Timedelta(hours=a) for a in ages_h],
                          "request_id": [f"r{start + i}" for i in range(n)], "model": ["m"] * n,
                          "source_id": [source] * n, "source_offset": [100 * (start + i + 1) for i in range(n)],
                          "source_line": [start + i + 1 for i in range(n)]})
    store.write_segment(store.frame_to_table(frame))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.lists(st.integers(0, 96), min_size=1, max_size=6), min_size=1, max_size=5),
       keep_h=st.integers(1, 72))
def test_exactly_the_old_events_go(tmp_path_factory: pytest.TempPathFactory, segments: list[list[int]],
                                   keep_h: int) -> None:
    store = Store(tmp_path_factory.mktemp("ret"))
    ages: dict[str, int] = {}
    start = 0
    for seg in segments:
        _segment(store, seg, start)
        ages.update({f"r{start + i}": a for i, a in enumerate(seg)})
        start += len(seg)
    touched, rows = expire_events(store, keep_h / 24, now=NOW.timestamp())
    left = sorted(store.sql("SELECT request_id FROM events").request_id)
    want = sorted(r for r, a in ages.items() if a <= keep_h)  # ts >= now - keep_h hours
    assert left == want
    assert rows == len(ages) - len(want)
    # the replaced originals of trimmed segments are removed by the next pass; readers never saw them twice
    with store.writer_lock():
        recover(store)
    assert sorted(store.sql("SELECT request_id FROM events").request_id) == want
    assert len(list(store.events_dir.glob("*.parquet"))) == len(store.live_segments())
    # where the tailed source stood in what was deleted is recorded
    gone = [int(r[1:]) for r, a in ages.items() if r not in want]
    if gone:
        assert retained_positions(store)["tail:abc"][0] == 100 * (max(gone) + 1)


def test_a_crash_between_trim_and_delete_shows_no_row_twice(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    _segment(store, [50, 40, 1, 0], 0)
    before = {p.name for p in store.events_dir.iterdir()}
    expire_events(store, 1.0, now=NOW.timestamp())
    # the original is still on disk (deleted by the next pass), yet readers see the trimmed rows once
    assert before <= {p.name for p in store.events_dir.iterdir()}
    assert sorted(store.sql("SELECT request_id FROM events").request_id) == ["r2", "r3"]
    expire_events(store, 1.0, now=NOW.timestamp())  # the next pass: recover() removes the original
    assert not before & {p.name for p in store.events_dir.iterdir()}
    assert sorted(store.sql("SELECT request_id FROM events").request_id) == ["r2", "r3"]


def test_rotation_keeps_every_complete_line_of_the_kept_files(tmp_path: Path) -> None:
    store = Store(tmp_path / "s")
    written = 0
    for i in range(40):
        written += append_alerts(store.alert_log, [{"metric": "m", "segment": {"i": i}, "alert": True}], run_id=f"r{i}")
        if i % 3 == 0:
            rotate_alert_log(store, 600, 3)
    files = sorted(store.root.glob("alerts.jsonl*"))
    assert [p.name for p in files] == ["alerts.jsonl", "alerts.jsonl.1", "alerts.jsonl.2", "alerts.jsonl.3"]
    kept = [r["segment"]["i"] for p in reversed(files[1:]) for r in read_alerts(p)] + \
        [r["segment"]["i"] for r in read_alerts(files[0])]
    assert kept == list(range(40 - len(kept), 40))  # the newest lines, in order, none torn or missing
    assert all(os.stat(p).st_mode & 0o077 == 0 for p in files)


def test_retention_keys_are_validated(tmp_path: Path) -> None:
    p = tmp_path / "llm-monitor.toml"
    p.write_text("[retention]\nevents_days = 30\nalerts_keep = 2\n")
    cfg = load_config(str(p))
    assert cfg.retention.events_days == 30.0 and cfg.retention.alerts_keep == 2
    assert cfg.retention.quarantine_days == 30.0
    for bad, key in (("events_days = 0", "retention.events_days"), ("alerts_keep = 1.5", "retention.alerts_keep"),
                     ("quarantine_max_bytes = -1", "retention.quarantine_max_bytes"), ("colour = 1", "retention.colour")):
        p.write_text(f"[retention]\n{bad}\n")
        with pytest.raises(ConfigError) as err:
            load_config(str(p))
        assert err.value.key == key
