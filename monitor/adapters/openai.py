"""OpenAI adapter: Chat Completions and Responses API objects -> canonical events.

Follows the OpenAI API reference (platform.openai.com/docs/api-reference), as of 2025:
the ``chat.completion`` object (``id, object, created, model, system_fingerprint, service_tier,
choices[].{index, message{role, content, refusal, tool_calls[]}, finish_reason}, usage``) and the
Responses API ``response`` object (``id, object, created_at, status, model, output[], usage,
text.format, tools, incomplete_details``).

Accepted record shapes (one JSON object per line):

* a bare ``chat.completion`` object;
* ``{"request": {...create params...}, "response": {chat.completion}}`` -- the request supplies the
  requested model alias, ``response_format`` and ``tools``; optional top-level ``ts``, ``route``,
  ``latency_ms``, ``task_success``, ``metadata``;
* a bare or wrapped Responses API ``response`` object;
* streamed ``chat.completion.chunk`` objects, one per line (joined per ``id``: content, refusal and
  tool-call argument deltas concatenated; the event takes the line of the usage chunk, or of the
  chunk carrying ``finish_reason`` when usage was not streamed; a stream without a finish at the end
  of the batch is rejected ``stream not finished``), or a list of them as a wrapped ``response``.

One event per choice (``n > 1`` gives several, ids suffixed ``#<index>``); a choice with tool
calls gives one event per tool call (ids suffixed ``:<tool call id>``), whose response is the
function's ``arguments`` JSON text, ``expects_json = true`` and ``schema`` = the declared function's
``parameters``. A refusal (``message.refusal``) gives response = the refusal text and
``attributes.refusal_field = true``.
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np
import orjson
import pyarrow as pa

from ._base import (
    AdapterError,
    Converted,
    api_error,
    as_count,
    as_number,
    get_str,
    json_expectation_openai,
    json_text,
    last_user_prompt,
    make_event,
    event_time,
    record_route,
    run_per_record,
    stable_hash,
    str_or_none,
    text_of,
    tool_schemas,
)
from ._columnar import ColumnarMapping, distinct_rows, unique_keys
from .identity import split_identity

__all__ = ["convert", "looks_like", "assemble_chunks", "open_stream_lines", "COLUMNAR"]


# ------------------------------------------------------------------------------ columnar form
#: An ISO 8601 UTC time that :func:`~monitor.adapters._base.norm_ts` keeps as the same instant
#: (seconds to microseconds, ``Z``); any other ``ts`` takes the per-record path.
_ISO_UTC = r"^[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z$"
#: The messages of the request as DuckDB reads them: the last user message gives the prompt.
_MESSAGES = "try(from_json(v.messages, '[{\"role\": \"VARCHAR\", \"content\": \"JSON\"}]'))"
_ABSENT = "{} IS NULL OR {} = 'NULL'"
_INTEGER = "('BIGINT', 'UBIGINT')"
_ROUTE = ("CASE WHEN t.route = 'VARCHAR' AND v.route <> '' THEN v.route "
          "WHEN t.meta_route = 'VARCHAR' AND v.meta_route <> '' THEN v.meta_route END")


def _absent(*names: str) -> str:
    return " AND ".join("(" + _ABSENT.format(f"t.{n}", f"t.{n}") + ")" for n in names)


def _derive_identity(columns: dict[str, Any], n: int) -> tuple[dict[str, Any], np.ndarray]:
    """Model identity (:func:`split_identity` of the resolved and requested names) and the
    attributes (``provider``, ``pinned``, ``system_fingerprint``, ``service_tier``), each computed
    once per distinct value, as :func:`chat_completion_events` and :func:`make_event` give them.
    A row without any model name is left to the per-record path (which rejects it)."""
    inverse, pairs = distinct_rows(columns.pop("_resolved"), columns["requested_model"])
    idents = [split_identity(resolved, requested) for resolved, requested in pairs]
    keep = np.array([ident.model is not None for ident in idents], dtype=bool)[inverse] if idents else np.ones(0, bool)

    def per_row(values: list[Any]) -> pa.Array:
        return pa.array(values, type=pa.string()).take(pa.array(inverse))

    columns["model"] = per_row([(i.model or "")[:512] for i in idents])
    columns["model_version"] = per_row([i.model_version[:512] for i in idents])
    columns["requested_model"] = per_row([i.requested_model[:512] if i.requested_model else None for i in idents])
    pinned = pa.array([i.pinned for i in idents], type=pa.bool_()).take(pa.array(inverse))
    attr_inverse, combos = distinct_rows(pinned, columns.pop("_fingerprint"), columns.pop("_tier"))
    texts = []
    for flag, fingerprint, tier in combos:
        attrs: dict[str, Any] = {"provider": "openai", "pinned": flag}
        if fingerprint is not None:
            attrs["system_fingerprint"] = fingerprint
        if tier is not None:
            attrs["service_tier"] = tier
        texts.append(orjson.dumps(attrs, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode())
    columns["attributes"] = pa.array(texts, type=pa.string()).take(pa.array(attr_inverse))
    return columns, keep


#: The columnar form of the common record, ``{"request": {...}, "response": chat.completion}`` with
#: one choice whose message is text (see :mod:`monitor.adapters._columnar`). Every record the
#: adapter does more with takes the per-record path: several choices, tool calls or a legacy
#: ``function_call``, a ``refusal`` field, reasoning fields, content given as parts, a
#: ``response_format`` with a schema, API error bodies, stream chunks, Responses objects, bare
#: records (no wrapper), a ``created`` that is not whole seconds, a ``ts`` in another shape, a
#: prompt given as parts, token counts that are not plain integers.
COLUMNAR = ColumnarMapping(
    fields={},
    pinned_attribute=False,
    inputs={
        "ts": ("$.ts", "VARCHAR"), "timestamp": ("$.timestamp", ""), "route": ("$.route", "VARCHAR"),
        "meta_route": ("$.metadata.route", "VARCHAR"), "latency": ("$.latency_ms", "DOUBLE"),
        "task": ("$.task_success", "BOOLEAN"), "object": ("$.object", ""), "top_choices": ("$.choices", ""),
        "top_type": ("$.type", ""), "error": ("$.error", ""), "error_aws": ("$.Error", ""), "aws_type": ("$.__type", ""),
        "request": ("$.request", ""), "req_model": ("$.request.model", "VARCHAR"),
        "messages": ("$.request.messages", "JSON"), "rf": ("$.request.response_format", ""),
        "rf_type": ("$.request.response_format.type", "VARCHAR"),
        "response": ("$.response", ""), "rid": ("$.response.id", "VARCHAR"), "r_object": ("$.response.object", "VARCHAR"),
        "r_output": ("$.response.output", ""), "r_error": ("$.response.error", ""), "r_error_aws": ("$.response.Error", ""),
        "r_aws_type": ("$.response.__type", ""), "created": ("$.response.created", "BIGINT"),
        "created_at": ("$.response.created_at", ""), "resolved": ("$.response.model", "VARCHAR"),
        "fingerprint": ("$.response.system_fingerprint", "VARCHAR"), "tier": ("$.response.service_tier", "VARCHAR"),
        "choices": ("$.response.choices", ""), "choice0": ("$.response.choices[0]", ""),
        "choice1": ("$.response.choices[1]", ""), "message": ("$.response.choices[0].message", ""),
        "finish": ("$.response.choices[0].finish_reason", "VARCHAR"),
        "content": ("$.response.choices[0].message.content", "VARCHAR"),
        "tool_calls": ("$.response.choices[0].message.tool_calls", ""),
        "function_call": ("$.response.choices[0].message.function_call", ""),
        "refusal": ("$.response.choices[0].message.refusal", ""),
        "reasoning_content": ("$.response.choices[0].message.reasoning_content", ""),
        "reasoning": ("$.response.choices[0].message.reasoning", ""),
        "usage": ("$.response.usage", ""), "out_tok": ("$.response.usage.completion_tokens", "BIGINT"),
        "in_tok": ("$.response.usage.prompt_tokens", "BIGINT"),
    },
    predicates=(
        # the wrapper, not a bare object, a stream event or an API error body
        "t.object IS NULL AND t.top_choices IS NULL AND t.top_type IS NULL AND t.error IS NULL AND t.error_aws IS NULL"
        " AND t.aws_type IS NULL AND t.response = 'OBJECT' AND (t.request IS NULL OR t.request IN ('OBJECT', 'NULL'))",
        "t.r_error IS NULL AND t.r_error_aws IS NULL AND t.r_aws_type IS NULL AND t.r_output IS NULL"
        " AND (t.r_object IS NULL OR (t.r_object = 'VARCHAR' AND v.r_object = 'chat.completion'))",
        # one choice, a text answer
        "t.choices = 'ARRAY' AND t.choice0 = 'OBJECT' AND t.choice1 IS NULL AND t.message = 'OBJECT'",
        "t.content = 'VARCHAR' AND v.content <> ''",
        _absent("tool_calls", "function_call", "refusal", "reasoning_content", "reasoning"),
        f"{_ABSENT.format('t.finish', 't.finish')} OR (t.finish = 'VARCHAR' AND length(v.finish) <= 64)",
        # ids, model, tokens
        "t.rid = 'VARCHAR' AND length(v.rid) BETWEEN 1 AND 512",
        "t.resolved IS NULL OR t.resolved IN ('VARCHAR', 'NULL')",
        "t.usage IS NULL OR t.usage IN ('OBJECT', 'NULL')",
        f"{_ABSENT.format('t.out_tok', 't.out_tok')} OR (t.out_tok IN {_INTEGER} AND v.out_tok >= 0)",
        f"{_ABSENT.format('t.in_tok', 't.in_tok')} OR (t.in_tok IN {_INTEGER} AND v.in_tok >= 0)",
        # time: whole epoch seconds in `created`, or else an ISO 8601 UTC `ts`
        "t.created_at IS NULL AND ((t.created IN ('BIGINT', 'UBIGINT') AND v.created > 0 AND v.created < 100000000000)"
        f" OR (({_ABSENT.format('t.created', 't.created')}) AND t.ts = 'VARCHAR'"
        f" AND regexp_full_match(v.ts, '{_ISO_UTC}') AND try_cast(left(v.ts, 10) AS DATE) IS NOT NULL))",
        # the request: response_format without a schema, the prompt as text
        "NOT coalesce(t.rf = 'OBJECT' AND t.rf_type = 'VARCHAR' AND v.rf_type = 'json_schema', FALSE)",
        f"{_ABSENT.format('t.messages', 't.messages')} OR (t.messages = 'ARRAY'"
        f" AND {unique_keys('v.messages', '$[*]')} AND l.messages IS NOT NULL AND coalesce(l.prompt_type <> 'ARRAY', TRUE))",
        # the wrapper's fields
        f"length(coalesce({_ROUTE}, '')) <= 512",
        f"{_ABSENT.format('t.latency', 't.latency')} OR t.latency NOT IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
        " OR (v.latency IS NOT NULL AND (v.latency < 0 OR (abs(v.latency) < 1e15 AND round(v.latency, 3) = v.latency)))",
    ),
    columns={
        "ts": "CASE WHEN t.created IN ('BIGINT', 'UBIGINT') THEN strftime(make_timestamp(v.created * 1000000), "
              "'%Y-%m-%dT%H:%M:%SZ') ELSE v.ts END",
        "request_id": "v.rid",
        "response": "v.content",
        "route": _ROUTE,
        "prompt": "CASE WHEN t.messages = 'ARRAY' AND l.prompt_type = 'VARCHAR' THEN l.last_user ->> '$' END",
        "output_tokens": f"CASE WHEN t.out_tok IN {_INTEGER} THEN v.out_tok END",
        "input_tokens": f"CASE WHEN t.in_tok IN {_INTEGER} THEN v.in_tok END",
        "finish_reason": "CASE WHEN t.finish = 'VARCHAR' THEN v.finish END",
        "expects_json": "CASE WHEN t.rf = 'OBJECT' AND t.rf_type = 'VARCHAR' AND v.rf_type = 'json_object' THEN TRUE"
                        " WHEN t.rf = 'OBJECT' AND t.rf_type = 'VARCHAR' AND v.rf_type = 'text' THEN FALSE"
                        " WHEN t.request = 'OBJECT' THEN FALSE END",
        "task_success": "CASE WHEN t.task = 'BOOLEAN' THEN v.task END",
        "latency_ms": "CASE WHEN t.latency IN ('BIGINT', 'UBIGINT', 'DOUBLE') AND v.latency >= 0 THEN v.latency END",
        "requested_model": "CASE WHEN t.request = 'OBJECT' AND t.req_model = 'VARCHAR' AND v.req_model <> '' THEN v.req_model END",
        "_resolved": "CASE WHEN t.resolved = 'VARCHAR' THEN v.resolved END",
        "_fingerprint": "CASE WHEN t.fingerprint = 'VARCHAR' THEN v.fingerprint END",
        "_tier": "CASE WHEN t.tier = 'VARCHAR' THEN v.tier END",
    },
    lets={"messages": f"CASE WHEN t.messages = 'ARRAY' THEN {_MESSAGES} END",
          "last_user": "list_filter(l.messages, lambda m: m.role = 'user')[-1].content",
          "prompt_type": "json_type(l.last_user)"},
    derive=_derive_identity,
)


def looks_like(rec: Any) -> bool:
    """True when a record has the shape of an OpenAI chat completion / response log record.

    >>> looks_like({"object": "chat.completion", "choices": []})
    True
    >>> looks_like({"request": {"model": "gpt-4o"}, "response": {"object": "response", "output": []}})
    True
    >>> looks_like({"model": "llama3", "done": True})
    False
    """
    if not isinstance(rec, dict):
        return False
    if _is_chat(rec) or _is_responses(rec) or rec.get("object") == "chat.completion.chunk" or _is_stream_event(rec):
        return True
    resp = rec.get("response")
    if isinstance(resp, list) and resp and isinstance(resp[0], dict):
        return resp[0].get("object") == "chat.completion.chunk"
    return isinstance(resp, dict) and (_is_chat(resp) or _is_responses(resp))


def _is_chat(d: dict) -> bool:
    return d.get("object") == "chat.completion" or (
        "choices" in d and "model" in d and ("created" in d or "id" in d))


def _is_responses(d: dict) -> bool:
    return d.get("object") == "response" and "output" in d


def _is_stream_event(d: Any) -> bool:
    """A Responses API streaming event (``response.created``, ``response.output_text.delta``, ...)."""
    t = d.get("type") if isinstance(d, dict) else None
    return isinstance(t, str) and t.startswith("response.") and ("sequence_number" in d or "response" in d
                                                                  or "item_id" in d or "output_index" in d)


_TERMINAL = ("response.completed", "response.incomplete", "response.failed")


def convert(records: Sequence[tuple[int, Any]], *, route: str | None = None,
            fallback_ts: str | None = None, **_: Any) -> Converted:
    """Convert OpenAI log records (see the module docstring) to canonical events.

    >>> rec = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1722965000,
    ...        "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "finish_reason": "stop",
    ...        "message": {"role": "assistant", "content": "Hi!"}}],
    ...        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}
    >>> out = convert([(1, rec)])
    >>> line, ev = out.events[0]
    >>> ev["model"], ev["model_version"], ev["response"], ev["output_tokens"], ev["attributes"]["pinned"]
    ('gpt-4o-2024-08-06', '2024-08-06', 'Hi!', 2, True)
    >>> convert([(2, {"object": "chat.completion", "id": "x", "created": 1, "model": "m"})]).rejects
    [(2, 'missing choices')]

    Streamed ``chat.completion.chunk`` lines are joined per ``id``:

    >>> def chunk(delta, finish=None, usage=None, choices=True):
    ...     return {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1722965000,
    ...             "model": "gpt-4o-mini-2024-07-18", "usage": usage,
    ...             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if choices else []}
    >>> lines = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}),
    ...          chunk({"content": "lo"}), chunk({}, "stop"),
    ...          chunk(None, usage={"prompt_tokens": 3, "completion_tokens": 2}, choices=False)]
    >>> out = convert(list(enumerate(lines, start=1)))
    >>> [(n, ev["response"], ev["output_tokens"], ev["finish_reason"]) for n, ev in out.events]
    [(5, 'Hello', 2, 'stop')]
    >>> convert(list(enumerate(lines[:3], start=1))).rejects
    [(1, 'stream not finished')]
    """
    out = Converted()
    streams: dict[str, _Stream] = {}
    rstreams = _ResponseStreams(out, route, fallback_ts)
    for line, rec in records:
        if _is_stream_event(rec) or (isinstance(rec, dict) and rec.get("type") == "error" and rstreams.current):
            rstreams.add(line, rec)
            continue
        if isinstance(rec, dict) and rec.get("object") == "chat.completion.chunk":
            sid = rec.get("id")
            if not isinstance(sid, str) or not sid:
                out.rejects.append((line, "chunk has no id"))
                continue
            if not isinstance(rec.get("choices"), list):
                out.rejects.append((line, "choices is not an array"))
                continue
            st = streams.setdefault(sid, _Stream(line))
            st.chunks.append(rec)
            if isinstance(rec.get("usage"), dict) and not rec["choices"]:
                # the usage chunk (stream_options.include_usage) is the last one of a stream
                del streams[sid]
                _emit_stream(out, st.chunks, None, rec, route, line, st.first)
            elif any(isinstance(c, dict) and c.get("finish_reason") for c in rec["choices"]):
                st.finish_line = line
            continue
        sub = run_per_record([(line, rec)], lambda ln, r: _one(r, route, fallback_ts))
        out.events.extend(sub.events)
        out.rejects.extend(sub.rejects)
    rstreams.close()
    for st in streams.values():
        if st.finish_line is None:
            out.rejects.append((st.first, "stream not finished"))
        else:
            _emit_stream(out, st.chunks, None, st.chunks[0], route, st.finish_line, st.first)
    out.events.sort(key=lambda e: e[0])
    out.rejects.sort(key=lambda r: r[0])
    return out


class _ResponseStreams:
    """Responses API streaming events, joined per response id.

    ``response.created`` / ``response.in_progress`` name the response id; the item events after
    them (``response.output_item.*``, ``response.content_part.*``, ``response.output_text.delta``,
    ...) carry only an ``item_id`` and belong to the response opened last. A terminal event
    (``response.completed`` / ``response.incomplete`` / ``response.failed``) carries the whole
    response: its line gives the event. A stream with no terminal event at the end of the batch is
    rejected ``stream not finished`` on its first line.
    """

    def __init__(self, out: Converted, route: str | None, fallback_ts: str | None) -> None:
        self.out, self.route, self.fallback_ts = out, route, fallback_ts
        self.open: dict[str, tuple[int, list[dict]]] = {}
        self.current: str | None = None

    def add(self, line: int, rec: dict) -> None:
        typ = rec["type"]
        resp = rec.get("response") if isinstance(rec.get("response"), dict) else None
        rid = resp.get("id") if resp is not None and isinstance(resp.get("id"), str) else None
        if rid is not None and typ not in _TERMINAL:
            self.open.setdefault(rid, (line, []))[1].append(rec)
            self.current = rid
            return
        if typ in _TERMINAL:
            if resp is None:
                self.out.rejects.append((line, f"{typ} has no response object"))
                return
            first, events = self.open.pop(rid, (line, [])) if rid else (line, [])
            if self.current == rid:
                self.current = None
            self._emit(line, resp, events + [rec])
            return
        if typ == "error" or self.current is None:
            if self.current is None:
                self.out.rejects.append((line, f"{typ} event outside a stream (no response.created before it)"))
                return
            first, _ = self.open.pop(self.current)
            self.current = None
            self.out.rejects.append((first, api_error({"error": rec}) or "API error"))
            return
        self.open[self.current][1].append(rec)

    def _emit(self, line: int, resp: dict, events: list[dict]) -> None:
        try:
            if resp.get("status") == "failed":
                err = resp.get("error") if isinstance(resp.get("error"), dict) else {}
                raise AdapterError(api_error({"error": err}) if err else "response status is failed")
            if not resp.get("output"):
                resp = dict(resp, output=_output_from_deltas(events))
            ctx = _Context.from_outer({}, None, self.route)
            ctx.fallback_ts = self.fallback_ts
            for ev in responses_events(resp, {}, ctx):
                ev["attributes"]["stream_events"] = len(events)
                self.out.events.append((line, ev))
        except AdapterError as exc:
            self.out.rejects.append((line, exc.reason))
        except Exception as exc:  # defensive
            self.out.rejects.append((line, f"unreadable record ({type(exc).__name__})"))

    def close(self) -> None:
        for first, _ in self.open.values():
            self.out.rejects.append((first, "stream not finished"))
        self.open.clear()
        self.current = None


def _output_from_deltas(events: list[dict]) -> list[dict]:
    """A Responses ``output`` list rebuilt from text, refusal and argument deltas (for a terminal
    event whose response omits its output)."""
    text: list[str] = []
    refusal: list[str] = []
    for e in events:
        if e.get("type") == "response.output_text.delta" and isinstance(e.get("delta"), str):
            text.append(e["delta"])
        elif e.get("type") == "response.refusal.delta" and isinstance(e.get("delta"), str):
            refusal.append(e["delta"])
    content = []
    if text:
        content.append({"type": "output_text", "text": "".join(text)})
    if refusal:
        content.append({"type": "refusal", "refusal": "".join(refusal)})
    done = [e["item"] for e in events if e.get("type") == "response.output_item.done" and isinstance(e.get("item"), dict)]
    if done:
        return done
    return [{"type": "message", "role": "assistant", "content": content}] if content else []


class _Stream:
    def __init__(self, first: int) -> None:
        self.first = first
        self.finish_line: int | None = None
        self.chunks: list[dict] = []


def _emit_stream(out: Converted, chunks: list[dict], request: dict | None, outer: dict,
                 route: str | None, line: int, first: int) -> None:
    try:
        resp = assemble_chunks(chunks)
        ctx = _Context.from_outer(outer if request is not None else {}, request, route)
        ctx.id_fallback = chunks
        for ev in chat_completion_events(resp, request or {}, ctx):
            ev["attributes"]["stream_chunks"] = len(chunks)
            out.events.append((line, ev))
    except AdapterError as exc:
        out.rejects.append((line, exc.reason))
    except Exception as exc:  # defensive
        out.rejects.append((line, f"unreadable record ({type(exc).__name__})"))


def assemble_chunks(chunks: list[dict]) -> dict:
    """Join streamed ``chat.completion.chunk`` objects into one ``chat.completion`` dict.

    Content, refusal and tool-call argument deltas are concatenated per choice ``index`` (and per
    tool-call ``index``); the last non-null ``finish_reason`` and any ``usage`` are kept.
    AdapterError when no chunk has a choice or a choice never finished.
    """
    first = chunks[0]
    choices: dict[int, dict] = {}
    usage = None
    for c in chunks:
        if isinstance(c.get("usage"), dict):
            usage = c["usage"]
        for ch in c.get("choices") or []:
            if not isinstance(ch, dict):
                raise AdapterError("choice is not an object")
            idx = ch.get("index", 0)
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise AdapterError("choice index is not an integer")
            acc = choices.setdefault(idx, {"content": [], "refusal": [], "reasoning_content": [], "tools": {},
                                           "finish": None})
            delta = ch.get("delta")
            if delta is None:
                delta = {}
            if not isinstance(delta, dict):
                raise AdapterError("delta is not an object")
            for key in ("content", "refusal", "reasoning_content"):
                v = delta.get(key)
                if v is not None:
                    if not isinstance(v, str):
                        raise AdapterError(f"delta.{key} is not a string")
                    acc[key].append(v)
            for tc in delta.get("tool_calls") or []:
                if not isinstance(tc, dict):
                    raise AdapterError("tool call delta is not an object")
                t = acc["tools"].setdefault(tc.get("index", 0) if isinstance(tc.get("index", 0), int) else 0,
                                            {"id": None, "name": [], "args": []})
                if isinstance(tc.get("id"), str):
                    t["id"] = tc["id"]
                fn = tc.get("function") if isinstance(tc.get("function"), dict) else {}
                if isinstance(fn.get("name"), str):
                    t["name"].append(fn["name"])
                if isinstance(fn.get("arguments"), str):
                    t["args"].append(fn["arguments"])
            if ch.get("finish_reason") is not None:
                acc["finish"] = ch["finish_reason"]
    if not choices:
        raise AdapterError("stream has no choices (usage chunk without its stream?)")
    out_choices = []
    for idx in sorted(choices):
        acc = choices[idx]
        if acc["finish"] is None:
            raise AdapterError("stream not finished")
        msg: dict[str, Any] = {"role": "assistant", "content": "".join(acc["content"]) or None,
                               "refusal": "".join(acc["refusal"]) or None,
                               "reasoning_content": "".join(acc["reasoning_content"]) or None}
        if acc["tools"]:
            msg["tool_calls"] = [{"id": t["id"], "type": "function",
                                  "function": {"name": "".join(t["name"]), "arguments": "".join(t["args"])}}
                                 for _, t in sorted(acc["tools"].items())]
        out_choices.append({"index": idx, "message": msg, "finish_reason": acc["finish"]})
    resp = {k: first.get(k) for k in ("id", "created", "model", "system_fingerprint", "service_tier")}
    resp.update(object="chat.completion", choices=out_choices, usage=usage)
    return resp


def _one(rec: dict, route: str | None, fallback_ts: str | None = None) -> Iterator[dict]:
    err = api_error(rec)
    if err is not None:
        raise AdapterError(err)
    resp_v = rec.get("response")
    if isinstance(resp_v, list) and resp_v and all(isinstance(c, dict) and c.get("object") == "chat.completion.chunk"
                                                   for c in resp_v):
        request = rec.get("request")
        if request is not None and not isinstance(request, dict):
            raise AdapterError("request is not an object")
        ctx = _Context.from_outer(rec, request, route)
        ctx.id_fallback = rec
        for ev in chat_completion_events(assemble_chunks(resp_v), request or {}, ctx):
            ev["attributes"]["stream_chunks"] = len(resp_v)
            yield ev
        return
    if "response" in rec and isinstance(rec.get("response"), dict) and not _is_chat(rec) and not _is_responses(rec):
        request = rec.get("request")
        if request is not None and not isinstance(request, dict):
            raise AdapterError("request is not an object")
        resp = rec["response"]
        outer = rec
    elif "response" in rec and not _is_chat(rec) and not _is_responses(rec):
        raise AdapterError("response is not an object")
    else:
        request, resp, outer = None, rec, rec
    ctx = _Context.from_outer(outer, request, route)
    ctx.fallback_ts = fallback_ts
    if _is_responses(resp):
        yield from responses_events(resp, request or {}, ctx)
    else:
        yield from chat_completion_events(resp, request or {}, ctx)


class _Context:
    """Record-level facts shared by every event of one record."""

    def __init__(self) -> None:
        self.ts: Any = None
        self.route: str | None = None
        self.latency_ms: float | None = None
        self.task_success: bool | None = None
        self.attributes: dict = {}
        self.requested_model: str | None = None
        self.request_known = False
        self.output_tokens: int | None = None
        self.input_tokens: int | None = None
        self.id_fallback: Any = None
        self.fallback_ts: str | None = None

    @classmethod
    def from_outer(cls, outer: dict, request: dict | None, route: str | None) -> "_Context":
        c = cls()
        c.ts = outer.get("ts", outer.get("timestamp"))
        c.route = record_route(outer, route)
        c.latency_ms = as_number(outer.get("latency_ms"))
        ts_ = outer.get("task_success")
        c.task_success = ts_ if isinstance(ts_, bool) else None
        c.request_known = request is not None
        if request is not None:
            c.requested_model = str_or_none(request.get("model"))
        c.id_fallback = outer
        return c


def _finish(resp: dict, ctx: _Context) -> tuple[str, str]:
    """(ts, base request id) of a response; AdapterError if there is no time at all."""
    created = resp.get("created", resp.get("created_at"))
    ts, inferred = event_time([(created, "created"), (ctx.ts, "ts")], ctx.fallback_ts)
    if inferred:
        ctx.attributes = dict(ctx.attributes, ts_inferred=True)
    rid = get_str(resp, "id") or stable_hash(ctx.id_fallback)
    return ts, rid


def _model_and_usage(resp: dict) -> tuple[str | None, dict | None]:
    """The response's resolved ``model`` and ``usage`` object, type-checked."""
    resolved = resp.get("model")
    if resolved is not None and not isinstance(resolved, str):
        raise AdapterError("model is not a string")
    usage = resp.get("usage")
    if usage is not None and not isinstance(usage, dict):
        raise AdapterError("usage is not an object")
    return resolved, usage


