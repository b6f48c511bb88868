"""Gemini adapter: ``generateContent`` / ``streamGenerateContent`` responses -> canonical events.

Follows the Gemini API reference (ai.google.dev/api/generate-content, ``v1beta``) and the Vertex AI
reference (cloud.google.com/vertex-ai/docs/reference/rest/v1/GenerateContentResponse, ``v1``):
``GenerateContentResponse{candidates[]{content{role, parts[]{text, thought, functionCall{name,
args}}}, finishReason, index, safetyRatings, finishMessage}, promptFeedback{blockReason},
usageMetadata{promptTokenCount, candidatesTokenCount, thoughtsTokenCount, totalTokenCount},
modelVersion, responseId, createTime (Vertex)}``. ``finishReason`` is read as the enum's name or as
its number (Vertex protobuf-JSON exports; numbers of ``google.cloud.aiplatform.v1.Candidate.
FinishReason``).

Accepted record shapes (one JSON value per line):

* a bare response (Vertex's has ``createTime``; the Gemini API's has no time: the wrapper's ``ts``
  or the fallback time is used);
* ``{"request": {contents, generationConfig, tools, model}, "response": response | [chunks]}``
  with optional top-level ``ts``, ``route``, ``latency_ms``, ``task_success``, ``model``;
* ``streamGenerateContent`` chunks: one per line (SSE ``alt=sse`` payloads, joined per
  ``responseId``, the event on the line of the chunk with a ``finishReason``), or the whole
  stream as one JSON array (the REST method's default output).

``generationConfig.responseMimeType: application/json`` -> ``expects_json``; ``responseSchema`` /
``responseJsonSchema`` -> its schema (OpenAPI upper-case type names lower-cased). A
``functionCall`` part is an event checked against the declared function's ``parameters``.
Safety blocks (``SAFETY``, ``PROHIBITED_CONTENT``, ``BLOCKLIST``, ``RECITATION``, ``SPII``, ...)
as a candidate's ``finishReason`` or ``promptFeedback.blockReason`` are provider-reported refusals
(``attributes.provider_refusal``); ``thought: true`` parts are the event's ``reasoning``.
"""
from __future__ import annotations

from typing import Any, Sequence

from ._base import (
    AdapterError,
    Converted,
    as_count,
    as_number,
    event_time,
    get_str,
    lower_schema_types,
    make_event,
    record_route,
    stable_hash,
    str_or_none,
    tool_call_events,
    unwrap,
    wrapper_time,
    wraps,
)

__all__ = ["convert", "looks_like", "open_stream_lines", "FINISH_REASONS", "BLOCK_REASONS"]

FINISH_REASONS = ("FINISH_REASON_UNSPECIFIED", "STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER",
                  "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "MALFORMED_FUNCTION_CALL", "MODEL_ARMOR",
                  "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER",
                  "UNEXPECTED_TOOL_CALL", "NO_IMAGE")
"""``google.cloud.aiplatform.v1.Candidate.FinishReason`` by number."""

BLOCK_REASONS = ("BLOCKED_REASON_UNSPECIFIED", "SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT",
                 "MODEL_ARMOR", "IMAGE_SAFETY")
"""``google.cloud.aiplatform.v1.GenerateContentResponse.PromptFeedback.BlockedReason`` by number."""

