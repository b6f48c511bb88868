"""OpenTelemetry GenAI adapter: OTLP/JSON trace export lines -> canonical events.

Follows:

* the OTLP/JSON encoding of ``ExportTraceServiceRequest`` as written by the Collector's file
  exporter (one JSON object per line: ``resourceSpans[].scopeSpans[].spans[]``, attributes as
  ``[{"key", "value": {"stringValue" | "intValue" | "doubleValue" | "boolValue" | "arrayValue" |
  "kvlistValue"}}]``, int64 values as decimal strings, times in ``*TimeUnixNano`` strings);
* the OpenTelemetry GenAI semantic conventions, in their successive shapes:

  - current (v1.37+): ``gen_ai.provider.name``; output in the ``gen_ai.output.messages`` span
    attribute (JSON ``[{"role", "parts": [{"type": "text", "content"} | {"type": "tool_call",
    "name", "arguments"}], "finish_reason"}]``) or on a ``gen_ai.client.inference.operation.details``
    event; tools in ``gen_ai.tool.definitions``;
  - v1.27-v1.36: ``gen_ai.system``; ``gen_ai.choice`` events (body ``{index, finish_reason,
    message{content, tool_calls}}``, on span events flattened into attributes ``index``,
    ``finish_reason``, ``message`` or carried as JSON in ``gen_ai.event.content``);
    ``gen_ai.usage.input_tokens`` / ``output_tokens``;
  - up to v1.26: ``gen_ai.content.completion`` span events with the ``gen_ai.completion``
    attribute (JSON of OpenAI-style messages, or plain text); ``gen_ai.usage.prompt_tokens`` /
    ``completion_tokens``;
  - the widespread OpenLLMetry flattening ``gen_ai.completion.<i>.content`` /
    ``.finish_reason`` / ``.tool_calls.<j>.arguments``.

Only spans carrying GenAI attributes (``gen_ai.system``, ``gen_ai.provider.name``,
``gen_ai.operation.name`` or ``gen_ai.request.model``) are converted; other spans of the export
are skipped. ``embeddings``, ``execute_tool`` and ``create_agent`` operations produce no output
text and are skipped too. A GenAI span without any output content is rejected (content capture is
probably off). Only the first choice of a span is converted (``attributes.choices`` counts them when
there are several; ``output_tokens`` is then null since usage covers all choices). A span with tool calls gives one event per call (``response`` = the arguments JSON
text, ``expects_json = true``, ``schema`` from ``gen_ai.tool.definitions`` when present). Each event
carries the line number of its export line.
"""
from __future__ import annotations

import base64
import json
from typing import Any, Iterator, Sequence

from ._base import (
    AdapterError,
    Converted,
    as_count,
    iso_from_epoch,
    json_text,
    make_event,
    str_or_none,
    text_of,
    tool_schemas,
)

__all__ = ["convert", "looks_like", "otlp_value", "otlp_attributes"]

_SKIP_OPS = {"embeddings", "execute_tool", "create_agent"}
_GENAI_KEYS = ("gen_ai.system", "gen_ai.provider.name", "gen_ai.operation.name", "gen_ai.request.model")


def looks_like(rec: Any) -> bool:
    """True for an OTLP/JSON trace export object.

    >>> looks_like({"resourceSpans": []})
    True
    >>> looks_like({"spans": []})
    False
    """
    return isinstance(rec, dict) and isinstance(rec.get("resourceSpans"), list)


def otlp_value(v: Any) -> Any:
    """Decode one OTLP/JSON ``AnyValue``.

    >>> otlp_value({"intValue": "42"}), otlp_value({"stringValue": "x"})
    (42, 'x')
    >>> otlp_value({"arrayValue": {"values": [{"stringValue": "stop"}]}})
    ['stop']
    """
    if not isinstance(v, dict):
        return None
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        iv = v["intValue"]
        if isinstance(iv, str):
            try:
                return int(iv)
            except ValueError:
                return None
        return iv
    if "doubleValue" in v:
        return v["doubleValue"]
    if "arrayValue" in v:
        arr = v["arrayValue"]
        vals = arr.get("values") if isinstance(arr, dict) else None
        return [otlp_value(x) for x in vals] if isinstance(vals, list) else []
    if "kvlistValue" in v:
        kv = v["kvlistValue"]
        vals = kv.get("values") if isinstance(kv, dict) else None
        return otlp_attributes(vals)
    if "bytesValue" in v:
        try:
            return base64.b64decode(v["bytesValue"]).hex()
        except Exception:
            return None
    return None


