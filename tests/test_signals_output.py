"""``llm-monitor signals`` prints from the Arrow table (``Monitor.file_signals``) byte for byte
what the API's DataFrame (``Monitor.signals``) renders to: every adapter fixture, a real
subprocess on non-ASCII text, and hypothesis-generated files with bad lines mixed in.

The reference rendering below is the one the CLI used before it stopped importing pandas: the
DataFrame's signal columns, missing values (NA, NaN, None) as null, numpy scalars as numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import FIXTURES, write_jsonl
from monitor import FileSignals
from monitor.api import Monitor
from monitor.cli import SIGNAL_COLUMNS, main
from monitor.config import Config, load_config

MONITOR = Monitor(None, Config())


def dataframe_lines(frame: pd.DataFrame) -> str:
    """The JSON lines of the API's DataFrame, rendered through pandas (the reference)."""
    columns = [c for c in SIGNAL_COLUMNS if c in frame.columns]
    cells = frame[columns].astype(object).where(frame[columns].notna(), None)

    def plain(value: Any) -> Any:
        return value.item() if hasattr(value, "item") else str(value)

    return "".join(json.dumps(dict(zip(columns, row)), ensure_ascii=False, default=plain) + "\n"
                   for row in cells.itertuples(index=False))


def _fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*.jsonl"))


@pytest.mark.parametrize("fixture", _fixtures(), ids=lambda p: p.stem)
def test_cli_prints_what_the_dataframe_renders(fixture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config_path = fixture.with_suffix(".toml")  # a mapping's table: mapping_custom.toml
    mapped = config_path.exists()
    args = ["--config", str(config_path), "--input-format", "mapping"] if mapped else []
    monitor = Monitor(None, load_config(str(config_path) if mapped else None))
    frame = monitor.signals(fixture, input_format="mapping" if mapped else None)
    assert main(["signals", str(fixture), *args]) == 0
    out = capsys.readouterr()
    assert out.out == dataframe_lines(frame)
    assert len(out.out.splitlines()) == len(frame) > 0
    assert out.err.count("quarantined:") == len(frame.attrs["rejects"])


def test_subprocess_output_is_byte_identical(tmp_path: Path) -> None:
    """A real ``llm-monitor signals`` process: the bytes on stdout (UTF-8, non-ASCII as is)."""
    log = write_jsonl(tmp_path / "mixed.jsonl", [
        {"ts": "2026-11-01T00:00:00Z", "request_id": "r1", "model": "m", "response": "Désolé, I’m sorry, but I can’t."},
        {"ts": "2026-11-01T00:00:01+02:00", "request_id": "r2", "model": "m", "model_version": "v2",
         "route": "extract", "response": "{\"a\": 1}", "expects_json": True, "output_tokens": 7, "task_success": False},
        b"{not json",
        {"ts": "2026-11-01T00:00:02Z", "request_id": "r3", "model": "m", "response": "<think>hm</think>Fine: 北京."},
    ])
    res = subprocess.run([sys.executable, "-m", "monitor.cli", "signals", str(log)], capture_output=True,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    frame = MONITOR.signals(log)
    assert res.stdout == dataframe_lines(frame).encode("utf-8") and len(frame) == 3
    assert res.stderr.decode() == "".join(f"{r['source']}:{r['line']}: quarantined: {r['reason']}\n"
                                          for r in frame.attrs["rejects"])
    assert [r["line"] for r in frame.attrs["rejects"]] == [3]


def test_file_signals_is_the_dataframe(tmp_path: Path) -> None:
    """The Arrow result and the DataFrame hold the same events and the same quarantined lines."""
    log = write_jsonl(tmp_path / "two.jsonl", [
        {"ts": "2026-11-01T00:00:00Z", "request_id": "r1", "model": "m", "response": "I can't help with that."},
        {"ts": "2026-11-01T00:00:00Z", "request_id": "r1", "model": "m", "response": "a duplicate id: dropped"},
        {"ts": "yesterday", "request_id": "r2", "model": "m", "response": "bad time"},
    ])
    result = MONITOR.file_signals(log)
    frame = MONITOR.signals(log)
    assert isinstance(result, FileSignals) and result.table.num_rows == len(frame) == 1
    assert result.table.column_names == list(frame.columns)
    assert result.rejects == frame.attrs["rejects"] == [
        {"source": str(log.resolve()), "line": 3, "reason": "schema: ts: 'yesterday' is too short"}]
    assert [r["refusal_class"] for r in result.rows(["refusal_class"])] == frame.refusal_class.tolist()
    assert list(result.rows())[0].keys() == set(frame.columns)


# -- hypothesis: any events and bad lines, the two renderings agree ---------------------------------
_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
_event = st.fixed_dictionaries(
    {"ts": st.sampled_from(["2026-11-01T00:00:00Z", "2026-11-01T08:30:00.123456+05:30", "2026-11-01 00:00:00"]),
     "model": st.sampled_from(["m", "gpt-4o-2024-08-06", "é-model"]),
     "response": st.one_of(_text, st.sampled_from(["I'm sorry, but I can't help with that.", '{"a": [1, 2]}',
                                                   '```json\n{"a": 1}\n```', "<think>x</think>ok", ""]))},
    optional={"model_version": st.sampled_from(["v1", "v2"]), "route": _text,
              "output_tokens": st.integers(0, 2**53), "task_success": st.booleans(),
              "expects_json": st.booleans(), "latency_ms": st.floats(0, 1e6),
              "schema": st.just({"type": "object", "required": ["a"]}), "finish_reason": st.sampled_from(["stop", "length"])})
_line = st.one_of(_event.map(lambda e: e), st.binary(max_size=20).filter(lambda b: b"\n" not in b and b"\r" not in b))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=12))
def test_rows_render_as_the_dataframe(tmp_path: Path, lines: list[Any]) -> None:
    items = [dict(e, request_id=f"r{i % 5}") if isinstance(e, dict) else e for i, e in enumerate(lines)]
    log = write_jsonl(tmp_path / "h.jsonl", items)
    try:
        frame = MONITOR.signals(log)
    except Exception as exc:  # no valid event: both say so the same way
        with pytest.raises(type(exc), match="has no valid event|is empty"):
            MONITOR.file_signals(log)
        return
    result = MONITOR.file_signals(log)
    rows = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.rows(SIGNAL_COLUMNS))
    assert rows == dataframe_lines(frame)
    assert result.rejects == frame.attrs["rejects"]
