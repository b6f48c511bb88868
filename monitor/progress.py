"""A minimal progress bar on stderr for long steps (compaction, change points)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterable, TextIO


class Progress:
    """A minimal progress bar on stderr; silent when the stream is not a terminal.

    >>> import io
    >>> p = Progress(io.StringIO())          # not a TTY: draws nothing
    >>> p.update("compaction", 3, 10); p.done("compaction")
    >>> p.stream.getvalue()
    ''
    """

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
        self.enabled = enabled
        self.width = width
        self._last = 0.0

    def update(self, label: str, done: int, total: int) -> None:
        """Draw ``label [#####-----] done/total`` (at most 20 times a second)."""
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.05:
            return
        self._last = now
        filled = int(self.width * done / total)
        self.stream.write(f"\r{label:<14} [{'#' * filled}{'-' * (self.width - filled)}] {done}/{total}")
        self.stream.flush()

    def done(self, label: str) -> None:
        """Clear the bar's line."""
        if self.enabled:
            self.stream.write("\r" + " " * (self.width + 30) + "\r")
            self.stream.flush()

    def steps(self, label: str, items: Iterable[Any], total: int) -> Iterable[Any]:
        """Iterate ``items`` while drawing the bar."""
        for i, item in enumerate(items):
            self.update(label, i, total)
            yield item
        self.update(label, total, total)
        self.done(label)