def chat_completion_events(resp: dict, request: dict, ctx: _Context) -> Iterator[dict]:
    """Events of one ``chat.completion`` object (also used by the LiteLLM adapter)."""
    choices = resp.get("choices")
    if choices is None:
        raise AdapterError("missing choices")
    if not isinstance(choices, list):
        raise AdapterError("choices is not an array")
    if not choices:
        raise AdapterError("empty choices")
    ts, rid = _finish(resp, ctx)
    resolved, usage = _model_and_usage(resp)
    out_tok = as_count((usage or {}).get("completion_tokens"), "usage.completion_tokens")
    in_tok = as_count((usage or {}).get("prompt_tokens"), "usage.prompt_tokens")
    if out_tok is None:
        out_tok = ctx.output_tokens
    if in_tok is None:
        in_tok = ctx.input_tokens
    expects, schema, schema_name = json_expectation_openai(request.get("response_format"))
    if expects is None and ctx.request_known:
        expects = False
    tools = tool_schemas(request.get("tools"))
    prompt = last_user_prompt(request.get("messages"))
    base_attrs: dict[str, Any] = {"provider": "openai", **ctx.attributes}
    for key in ("system_fingerprint", "service_tier"):
        if isinstance(resp.get(key), str):
            base_attrs[key] = resp[key]
    if schema_name:
        base_attrs["schema_name"] = schema_name
    multi = len(choices) > 1
    for pos, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise AdapterError("choice is not an object")
        msg = choice.get("message")
        if not isinstance(msg, dict):
            raise AdapterError("choice has no message object")
        idx = choice.get("index", pos)
        crid = f"{rid}#{idx}" if multi else rid
        finish = choice.get("finish_reason")
        if finish is not None and not isinstance(finish, str):
            raise AdapterError("finish_reason is not a string")
        # per-choice token counts are unknown when n > 1: usage covers all choices
        tok = out_tok if not multi else None
        # reasoning returned beside the answer: DeepSeek / vLLM ``reasoning_content``, OpenRouter ``reasoning``
        reasoning = next((msg[k] for k in ("reasoning_content", "reasoning") if isinstance(msg.get(k), str)), None)
        common = dict(ts=ts, resolved_model=resolved, requested_model=ctx.requested_model,
                      route=ctx.route, prompt=prompt, input_tokens=in_tok, finish_reason=finish,
                      task_success=ctx.task_success, latency_ms=ctx.latency_ms, reasoning=reasoning or None)
        attrs = dict(base_attrs)
        if multi:
            attrs["choice_index"] = idx
            attrs["usage_completion_tokens_all_choices"] = out_tok
        tool_calls = msg.get("tool_calls")
        if tool_calls is not None and not isinstance(tool_calls, list):
            raise AdapterError("tool_calls is not an array")
        legacy = msg.get("function_call")
        if not tool_calls and isinstance(legacy, dict):
            tool_calls = [{"id": "function_call", "type": "function", "function": legacy}]
        refusal = msg.get("refusal")
        if refusal is not None and not isinstance(refusal, str):
            raise AdapterError("refusal is not a string")
        if tool_calls:
            for tpos, call in enumerate(tool_calls):
                if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
                    raise AdapterError("tool call has no function object")
                fn = call["function"]
                name = fn.get("name")
                args = fn.get("arguments")
                if not isinstance(name, str) or not name:
                    raise AdapterError("tool call has no function name")
                if isinstance(args, (dict, list)):
                    args = json_text(args)
                if not isinstance(args, str):
                    raise AdapterError("tool call arguments are not a string")
                tattrs = dict(attrs, tool_name=name, tool_call=True, tool_calls_in_choice=len(tool_calls))
                if isinstance(call.get("id"), str):
                    tattrs["tool_call_id"] = call["id"]
                call_id = call.get("id") if isinstance(call.get("id"), str) else str(tpos)
                yield make_event(
                    request_id=f"{crid}:{call_id}", response=args,
                    output_tokens=tok if len(tool_calls) == 1 else None,
                    expects_json=True, schema=tools.get(name), attributes=tattrs, **common)
            continue
        if refusal:
            yield make_event(request_id=crid, response=refusal, output_tokens=tok,
                             expects_json=expects, schema=schema,
                             attributes=dict(attrs, refusal_field=True, provider_refusal="refusal"), **common)
            continue
        text = text_of(msg.get("content"), "message.content")
        if text is None or text == "":
            raise AdapterError("empty content (no text, tool call or refusal)")
        yield make_event(request_id=crid, response=text, output_tokens=tok,
                         expects_json=expects, schema=schema, attributes=attrs, **common)


