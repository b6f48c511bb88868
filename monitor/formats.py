"""The names of the log formats, in one list (a leaf module: the CLI, the config and the
adapters all read it, and it imports nothing).

    >>> FORMATS[:2]
    ('native', 'openai')
"""

FORMATS: tuple[str, ...] = ("native", "openai", "ollama", "otel", "litellm", "anthropic", "gemini", "bedrock",
                            "mapping")
"""The log formats :mod:`monitor.adapters` converts (see docs/FORMATS.md)."""
