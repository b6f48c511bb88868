"""llm-monitor: catch silent output-quality regressions in LLM inference traffic.

    >>> import monitor
    >>> callable(monitor.open)
    True
"""

from monitor.api import Comparison, Monitor, open  # noqa: A004

__version__ = "0.1.0"
__all__ = ["open", "Monitor", "Comparison", "__version__"]
