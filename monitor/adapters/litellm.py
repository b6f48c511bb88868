"""LiteLLM adapter: ``StandardLoggingPayload`` records -> canonical events.

Follows LiteLLM's "StandardLoggingPayload Specification" (docs.litellm.ai/docs/proxy/logging_spec,
as of LiteLLM v1.5x-1.7x): ``id, trace_id, call_type, status, model, model_group, model_id,
custom_llm_provider, api_base, startTime, endTime, completionStartTime, prompt_tokens,
completion_tokens, total_tokens, response_cost, cache_hit, metadata, request_tags, messages,
response, model_parameters, hidden_params, error_str``.

Accepted record shapes: the payload itself, or an object holding it under
``standard_logging_object`` (the key LiteLLM passes it under to callbacks).

Mapping: ``ts`` = ``endTime`` (epoch seconds); ``request_id`` = ``id``; ``requested_model`` =
``model_group`` (the alias the client asked the proxy for), else ``model``; ``model`` = the
``response.model`` the provider returned, else ``hidden_params.litellm_model_name``/``model``;
``latency_ms`` = ``endTime - startTime``; tokens from ``completion_tokens``/``prompt_tokens``;
``response`` a ``chat.completion``-shaped dict (handled like the OpenAI adapter, including tool
calls and refusals) or a string; ``model_parameters.response_format``/``tools`` give
``expects_json``/``schema``. ``status: "failure"`` records are rejected (no response to judge).
"""
from __future__ import annotations

from typing import Any, Iterator, Sequence

from ._base import (
    AdapterError,
    Converted,
    as_count,
    as_number,
    epoch_seconds,
    get_str,
    json_expectation_openai,
    last_user_prompt,
    make_event,
    norm_ts,
    run_per_record,
    stable_hash,
    str_or_none,
)
from .openai import _Context, chat_completion_events

__all__ = ["convert", "looks_like"]


def _payload(rec: dict) -> dict:
    inner = rec.get("standard_logging_object")
    return inner if isinstance(inner, dict) else rec


def looks_like(rec: Any) -> bool:
    """True for a LiteLLM StandardLoggingPayload (bare or under ``standard_logging_object``).

    >>> looks_like({"id": "x", "call_type": "acompletion", "startTime": 1.0, "status": "success"})
    True
    >>> looks_like({"id": "x", "object": "chat.completion"})
    False
    """
    if not isinstance(rec, dict):
        return False
    p = _payload(rec)
    return "call_type" in p and ("startTime" in p or "endTime" in p or "status" in p)


def convert(records: Sequence[tuple[int, Any]], *, route: str | None = None, **_: Any) -> Converted:
    """Convert LiteLLM StandardLoggingPayload records.

    >>> rec = {"id": "chatcmpl-9", "call_type": "acompletion", "status": "success",
    ...   "model": "gpt-4o", "model_group": "smart", "startTime": 1722965000.0, "endTime": 1722965001.25,
    ...   "completion_tokens": 3, "prompt_tokens": 9, "custom_llm_provider": "openai",
    ...   "response": {"id": "chatcmpl-9", "object": "chat.completion", "created": 1722965001,
    ...     "model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "finish_reason": "stop",
    ...     "message": {"role": "assistant", "content": "Sure."}}]}}
    >>> (n, ev), = convert([(1, rec)]).events
    >>> ev["model"], ev["requested_model"], ev["latency_ms"], ev["output_tokens"], ev["ts"]
    ('gpt-4o-2024-08-06', 'smart', 1250.0, 3, '2024-08-06T17:23:21.250000Z')
    """
    return run_per_record(records, lambda line, rec: _one(rec, route))


