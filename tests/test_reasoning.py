"""Reasoning apart from the answer: inline <think> blocks, providers' fields, reasoning_length metric."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import monitor
from monitor.config import Config
from monitor.signals.reasoning import separate_reasoning, split_inline

FIX = Path(__file__).parent / "fixtures"
plain = st.text(alphabet=st.characters(blacklist_characters="<>"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(plain, plain, st.sampled_from(["think", "thinking"]))
def test_closed_block_is_cut_out_whole(thought, answer, tag):
    got_answer, got_thought = split_inline(f"<{tag}>{thought}</{tag}>{answer}", ("think", "thinking"))
    assert got_thought == thought and got_answer == answer.strip()


@settings(max_examples=300, deadline=None)
@given(plain, plain)
def test_template_opened_block(thought, answer):
    """DeepSeek-R1 chat templates open <think> in the prompt: the reply starts inside the block."""
    assert split_inline(f"{thought}</think>{answer}") == (answer.strip(), thought)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_text_splits_without_losing_characters(text):
    answer, thought = split_inline(text)
    if thought is None:
        assert answer == text
    else:
        assert "</think>" not in answer and "</thinking>" not in answer
        assert len(answer) + len(thought) <= len(text)


def test_separate_and_keep_modes():
    resp = pd.Series(["<think>a b c</think>\n\n{\"x\": 1}", "plain", "<think>cut off"])
    ans, n = separate_reasoning(resp, [None, "field reasoning", None])
    assert ans.to_pylist() == ['{"x": 1}', "plain", ""] and n.to_pylist() == [5, 15, 7]
    kept, n2 = separate_reasoning(resp, [None, "field reasoning", None], "keep")
    assert kept.to_pylist() == resp.tolist() and n2.to_pylist() == [None, 15, None]
    with pytest.raises(ValueError):
        separate_reasoning(resp, [None] * 3, "drop")


def _ingest(tmp_path, name, config=None):
    m = monitor.open(tmp_path / "store", config=config or Config())
    report = m.ingest([str(FIX / name)])
    return m, report


def test_ingest_separates_inline_and_field_reasoning(tmp_path):
    m, report = _ingest(tmp_path, "ollama_reasoning.jsonl")
    assert report.quarantined == 0 and report.ingested == 4
    rows = m.sql("SELECT model, response, chars, reasoning_length, parse_status FROM events ORDER BY source_line").to_dict("records")
    assert rows[0]["reasoning_length"] is pd.NA or pd.isna(rows[0]["reasoning_length"])       # llama3.2: none
    qwen = rows[1]
    assert qwen["response"] == "The capital of Australia is Canberra." and qwen["chars"] == len(qwen["response"])
    assert qwen["reasoning_length"] == len("\nThe user wants the capital of Australia. It is Canberra, not Sydney.\n")
    # a JSON answer after a think block parses: the block is not part of the answer
    assert rows[2]["response"] == '{"name": "Ann", "age": 31}' and rows[2]["parse_status"] == "ok"
    assert rows[3]["reasoning_length"] == len("Capital of Australia: Canberra.")      # Ollama `thinking` field


def test_keep_mode_counts_inline_reasoning_as_answer(tmp_path):
    m, _ = _ingest(tmp_path, "ollama_reasoning.jsonl", Config(reasoning="keep"))
    rows = m.sql("SELECT response, parse_status, reasoning_length FROM events ORDER BY source_line").to_dict("records")
    assert rows[1]["response"].startswith("<think>") and pd.isna(rows[1]["reasoning_length"])
    assert rows[2]["parse_status"] != "ok"


def test_reasoning_config_is_validated(tmp_path):
    from monitor.config import load_config
    from monitor.errors import ConfigError
    p = tmp_path / "llm-monitor.toml"
    p.write_text('[signals]\nreasoning = "keep"\nreasoning_tags = ["think", "reasoning"]\n')
    cfg = load_config(str(p))
    assert cfg.reasoning == "keep" and cfg.reasoning_tags == ["think", "reasoning"]
    p.write_text('[signals]\nreasoning = "drop"\n')
    with pytest.raises(ConfigError) as err:
        load_config(str(p))
    assert err.value.key == "signals.reasoning"


def _native(path: Path, version: str, thinking: int, n: int = 300) -> None:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"ts": f"2026-11-0{1 if version == 'v1' else 2}T{i % 24:02d}:00:00Z",
                                 "request_id": f"{version}-{i}", "model": "qwen3:8b", "model_version": version,
                                 "response": "The answer is " + "x" * (40 + i % 7),
                                 "reasoning": "r" * (thinking + i % 11)}) + "\n")


def test_reasoning_length_metric_sees_more_thinking_and_answer_length_does_not(tmp_path):
    _native(tmp_path / "v1.jsonl", "v1", 200)
    _native(tmp_path / "v2.jsonl", "v2", 600)
    m = monitor.open(tmp_path / "store", config=Config())
    m.ingest([str(tmp_path / "v1.jsonl"), str(tmp_path / "v2.jsonl")])
    result = m.compare("model_version=v1", "model_version=v2", by=["model", "model_version"])
    by_metric = {f.metric: f for f in result.items}
    assert by_metric["reasoning_length"].alert is True
    assert by_metric["reasoning_length"].baseline_value == pytest.approx(205, abs=1)
    assert by_metric["reasoning_length"].current_value == pytest.approx(605, abs=1)
    assert by_metric["response_length"].alert is False
    # the report draws it as a length (densities and ECDFs), and change-point attribution runs on it
    from monitor.report import write_report
    text = write_report(m, result, tmp_path / "report.html").read_text(encoding="utf-8")
    section = text[text.index('id="reasoning-length"'):]
    section = section[:section.index("</section>")]
    assert "Distribution of reasoning length" in section and section.count("<img") == 1
    assert type(result.plot("reasoning_length", monitor=m)).__name__ == "Figure"


def test_no_reasoning_no_finding(tmp_path):
    m, _ = _ingest(tmp_path, "openai_chat.jsonl")
    stats = m.window("model=gpt-4o-mini-2024-07-18", ["model"])
    assert all(s.reasoning.n == 0 for s in stats.values())
