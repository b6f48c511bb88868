"""AWS Bedrock adapter: Converse and ConverseStream output -> canonical events.

Follows the Amazon Bedrock Runtime API reference (docs.aws.amazon.com/bedrock/latest/APIReference,
API version ``2023-09-30``): ``Converse`` response ``{output{message{role, content[]{text |
toolUse{toolUseId, name, input} | reasoningContent{reasoningText{text}}}}}, stopReason, usage{
inputTokens, outputTokens, totalTokens}, metrics{latencyMs}, trace, ResponseMetadata}`` and the
``ConverseStream`` events ``messageStart``, ``contentBlockStart``, ``contentBlockDelta{delta{text |
toolUse{input} | reasoningContent{text}}}``, ``contentBlockStop``, ``messageStop{stopReason}``,
``metadata{usage, metrics}``; request fields ``modelId``, ``messages``, ``toolConfig.tools[].toolSpec
{name, inputSchema{json}}`` and ``outputConfig.textFormat{type: json_schema, structure{jsonSchema
{schema (JSON text), name}}}``.

A Converse response does not name its model: the log must carry the request's ``modelId``.
Accepted record shapes (one JSON object per line):

* ``{"request": {"modelId": ..., ...}, "response": ConverseResponse | [ConverseStream events]}``
  (also ``{"modelId": ..., "response": ...}``) with optional top-level ``ts``, ``route``,
  ``task_success``;
* ConverseStream events one per line, from ``messageStart`` to ``metadata`` (or ``messageStop``
  when no ``metadata`` follows); a line of the stream carrying ``modelId`` names the model.

Time: the wrapper's ``ts``, else ``ResponseMetadata.HTTPHeaders.date`` (boto3), else the fallback.
Model ids: foundation-model and inference-profile ARNs and cross-region profile ids
(``us.anthropic.claude-3-5-sonnet-20241022-v2:0``) resolve to the model id
(``anthropic.claude-3-5-sonnet-20241022-v2:0``) and its version (``20241022-v2:0``); see
:func:`resolve_model_id`. ``stopReason`` ``guardrail_intervened`` and ``content_filtered`` are
provider-reported refusals; ``reasoningContent`` is the event's ``reasoning``.
"""
from __future__ import annotations

import json
import re
from email.utils import parsedate_to_datetime
from typing import Any, Iterator, Sequence

from ._base import (
    AdapterError,
    Converted,
    as_count,
    as_number,
    event_time,
    get_str,
    last_user_prompt,
    make_event,
    record_route,
    stable_hash,
    tool_call_events,
    unwrap,
    wrapper_time,
    wraps,
)

__all__ = ["convert", "looks_like", "open_stream_lines", "resolve_model_id", "STREAM_KEYS"]

STREAM_KEYS = ("messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata")
"""The single key of each ConverseStream event."""

REFUSAL_STOPS = frozenset({"guardrail_intervened", "content_filtered"})

_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:(?P<region>[\w-]*):(?P<account>\d*):(?P<kind>[\w-]+)/(?P<id>.+)$")
_GEO = re.compile(r"^(?P<geo>us|eu|apac|us-gov|global|jp|au|ca|ap)\.(?=[a-z0-9-]+\.)")
_VERSION = re.compile(r"(?:-(?P<date>20\d{6}|\d{4}))?-(?P<v>v\d+(?::\d+)?)$")


def resolve_model_id(model_id: str) -> tuple[str, str | None, dict[str, str]]:
    """(model, version, attributes) of a Bedrock ``modelId`` (plain id, profile id or ARN).

    Foundation models and (system) inference profiles resolve to the base model id; its ``-vN:M``
    suffix (with a snapshot date before it, when there is one) is the version, so the identity is
    pinned. Application inference profiles, provisioned and custom models name no base model:
    the resource id is the model and the version is unknown.

    >>> resolve_model_id("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20241022-v2:0")[:2]
    ('anthropic.claude-3-5-sonnet-20241022-v2:0', '20241022-v2:0')
    >>> resolve_model_id("eu.amazon.nova-pro-v1:0")
    ('amazon.nova-pro-v1:0', 'v1:0', {'inference_profile': 'eu.amazon.nova-pro-v1:0', 'profile_geo': 'eu'})
    >>> resolve_model_id("arn:aws:bedrock:us-west-2:111122223333:application-inference-profile/a1b2c3")[:2]
    ('application-inference-profile/a1b2c3', None)
    """
    attrs: dict[str, str] = {}
    mid = model_id.strip()
    m = _ARN.match(mid)
    if m:
        attrs["model_arn"] = mid
        if m["region"]:
            attrs["region"] = m["region"]
        if m["kind"] not in ("foundation-model", "inference-profile"):
            return f"{m['kind']}/{m['id']}", None, attrs
        mid = m["id"]
    g = _GEO.match(mid)
    if g:
        attrs["inference_profile"] = mid
        attrs["profile_geo"] = g["geo"]
        mid = mid[g.end():]
    v = _VERSION.search(mid)
    version = None
    if v:
        version = f"{v['date']}-{v['v']}" if v["date"] else v["v"]
    return mid, version, attrs


