"""Anthropic adapter: Messages API responses and their SSE event streams -> canonical events.

Follows the Anthropic API reference (docs.anthropic.com/en/api/messages, API version header
``anthropic-version: 2023-06-01``, as of 2025): the ``Message`` object (``id, type: "message", role,
model, content[], stop_reason, stop_sequence, usage{input_tokens, output_tokens}``) with content
blocks ``text``, ``thinking``, ``redacted_thinking`` and ``tool_use{id, name, input}``; and the
streaming events of "Streaming Messages" (``message_start``, ``content_block_start``,
``content_block_delta`` with ``text_delta`` / ``input_json_delta`` / ``thinking_delta`` /
``signature_delta``, ``content_block_stop``, ``message_delta{delta{stop_reason}, usage}``,
``message_stop``, ``ping``, ``error``).

Accepted record shapes (one JSON object per line):

* a bare ``Message``; the time comes from a wrapper or the fallback time (a Message carries none);
* ``{"request": {...create params...}, "response": Message | [stream events]}`` with optional
  top-level ``ts``, ``route``, ``latency_ms``, ``task_success``;
* stream events one per line. Only ``message_start`` names the message id; the events after it
  belong to that message until its ``message_stop`` (a stream is one HTTP response, so its events
  are consecutive in a log). The event takes the line of ``message_stop``; a stream without it at
  the end of the batch is rejected ``stream not finished``.

The request supplies the requested model, the prompt, ``tools[].input_schema`` (a ``tool_use``
block is one event whose response is the ``input`` JSON, checked against that schema) and
structured outputs (``output_config.format`` or the beta ``output_format``:
``{"type": "json_schema", "schema": {...}}`` -> ``expects_json`` with that schema).
``stop_reason: "refusal"`` is a provider-reported refusal (``attributes.provider_refusal``);
``thinking`` blocks are the event's ``reasoning``, never part of the answer.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from ._base import (
    AdapterError,
    Converted,
    as_count,
    as_number,
    api_error,
    event_time,
    get_str,
    last_user_prompt,
    make_event,
    record_route,
    stable_hash,
    str_or_none,
    tool_call_events,
    unwrap,
    wrapper_time,
    wraps,
)

__all__ = ["convert", "looks_like", "open_stream_lines", "STREAM_EVENTS"]

STREAM_EVENTS = frozenset({"message_start", "content_block_start", "content_block_delta", "content_block_stop",
                           "message_delta", "message_stop", "ping"})
"""The ``type`` of every Anthropic streaming event (``error`` ends a stream too)."""


def _is_message(d: Any) -> bool:
    return isinstance(d, dict) and d.get("type") == "message" and "content" in d and "model" in d


def _is_event(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("type"), str) and d["type"] in STREAM_EVENTS


def looks_like(rec: Any) -> bool:
    """True for an Anthropic Message, a streaming event, or a wrapper holding either.

    >>> looks_like({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-3-5-haiku-20241022",
    ...             "content": [], "stop_reason": "end_turn"})
    True
    >>> looks_like({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "a"}})
    True
    >>> looks_like({"object": "chat.completion"})
    False
    """
    if not isinstance(rec, dict):
        return False
    if _is_message(rec) or _is_event(rec):
        return True
    if rec.get("type") == "error" and isinstance(rec.get("error"), dict):
        return True
    return wraps(rec, _is_message, _is_event)


def convert(records: Sequence[tuple[int, Any]], *, route: str | None = None,
            fallback_ts: str | None = None, **_: Any) -> Converted:
    """Convert Anthropic records (see the module docstring).

    >>> msg = {"id": "msg_01", "type": "message", "role": "assistant", "model": "claude-3-5-sonnet-20241022",
    ...        "content": [{"type": "text", "text": "Hi!"}], "stop_reason": "end_turn",
    ...        "usage": {"input_tokens": 9, "output_tokens": 3}}
    >>> (n, ev), = convert([(1, {"ts": "2024-10-22T10:00:00Z", "response": msg})]).events
    >>> ev["model"], ev["model_version"], ev["response"], ev["output_tokens"], ev["finish_reason"]
    ('claude-3-5-sonnet-20241022', '20241022', 'Hi!', 3, 'end_turn')
    >>> convert([(1, msg)]).rejects
    [(1, 'no timestamp in the record (and no fallback time)')]
    """
    out = Converted()
    open_: _Stream | None = None
    for line, rec in records:
        try:
            if _is_event(rec) or (isinstance(rec, dict) and rec.get("type") == "error" and open_ is not None):
                if rec["type"] == "message_start":
                    if open_ is not None:
                        out.rejects.append((open_.first, "stream not finished"))
                    open_ = _Stream(line)
                elif open_ is None:
                    raise AdapterError(f"{rec['type']} event outside a stream (no message_start before it)")
                open_.events.append(rec)
                if rec["type"] == "error":
                    stream, open_ = open_, None
                    out.rejects.append((stream.first, api_error(rec) or "API error"))
                elif rec["type"] == "message_stop":
                    stream, open_ = open_, None
                    msg = assemble_events(stream.events)
                    for ev in message_events(msg, None, rec, route, fallback_ts):
                        ev["attributes"]["stream_events"] = len(stream.events)
                        out.events.append((line, ev))
                continue
            out.events.extend((line, ev) for ev in _one(rec, route, fallback_ts))
        except AdapterError as exc:
            out.rejects.append((line, exc.reason))
        except Exception as exc:  # defensive: a record must never crash the batch
            out.rejects.append((line, f"unreadable record ({type(exc).__name__})"))
    if open_ is not None:
        out.rejects.append((open_.first, "stream not finished"))
    out.rejects.sort(key=lambda r: r[0])
    return out


class _Stream:
    def __init__(self, first: int) -> None:
        self.first = first
        self.events: list[dict] = []


def _one(rec: Any, route: str | None, fallback_ts: str | None) -> Iterator[dict]:
    if not isinstance(rec, dict):
        raise AdapterError("not a JSON object")
    if _is_message(rec):
        yield from message_events(rec, None, rec, route, fallback_ts)
        return
    request, resp = unwrap(rec)
    if isinstance(resp, list):
        if not resp or not all(_is_event(e) for e in resp):
            raise AdapterError("response list is not a stream of Anthropic events")
        if resp[-1].get("type") != "message_stop":
            raise AdapterError("stream not finished")
        for ev in message_events(assemble_events(resp), request, rec, route, fallback_ts):
            ev["attributes"]["stream_events"] = len(resp)
            yield ev
        return
    if not _is_message(resp):
        raise AdapterError("not an Anthropic Message (type: message with content and model)")
    yield from message_events(resp, request, rec, route, fallback_ts)


def assemble_events(events: list[dict]) -> dict:
    """Join one stream's events into a ``Message`` dict.

    ``message_start`` gives the message; text, thinking and tool-input JSON deltas are joined per
    block ``index``; ``message_delta`` gives ``stop_reason`` and the cumulative ``usage``.

    >>> ev = [{"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
    ...        "model": "claude-sonnet-4-5", "content": [], "usage": {"input_tokens": 5, "output_tokens": 1}}},
    ...       {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ...       {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
    ...       {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
    ...       {"type": "content_block_stop", "index": 0},
    ...       {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}},
    ...       {"type": "message_stop"}]
    >>> m = assemble_events(ev)
    >>> m["content"], m["stop_reason"], m["usage"]["output_tokens"]
    ([{'type': 'text', 'text': 'Hello'}], 'end_turn', 4)
    """
    start = events[0]
    if start.get("type") != "message_start" or not isinstance(start.get("message"), dict):
        raise AdapterError("stream does not begin with message_start")
    msg = dict(start["message"])
    usage = dict(msg["usage"]) if isinstance(msg.get("usage"), dict) else {}
    blocks: dict[int, dict] = {}
    parts: dict[int, list[str]] = {}
    for e in events[1:]:
        typ = e.get("type")
        if typ in ("content_block_start", "content_block_delta", "content_block_stop"):
            idx = e.get("index")
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise AdapterError(f"{typ} has no integer index")
            if typ == "content_block_start":
                block = e.get("content_block")
                if not isinstance(block, dict):
                    raise AdapterError("content_block_start has no content_block object")
                blocks[idx] = dict(block)
                parts[idx] = []
            elif typ == "content_block_delta":
                delta = e.get("delta")
                if idx not in blocks or not isinstance(delta, dict):
                    raise AdapterError("content_block_delta without its content_block_start")
                for key in ("text", "partial_json", "thinking"):
                    if isinstance(delta.get(key), str):
                        parts[idx].append(delta[key])
        elif typ == "message_delta":
            delta = e.get("delta") if isinstance(e.get("delta"), dict) else {}
            for key in ("stop_reason", "stop_sequence"):
                if key in delta:
                    msg[key] = delta[key]
            if isinstance(e.get("usage"), dict):
                usage.update(e["usage"])
    content = []
    for idx in sorted(blocks):
        block, text = blocks[idx], "".join(parts[idx])
        kind = block.get("type")
        if kind == "text":
            block["text"] = str(block.get("text") or "") + text
        elif kind == "thinking":
            block["thinking"] = str(block.get("thinking") or "") + text
        elif kind in ("tool_use", "server_tool_use") and text:
            block["input_json"] = text
        content.append(block)
    msg["content"] = content
    msg["usage"] = usage
    return msg


def _json_expectation(request: dict) -> tuple[bool | None, Any]:
    """(expects_json, schema) from ``output_config.format`` / ``output_format``."""
    cfg = request.get("output_config")
    fmt = cfg.get("format") if isinstance(cfg, dict) else None
    if fmt is None:
        fmt = request.get("output_format")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = fmt.get("schema")
        return True, schema if isinstance(schema, (dict, bool)) else None
    return None, None


def _tool_schemas(tools: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in tools if isinstance(tools, list) else []:
        if isinstance(t, dict) and isinstance(t.get("name"), str) and isinstance(t.get("input_schema"), (dict, bool)):
            out[t["name"]] = t["input_schema"]
    return out


def message_events(msg: dict, request: dict | None, outer: dict, route: str | None,
                   fallback_ts: str | None) -> Iterator[dict]:
    """Events of one ``Message``: one for the text answer, or one per ``tool_use`` block."""
    content = msg.get("content")
    if not isinstance(content, list):
        raise AdapterError("content is not an array")
    model = msg.get("model")
    if not isinstance(model, str) or not model:
        raise AdapterError("model is not a string")
    req = request or {}
    usage = msg.get("usage") if isinstance(msg.get("usage"), dict) else {}
    out_tok = as_count(usage.get("output_tokens"), "usage.output_tokens")
    in_tok = as_count(usage.get("input_tokens"), "usage.input_tokens")
    stop = msg.get("stop_reason")
    if stop is not None and not isinstance(stop, str):
        raise AdapterError("stop_reason is not a string")
    ts, inferred = event_time(wrapper_time(outer), fallback_ts)
    rid = get_str(msg, "id") or get_str(outer, "request_id") or stable_hash(outer)
    expects, schema = _json_expectation(req)
    if expects is None and request is not None:
        expects = False
    attrs: dict[str, Any] = {"provider": "anthropic", "api": "messages"}
    if inferred:
        attrs["ts_inferred"] = True
    if stop == "refusal":
        attrs["provider_refusal"] = "refusal"
    if isinstance(msg.get("stop_sequence"), str):
        attrs["stop_sequence"] = msg["stop_sequence"]
    for key in ("cache_read_input_tokens", "cache_creation_input_tokens"):
        if isinstance(usage.get(key), int):
            attrs[key] = usage[key]
    texts, thinking, calls = [], [], []
    for block in content:
        if not isinstance(block, dict):
            raise AdapterError("content block is not an object")
        kind = block.get("type")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise AdapterError("text block has no text string")
            texts.append(block["text"])
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thinking.append(block["thinking"])
        elif kind == "redacted_thinking":
            attrs["redacted_thinking"] = attrs.get("redacted_thinking", 0) + 1
        elif kind == "tool_use":
            calls.append(block)
    ts_ = outer.get("task_success")
    common = dict(ts=ts, resolved_model=model, requested_model=str_or_none(req.get("model")),
                  route=record_route(outer, route), prompt=last_user_prompt(req.get("messages")),
                  input_tokens=in_tok, finish_reason=stop, task_success=ts_ if isinstance(ts_, bool) else None,
                  latency_ms=as_number(outer.get("latency_ms")), reasoning="".join(thinking) or None)
    if calls:
        yield from tool_call_events(calls, kind="tool_use block", name_key="name", id_key="id", args_key="input",
                                    request_id=rid, output_tokens=out_tok, schemas=_tool_schemas(req.get("tools")),
                                    attributes=attrs, **common)
        return
    text = "".join(texts)
    if text == "" and stop != "refusal":
        raise AdapterError("empty content (no text or tool_use block)")
    yield make_event(request_id=rid, response=text, output_tokens=out_tok, expects_json=expects, schema=schema,
                     attributes=attrs, **common)


def open_stream_lines(records: Sequence[tuple[int, Any]]) -> list[int]:
    """Line numbers of a stream (``message_start`` ...) without its ``message_stop`` at the end.

    >>> s = {"type": "message_start", "message": {"id": "m", "type": "message", "model": "c", "content": []}}
    >>> open_stream_lines([(1, s), (2, {"type": "message_stop"}), (3, s), (4, {"type": "ping"})])
    [3, 4]
    """
    current: list[int] = []
    for line, rec in records:
        if not isinstance(rec, dict):
            continue
        typ = rec.get("type")
        if typ == "message_start":
            current = [line]
        elif current and (typ in STREAM_EVENTS or typ == "error"):
            current.append(line)
            if typ in ("message_stop", "error"):
                current = []
    return current
