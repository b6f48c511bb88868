"""Ollama adapter: ``/api/generate`` and ``/api/chat`` responses -> canonical events.

Follows the Ollama REST API reference (github.com/ollama/ollama, docs/api.md, as of v0.5-v0.12):
``model, created_at, response | message{role, content, thinking, tool_calls[].function{name,
arguments}}, done, done_reason, total_duration, load_duration, prompt_eval_count,
prompt_eval_duration, eval_count, eval_duration`` (durations in nanoseconds).

Accepted record shapes (one JSON object per line):

* a bare final response (``done: true``);
* streamed chunks, one per line (``done: false`` ... ``done: true``): consecutive chunks of the same
  ``model`` are joined into one event, numbered with the line of the final chunk; a stream still
  open at the end of the batch is rejected with ``stream not finished``;
* ``{"request": {...}, "response": {...} | [chunks...]}`` -- the request supplies ``format``
  (``"json"`` or a JSON Schema -> ``expects_json``/``schema``), ``tools`` and the prompt/messages;
  optional top-level ``ts``, ``route``, ``task_success``, ``digest``.

A chat reply with tool calls gives one event per call (``response`` = the ``arguments`` object as
JSON text, ``expects_json = true``, ``schema`` = the tool's ``parameters`` from the logged request).
Ollama responses carry no id: ``request_id`` is a stable hash of the record(s), so re-ingesting
the same file deduplicates. Ollama responses carry no digest either; a ``digest`` / ``model_digest``
field (top level or in the request) becomes ``model_version``, otherwise it is ``"unknown"`` and
the event is unpinned.
"""
from __future__ import annotations

from typing import Any, Sequence

from ._base import (
    AdapterError,
    Converted,
    as_count,
    get_str,
    json_text,
    last_user_prompt,
    make_event,
    norm_ts,
    record_route,
    stable_hash,
    str_or_none,
    tool_schemas,
)

__all__ = ["convert", "looks_like", "open_stream_lines"]


def _is_chunk(d: Any) -> bool:
    # the final chunk of a streamed /api/chat carries only statistics, no message (docs/api.md)
    return (isinstance(d, dict) and "done" in d and "model" in d and "created_at" in d
            and ("response" in d or "message" in d or d.get("done") is True))


def looks_like(rec: Any) -> bool:
    """True for an Ollama response/chunk or a wrapped ``{"request", "response"}`` Ollama record.

    >>> looks_like({"model": "llama3.1:8b", "created_at": "2024-07-22T20:37:41Z", "response": "Hi", "done": True})
    True
    >>> looks_like({"object": "chat.completion"})
    False
    """
    if not isinstance(rec, dict):
        return False
    if _is_chunk(rec):
        return True
    resp = rec.get("response")
    if _is_chunk(resp):
        return True
    return isinstance(resp, list) and bool(resp) and _is_chunk(resp[0])


def convert(records: Sequence[tuple[int, Any]], *, route: str | None = None, **_: Any) -> Converted:
    """Convert Ollama records (see the module docstring), joining streamed chunks.

    >>> chunks = [
    ...   {"model": "llama3", "created_at": "2024-07-22T20:37:40.1Z", "response": "Hel", "done": False},
    ...   {"model": "llama3", "created_at": "2024-07-22T20:37:40.2Z", "response": "lo", "done": False},
    ...   {"model": "llama3", "created_at": "2024-07-22T20:37:40.3Z", "response": "", "done": True,
    ...    "done_reason": "stop", "eval_count": 2, "total_duration": 250000000}]
    >>> out = convert(list(enumerate(chunks, start=1)))
    >>> [(line, ev["response"], ev["output_tokens"], ev["latency_ms"], ev["attributes"]["pinned"]) for line, ev in out.events]
    [(3, 'Hello', 2, 250.0, False)]
    >>> convert([(1, chunks[0])]).rejects
    [(1, 'stream not finished')]
    """
    out = Converted()
    pending: dict[str, tuple[int, list[dict]]] = {}   # model -> (first line, chunks)
    for line, rec in records:
        try:
            if not isinstance(rec, dict):
                raise AdapterError("not a JSON object")
            if _is_chunk(rec) and rec.get("done") is False:
                model = rec.get("model")
                if not isinstance(model, str) or not model:
                    raise AdapterError("model is not a string")
                first, chunks = pending.get(model, (line, []))
                chunks.append(rec)
                pending[model] = (first, chunks)
                continue
            if _is_chunk(rec):
                if rec.get("done") is not True:
                    raise AdapterError("done is not a boolean")
                model = rec.get("model")
                prior = pending.pop(model, (line, []))[1] if isinstance(model, str) else []
                evs = _event(prior + [rec], None, rec, route)
            elif "response" in rec:
                evs = _wrapped(rec, route)
            else:
                raise AdapterError("not an Ollama response (no done/created_at/response|message)")
            out.events.extend((line, ev) for ev in evs)
        except AdapterError as exc:
            out.rejects.append((line, exc.reason))
        except Exception as exc:  # defensive
            out.rejects.append((line, f"unreadable record ({type(exc).__name__})"))
    for first, chunks in pending.values():
        out.rejects.append((first, "stream not finished"))
    out.rejects.sort(key=lambda r: r[0])
    return out