def _is_stream_event(d: Any) -> bool:
    return isinstance(d, dict) and any(k in d for k in STREAM_KEYS) and "output" not in d


def _is_response(d: Any) -> bool:
    return isinstance(d, dict) and isinstance(d.get("output"), dict) and "stopReason" in d


def looks_like(rec: Any) -> bool:
    """True for a Converse response, a ConverseStream event, or a wrapper holding either.

    >>> looks_like({"output": {"message": {"role": "assistant", "content": []}}, "stopReason": "end_turn"})
    True
    >>> looks_like({"contentBlockDelta": {"delta": {"text": "Hi"}, "contentBlockIndex": 0}})
    True
    >>> looks_like({"metadata": {"route": "x"}, "ts": 1})
    False
    """
    if not isinstance(rec, dict):
        return False
    if _is_response(rec):
        return True
    if _is_stream_event(rec):
        key = next(k for k in STREAM_KEYS if k in rec)
        return isinstance(rec[key], dict) and (key != "metadata" or "usage" in rec[key] or "metrics" in rec[key])
    return wraps(rec, _is_response, _is_stream_event)


def convert(records: Sequence[tuple[int, Any]], *, route: str | None = None,
            fallback_ts: str | None = None, **_: Any) -> Converted:
    """Convert Bedrock records (see the module docstring).

    >>> rec = {"request": {"modelId": "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    ...        "messages": [{"role": "user", "content": [{"text": "Hi"}]}]}, "ts": "2025-03-01T10:00:00Z",
    ...        "response": {"output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
    ...        "stopReason": "end_turn", "usage": {"inputTokens": 8, "outputTokens": 3}, "metrics": {"latencyMs": 412}}}
    >>> (n, ev), = convert([(1, rec)]).events
    >>> ev["model"], ev["model_version"], ev["output_tokens"], ev["latency_ms"], ev["attributes"]["pinned"]
    ('anthropic.claude-3-7-sonnet-20250219-v1:0', '20250219-v1:0', 3, 412.0, True)
    """
    out = Converted()
    open_: list[tuple[int, dict]] | None = None

    def close(stream: list[tuple[int, dict]]) -> None:
        line = stream[-1][0]
        try:
            evs = [e for _, e in stream]
            outer = next((e for e in evs if isinstance(e.get("modelId"), str)), {})
            outer = {**outer, "request_id": get_str(outer, "request_id") or stable_hash(evs)}
            resp = join_stream(evs)
            out.events.extend((line, ev) for ev in response_events(resp, {}, outer, route, fallback_ts,
                                                                    stream_events=len(evs)))
        except AdapterError as exc:
            out.rejects.append((stream[0][0], exc.reason))

    for line, rec in records:
        try:
            if _is_stream_event(rec):
                if "messageStart" in rec:
                    if open_ is not None:
                        close(open_) if any("messageStop" in e for _, e in open_) else \
                            out.rejects.append((open_[0][0], "stream not finished"))
                    open_ = [(line, rec)]
                    continue
                if open_ is None:
                    raise AdapterError("ConverseStream event outside a stream (no messageStart before it)")
                open_.append((line, rec))
                if "metadata" in rec:
                    stream, open_ = open_, None
                    close(stream)
                continue
            if open_ is not None and any("messageStop" in e for _, e in open_):
                stream, open_ = open_, None
                close(stream)
            out.events.extend((line, ev) for ev in _one(rec, route, fallback_ts))
        except AdapterError as exc:
            out.rejects.append((line, exc.reason))
        except Exception as exc:  # defensive: a record must never crash the batch
            out.rejects.append((line, f"unreadable record ({type(exc).__name__})"))
    if open_ is not None:
        if any("messageStop" in e for _, e in open_):
            close(open_)
        else:
            out.rejects.append((open_[0][0], "stream not finished"))
    out.events.sort(key=lambda e: e[0])
    out.rejects.sort(key=lambda r: r[0])
    return out


def _one(rec: Any, route: str | None, fallback_ts: str | None) -> Iterator[dict]:
    if not isinstance(rec, dict):
        raise AdapterError("not a JSON object")
    request, resp = unwrap(rec)
    if resp is None and _is_response(rec):
        resp = rec
    if isinstance(resp, list):
        if not resp or not all(_is_stream_event(e) for e in resp):
            raise AdapterError("response list is not a ConverseStream event stream")
        yield from response_events(join_stream(resp), request or {}, rec, route, fallback_ts, stream_events=len(resp))
        return
    if not _is_response(resp):
        raise AdapterError("not a Bedrock Converse response (output + stopReason)")
    yield from response_events(resp, request if request is not None else None, rec, route, fallback_ts)