def otlp_attributes(attrs: Any) -> dict[str, Any]:
    """Decode an OTLP/JSON ``KeyValue`` list to a dict (malformed entries are skipped).

    >>> otlp_attributes([{"key": "gen_ai.usage.output_tokens", "value": {"intValue": "7"}}])
    {'gen_ai.usage.output_tokens': 7}
    """
    out: dict[str, Any] = {}
    if not isinstance(attrs, list):
        return out
    for kv in attrs:
        if isinstance(kv, dict) and isinstance(kv.get("key"), str):
            out[kv["key"]] = otlp_value(kv.get("value"))
    return out


def convert(records: Sequence[tuple[int, Any]], *, route: str | None = None, **_: Any) -> Converted:
    """Convert OTLP/JSON trace export lines; one line may yield many events (one per GenAI span).

    >>> span = {"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
    ...   "name": "chat gpt-4o", "startTimeUnixNano": "1722965000000000000",
    ...   "endTimeUnixNano": "1722965001500000000", "attributes": [
    ...   {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
    ...   {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
    ...   {"key": "gen_ai.response.model", "value": {"stringValue": "gpt-4o-2024-08-06"}},
    ...   {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "3"}},
    ...   {"key": "gen_ai.output.messages", "value": {"stringValue":
    ...     '[{"role":"assistant","parts":[{"type":"text","content":"Hi there"}],"finish_reason":"stop"}]'}}]}
    >>> line = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [span]}]}]}
    >>> (n, ev), = convert([(1, line)]).events
    >>> ev["ts"], ev["response"], ev["model"], ev["requested_model"], ev["output_tokens"], ev["latency_ms"]
    ('2024-08-06T17:23:21.500000Z', 'Hi there', 'gpt-4o-2024-08-06', 'gpt-4o', 3, 1500.0)
    """
    out = Converted()
    for line, rec in records:
        if not isinstance(rec, dict):
            out.rejects.append((line, "not a JSON object"))
            continue
        try:
            spans = list(_spans(rec))
        except AdapterError as exc:
            out.rejects.append((line, exc.reason))
            continue
        for resource_attrs, scope, span in spans:
            try:
                evs = _span_event(resource_attrs, scope, span, route)
            except AdapterError as exc:
                sid = span.get("spanId") if isinstance(span, dict) else None
                out.rejects.append((line, f"{exc.reason} (span {sid})" if isinstance(sid, str) else exc.reason))
                continue
            except Exception as exc:  # defensive
                out.rejects.append((line, f"unreadable span ({type(exc).__name__})"))
                continue
            out.events.extend((line, ev) for ev in evs)
    return out


def _spans(rec: dict) -> Iterator[tuple[dict, dict, Any]]:
    rs = rec.get("resourceSpans")
    if not isinstance(rs, list):
        raise AdapterError("resourceSpans is not an array")
    for r in rs:
        if not isinstance(r, dict):
            raise AdapterError("resourceSpans item is not an object")
        res = r.get("resource")
        rattrs = otlp_attributes(res.get("attributes")) if isinstance(res, dict) else {}
        scopes = r.get("scopeSpans", r.get("instrumentationLibrarySpans", []))
        if not isinstance(scopes, list):
            raise AdapterError("scopeSpans is not an array")
        for s in scopes:
            if not isinstance(s, dict):
                raise AdapterError("scopeSpans item is not an object")
            scope = s.get("scope", s.get("instrumentationLibrary"))
            spans = s.get("spans", [])
            if not isinstance(spans, list):
                raise AdapterError("spans is not an array")
            for sp in spans:
                yield rattrs, scope if isinstance(scope, dict) else {}, sp


def _maybe_json(v: Any) -> Any:
    if isinstance(v, str):
        s = v.strip()
        if s[:1] in ("[", "{"):
            try:
                return json.loads(s)
            except ValueError:
                return v
    return v


def _nanos(v: Any, what: str) -> int | None:
    if v is None:
        return None
    if isinstance(v, str) and v.isascii() and v.isdigit():
        return int(v)
    if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
        return v
    raise AdapterError(f"{what} is not a nanosecond timestamp")