def _wrapped(rec: dict, route: str | None) -> list[dict]:
    req = rec.get("request")
    if req is not None and not isinstance(req, dict):
        raise AdapterError("request is not an object")
    resp = rec.get("response")
    chunks = resp if isinstance(resp, list) else [resp]
    if not chunks or not all(_is_chunk(c) for c in chunks):
        raise AdapterError("response is not an Ollama response object or chunk list")
    if chunks[-1].get("done") is not True:
        raise AdapterError("stream not finished")
    return _event(chunks, req or {}, rec, route)


def _event(chunks: list[dict], request: dict | None, outer: dict, route: str | None) -> list[dict]:
    final = chunks[-1]
    is_chat = any("message" in c for c in chunks)
    texts: list[str] = []
    thinking: list[str] = []
    tool_calls: list[Any] = []
    for c in chunks:
        if is_chat:
            msg = c.get("message")
            if msg is None and c is final and "response" not in c:
                continue
            if not isinstance(msg, dict):
                raise AdapterError("message is not an object")
            content = msg.get("content", "")
            if content is None:
                content = ""
            if not isinstance(content, str):
                raise AdapterError("message.content is not a string")
            texts.append(content)
            if isinstance(msg.get("thinking"), str):
                thinking.append(msg["thinking"])
            tc = msg.get("tool_calls")
            if tc is not None:
                if not isinstance(tc, list):
                    raise AdapterError("tool_calls is not an array")
                tool_calls.extend(tc)
        else:
            r = c.get("response")
            if r is None:
                r = ""
            if not isinstance(r, str):
                raise AdapterError("response is not a string")
            texts.append(r)
            if isinstance(c.get("thinking"), str):
                thinking.append(c["thinking"])
    ts = norm_ts(final.get("created_at"), "created_at")
    model = final.get("model")
    if not isinstance(model, str) or not model:
        raise AdapterError("model is not a string")
    req = request or {}
    requested = str_or_none(req.get("model")) or model
    version = (get_str(outer, "digest") or get_str(outer, "model_digest")
               or get_str(req, "digest") or get_str(final, "digest"))
    out_tok = as_count(final.get("eval_count"), "eval_count")
    in_tok = as_count(final.get("prompt_eval_count"), "prompt_eval_count")
    total_ns = as_count(final.get("total_duration"), "total_duration")
    done_reason = final.get("done_reason")
    if done_reason is not None and not isinstance(done_reason, str):
        raise AdapterError("done_reason is not a string")
    fmt = req.get("format")
    expects: bool | None = None
    schema: Any = None
    if fmt == "json":
        expects = True
    elif isinstance(fmt, dict):
        expects, schema = True, fmt
    elif request is not None:
        expects = False
    prompt = req.get("prompt") if isinstance(req.get("prompt"), str) else last_user_prompt(req.get("messages"))
    attrs: dict[str, Any] = {"provider": "ollama", "api": "chat" if is_chat else "generate"}
    if len(chunks) > 1:
        attrs["stream_chunks"] = len(chunks)
    for key in ("load_duration", "prompt_eval_duration", "eval_duration"):
        v = final.get(key)
        if isinstance(v, int) and not isinstance(v, bool):
            attrs[key + "_ms"] = v / 1e6
    rid = get_str(outer, "request_id") or get_str(outer, "id") or stable_hash(chunks if request is None else outer)
    ts_ = outer.get("task_success")
    common = dict(ts=ts, resolved_model=model, requested_model=requested, version=version,
                  route=record_route(outer, route), prompt=prompt if isinstance(prompt, str) else None,
                  input_tokens=in_tok, finish_reason=done_reason,
                  task_success=ts_ if isinstance(ts_, bool) else None,
                  latency_ms=total_ns / 1e6 if total_ns is not None else None,
                  reasoning="".join(thinking) or None)
    if tool_calls:
        tools = tool_schemas(req.get("tools"))
        events = []
        for pos, call in enumerate(tool_calls):
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
                raise AdapterError("tool call has no function name")
            args = fn.get("arguments")
            args_text = args if isinstance(args, str) else json_text(args)
            tattrs = dict(attrs, tool_name=fn["name"], tool_call=True, tool_calls_count=len(tool_calls))
            many = len(tool_calls) > 1
            events.append(make_event(request_id=f"{rid}:{pos}" if many else rid, response=args_text,
                                     output_tokens=None if many else out_tok, expects_json=True,
                                     schema=tools.get(fn["name"]), attributes=tattrs, **common))
        return events
    text = "".join(texts)
    if text == "":
        raise AdapterError("empty content (no response text or tool call)")
    return [make_event(request_id=rid, response=text, output_tokens=out_tok, expects_json=expects,
                       schema=schema, attributes=attrs, **common)]


def open_stream_lines(records: Sequence[tuple[int, Any]]) -> list[int]:
    """Line numbers of the chunks of streams still open (no ``done: true``) at the end of ``records``.

    A tailing reader can hold these lines back and feed them again with the next batch.

    >>> c = {"model": "llama3", "created_at": "2024-08-06T09:30:01Z", "response": "a", "done": False}
    >>> open_stream_lines([(1, c), (2, {**c, "done": True}), (3, c), (4, c)])
    [3, 4]
    """
    pending: dict[str, list[int]] = {}
    for line, rec in records:
        if _is_chunk(rec) and isinstance(rec.get("model"), str):
            if rec.get("done") is False:
                pending.setdefault(rec["model"], []).append(line)
            elif rec.get("done") is True:
                pending.pop(rec["model"], None)
    return sorted(n for lines in pending.values() for n in lines)
