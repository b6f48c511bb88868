"""The README's examples are real: every example log line ingests without a reject."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.ingest import load_file

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
JSON_BLOCKS = re.findall(r"```json\n(.*?)```", README, re.S)
TOML_BLOCKS = re.findall(r"```toml\n(.*?)```", README, re.S)


def test_readme_has_an_example_per_format() -> None:
    assert len(JSON_BLOCKS) >= 9  # native + openai, ollama, otel, litellm, anthropic, gemini, bedrock, mapping
    for marker in ('"type":"message"', '"candidates"', '"modelId"'):  # Anthropic, Gemini, Bedrock
        assert any(marker in block for block in JSON_BLOCKS), marker


@pytest.mark.parametrize("index", range(len(JSON_BLOCKS)))
def test_readme_example_ingests(index: int, tmp_path: Path) -> None:
    text = JSON_BLOCKS[index]
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        for line in lines:
            json.loads(line)
    except json.JSONDecodeError:  # one object wrapped over several lines for reading
        lines = [" ".join(line.strip() for line in lines)]
    log = tmp_path / "example.jsonl"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    config_path = None
    if "@timestamp" in text:  # the mapping example comes with its [mapping] table
        config_path = tmp_path / "llm-monitor.toml"
        config_path.write_text(next(t for t in TOML_BLOCKS if "[mapping]" in t and "@timestamp" in t))
    config = load_config(str(config_path) if config_path else None, search_cwd=False)
    frame, rejects = load_file(str(log), config, input_format="mapping" if config_path else None)
    assert not rejects, rejects
    assert len(frame) >= 1
    assert frame["model"].notna().all() and frame["response"].notna().all()


def test_the_first_check_example_compares_two_log_files() -> None:
    first = next(line for block in re.findall(r"```bash\n(.*?)```", README, re.S)
                 for line in block.splitlines() if line.startswith("llm-monitor check"))
    assert re.fullmatch(r"llm-monitor check --baseline \S+\.jsonl --current \S+\.jsonl", first), first
