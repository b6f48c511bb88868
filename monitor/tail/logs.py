"""The sidecar's own log lines on stderr: text for people, JSON for log stacks (``--log-format``).

``text`` (default): ``llm-monitor tail: <message>`` (warnings and errors say so after the
colon). ``json``: one JSON object per line with ``ts`` (UTC, ISO 8601), ``level``
(``info``, ``warning``, ``error``), ``logger`` (``llm-monitor.tail``), ``message``, and the
line's fields (a status line carries every status field; an alert its metric, segment and
action), for Fluent Bit, Vector, Promtail or any JSON-lines log pipeline.

Nothing secret goes through here: a Sentry DSN is printed only as
:func:`sinks.dsn.redact_dsn` shows it (no key).

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> log = TailLog(out, "json", now=lambda: "2026-11-30T10:00:00.000Z")
    >>> log.info("following app.log", files=1); log.warning("store is loose")
    >>> print(out.getvalue(), end="")
    {"ts": "2026-11-30T10:00:00.000Z", "level": "info", "logger": "llm-monitor.tail", "message": "following app.log", "files": 1}
    {"ts": "2026-11-30T10:00:00.000Z", "level": "warning", "logger": "llm-monitor.tail", "message": "store is loose"}
    >>> out = io.StringIO(); TailLog(out, "text").warning("store is loose"); out.getvalue()
    'llm-monitor tail: warning: store is loose\\n'
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, TextIO

from monitor.errors import UserError

__all__ = ["TailLog", "LOG_FORMATS"]

LOG_FORMATS = ("text", "json")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TailLog:
    """Writes the sidecar's log lines to ``err`` in ``fmt`` (``text`` or ``json``); ``quiet``: none."""

    def __init__(self, err: TextIO, fmt: str = "text", *, quiet: bool = False,
                 now: Callable[[], str] = _now_iso) -> None:
        if fmt not in LOG_FORMATS:
            raise UserError(f"unknown log format {fmt!r}; use text or json")
        self.err, self.fmt, self.quiet, self._now = err, fmt, quiet, now

    def line(self, level: str, message: str, **fields: Any) -> None:
        """One log line; ``fields`` appear in JSON only (the text line is ``message``)."""
        if self.quiet:
            return
        if self.fmt == "json":
            record = {"ts": self._now(), "level": level, "logger": "llm-monitor.tail", "message": message, **fields}
            text = json.dumps(record, default=str, ensure_ascii=False)
        else:
            text = f"llm-monitor tail: {'' if level == 'info' else level + ': '}{message}"
        self.err.write(text + "\n")
        self.err.flush()

    def info(self, message: str, **fields: Any) -> None:
        """An ``info`` line."""
        self.line("info", message, **fields)

    def warning(self, message: str, **fields: Any) -> None:
        """A ``warning`` line."""
        self.line("warning", message, **fields)

    def error(self, message: str, **fields: Any) -> None:
        """An ``error`` line."""
        self.line("error", message, **fields)
