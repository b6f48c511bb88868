"""The sidecar's settings: the ``[tail]`` keys of ``llm-monitor.toml``, validated.

:func:`monitor.config.load_config` validates the ``[tail]`` table with
:meth:`TailSettings.from_config` when the file is read, so a bad key stops every command, not
only ``tail``. This module imports nothing heavy (the selector parser only when a ``baseline``
key is given).

Example:
    >>> s = TailSettings.from_config({"by": ["route"], "window_s": 60})
    >>> s.by, s.window_s, s.flush_interval_s
    (['route'], 60.0, 1.0)
    >>> TailSettings.from_config({"colour": 1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    monitor.errors.ConfigError: llm-monitor.toml: tail.colour: unknown key; known: baseline, baseline_refresh_s, by, ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.errors import ConfigError, UserError

__all__ = ["TailSettings", "CONFIG_KEYS"]

CONFIG_KEYS: tuple[str, ...] = (
    "by", "baseline", "window_s", "false_alarms_per_day", "min_baseline", "min_current", "flush_interval_s",
    "max_batch_lines", "max_batch_bytes", "max_line_bytes", "rotate_grace_s", "baseline_refresh_s",
    "sentry_timeout_s", "retry_base_s", "retry_max_s", "shutdown_timeout_s", "dedup_horizon_s", "dedup_max_ids",
    "compact_interval_s", "compact_min_segments", "metrics_addr", "metrics_max_segments", "metrics_max_files",
    "log_format", "health_stall_s", "ready_commit_age_s", "housekeeping_interval_s")
"""The keys of the ``[tail]`` table (docs/TAIL.md describes each)."""


@dataclass
class TailSettings:
    """The tailer's settings: ``[tail]`` keys plus the intervals given to :func:`monitor.tail.run_tail`.

    >>> TailSettings().check_interval, TailSettings().dedup_max_ids
    (5.0, 1000000)
    """

    by: list[str] = field(default_factory=lambda: ["model", "route"])
    baseline: str = "last=7d"
    window_s: float = 300.0
    false_alarms_per_day: float = 1 / 30
    min_baseline: int = 100
    min_current: int = 30
    flush_interval_s: float = 1.0
    max_batch_lines: int = 5_000
    max_batch_bytes: int = 8 << 20
    max_line_bytes: int = 8 << 20
    rotate_grace_s: float = 30.0
    baseline_refresh_s: float = 300.0
    sentry_timeout_s: float = 1.5
    retry_base_s: float = 1.0
    retry_max_s: float = 30.0
    shutdown_timeout_s: float = 4.0
    dedup_horizon_s: float = 600.0
    dedup_max_ids: int = 1_000_000
    compact_interval_s: float = 60.0
    compact_min_segments: int = 32
    metrics_addr: str | None = None
    metrics_max_segments: int = 50
    metrics_max_files: int = 20
    log_format: str = "text"
    health_stall_s: float = 120.0
    ready_commit_age_s: float = 60.0
    housekeeping_interval_s: float = 600.0
    # not in the file: arguments of run_tail
    check_interval: float = 5.0
    poll_interval: float = 0.2
    status_interval: float = 10.0

    @classmethod
    def from_config(cls, table: dict[str, Any], where: str = "llm-monitor.toml") -> "TailSettings":
        """Validate the ``[tail]`` table; a bad key or value is a :class:`ConfigError` naming
        ``tail.<key>`` and the file ``where``.

        >>> TailSettings.from_config({"window_s": 0}, "cfg.toml")
        Traceback (most recent call last):
        ...
        monitor.errors.ConfigError: cfg.toml: tail.window_s: must be a number > 0, got 0
        """
        from monitor.keys import SEGMENT_KEYS

        s = cls()
        for key, value in table.items():
            dotted = f"tail.{key}"
            if key not in CONFIG_KEYS:
                raise ConfigError(dotted, f"unknown key; known: {', '.join(sorted(CONFIG_KEYS))}", where)
            if key == "by":
                keys = [value] if isinstance(value, str) else value
                if not isinstance(keys, list) or not keys or any(k not in SEGMENT_KEYS for k in keys):
                    raise ConfigError(dotted, f"must be a list of segment keys from {list(SEGMENT_KEYS)}, got {value!r}",
                                      where)
                s.by = list(keys)
            elif key == "baseline":
                if not isinstance(value, str) or not value.strip():
                    raise ConfigError(dotted, f"must be a selector string, got {value!r}", where)
                from monitor.selectors import parse_selector

                try:
                    parse_selector(value)
                except UserError as exc:
                    raise ConfigError(dotted, str(exc), where) from None
                s.baseline = value
            elif key == "metrics_addr":
                from monitor.tail.server import parse_addr

                if not isinstance(value, str):
                    raise ConfigError(dotted, f"must be \"HOST:PORT\" or \"PORT\", got {value!r}", where)
                try:
                    parse_addr(value)
                except UserError as exc:
                    raise ConfigError(dotted, str(exc), where) from None
                s.metrics_addr = value
            elif key == "log_format":
                if value not in ("text", "json"):
                    raise ConfigError(dotted, f"must be \"text\" or \"json\", got {value!r}", where)
                s.log_format = value
            else:
                default = getattr(cls, key)
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
                if isinstance(default, int) and not isinstance(default, bool):
                    ok = ok and float(value).is_integer()
                if not ok:
                    raise ConfigError(dotted, f"must be a number > 0, got {value!r}", where)
                setattr(s, key, type(default)(value))
        return s