def _one(rec: dict, route: str | None) -> Iterator[dict]:
    p = _payload(rec)
    if "call_type" not in p:
        raise AdapterError("not a LiteLLM StandardLoggingPayload (no call_type)")
    status = p.get("status")
    if status is not None and status != "success":
        err = p.get("error_str")
        raise AdapterError(f"call status is {status!s:.20}" + (f": {err[:120]}" if isinstance(err, str) else ""))
    end = p.get("endTime")
    start = p.get("startTime")
    if end is None and start is None:
        raise AdapterError("no timestamp (endTime/startTime)")
    ts = norm_ts(end if end is not None else start, "endTime")
    s_, e_ = epoch_seconds(start), epoch_seconds(end)  # floats, or ISO / digit strings
    latency = (e_ - s_) * 1000.0 if (s_ is not None and e_ is not None and e_ >= s_) else None
    hidden = p.get("hidden_params") if isinstance(p.get("hidden_params"), dict) else {}
    params = p.get("model_parameters") if isinstance(p.get("model_parameters"), dict) else {}
    meta = p.get("metadata") if isinstance(p.get("metadata"), dict) else {}
    requested = str_or_none(p.get("model_group")) or str_or_none(p.get("model"))
    sent_model = str_or_none(hidden.get("litellm_model_name")) or str_or_none(p.get("model"))
    rid = get_str(p, "id") or stable_hash(p)
    attrs: dict[str, Any] = {"source": "litellm", "provider": str_or_none(p.get("custom_llm_provider")),
                             "call_type": str_or_none(p.get("call_type")),
                             "model_id": str_or_none(p.get("model_id")) or str_or_none(hidden.get("model_id")),
                             "api_base": str_or_none(p.get("api_base")),
                             "trace_id": str_or_none(p.get("trace_id"))}
    cost = as_number(p.get("response_cost"))
    if cost is not None:
        attrs["response_cost"] = cost
    if isinstance(p.get("cache_hit"), bool):
        attrs["cache_hit"] = p["cache_hit"]
    tags = p.get("request_tags")
    if isinstance(tags, list) and all(isinstance(t, str) for t in tags) and tags:
        attrs["request_tags"] = tags
    for key in ("user_api_key_team_alias", "user_api_key_alias"):
        if isinstance(meta.get(key), str):
            attrs[key] = meta[key]
    attrs = {k: v for k, v in attrs.items() if v is not None}
    out_tok = as_count(p.get("completion_tokens"), "completion_tokens")
    in_tok = as_count(p.get("prompt_tokens"), "prompt_tokens")
    rt = get_str(meta, "route") or get_str(rec, "route") or route
    resp = p.get("response")
    prompt = last_user_prompt(p.get("messages"))
    if isinstance(resp, dict):
        ctx = _Context()
        ctx.ts, ctx.route, ctx.latency_ms = ts, rt, latency
        ctx.requested_model, ctx.request_known = requested, True
        ctx.output_tokens, ctx.input_tokens = out_tok, in_tok
        ctx.id_fallback, ctx.attributes = p, attrs
        request = {"model": requested, "messages": p.get("messages"),
                   "response_format": params.get("response_format"), "tools": params.get("tools")}
        resp = dict(resp)
        if not isinstance(resp.get("model"), str) or not resp.get("model"):
            resp["model"] = sent_model
        if isinstance(resp.get("id"), str) and resp["id"] != rid:
            attrs["response_id"] = resp["id"]
        resp["id"] = rid          # LiteLLM's payload id identifies the logged call
        for ev in chat_completion_events(resp, request, ctx):
            ev["ts"] = ts         # endTime, not the provider's created second
            if ev["output_tokens"] is None and out_tok is not None and ev["attributes"].get("choice_index") is None:
                ev["output_tokens"] = out_tok
            ev["attributes"]["provider"] = attrs.get("provider", "unknown")
            yield ev
        return
    if isinstance(resp, str):
        if resp == "":
            raise AdapterError("empty response")
        expects, schema, name = json_expectation_openai(params.get("response_format"))
        if name:
            attrs["schema_name"] = name
        yield make_event(ts=ts, request_id=rid, resolved_model=sent_model, requested_model=requested,
                         response=resp, route=rt, prompt=prompt, output_tokens=out_tok,
                         input_tokens=in_tok, expects_json=expects if expects is not None else False,
                         schema=schema, latency_ms=latency, attributes=attrs)
        return
    if resp is None:
        raise AdapterError("missing response")
    raise AdapterError(f"response has the wrong type ({type(resp).__name__})")