class _Out:
    """Output gathered from a span: text, tool calls, finish reasons."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: list[tuple[str, str]] = []
        self.finish: str | None = None
        self.shape: str | None = None
        self.found = False
        self.choices = 0

    def add_first(self, msgs: list) -> None:
        """Take the first choice of a list of output messages (one per choice); count them all."""
        items = [m for m in msgs if isinstance(m, (dict, str))]
        self.choices = max(self.choices, len(items))
        if items:
            self.add_message(items[0])

    def add_message(self, msg: Any) -> None:
        """A current-shape output message (parts) or an OpenAI-style message."""
        if isinstance(msg, str):
            self.found = True
            self.text.append(msg)
            return
        if not isinstance(msg, dict):
            return
        self.found = True
        if isinstance(msg.get("finish_reason"), str) and self.finish is None:
            self.finish = msg["finish_reason"]
        parts = msg.get("parts")
        if isinstance(parts, list):
            for p in parts:
                if not isinstance(p, dict):
                    continue
                if p.get("type") == "text" and isinstance(p.get("content"), str):
                    self.text.append(p["content"])
                elif p.get("type") == "tool_call" and isinstance(p.get("name"), str):
                    args = p.get("arguments")
                    self.calls.append((p["name"], args if isinstance(args, str) else json_text(args)))
            return
        inner = msg.get("message") if isinstance(msg.get("message"), dict) else msg
        try:
            t = text_of(_maybe_json(inner.get("content")))
        except AdapterError:
            t = None
        if t:
            self.text.append(t)
        tcs = _maybe_json(inner.get("tool_calls"))
        if isinstance(tcs, list):
            for tc in tcs:
                fn = tc.get("function") if isinstance(tc, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                    args = fn.get("arguments")
                    self.calls.append((fn["name"], args if isinstance(args, str) else json_text(args)))


def _collect_output(attrs: dict, events: list) -> _Out:
    o = _Out()
    # current shape: attribute on the span
    msgs = _maybe_json(attrs.get("gen_ai.output.messages"))
    if isinstance(msgs, list):
        o.shape = "gen_ai.output.messages"
        o.add_first(msgs)
        if o.found:
            return o
    ev_attrs = []
    for e in events:
        if isinstance(e, dict) and isinstance(e.get("name"), str):
            ev_attrs.append((e["name"], otlp_attributes(e.get("attributes"))))
    for name, ea in ev_attrs:   # current shape, on the operation-details event
        msgs = _maybe_json(ea.get("gen_ai.output.messages"))
        if name == "gen_ai.client.inference.operation.details" and isinstance(msgs, list):
            o.shape = name
            o.add_first(msgs)
            break
    if o.found:
        return o
    bodies = []
    for name, ea in ev_attrs:   # v1.27-1.36 gen_ai.choice events, one per choice
        if name != "gen_ai.choice":
            continue
        body = _maybe_json(ea.get("gen_ai.event.content", ea.get("body")))
        if not isinstance(body, dict):
            body = {"message": _maybe_json(ea.get("message")), "finish_reason": ea.get("finish_reason"),
                    "index": ea.get("index")}
        bodies.append(body)
    if bodies:
        o.shape = "gen_ai.choice"
        o.choices = len(bodies)
        idx = [b.get("index") if isinstance(b.get("index"), int) and not isinstance(b.get("index"), bool)
               else 0 for b in bodies]
        body = bodies[idx.index(min(idx))]
        if isinstance(body.get("finish_reason"), str):
            o.finish = body["finish_reason"]
        o.add_message(body.get("message") if isinstance(body.get("message"), dict) else body)
    if o.found:
        return o
    for name, ea in ev_attrs:   # <= v1.26 gen_ai.content.completion events
        if name == "gen_ai.content.completion" and "gen_ai.completion" in ea:
            o.shape = name
            val = _maybe_json(ea["gen_ai.completion"])
            if isinstance(val, list):
                o.add_first(val)
            else:
                o.add_message(val if isinstance(val, (str, dict)) else None)
    if o.found:
        return o
    # OpenLLMetry flattening on the span (first choice only)
    c = attrs.get("gen_ai.completion.0.content")
    if isinstance(c, str):
        o.shape, o.found = "gen_ai.completion.<i>", True
        o.text.append(c)
    fr = attrs.get("gen_ai.completion.0.finish_reason")
    if isinstance(fr, str) and o.finish is None:
        o.finish = fr
    j = 0
    while isinstance(attrs.get(f"gen_ai.completion.0.tool_calls.{j}.name"), str):
        o.shape, o.found = "gen_ai.completion.<i>", True
        args = attrs.get(f"gen_ai.completion.0.tool_calls.{j}.arguments")
        o.calls.append((attrs[f"gen_ai.completion.0.tool_calls.{j}.name"],
                        args if isinstance(args, str) else json_text(args)))
        j += 1
    return o


def _span_event(rattrs: dict, scope: dict, span: Any, route: str | None) -> list[dict]:
    if not isinstance(span, dict):
        raise AdapterError("span is not an object")
    attrs = otlp_attributes(span.get("attributes"))
    if not any(k in attrs for k in _GENAI_KEYS):
        return []
    op = str_or_none(attrs.get("gen_ai.operation.name"))
    if op in _SKIP_OPS:
        return []
    start = _nanos(span.get("startTimeUnixNano"), "startTimeUnixNano")
    end = _nanos(span.get("endTimeUnixNano"), "endTimeUnixNano")
    when = end or start
    if not when:
        raise AdapterError("no span time (endTimeUnixNano/startTimeUnixNano)")
    ts = iso_from_epoch(when, "ns")
    events = span.get("events") if isinstance(span.get("events"), list) else []
    o = _collect_output(attrs, events)
    provider = str_or_none(attrs.get("gen_ai.provider.name")) or str_or_none(attrs.get("gen_ai.system"))
    requested = str_or_none(attrs.get("gen_ai.request.model"))
    resolved = str_or_none(attrs.get("gen_ai.response.model"))
    out_tok = as_count(attrs.get("gen_ai.usage.output_tokens", attrs.get("gen_ai.usage.completion_tokens")),
                       "gen_ai.usage.output_tokens")
    in_tok = as_count(attrs.get("gen_ai.usage.input_tokens", attrs.get("gen_ai.usage.prompt_tokens")),
                      "gen_ai.usage.input_tokens")
    finish = o.finish
    frs = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(frs, list) and frs and isinstance(frs[0], str):
        finish = frs[0]
    elif isinstance(frs, str):
        finish = frs
    sid = str_or_none(span.get("spanId"))
    tid = str_or_none(span.get("traceId"))
    rid = str_or_none(attrs.get("gen_ai.response.id")) or sid
    if rid is None:
        raise AdapterError("no gen_ai.response.id and no spanId")
    if not o.found or (not "".join(o.text) and not o.calls):
        raise AdapterError("no output content in span (is message content capture enabled?)")
    out_type = attrs.get("gen_ai.output.type")
    rf = attrs.get("gen_ai.openai.request.response_format")
    expects: bool | None = None
    if out_type == "json" or rf in ("json_object", "json_schema"):
        expects = True
    elif out_type == "text" or rf == "text":
        expects = False
    ev_attrs: dict[str, Any] = {"provider": provider, "operation": op, "span_name": span.get("name"),
                                "trace_id": tid, "span_id": sid, "semconv_shape": o.shape}
    if isinstance(rattrs.get("service.name"), str):
        ev_attrs["service_name"] = rattrs["service.name"]
    if isinstance(scope.get("name"), str):
        ev_attrs["instrumentation_scope"] = scope["name"]
    status = span.get("status")
    if isinstance(status, dict) and status.get("code") in (2, "STATUS_CODE_ERROR"):
        ev_attrs["span_error"] = True
    if o.choices > 1:   # one event for the first choice; usage covers all of them
        ev_attrs["choices"] = o.choices
        ev_attrs["usage_output_tokens_all_choices"] = out_tok
        out_tok = None
    ev_attrs = {k: v for k, v in ev_attrs.items() if v is not None}
    latency = (end - start) / 1e6 if (start and end and end >= start) else None
    rt = attrs.get("llm_monitor.route") or attrs.get("app.route")
    common = dict(ts=ts, resolved_model=resolved, requested_model=requested,
                  route=rt if isinstance(rt, str) and rt else route,
                  input_tokens=in_tok, finish_reason=finish, latency_ms=latency)
    if o.calls:
        tools = tool_schemas(_maybe_json(attrs.get("gen_ai.tool.definitions")))
        many = len(o.calls) > 1
        return [make_event(request_id=f"{rid}:{pos}" if many else rid, response=args,
                           output_tokens=None if many else out_tok, expects_json=True,
                           schema=tools.get(name),
                           attributes=dict(ev_attrs, tool_name=name, tool_call=True,
                                           tool_calls_count=len(o.calls)), **common)
                for pos, (name, args) in enumerate(o.calls)]
    return [make_event(request_id=rid, response="".join(o.text), output_tokens=out_tok,
                       expects_json=expects, attributes=ev_attrs, **common)]
