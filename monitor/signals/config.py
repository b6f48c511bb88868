"""Builds the signals' configuration from ``llm-monitor.toml`` (``[signals]``).

    >>> from monitor.config import Config
    >>> signal_config_from(Config()).json_mode
    'strict'
"""

from __future__ import annotations

from monitor.config import Config
from monitor.errors import ConfigError
from monitor.signals import SignalConfig


def signal_config_from(config: Config) -> SignalConfig:
    """The :class:`SignalConfig` for ``config``; a bad user rule names the key and the file."""
    rules = [{"name": r.name, "family": r.family, "pattern": r.pattern, "position": r.position,
              "models": list(r.models)} for r in config.refusal_rules]
    signal_config = SignalConfig(extra_refusal_rules=rules,
                                 disabled_refusal_rules=set(config.disabled_refusal_rules),
                                 count_partial_as_refusal=config.count_partial_as_refusal,
                                 json_mode=config.json_mode)
    try:
        return signal_config.validate()
    except ValueError as exc:
        raise ConfigError("signals.refusal_rules", str(exc), config.path or "llm-monitor.toml") from None
