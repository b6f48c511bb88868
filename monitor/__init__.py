"""llm-monitor: catch silent output-quality regressions in LLM inference traffic.

    >>> import monitor
    >>> callable(monitor.open)
    True

The API is imported on first use, so ``import monitor`` (and every CLI start) stays cheap.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["open", "Monitor", "Comparison", "FileSignals", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("open", "Monitor", "Comparison", "FileSignals"):
        from monitor import api

        return getattr(api, name)
    raise AttributeError(f"module 'monitor' has no attribute {name!r}")