def join_stream(events: list[dict]) -> dict:
    """Join ConverseStream events into a Converse response dict (deltas concatenated per block).

    >>> ev = [{"messageStart": {"role": "assistant"}},
    ...       {"contentBlockDelta": {"delta": {"text": "Hel"}, "contentBlockIndex": 0}},
    ...       {"contentBlockDelta": {"delta": {"text": "lo"}, "contentBlockIndex": 0}},
    ...       {"contentBlockStop": {"contentBlockIndex": 0}}, {"messageStop": {"stopReason": "end_turn"}},
    ...       {"metadata": {"usage": {"inputTokens": 3, "outputTokens": 2}, "metrics": {"latencyMs": 90}}}]
    >>> r = join_stream(ev)
    >>> r["output"]["message"]["content"], r["stopReason"], r["usage"]["outputTokens"]
    ([{'text': 'Hello'}], 'end_turn', 2)
    """
    blocks: dict[int, dict[str, Any]] = {}
    stop = None
    meta: dict = {}
    for e in events:
        if isinstance(e.get("contentBlockStart"), dict):
            st = e["contentBlockStart"]
            idx = _block_index(st)
            start = st.get("start") if isinstance(st.get("start"), dict) else {}
            b = blocks.setdefault(idx, {"text": [], "reasoning": [], "tool": None, "input": []})
            if isinstance(start.get("toolUse"), dict):
                b["tool"] = start["toolUse"]
        elif isinstance(e.get("contentBlockDelta"), dict):
            d = e["contentBlockDelta"]
            idx = _block_index(d)
            delta = d.get("delta")
            if not isinstance(delta, dict):
                raise AdapterError("contentBlockDelta has no delta object")
            b = blocks.setdefault(idx, {"text": [], "reasoning": [], "tool": None, "input": []})
            if isinstance(delta.get("text"), str):
                b["text"].append(delta["text"])
            if isinstance(delta.get("toolUse"), dict) and isinstance(delta["toolUse"].get("input"), str):
                b["input"].append(delta["toolUse"]["input"])
            rc = delta.get("reasoningContent")
            if isinstance(rc, dict) and isinstance(rc.get("text"), str):
                b["reasoning"].append(rc["text"])
        elif isinstance(e.get("messageStop"), dict):
            stop = e["messageStop"].get("stopReason")
        elif isinstance(e.get("metadata"), dict):
            meta = e["metadata"]
    if stop is None:
        raise AdapterError("stream not finished")
    content: list[dict] = []
    for idx in sorted(blocks):
        b = blocks[idx]
        if b["tool"] is not None:
            content.append({"toolUse": {**b["tool"], "input_json": "".join(b["input"])}})
        if b["reasoning"]:
            content.append({"reasoningContent": {"reasoningText": {"text": "".join(b["reasoning"])}}})
        if b["text"]:
            content.append({"text": "".join(b["text"])})
    resp = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": stop}
    for key in ("usage", "metrics", "trace"):
        if key in meta:
            resp[key] = meta[key]
    return resp


def _block_index(event: dict) -> int:
    idx = event.get("contentBlockIndex", 0)
    if not isinstance(idx, int) or isinstance(idx, bool):
        raise AdapterError("contentBlockIndex is not an integer")
    return idx