REFUSAL_REASONS = frozenset({"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "MODEL_ARMOR",
                             "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "LANGUAGE"})
"""Finish / block reasons meaning the provider withheld the answer (a provider-reported refusal)."""


def _is_response(d: Any) -> bool:
    return isinstance(d, dict) and (
        (isinstance(d.get("candidates"), list) and ("usageMetadata" in d or "modelVersion" in d or "responseId" in d))
        or (isinstance(d.get("promptFeedback"), dict) and "candidates" not in d))


def looks_like(rec: Any) -> bool:
    """True for a Gemini response, a chunk array, or a wrapper holding either.

    >>> looks_like({"candidates": [], "usageMetadata": {}, "modelVersion": "gemini-2.0-flash"})
    True
    >>> looks_like([{"candidates": [], "responseId": "r"}])
    True
    >>> looks_like({"choices": []})
    False
    """
    if isinstance(rec, list):
        return bool(rec) and _is_response(rec[0])
    if not isinstance(rec, dict):
        return False
    return _is_response(rec) or wraps(rec, _is_response, _is_response)


def _finished(chunk: dict) -> bool:
    cands = chunk.get("candidates")
    if isinstance(cands, list) and any(isinstance(c, dict) and c.get("finishReason") not in (None, 0, "", "FINISH_REASON_UNSPECIFIED")
                                       for c in cands):
        return True
    fb = chunk.get("promptFeedback")
    return isinstance(fb, dict) and fb.get("blockReason") not in (None, 0, "")


def convert(records: Sequence[tuple[int, Any]], *, route: str | None = None,
            fallback_ts: str | None = None, **_: Any) -> Converted:
    """Convert Gemini records (see the module docstring).

    >>> r = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": 1}],
    ...      "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2}, "modelVersion": "gemini-1.5-pro-002",
    ...      "createTime": "2024-10-01T10:00:00.123456Z", "responseId": "abc"}
    >>> (n, ev), = convert([(1, r)]).events
    >>> ev["model"], ev["model_version"], ev["finish_reason"], ev["output_tokens"], ev["ts"]
    ('gemini-1.5-pro-002', '002', 'STOP', 2, '2024-10-01T10:00:00.123456Z')
    """
    out = Converted()
    streams: dict[str, tuple[int, list[dict]]] = {}
    for line, rec in records:
        try:
            if _is_response(rec) and not _finished(rec):
                sid = get_str(rec, "responseId") or ""
                first, chunks = streams.get(sid, (line, []))
                chunks.append(rec)
                streams[sid] = (first, chunks)
                continue
            if _is_response(rec):
                sid = get_str(rec, "responseId") or ""
                prior = streams.pop(sid, (line, []))[1]
                evs = response_events(join_chunks(prior + [rec]), None, rec, route, fallback_ts)
                if prior:
                    for ev in evs:
                        ev["attributes"]["stream_chunks"] = len(prior) + 1
                out.events.extend((line, ev) for ev in evs)
                continue
            out.events.extend((line, ev) for ev in _one(rec, route, fallback_ts))
        except AdapterError as exc:
            out.rejects.append((line, exc.reason))
        except Exception as exc:  # defensive: a record must never crash the batch
            out.rejects.append((line, f"unreadable record ({type(exc).__name__})"))
    for first, _chunks in streams.values():
        out.rejects.append((first, "stream not finished"))
    out.rejects.sort(key=lambda r: r[0])
    return out


def _one(rec: Any, route: str | None, fallback_ts: str | None) -> list[dict]:
    if isinstance(rec, list):
        if not rec or not all(_is_response(c) for c in rec):
            raise AdapterError("array is not a Gemini response stream")
        return response_events(join_chunks(rec), None, {}, route, fallback_ts)
    if not isinstance(rec, dict):
        raise AdapterError("not a JSON object")
    request, resp = unwrap(rec)
    chunks = resp if isinstance(resp, list) else [resp]
    if not chunks or not all(_is_response(c) for c in chunks):
        raise AdapterError("not a Gemini GenerateContentResponse (candidates / promptFeedback)")
    return response_events(join_chunks(chunks), request or {}, rec, route, fallback_ts)


def join_chunks(chunks: list[dict]) -> dict:
    """Join ``streamGenerateContent`` chunks into one response: the parts of each candidate
    ``index`` concatenated in order (adjacent text parts of the same kind merged), the last
    ``finishReason``, ``usageMetadata`` and ``promptFeedback`` kept.

    >>> c = lambda t, f=None: {"responseId": "r", "candidates": [{"index": 0, "finishReason": f,
    ...                        "content": {"role": "model", "parts": [{"text": t}]}}]}
    >>> join_chunks([c("Hel"), c("lo", "STOP")])["candidates"][0]["content"]["parts"]
    [{'text': 'Hello'}]
    """
    if len(chunks) == 1:
        return chunks[0]
    joined = {k: v for k, v in chunks[-1].items() if k != "candidates"}
    for key in ("createTime", "modelVersion", "responseId", "promptFeedback"):
        for c in chunks:
            if key in c and key not in joined:
                joined[key] = c[key]
    cands: dict[int, dict] = {}
    for c in chunks:
        for pos, cand in enumerate(c.get("candidates") or []):
            if not isinstance(cand, dict):
                raise AdapterError("candidate is not an object")
            idx = cand.get("index", pos)
            acc = cands.setdefault(idx if isinstance(idx, int) else pos, {"index": idx, "content": {"role": "model", "parts": []}})
            for key, value in cand.items():
                if key not in ("content", "index") and value is not None:
                    acc[key] = value
            content = cand.get("content")
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in parts if isinstance(parts, list) else []:
                prev = acc["content"]["parts"][-1] if acc["content"]["parts"] else None
                if (isinstance(part, dict) and set(part) <= {"text", "thought"} and isinstance(part.get("text"), str)
                        and isinstance(prev, dict) and set(prev) <= {"text", "thought"}
                        and bool(prev.get("thought")) == bool(part.get("thought"))):
                    prev["text"] = prev["text"] + part["text"]
                else:
                    acc["content"]["parts"].append(dict(part) if isinstance(part, dict) else part)
    joined["candidates"] = [cands[k] for k in sorted(cands)]
    return joined


def _reason(v: Any, names: tuple[str, ...], what: str) -> str | None:
    """An enum given as its name or its number -> the name."""
    if v is None:
        return None
    if isinstance(v, str):
        return v or None
    if isinstance(v, int) and not isinstance(v, bool):
        return names[v] if 0 <= v < len(names) else f"{names[0].split('_')[0]}_{v}"
    raise AdapterError(f"{what} is neither an enum name nor a number")


def _config(request: dict) -> dict:
    cfg = request.get("generationConfig", request.get("generation_config", request.get("config")))
    return cfg if isinstance(cfg, dict) else {}


def _json_expectation(request: dict) -> tuple[bool | None, Any]:
    cfg = _config(request)
    schema = cfg.get("responseJsonSchema", cfg.get("responseSchema", cfg.get("response_schema")))
    mime = cfg.get("responseMimeType", cfg.get("response_mime_type"))
    if isinstance(schema, (dict, bool)):
        return True, lower_schema_types(schema)
    if mime == "application/json":
        return True, None
    return (False if request else None), None


def _function_schemas(request: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    tools = request.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        decls = tool.get("functionDeclarations", tool.get("function_declarations")) if isinstance(tool, dict) else None
        for d in decls if isinstance(decls, list) else []:
            if isinstance(d, dict) and isinstance(d.get("name"), str):
                params = d.get("parametersJsonSchema", d.get("parameters"))
                if isinstance(params, (dict, bool)):
                    out[d["name"]] = lower_schema_types(params)
    return out


def response_events(resp: dict, request: dict | None, outer: dict, route: str | None,
                    fallback_ts: str | None) -> list[dict]:
    """Events of one (joined) ``GenerateContentResponse``: one per candidate, or per function call."""
    req = request or {}
    usage = resp.get("usageMetadata") if isinstance(resp.get("usageMetadata"), dict) else {}
    out_tok = as_count(usage.get("candidatesTokenCount"), "usageMetadata.candidatesTokenCount")
    in_tok = as_count(usage.get("promptTokenCount"), "usageMetadata.promptTokenCount")
    model = str_or_none(resp.get("modelVersion")) or str_or_none(outer.get("model"))
    requested = str_or_none(req.get("model")) or str_or_none(outer.get("model"))
    if isinstance(requested, str) and requested.startswith(("models/", "publishers/")) or (
            isinstance(requested, str) and "/models/" in requested):
        requested = requested.rsplit("/", 1)[-1]
    if model is None and requested is None:
        raise AdapterError("no model (modelVersion missing and no request model)")
    ts, inferred = event_time([(resp.get("createTime"), "createTime"), *wrapper_time(outer)], fallback_ts)
    rid = get_str(resp, "responseId") or get_str(outer, "request_id") or stable_hash(outer or resp)
    expects, schema = _json_expectation(req) if request is not None else (None, None)
    attrs: dict[str, Any] = {"provider": "vertex_ai" if "createTime" in resp else "gemini", "api": "generate_content"}
    if inferred:
        attrs["ts_inferred"] = True
    if isinstance(usage.get("thoughtsTokenCount"), int):
        attrs["reasoning_tokens"] = usage["thoughtsTokenCount"]
    contents = req.get("contents")
    prompt = None
    if isinstance(contents, str):
        prompt = contents
    elif isinstance(contents, list):
        for c in reversed(contents):
            if isinstance(c, dict) and c.get("role", "user") == "user" and isinstance(c.get("parts"), list):
                prompt = "".join(p["text"] for p in c["parts"] if isinstance(p, dict) and isinstance(p.get("text"), str))
                break
    ts_ = outer.get("task_success")
    common = dict(ts=ts, resolved_model=model, requested_model=requested, route=record_route(outer, route),
                  prompt=prompt, input_tokens=in_tok, task_success=ts_ if isinstance(ts_, bool) else None,
                  latency_ms=as_number(outer.get("latency_ms")))
    cands = resp.get("candidates")
    if cands is not None and not isinstance(cands, list):
        raise AdapterError("candidates is not an array")
    if not cands:
        fb = resp.get("promptFeedback")
        block = _reason(fb.get("blockReason"), BLOCK_REASONS, "blockReason") if isinstance(fb, dict) else None
        if block is None:
            raise AdapterError("empty candidates (and no promptFeedback.blockReason)")
        return [make_event(request_id=rid, response="", output_tokens=out_tok, finish_reason=block,
                           expects_json=expects, schema=schema,
                           attributes=dict(attrs, provider_refusal=block, prompt_blocked=True), **common)]
    multi = len(cands) > 1
    functions = _function_schemas(req)
    events: list[dict] = []
    for pos, cand in enumerate(cands):
        if not isinstance(cand, dict):
            raise AdapterError("candidate is not an object")
        finish = _reason(cand.get("finishReason"), FINISH_REASONS, "finishReason")
        idx = cand.get("index", pos)
        crid = f"{rid}#{idx}" if multi else rid
        cattrs = dict(attrs, candidate_index=idx) if multi else dict(attrs)
        if finish in REFUSAL_REASONS:
            cattrs["provider_refusal"] = finish
        content = cand.get("content") if isinstance(cand.get("content"), dict) else {}
        parts = content.get("parts") if isinstance(content.get("parts"), list) else []
        texts, thoughts, calls = [], [], []
        for part in parts:
            if not isinstance(part, dict):
                raise AdapterError("part is not an object")
            if isinstance(part.get("functionCall"), dict):
                calls.append(part["functionCall"])
            elif isinstance(part.get("text"), str):
                (thoughts if part.get("thought") is True else texts).append(part["text"])
        tok = None if multi else out_tok
        reasoning = "".join(thoughts) or None
        if calls:
            events.extend(tool_call_events(calls, kind="functionCall", name_key="name", id_key="id", args_key="args",
                                           request_id=crid, output_tokens=tok, schemas=functions, attributes=cattrs,
                                           finish_reason=finish, reasoning=reasoning, **common))
            continue
        text = "".join(texts)
        if text == "" and "provider_refusal" not in cattrs and reasoning is None and finish != "MAX_TOKENS":
            raise AdapterError(f"empty content (finishReason {finish})")
        events.append(make_event(request_id=crid, response=text, output_tokens=tok, finish_reason=finish,
                                 expects_json=expects, schema=schema, reasoning=reasoning, attributes=cattrs,
                                 **common))
    return events


def open_stream_lines(records: Sequence[tuple[int, Any]]) -> list[int]:
    """Line numbers of chunk streams (per ``responseId``) without a finishing chunk yet.

    >>> c = {"responseId": "r", "candidates": [{"content": {"parts": [{"text": "a"}]}}], "modelVersion": "g"}
    >>> open_stream_lines([(1, c), (2, {**c, "responseId": "s"})]), open_stream_lines([(1, c)][:0])
    ([1, 2], [])
    """
    pending: dict[str, list[int]] = {}
    for line, rec in records:
        if _is_response(rec):
            sid = get_str(rec, "responseId") or ""
            if _finished(rec):
                pending.pop(sid, None)
            else:
                pending.setdefault(sid, []).append(line)
    return sorted(n for lines in pending.values() for n in lines)
