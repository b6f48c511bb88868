"""Log-format adapters: turn what serving layers already log into canonical events.

Formats (see docs/FORMATS.md): ``native`` (already canonical), ``openai`` (Chat Completions and
Responses objects), ``ollama`` (/api/generate and /api/chat, streamed chunks joined), ``otel``
(OTLP/JSON trace export with GenAI semantic conventions), ``litellm`` (StandardLoggingPayload),
``anthropic`` (Messages API, SSE events joined), ``gemini`` (generateContent, Gemini API and Vertex AI),
``bedrock`` (Converse / ConverseStream), ``mapping`` (declarative ``[mapping]`` table of dotted paths).

All functions are pure: no I/O. A malformed record becomes a reject ``(line, reason)``, never an
exception; :func:`convert` raises :class:`AdapterError` only for an unknown format or an invalid
``mapping`` table.

>>> out = convert("openai", [(1, {"id": "chatcmpl-1", "object": "chat.completion",
...     "created": 1722965000, "model": "gpt-4o-2024-08-06",
...     "choices": [{"index": 0, "finish_reason": "stop",
...                  "message": {"role": "assistant", "content": "Hello"}}]}), (2, "oops")])
>>> out.events[0][1]["response"], out.rejects
('Hello', [(2, 'not a JSON object (string)')])
"""
from __future__ import annotations

from typing import Any, Sequence

from . import anthropic, bedrock, gemini, litellm, mapping as _mapping, native, ollama, openai, otel
from ._base import AdapterError, Converted
from ._columnar import ColumnarMapping
from .detect import detect_format, detect_record
from .identity import Identity, is_pinned, split_identity
from monitor.formats import FORMATS

__all__ = ["FORMATS", "AdapterError", "Converted", "detect_format", "detect_record", "convert",
           "is_pinned", "split_identity", "Identity", "validate_mapping", "open_stream_lines",
           "ColumnarMapping", "columnar_mapping"]


_CONVERTERS = {"native": native.convert, "openai": openai.convert, "ollama": ollama.convert,
               "otel": otel.convert, "litellm": litellm.convert, "anthropic": anthropic.convert,
               "gemini": gemini.convert, "bedrock": bedrock.convert, "mapping": _mapping.convert}

_OPEN_STREAMS = {"ollama": ollama.open_stream_lines, "openai": openai.open_stream_lines,
                 "anthropic": anthropic.open_stream_lines, "gemini": gemini.open_stream_lines,
                 "bedrock": bedrock.open_stream_lines}

validate_mapping = _mapping.validate_mapping

#: Formats whose records map field by field (see :mod:`monitor.adapters._columnar`); the others
#: (streams joined across lines, one record -> several events) take the per-record path only.
_COLUMNAR = {"native": native.COLUMNAR, "openai": openai.COLUMNAR}


def columnar_mapping(fmt: str | None) -> ColumnarMapping | None:
    """The columnar declaration of format ``fmt``, or None when it has none.

    >>> columnar_mapping("native").path("response"), columnar_mapping("ollama"), columnar_mapping("openai") is openai.COLUMNAR
    ('$.response', None, True)
    """
    return _COLUMNAR.get(fmt) if fmt else None


def convert(fmt: str, records: Sequence[tuple[int, Any]], *, mapping: dict | None = None,
            route: str | None = None, fallback_ts: str | None = None) -> Converted:
    """Convert ``(line number, parsed JSON value)`` records of one file/batch in format ``fmt``.

    ``route`` is the route for events whose record names none (default ``"default"``).
    ``mapping`` is the ``[mapping]`` table, used (and required) by the ``mapping`` format.
    ``fallback_ts`` (ISO 8601) is the time of records that carry none (bare Anthropic, Gemini API
    and Bedrock responses, SSE payloads); their events get ``attributes.ts_inferred = true``.
    Without it such records are rejected ``no timestamp``.

    >>> convert("native", [(1, {"ts": "2024-08-06T00:00:00Z", "request_id": "a", "model": "m",
    ...                         "response": "r"})], route="search").events[0][1]["route"]
    'search'
    >>> convert("yaml", [])
    Traceback (most recent call last):
    ...
    monitor.adapters._base.AdapterError: unknown input format 'yaml' (one of native, openai, ollama, otel, litellm, anthropic, gemini, bedrock, mapping)
    """
    fn = _CONVERTERS.get(fmt)
    if fn is None:
        raise AdapterError(f"unknown input format {fmt!r} (one of {', '.join(FORMATS)})")
    return fn(records, mapping=mapping, route=route, fallback_ts=fallback_ts)


def open_stream_lines(fmt: str, records: Sequence[tuple[int, Any]]) -> list[int]:
    """Line numbers belonging to streams (Ollama chunks, OpenAI ``chat.completion.chunk``, Anthropic
    SSE events, Gemini chunks, Bedrock ConverseStream events) that are still open at the end of
    ``records``; empty for formats without streaming.

    :func:`convert` rejects such streams with ``stream not finished``; a tailing reader that wants
    to wait for the rest can instead hold these lines back and pass them again with the next batch
    (and not commit its offset past the first of them).

    >>> c = {"model": "llama3", "created_at": "2024-08-06T09:30:01Z", "response": "a", "done": False}
    >>> open_stream_lines("ollama", [(7, c)]), open_stream_lines("otel", [(7, c)])
    ([7], [])
    """
    fn = _OPEN_STREAMS.get(fmt)
    return fn(records) if fn is not None else []