def _json_expectation(request: dict) -> tuple[bool | None, Any, str | None]:
    cfg = request.get("outputConfig")
    fmt = cfg.get("textFormat") if isinstance(cfg, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("json_schema", "jsonSchema"):
        return (False if request else None), None, None
    structure = fmt.get("structure") if isinstance(fmt.get("structure"), dict) else fmt
    js = structure.get("jsonSchema") if isinstance(structure.get("jsonSchema"), dict) else {}
    schema = js.get("schema")
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError:
            raise AdapterError("outputConfig jsonSchema.schema is not JSON text") from None
    name = js.get("name") if isinstance(js.get("name"), str) else None
    return True, schema if isinstance(schema, (dict, bool)) else None, name


def _tool_schemas(request: dict) -> dict[str, Any]:
    cfg = request.get("toolConfig")
    tools = cfg.get("tools") if isinstance(cfg, dict) else None
    out: dict[str, Any] = {}
    for t in tools if isinstance(tools, list) else []:
        spec = t.get("toolSpec") if isinstance(t, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            schema = spec.get("inputSchema")
            schema = schema.get("json") if isinstance(schema, dict) else None
            if isinstance(schema, (dict, bool)):
                out[spec["name"]] = schema
    return out


def _header_time(resp: dict) -> str | None:
    meta = resp.get("ResponseMetadata")
    headers = meta.get("HTTPHeaders") if isinstance(meta, dict) else None
    date = headers.get("date") if isinstance(headers, dict) else None
    if not isinstance(date, str):
        return None
    try:
        return parsedate_to_datetime(date).isoformat()
    except (TypeError, ValueError, IndexError):
        raise AdapterError(f"ResponseMetadata date is not an HTTP date: {date[:40]!r}") from None


def response_events(resp: dict, request: dict | None, outer: dict, route: str | None, fallback_ts: str | None,
                    *, stream_events: int | None = None) -> Iterator[dict]:
    """Events of one Converse response: one for the text, or one per ``toolUse`` block."""
    req = request or {}
    model_id = req.get("modelId", outer.get("modelId"))
    if not isinstance(model_id, str) or not model_id.strip():
        raise AdapterError("no model: a Converse response does not name it; log the request's modelId")
    model, version, attrs = resolve_model_id(model_id)
    attrs = {"provider": "bedrock", "api": "converse_stream" if stream_events else "converse", **attrs}
    if stream_events:
        attrs["stream_events"] = stream_events
    msg = resp["output"].get("message")
    if not isinstance(msg, dict) or not isinstance(msg.get("content"), list):
        raise AdapterError("output.message.content is not an array")
    stop = resp.get("stopReason")
    if not isinstance(stop, str):
        raise AdapterError("stopReason is not a string")
    if stop in REFUSAL_STOPS:
        attrs["provider_refusal"] = stop
    usage = resp.get("usage") if isinstance(resp.get("usage"), dict) else {}
    out_tok = as_count(usage.get("outputTokens"), "usage.outputTokens")
    in_tok = as_count(usage.get("inputTokens"), "usage.inputTokens")
    metrics = resp.get("metrics") if isinstance(resp.get("metrics"), dict) else {}
    latency = as_number(outer.get("latency_ms"))
    if latency is None:
        latency = as_number(metrics.get("latencyMs"))
    ts, inferred = event_time([*wrapper_time(outer), (_header_time(resp), "ResponseMetadata date")], fallback_ts)
    if inferred:
        attrs["ts_inferred"] = True
    meta = resp.get("ResponseMetadata") if isinstance(resp.get("ResponseMetadata"), dict) else {}
    rid = get_str(outer, "request_id") or get_str(meta, "RequestId") or stable_hash(outer or resp)
    expects, schema, name = _json_expectation(req) if request is not None else (None, None, None)
    if name:
        attrs["schema_name"] = name
    prompt = None
    msgs = req.get("messages")
    if isinstance(msgs, list):
        prompt = last_user_prompt([{"role": m.get("role"), "content": m.get("content")} for m in msgs if isinstance(m, dict)])
    texts, reasoning, calls = [], [], []
    for block in msg["content"]:
        if not isinstance(block, dict):
            raise AdapterError("content block is not an object")
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            calls.append(block["toolUse"])
        elif isinstance(block.get("reasoningContent"), dict):
            rt = block["reasoningContent"].get("reasoningText")
            if isinstance(rt, dict) and isinstance(rt.get("text"), str):
                reasoning.append(rt["text"])
    ts_ = outer.get("task_success")
    common = dict(ts=ts, resolved_model=model, requested_model=model_id, version=version,
                  route=record_route(outer, route), prompt=prompt, input_tokens=in_tok, finish_reason=stop,
                  task_success=ts_ if isinstance(ts_, bool) else None, latency_ms=latency,
                  reasoning="".join(reasoning) or None)
    if calls:
        yield from tool_call_events(calls, kind="toolUse", name_key="name", id_key="toolUseId", args_key="input",
                                    request_id=rid, output_tokens=out_tok, schemas=_tool_schemas(req),
                                    attributes=attrs, **common)
        return
    text = "".join(texts)
    if text == "" and stop not in REFUSAL_STOPS:
        raise AdapterError("empty content (no text or toolUse block)")
    yield make_event(request_id=rid, response=text, output_tokens=out_tok, expects_json=expects, schema=schema,
                     attributes=attrs, **common)


def open_stream_lines(records: Sequence[tuple[int, Any]]) -> list[int]:
    """Line numbers of a ConverseStream still open (no ``metadata`` yet) at the end of ``records``.

    >>> open_stream_lines([(1, {"messageStart": {"role": "assistant"}}),
    ...                    (2, {"contentBlockDelta": {"delta": {"text": "a"}, "contentBlockIndex": 0}})])
    [1, 2]
    """
    current: list[int] = []
    for line, rec in records:
        if not _is_stream_event(rec):
            continue
        if "messageStart" in rec:
            current = [line]
        elif current:
            current.append(line)
            if "metadata" in rec:
                current = []
    return current
