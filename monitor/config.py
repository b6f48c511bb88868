"""The configuration file ``llm-monitor.toml``: defaults, validation, one typed object.

The file is found in the working directory or given with ``--config``. Every key is
checked: an unknown key or a value of the wrong type stops the program with a message
naming the key and the file (exit code 2 from the CLI). ``docs/CONFIG.md`` lists every key.

Example:
    >>> cfg = load_config(None, search_cwd=False)
    >>> cfg.segment_by
    ['model', 'model_version', 'route']
    >>> cfg.policy.alpha
    0.01
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from detectors.policy_config import PolicyConfig
from monitor.errors import ConfigError, UserError
from monitor.formats import FORMATS
from monitor.keys import SEGMENT_KEYS

CONFIG_FILENAME = "llm-monitor.toml"



def check_segment_keys(by: "str | Iterable[str]") -> list[str]:
    """``by`` as a list of segment keys, or a :class:`UserError` naming the unknown one.

    >>> check_segment_keys("route"), check_segment_keys(["model", "route"])
    (['route'], ['model', 'route'])
    >>> check_segment_keys(["colour"])
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: unknown segment key 'colour'; use model, model_version, route, schema_name, requested_model
    """
    keys = [by] if isinstance(by, str) else list(by)
    for k in keys:
        if k not in SEGMENT_KEYS:
            raise UserError(f"unknown segment key {k!r}; use {', '.join(SEGMENT_KEYS)}")
    return keys
LENGTH_MEASURES = ("chars", "words", "output_tokens")


@dataclass
class RefusalRuleSpec:
    """A user refusal rule from ``[[signals.refusal_rules]]``."""

    name: str
    pattern: str
    family: str = "custom"
    position: str = "opening"
    models: list[str] = field(default_factory=list)


@dataclass
class SentryConfig:
    """``[sentry]``: Sentry sink settings (the DSN comes from ``SENTRY_DSN`` or ``dsn``)."""

    dsn: str | None = None
    environment: str | None = None
    send_text: bool = False
    monitor_slug: str = "llm-monitor-nightly"
    schedule: str = "0 3 * * *"
    timezone: str = "UTC"
    checkin_margin: int = 30
    max_runtime: int = 60
    cooldown_s: float = 3600.0
    resolve_after_s: float = 1800.0
    alert_on_new_model: bool = True

    def resolved_dsn(self) -> str | None:
        """``dsn``, else ``$SENTRY_DSN``, else None (:func:`sinks.dsn.resolve_dsn`)."""
        from sinks.dsn import resolve_dsn

        return resolve_dsn(self.dsn)


@dataclass
class RetentionConfig:
    """``[retention]``: how much the store keeps on disk (see docs/CONFIG.md and :mod:`monitor.retention`).

    ``events_days`` None keeps every event (deleting data is the user's decision); the other
    limits are on by default. The outbox's own limit is ``[outbox] retention_days``.
    """

    events_days: float | None = None
    quarantine_days: float = 30.0
    quarantine_max_bytes: int = 256 << 20
    alerts_max_bytes: int = 64 << 20
    alerts_keep: int = 4


@dataclass
class Config:
    """Everything the commands need, with documented defaults."""

    path: str | None = None
    store: str | None = None
    engine: str | None = None
    """``store.engine``: ``duckdb`` or ``spark`` (``--engine`` and ``LLM_MONITOR_ENGINE`` win)."""
    spark: dict[str, str] = field(default_factory=dict)
    """``[spark]``: Spark settings for a session the spark engine starts (docs/SCALE.md)."""
    segment_by: list[str] = field(default_factory=lambda: ["model", "model_version", "route"])
    length_measure: str = "chars"
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    json_mode: str = "strict"
    count_partial_as_refusal: bool = False
    reasoning: str = "separate"
    reasoning_tags: list[str] = field(default_factory=lambda: ["think", "thinking"])
    schemas_dir: str | None = None
    refusal_rules: list[RefusalRuleSpec] = field(default_factory=list)
    disabled_refusal_rules: list[str] = field(default_factory=list)
    input_format: str = "auto"
    redact: str = "none"
    mapping: dict[str, Any] = field(default_factory=dict)
    sentry: SentryConfig = field(default_factory=SentryConfig)
    nightly_baseline: str | None = None
    nightly_baseline_days: int = 7
    tail: dict[str, Any] = field(default_factory=dict)
    outbox_retention_days: float = 7.0
    retention: RetentionConfig = field(default_factory=RetentionConfig)


def _is_str(v: Any) -> bool:
    return isinstance(v, str)


def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_pos_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def _is_nonneg_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def _is_pos_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


def _is_prob(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda v: v in choices


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _segment_list(v: Any) -> bool:
    return _str_list(v) and len(v) > 0 and all(x in SEGMENT_KEYS for x in v)


# key -> (check, description of a valid value)
_SCALARS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "store.path": (_is_str, "a directory path (string)"),
    "store.engine": (_one_of("duckdb", "spark"), "\"duckdb\" or \"spark\""),
    "segments.by": (_segment_list, f"a non-empty list drawn from {list(SEGMENT_KEYS)}"),
    "segments.length_measure": (_one_of(*LENGTH_MEASURES), f"one of {list(LENGTH_MEASURES)}"),
    "policy.alpha": (_is_prob, "a number in (0, 1)"),
    "policy.min_samples": (_is_pos_int, "a whole number >= 1"),
    "policy.alert_on": (_one_of("both", "worse"), "\"both\" or \"worse\""),
    "signals.json_mode": (_one_of("strict", "extract"), "\"strict\" or \"extract\""),
    "signals.count_partial_as_refusal": (_is_bool, "true or false"),
    "signals.schemas_dir": (_is_str, "a directory path (string)"),
    "signals.disabled_refusal_rules": (_str_list, "a list of rule names"),
    "signals.reasoning": (_one_of("separate", "keep"), "\"separate\" or \"keep\""),
    "signals.reasoning_tags": (lambda v: _str_list(v) and all(re.fullmatch(r"[A-Za-z][\w.-]{0,31}", x) for x in v),
                               "a list of tag names such as [\"think\", \"thinking\"]"),
    "ingest.input_format": (_one_of("auto", *FORMATS), "auto or one of " + ", ".join(FORMATS)),
    "ingest.redact": (_one_of("none", "hash", "drop"), "\"none\", \"hash\" or \"drop\""),
    "sentry.dsn": (_is_str, "a DSN string"),
    "sentry.environment": (_is_str, "a string"),
    "sentry.send_text": (_is_bool, "true or false"),
    "sentry.monitor_slug": (_is_str, "a string"),
    "sentry.schedule": (_is_str, "a crontab string such as \"0 3 * * *\""),
    "sentry.timezone": (_is_str, "a tz database name such as \"UTC\""),
    "sentry.checkin_margin": (_is_pos_int, "minutes, a whole number >= 1"),
    "sentry.max_runtime": (_is_pos_int, "minutes, a whole number >= 1"),
    "sentry.cooldown_s": (_is_nonneg_num, "seconds, a number >= 0"),
    "sentry.resolve_after_s": (_is_nonneg_num, "seconds, a number >= 0"),
    "sentry.alert_on_new_model": (_is_bool, "true or false"),
    "nightly.baseline": (_is_str, "a selector such as \"model_version=v1\""),
    "nightly.baseline_days": (_is_pos_int, "a whole number of days >= 1"),
    "outbox.retention_days": (_is_pos_num, "days, a number > 0"),
    "retention.events_days": (_is_pos_num, "days, a number > 0 (leave it out to keep every event)"),
    "retention.quarantine_days": (_is_pos_num, "days, a number > 0"),
    "retention.quarantine_max_bytes": (_is_pos_int, "bytes, a whole number >= 1"),
    "retention.alerts_max_bytes": (_is_pos_int, "bytes, a whole number >= 1"),
    "retention.alerts_keep": (_is_pos_int, "a whole number of rotated files >= 1"),
}
_TABLES = {"store", "segments", "policy", "signals", "ingest", "sentry", "nightly", "outbox", "mapping", "tail",
           "retention", "spark"}
_RULE_KEYS = {"name", "pattern", "family", "position", "models"}


def find_config(explicit: str | None, *, search_cwd: bool = True) -> Path | None:
    """The config file to read: ``explicit`` if given, else ``./llm-monitor.toml`` if present.

    >>> find_config(None, search_cwd=False) is None
    True
    """
    if explicit:
        return Path(explicit)
    if search_cwd and Path(CONFIG_FILENAME).is_file():
        return Path(CONFIG_FILENAME)
    return None


def load_config(explicit: str | None = None, *, search_cwd: bool = True) -> Config:
    """Read and validate the configuration; defaults when there is no file.

    Raises :class:`ConfigError` naming the key and the file on any problem.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "llm-monitor.toml")
    >>> _ = open(p, "w").write("[policy]\\nalpah = 0.05\\n")
    >>> try:
    ...     load_config(p)
    ... except ConfigError as e:
    ...     print(e.key)
    policy.alpah
    """
    path = find_config(explicit, search_cwd=search_cwd)
    cfg = Config()
    if path is None:
        return cfg
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("(file)", "no such file", where) from None
    except IsADirectoryError:
        raise ConfigError("(file)", "is a directory, not a TOML file", where) from None
    except OSError as exc:
        raise ConfigError("(file)", f"cannot be read ({exc.strerror or exc})", where) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("(syntax)", f"not valid TOML: {exc}", where) from None
    cfg.path = where
    _apply(raw, cfg, where, Path(where).resolve().parent)
    return cfg


def _apply(raw: dict[str, Any], cfg: Config, where: str, base_dir: Path) -> None:
    for table, body in raw.items():
        if table not in _TABLES:
            raise ConfigError(table, f"unknown section; known: {sorted(_TABLES)}", where)
        if not isinstance(body, dict):
            raise ConfigError(table, "must be a table ([" + table + "])", where)
    for table, body in raw.items():
        for key, value in body.items():
            dotted = f"{table}.{key}"
            if table == "mapping":
                continue
            if table == "tail":
                cfg.tail[key] = value
                continue
            if table == "spark":
                if not key.startswith("spark.") or not isinstance(value, (str, int, float, bool)):
                    raise ConfigError(dotted, "must be a Spark setting (spark.* = a string or number)", where)
                cfg.spark[key] = str(value).lower() if isinstance(value, bool) else str(value)
                continue
            if dotted == "policy.floors":
                _apply_floors(value, cfg, where)
                continue
            if dotted == "signals.refusal_rules":
                cfg.refusal_rules = _parse_rules(value, where)
                continue
            check = _SCALARS.get(dotted)
            if check is None:
                known = sorted(k for k in _SCALARS if k.startswith(table + ".")) + (
                    ["policy.floors"] if table == "policy" else []) + (
                    ["signals.refusal_rules"] if table == "signals" else [])
                raise ConfigError(dotted, f"unknown key; known keys here: {', '.join(known)}", where)
            valid, expected = check
            if not valid(value):
                raise ConfigError(dotted, f"must be {expected}, got {value!r}", where)
            _set(cfg, dotted, value, base_dir)
    if cfg.tail:  # validated here so that a bad [tail] key stops every command, not only tail
        from monitor.tail.settings import TailSettings

        TailSettings.from_config(cfg.tail, where)
    cfg.mapping = dict(raw.get("mapping", {}))
    if cfg.mapping:
        from monitor.adapters import AdapterError, validate_mapping

        try:
            validate_mapping(cfg.mapping)
        except AdapterError as exc:
            message = str(exc)
            key = message.split(":", 1)[0] if message.startswith("mapping.") else "mapping"
            raise ConfigError(key, message, where) from None


def _apply_floors(value: Any, cfg: Config, where: str) -> None:
    if not isinstance(value, dict):
        raise ConfigError("policy.floors", "must be a table of metric = number", where)
    floors = dict(cfg.policy.floors)
    for metric, floor in value.items():
        if metric not in floors:
            raise ConfigError(f"policy.floors.{metric}", f"unknown metric; known: {sorted(floors)}", where)
        if not _is_nonneg_num(floor):
            raise ConfigError(f"policy.floors.{metric}", f"must be a number >= 0, got {floor!r}", where)
        floors[metric] = float(floor)
    cfg.policy.floors = floors


def _parse_rules(value: Any, where: str) -> list[RefusalRuleSpec]:
    if not isinstance(value, list):
        raise ConfigError("signals.refusal_rules", "must be an array of tables ([[signals.refusal_rules]])", where)
    rules = []
    for i, item in enumerate(value):
        key = f"signals.refusal_rules[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(key, "must be a table", where)
        unknown = set(item) - _RULE_KEYS
        if unknown:
            raise ConfigError(f"{key}.{sorted(unknown)[0]}", f"unknown key; known: {sorted(_RULE_KEYS)}", where)
        for required in ("name", "pattern"):
            if not isinstance(item.get(required), str) or not item[required]:
                raise ConfigError(f"{key}.{required}", "is required (a non-empty string)", where)
        if item.get("position", "opening") not in ("opening", "anywhere"):
            raise ConfigError(f"{key}.position", "must be \"opening\" or \"anywhere\"", where)
        if "models" in item and not _str_list(item["models"]):
            raise ConfigError(f"{key}.models", "must be a list of model-name globs", where)
        rules.append(RefusalRuleSpec(**item))
    return rules


def _set(cfg: Config, dotted: str, value: Any, base_dir: Path) -> None:
    table, key = dotted.split(".", 1)
    if table == "store" and key == "engine":
        cfg.engine = value
    elif table == "store":
        cfg.store = str((base_dir / value)) if not os.path.isabs(value) else value
    elif table == "segments":
        setattr(cfg, "segment_by" if key == "by" else key, list(value) if key == "by" else value)
    elif table == "policy":
        setattr(cfg.policy, key, value)
    elif table == "signals":
        if key == "schemas_dir":
            value = str(base_dir / value) if not os.path.isabs(value) else value
        setattr(cfg, key, list(value) if key in ("disabled_refusal_rules", "reasoning_tags") else value)
    elif table == "ingest":
        setattr(cfg, key, value)
    elif table == "sentry":
        setattr(cfg.sentry, key, value)
    elif table == "nightly":
        setattr(cfg, "nightly_baseline" if key == "baseline" else "nightly_baseline_days", value)
    elif table == "outbox":
        cfg.outbox_retention_days = float(value)
    elif table == "retention":
        setattr(cfg.retention, key, float(value) if key.endswith("_days") else value)