_RESPONSES_FINISH = {"max_output_tokens": "length", "content_filter": "content_filter"}


def responses_events(resp: dict, request: dict, ctx: _Context) -> Iterator[dict]:
    """Events of one Responses API ``response`` object."""
    output = resp.get("output")
    if not isinstance(output, list):
        raise AdapterError("output is not an array")
    ts, rid = _finish(resp, ctx)
    status = resp.get("status")
    if status in ("failed", "cancelled", "in_progress", "queued"):
        raise AdapterError(f"response status is {status}")
    resolved, usage = _model_and_usage(resp)
    out_tok = as_count((usage or {}).get("output_tokens"), "usage.output_tokens")
    in_tok = as_count((usage or {}).get("input_tokens"), "usage.input_tokens")
    text_cfg = request.get("text") if isinstance(request.get("text"), dict) else resp.get("text")
    fmt = text_cfg.get("format") if isinstance(text_cfg, dict) else None
    expects, schema, schema_name = json_expectation_openai(fmt)
    if expects is False and not ctx.request_known:
        expects = None  # no request logged: null, as for every bare response (docs/FORMATS.md)
    tools = tool_schemas(request.get("tools") or resp.get("tools"))
    finish = "stop"
    if status == "incomplete":
        det = resp.get("incomplete_details")
        reason = det.get("reason") if isinstance(det, dict) else None
        finish = _RESPONSES_FINISH.get(reason, reason) if isinstance(reason, str) else "incomplete"
    inp = request.get("input")
    prompt = inp if isinstance(inp, str) else last_user_prompt(inp)
    attrs: dict[str, Any] = {"provider": "openai", "api": "responses", **ctx.attributes}
    if schema_name:
        attrs["schema_name"] = schema_name
    if isinstance(status, str):
        attrs["status"] = status
    requested = ctx.requested_model
    common = dict(ts=ts, resolved_model=resolved, requested_model=requested, route=ctx.route,
                  prompt=prompt, input_tokens=in_tok, task_success=ctx.task_success,
                  latency_ms=ctx.latency_ms)
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[dict] = []
    reasoning: list[str] = []
    for item in output:
        if not isinstance(item, dict):
            raise AdapterError("output item is not an object")
        typ = item.get("type")
        if typ == "reasoning":
            for key in ("content", "summary"):
                parts = item.get(key) if isinstance(item.get(key), list) else []
                reasoning.extend(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))
        elif typ == "message":
            content = item.get("content")
            if not isinstance(content, list):
                raise AdapterError("message content is not an array")
            for part in content:
                if not isinstance(part, dict):
                    raise AdapterError("content part is not an object")
                if part.get("type") == "output_text":
                    if not isinstance(part.get("text"), str):
                        raise AdapterError("output_text.text is not a string")
                    texts.append(part["text"])
                elif part.get("type") == "refusal":
                    if not isinstance(part.get("refusal"), str):
                        raise AdapterError("refusal is not a string")
                    refusals.append(part["refusal"])
        elif typ == "function_call":
            calls.append(item)
    if reasoning:
        common["reasoning"] = "".join(reasoning)
    if calls:
        for pos, call in enumerate(calls):
            name, args = call.get("name"), call.get("arguments")
            if not isinstance(name, str) or not name:
                raise AdapterError("function_call has no name")
            if not isinstance(args, str):
                raise AdapterError("function_call arguments are not a string")
            cid = call.get("call_id") if isinstance(call.get("call_id"), str) else str(pos)
            yield make_event(request_id=f"{rid}:{cid}", response=args,
                             output_tokens=out_tok if len(calls) == 1 else None,
                             finish_reason="tool_calls", expects_json=True, schema=tools.get(name),
                             attributes=dict(attrs, tool_name=name, tool_call=True, tool_call_id=cid),
                             **common)
        return
    if refusals and not "".join(texts):
        yield make_event(request_id=rid, response="".join(refusals), output_tokens=out_tok,
                         finish_reason=finish, expects_json=expects, schema=schema,
                         attributes=dict(attrs, refusal_field=True, provider_refusal="refusal"), **common)
        return
    text = "".join(texts)
    if not text:
        raise AdapterError("empty content (no output_text, function_call or refusal)")
    yield make_event(request_id=rid, response=text, output_tokens=out_tok, finish_reason=finish,
                     expects_json=expects, schema=schema, attributes=attrs, **common)


