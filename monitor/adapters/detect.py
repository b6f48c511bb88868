"""Format detection from the first parsed records of a file."""
from __future__ import annotations

from typing import Any, Sequence

from . import anthropic, bedrock, gemini, litellm, native, ollama, openai, otel

# checked in this order: the most specific shapes first
_CHECKS = (("otel", otel.looks_like), ("litellm", litellm.looks_like), ("ollama", ollama.looks_like),
           ("anthropic", anthropic.looks_like), ("gemini", gemini.looks_like), ("bedrock", bedrock.looks_like),
           ("openai", openai.looks_like), ("native", native.looks_like))

SAMPLE = 50


def detect_record(record: Any) -> str | None:
    """The format one record looks like, or None.

    >>> detect_record({"resourceSpans": []})
    'otel'
    >>> detect_record({"ts": "2024-08-06T00:00:00Z", "request_id": "a", "model": "m", "response": "r"})
    'native'
    >>> detect_record([1, 2]) is None
    True
    """
    for name, check in _CHECKS:
        try:
            if check(record):
                return name
        except Exception:
            continue
    return None


def detect_format(records: Sequence[Any]) -> str | None:
    """The format that most of the first records (up to 50) fit; None if none fits.

    ``mapping`` is never detected: it needs a ``[mapping]`` table and ``--input-format mapping``.
    Ties go to the more specific format (otel, litellm, ollama, anthropic, gemini, bedrock,
    openai, native). A file whose first line is an API error body (which several providers
    share) is decided by the lines after it.

    >>> detect_format([{"model": "llama3", "created_at": "2024-07-22T20:37:41Z", "response": "a", "done": False},
    ...                {"model": "llama3", "created_at": "2024-07-22T20:37:42Z", "response": "", "done": True}])
    'ollama'
    >>> detect_format([{"hello": "world"}, 3]) is None
    True
    """
    counts: dict[str, int] = {}
    for rec in list(records)[:SAMPLE]:
        fmt = detect_record(rec)
        if fmt is not None:
            counts[fmt] = counts.get(fmt, 0) + 1
    if not counts:
        return None
    order = [name for name, _ in _CHECKS]
    return max(counts, key=lambda f: (counts[f], -order.index(f)))
