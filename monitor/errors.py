"""Errors that are the user's to fix: the CLI prints them on one line and exits with code 2."""

from __future__ import annotations


class UserError(Exception):
    """A mistake in input, arguments or configuration; shown without a traceback.

    >>> str(UserError("no such file: x.jsonl"))
    'no such file: x.jsonl'
    """


class ConfigError(UserError):
    """A bad configuration file: the message names the key and the file.

    >>> str(ConfigError("policy.alpha", "must be a number in (0, 1)", "llm-monitor.toml"))
    'llm-monitor.toml: policy.alpha: must be a number in (0, 1)'
    """

    def __init__(self, key: str, problem: str, path: str) -> None:
        self.key = key
        self.path = path
        super().__init__(f"{path}: {key}: {problem}")


class SelectorError(UserError):
    """A window selector that cannot be parsed (``--baseline`` / ``--current``)."""


class NothingToCompare(UserError):
    """Two windows with no segment in common: nothing was compared, which is never a pass.

    ``keys`` is the largest set of segment keys under which the windows do share a segment
    (empty when a window has no events); ``shared`` counts the values each key shares.

    >>> e = NothingToCompare("no segment has events in both windows", keys=["route"], shared={"route": 5})
    >>> e.keys, str(e)
    (['route'], 'no segment has events in both windows')
    """

    def __init__(self, message: str, *, keys: list[str] | None = None, shared: dict[str, int] | None = None) -> None:
        self.keys = list(keys or [])
        self.shared = dict(shared or {})
        super().__init__(message)
