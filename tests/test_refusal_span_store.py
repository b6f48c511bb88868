"""The matched refusal span is stored with the event (so ``sample`` and the report can show it),
and it is response text: redaction removes it with the response."""

from __future__ import annotations

from pathlib import Path

import pytest

import monitor
from helpers import event, write_jsonl

REFUSAL = "I'm sorry, but I can't help with that request."


@pytest.mark.parametrize("redact, kept", [("none", True), ("hash", False), ("drop", False)])
def test_span_is_stored_unless_redacted(tmp_path: Path, redact: str, kept: bool) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", [event(i, response=REFUSAL if i % 2 else f"Answer {i}.") for i in range(20)])
    m = monitor.open(tmp_path / "store")
    assert m.ingest([str(log)], redact=redact).ingested == 20
    rows = m.sql("SELECT refusal_class, refusal_rule, refusal_span FROM events WHERE refusal ORDER BY request_id")
    assert len(rows) == 10 and rows.refusal_rule.notna().all()  # the rule is a name, never text: always kept
    if kept:
        assert rows.refusal_span.notna().all() and rows.refusal_span.str.contains("can't").all()
    else:
        assert rows.refusal_span.isna().all()
    sample = m.sample(where={"refusal_class": "full_refusal"}, n=5)
    assert len(sample) == 5 and (sample.refusal_span.notna().all() if kept else sample.refusal_span.isna().all())
