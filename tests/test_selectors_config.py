"""Selectors and the configuration file: parsers of untrusted input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.config import load_config
from monitor.errors import ConfigError, SelectorError
from monitor.selectors import parse_selector


@given(st.text(max_size=200))
@settings(max_examples=400, deadline=None)
def test_any_selector_text_parses_or_raises_selector_error(text: str) -> None:
    try:
        sel = parse_selector(text)
    except SelectorError as exc:
        assert str(exc)
        return
    where, params = sel.where()
    assert isinstance(where, str) and where.count("?") == len(params)


@given(st.sampled_from(["model", "model_version", "route", "schema_name", "requested_model"]),
       st.lists(st.text(alphabet=st.characters(blacklist_characters=",|=", blacklist_categories=("Cs",)),
                        min_size=1, max_size=10).filter(lambda s: s.strip() == s and s), min_size=1, max_size=3))
def test_equality_terms_round_trip(key: str, values: list[str]) -> None:
    sel = parse_selector(f"{key}={'|'.join(values)}")
    assert sel.equals == {key: values}
    assert sel.only_value(key) == (values[0] if len(values) == 1 else None)


def test_time_terms() -> None:
    sel = parse_selector("since=2026-11-01,until=2026-11-02T12:00:00+02:00")
    assert sel.since == pd.Timestamp("2026-11-01T00:00:00Z")
    assert sel.until == pd.Timestamp("2026-11-02T10:00:00Z")
    now = pd.Timestamp("2026-11-26T12:00:00Z")
    assert parse_selector("last=36h", now=now).since == pd.Timestamp("2026-11-25T00:00:00Z")
    with pytest.raises(SelectorError, match="since must be before until"):
        parse_selector("since=2026-11-02,until=2026-11-01")
    with pytest.raises(SelectorError, match="bad duration"):
        parse_selector("last=3 fortnights")


def test_existing_file_is_a_file_selector(tmp_path: Path) -> None:
    p = tmp_path / "a=b.jsonl"
    p.write_text("")
    assert parse_selector(str(p)).file == str(p)


def _write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "llm-monitor.toml"
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("text, key", [
    ("[policy]\nalpha = 0\n", "policy.alpha"),
    ("[policy]\nmin_samples = -3\n", "policy.min_samples"),
    ("[policy.floors]\nrefusal_rate = -1\n", "policy.floors.refusal_rate"),
    ("[policy.floors]\nvibes = 0.1\n", "policy.floors.vibes"),
    ("[segments]\nby = [\"colour\"]\n", "segments.by"),
    ("[signals]\njson_mode = \"lenient\"\n", "signals.json_mode"),
    ("[[signals.refusal_rules]]\nname = \"x\"\n", "signals.refusal_rules[0].pattern"),
    ("[[signals.refusal_rules]]\nname = \"x\"\npattern = \"a\"\ncolour = 1\n", "signals.refusal_rules[0].colour"),
    ("[ingest]\nredact = \"yes\"\n", "ingest.redact"),
    ("[sentry]\nsend_text = \"no\"\n", "sentry.send_text"),
    ("[nonsense]\n", "nonsense"),
    ("policy = 3\n", "policy"),
    ("[policy\n", "(syntax)"),
])
def test_bad_config_names_the_key_and_the_file(tmp_path: Path, text: str, key: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == key
    assert path in str(info.value)


def test_good_config_is_applied(tmp_path: Path) -> None:
    path = _write(tmp_path, """
[store]
path = "data"
[segments]
by = ["model", "route"]
length_measure = "words"
[policy]
alpha = 0.05
min_samples = 50
alert_on = "worse"
[policy.floors]
refusal_rate = 0.02
[signals]
json_mode = "extract"
schemas_dir = "schemas"
[[signals.refusal_rules]]
name = "acme"
pattern = "acme says no"
models = ["acme-*"]
[ingest]
redact = "hash"
""")
    cfg = load_config(path)
    assert cfg.store == str(tmp_path / "data")
    assert cfg.segment_by == ["model", "route"] and cfg.length_measure == "words"
    assert cfg.policy.alpha == 0.05 and cfg.policy.min_samples == 50 and cfg.policy.alert_on == "worse"
    assert cfg.policy.floors["refusal_rate"] == 0.02 and cfg.policy.floors["response_length"] == 0.05
    assert cfg.json_mode == "extract" and cfg.schemas_dir == str(tmp_path / "schemas")
    assert cfg.refusal_rules[0].name == "acme" and cfg.redact == "hash"


def test_bad_user_refusal_rule_pattern_names_the_key(tmp_path: Path) -> None:
    from monitor.signals.config import signal_config_from

    cfg = load_config(_write(tmp_path, "[[signals.refusal_rules]]\nname = \"x\"\npattern = \"(unclosed\"\n"))
    with pytest.raises(ConfigError) as info:
        signal_config_from(cfg)
    assert "signals.refusal_rules" in str(info.value)


def test_bad_mapping_table_names_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "[mapping]\nmodel = \"m\"\nresponse = \"out\"\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "ts" in str(info.value) and path in str(info.value)
    ok = _write(tmp_path, "[mapping]\nts = \"time\"\nmodel = \"m\"\nresponse = \"out\"\n")
    assert load_config(ok).mapping["ts"] == "time"