def open_stream_lines(records: Sequence[tuple[int, Any]]) -> list[int]:
    """Line numbers of ``chat.completion.chunk`` streams and Responses API event streams not
    complete at the end of ``records``.

    Complete = a ``finish_reason`` was seen, and, for streams whose chunks carry a ``usage`` key
    (``stream_options.include_usage``), the final usage chunk too. A tailing reader can hold these
    lines back and feed them again with the next batch.

    >>> c = {"id": "s1", "object": "chat.completion.chunk", "created": 1, "model": "m",
    ...      "choices": [{"index": 0, "delta": {"content": "a"}, "finish_reason": None}]}
    >>> done = {**c, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    >>> open_stream_lines([(1, c), (2, done), (3, {**c, "id": "s2"})])
    [3]
    """
    lines: dict[str, list[int]] = {}
    finish_seen: set[str] = set()
    usage_seen: set[str] = set()
    expects_usage: set[str] = set()
    responses: dict[str, list[int]] = {}   # Responses API streams: response id -> lines
    current: str | None = None
    for line, rec in records:
        if _is_stream_event(rec) or (isinstance(rec, dict) and rec.get("type") == "error" and current):
            resp = rec.get("response") if isinstance(rec.get("response"), dict) else {}
            rid = resp.get("id") if isinstance(resp.get("id"), str) else None
            if rec["type"] in _TERMINAL or rec["type"] == "error":
                responses.pop(rid if rid is not None else current or "", None)
                if rid is None or rid == current:
                    current = None
            elif rid is not None:
                responses.setdefault(rid, []).append(line)
                current = rid
            elif current is not None:
                responses[current].append(line)
            continue
        if isinstance(rec, dict) and rec.get("object") == "chat.completion.chunk" and isinstance(rec.get("id"), str):
            sid = rec["id"]
            lines.setdefault(sid, []).append(line)
            if "usage" in rec:      # include_usage streams carry "usage": null until the last chunk
                expects_usage.add(sid)
            ch = rec.get("choices")
            if isinstance(ch, list) and any(isinstance(c, dict) and c.get("finish_reason") for c in ch):
                finish_seen.add(sid)
            if isinstance(ch, list) and not ch and isinstance(rec.get("usage"), dict):
                usage_seen.add(sid)

    def done(sid: str) -> bool:
        return sid in usage_seen or (sid in finish_seen and sid not in expects_usage)

    return sorted([n for sid, ls in lines.items() if not done(sid) for n in ls]
                  + [n for ls in responses.values() for n in ls])
