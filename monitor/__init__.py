"""llm-monitor: catch silent output-quality regressions in LLM inference traffic."""

__version__ = "0.1.0"
