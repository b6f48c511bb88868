"""Structured-output (JSON) parse status, with compiled JSON Schema validation.

Per event that expects JSON, :func:`classify_json` assigns one status:

``ok``               the whole response is JSON (surrounding whitespace allowed) and, when a
                     schema is given, valid against it;
``fenced``           the JSON sits inside a Markdown code fence (```` ```json ... ``` ````, possibly
                     with prose around it) and is schema-valid;
``schema_violation`` the JSON (bare or fenced) parses but fails the schema; ``parse_error`` names
                     the failing keyword and the instance path; also used when the schema itself
                     cannot be used (``schema error: ...``);
``truncated``        the text does not parse and generation was cut: ``finish_reason`` is
                     ``length``/``max_tokens`` (when present), or, when no finish_reason is
                     logged, the text starts like JSON and has an unterminated string or more
                     opening than closing brackets;
``python_literal``   not JSON but a Python literal (single quotes, ``True``/``None``, tuples,
                     trailing commas...) per :func:`ast.literal_eval`;
``not_json``         anything else, including responses over the size limit.

The verdict comes from :mod:`jsonschema_rs` (one compiled validator per distinct schema text,
cached, formats checked, no network); :mod:`jsonschema` only explains failures (its
``pattern``/``patternProperties`` checks are routed through the Rust regex engine so a hostile
pattern cannot hang the explanation).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import jsonschema_rs
import orjson

__all__ = [
    "PARSE_STATUSES",
    "JSON_MODES",
    "TRUNCATING_FINISH_REASONS",
    "JsonLimits",
    "failure_statuses",
    "is_parse_failure",
    "classify_json",
    "parse_batch",
    "explain_violation",
    "classify_tool_calls",
]

#: Every value ``parse_status`` can take.
PARSE_STATUSES = ("not_expected", "ok", "fenced", "not_json", "python_literal", "truncated", "schema_violation")
#: The JSON modes of :class:`~monitor.signals.SignalConfig`.
JSON_MODES = ("strict", "extract")
#: ``finish_reason`` values meaning "generation hit the token limit" (compared case-insensitively).
TRUNCATING_FINISH_REASONS = frozenset({"length", "max_tokens", "max_output_tokens", "token_limit"})

_FAILURES = {
    "strict": frozenset({"fenced", "not_json", "python_literal", "truncated", "schema_violation"}),
    "extract": frozenset({"not_json", "python_literal", "truncated", "schema_violation"}),
}


def failure_statuses(json_mode: str = "strict") -> frozenset[str]:
    """The parse statuses that count as a structured-output failure under ``json_mode``.

    ``not_expected`` and ``ok`` are never failures; ``fenced`` is one only in strict mode.

    >>> sorted(failure_statuses("extract"))
    ['not_json', 'python_literal', 'schema_violation', 'truncated']
    >>> "fenced" in failure_statuses("strict")
    True
    """
    try:
        return _FAILURES[json_mode]
    except KeyError:
        raise ValueError(f"json_mode must be one of {JSON_MODES}, got {json_mode!r}") from None


def is_parse_failure(status: Any, json_mode: str = "strict") -> Any:
    """Vectorized failure test: a bool for a str, a bool Series/array for a Series/array.

    >>> import pandas as pd
    >>> is_parse_failure(pd.Series(["ok", "fenced", "not_expected"]), "strict").tolist()
    [False, True, False]
    >>> is_parse_failure("fenced", "extract")
    False
    """
    fails = failure_statuses(json_mode)
    if isinstance(status, str):
        return status in fails
    if hasattr(status, "isin"):
        return status.isin(list(fails))
    import numpy as np

    return np.isin(np.asarray(status, dtype=object), list(fails))


@dataclass(frozen=True)
class JsonLimits:
    """Bounds that keep parsing and validation cheap on hostile input.

    * ``max_json_chars``: longer responses are not parsed (``not_json``, ``limit: ...``).
    * ``max_depth``: nesting deeper than this is rejected by orjson (fixed at 1024 by orjson);
      the event gets ``not_json`` with ``limit: nesting depth``.
    * ``max_schema_chars``: larger schemas are not compiled (``schema_violation``, ``schema error``).
    * ``max_pattern_chars``: a schema whose ``pattern``/``patternProperties`` regex is longer
      is refused (``schema error``); the Rust regex engine also caps compiled size.
    * ``max_literal_chars``: ``ast.literal_eval`` (python_literal detection) only below this size.
    * ``max_explain_chars``: above this instance size, failures are explained by jsonschema_rs's
      own first error instead of :mod:`jsonschema` (which is ~20x slower).
    * ``schema_cache_size``: number of compiled validators kept (LRU).

    >>> classify_json('{"a": 1}', limits=JsonLimits(max_json_chars=4))
    ('not_json', 'limit: response longer than 4 characters')
    """

    max_json_chars: int = 8 * 1024 * 1024
    max_depth: int = 1024
    max_schema_chars: int = 1024 * 1024
    max_pattern_chars: int = 4096
    max_literal_chars: int = 64 * 1024
    max_explain_chars: int = 256 * 1024
    schema_cache_size: int = 256


DEFAULT_LIMITS = JsonLimits()

# ----------------------------------------------------------------------------- schema cache


class _SchemaError(Exception):
    pass


@dataclass
class _Compiled:
    schema: Any
    validator: Any  # jsonschema_rs validator or None
    error: str | None
    explainer: Any = None


_cache: "OrderedDict[bytes, _Compiled]" = OrderedDict()
_cache_lock = threading.Lock()


def schema_key(schema_text: str) -> bytes:
    """The cache key of a schema: a hash of its canonical text (the resolver writes schemas with
    sorted keys and no spaces, so equal schemas share one compiled validator, and the cache holds
    16 bytes per schema, not the text).

    >>> schema_key('{"type":"object"}') == schema_key('{"type":"object"}'), len(schema_key("{}"))
    (True, 16)
    """
    return hashlib.blake2b(schema_text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _walk_patterns(node: Any, depth: int = 0) -> Iterable[str]:
    if depth > 200:
        raise _SchemaError("schema nested deeper than 200 levels")
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "pattern" and isinstance(v, str):
                yield v
            elif k == "patternProperties" and isinstance(v, dict):
                yield from (p for p in v.keys())
            yield from _walk_patterns(v, depth + 1)
    elif isinstance(node, list):
        for v in node:
            yield from _walk_patterns(v, depth + 1)


def _compile(schema_text: str, limits: JsonLimits) -> _Compiled:
    """The compiled validator of a schema: built on first use, then cached by :func:`schema_key`
    (LRU, ``limits.schema_cache_size`` entries)."""
    key = schema_key(schema_text)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    try:
        if len(schema_text) > limits.max_schema_chars:
            raise _SchemaError(f"limit: schema larger than {limits.max_schema_chars} characters")
        try:
            schema = orjson.loads(schema_text)
        except orjson.JSONDecodeError as exc:
            raise _SchemaError(f"schema is not JSON: {exc}") from None
        if not isinstance(schema, (dict, bool)):
            raise _SchemaError("schema must be a JSON object or boolean")
        for p in _walk_patterns(schema):
            if len(p) > limits.max_pattern_chars:
                raise _SchemaError(f"limit: regex pattern longer than {limits.max_pattern_chars} characters")
        try:
            validator = jsonschema_rs.validator_for(
                schema,
                validate_formats=True,
                offline=True,
                pattern_options=jsonschema_rs.RegexOptions(size_limit=2_000_000, dfa_size_limit=2_000_000),
            )
        except Exception as exc:  # ValidationError (bad schema), ReferencingError, ValueError...
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise _SchemaError(f"{type(exc).__name__}: {first[:200]}") from None
        compiled = _Compiled(schema, validator, None)
    except _SchemaError as exc:
        compiled = _Compiled(None, None, f"schema error: {exc}")
    except RecursionError:
        compiled = _Compiled(None, None, "schema error: schema nested too deeply")
    with _cache_lock:
        _cache[key] = compiled
        while len(_cache) > limits.schema_cache_size:
            _cache.popitem(last=False)
    return compiled


# ------------------------------------------------------------------ explanation (jsonschema)

_rs_pattern_cache: dict[str, Any] = {}


def _rs_search(pattern: str, text: str) -> bool:
    v = _rs_pattern_cache.get(pattern)
    if v is None:
        v = jsonschema_rs.validator_for({"pattern": pattern}, offline=True)
        if len(_rs_pattern_cache) > 1024:
            _rs_pattern_cache.clear()
        _rs_pattern_cache[pattern] = v
    return bool(v.is_valid(text))


def _pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterable[Any]:
    if validator.is_type(instance, "string") and not _rs_search(patrn, instance):
        import jsonschema  # loaded already: this runs inside a jsonschema validation

        yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")


def _pattern_properties(validator: Any, pprops: Any, instance: Any, schema: Any) -> Iterable[Any]:
    if not validator.is_type(instance, "object"):
        return
    for pat, subschema in pprops.items():
        for k, v in instance.items():
            if _rs_search(pat, k):
                yield from validator.descend(v, subschema, path=k, schema_path=pat)


@functools.lru_cache(maxsize=None)
def _explainer_class(base: type) -> type:
    """``base`` (a jsonschema draft's validator class) with the Rust regex checks: made once per
    draft. Making a validator class costs about 8 ms (attrs builds it); making it per schema was
    most of the cost of files whose events each carry their own schema."""
    import jsonschema

    return jsonschema.validators.extend(base, {"pattern": _pattern, "patternProperties": _pattern_properties})


def _explainer_for(schema: Any) -> Any:
    import jsonschema  # only failures are explained: not imported by a command that meets none

    base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return _explainer_class(base)(schema, format_checker=base.FORMAT_CHECKER)


def _pointer(path: Iterable[Any]) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return "/" + "/".join(parts)


def explain_violation(schema: Any, instance: Any, limits: JsonLimits = DEFAULT_LIMITS, _compiled: Any = None) -> str:
    """Explain why ``instance`` fails ``schema``: ``"<keyword> at <instance JSON pointer>: <message>"``.

    Uses the first error of :mod:`jsonschema` (format checking on); falls back to jsonschema_rs's
    first error when the instance is larger than ``limits.max_explain_chars`` or jsonschema
    finds nothing (e.g. a format jsonschema cannot check without optional packages).

    >>> explain_violation({"type": "object", "required": ["id"]}, {"x": 1})
    "required at /: 'id' is a required property"
    >>> explain_violation({"items": {"type": "integer"}}, [1, "a"])
    "type at /1: 'a' is not of type 'integer'"
    """
    small = True
    try:
        small = len(orjson.dumps(instance)) <= limits.max_explain_chars
    except Exception:
        small = False
    if small:
        try:
            explainer = _compiled.explainer if _compiled is not None and _compiled.explainer else _explainer_for(schema)
            if _compiled is not None:
                _compiled.explainer = explainer
            # The first error (jsonschema stops there, so this costs one partial validation).
            err = next(iter(explainer.iter_errors(instance)), None)
            if err is not None:
                keyword = err.validator if isinstance(err.validator, str) else str(err.validator)
                return f"{keyword} at {_pointer(err.absolute_path)}: {str(err.message)[:200]}"
        except RecursionError:
            pass
        except Exception:
            pass
    try:
        rs = _compiled.validator if _compiled is not None else jsonschema_rs.validator_for(schema, validate_formats=True, offline=True)
        for e in rs.iter_errors(instance):
            keyword = str(e.schema_path[-1]) if len(e.schema_path) else "schema"
            return f"{keyword} at {_pointer(e.instance_path)}: {str(e.message)[:200]}"
    except Exception as exc:
        return f"schema: validation error ({type(exc).__name__})"
    return "schema: invalid"


# ------------------------------------------------------------------------ text heuristics

_PY_TOKEN_RE = re.compile(r"\b(?:True|False|None)\b")
_STR_RE = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _looks_truncated(text: str) -> bool:
    """Starts like JSON and ends inside a string or with unclosed brackets."""
    t = text.strip()
    if not t or t[0] not in "{[\"":
        return False
    rest = _STR_RE.sub("", t)
    if '"' in rest:
        return True
    return rest.count("{") > rest.count("}") or rest.count("[") > rest.count("]")


def _fence_content(text: str) -> tuple[str, bool] | None:
    """Content of the first Markdown code fence (preferring one tagged json) and whether it is closed."""
    t = text.strip()
    for marker in ("```", "~~~"):
        # The whole response is one fence: take everything up to the *last* marker, so a
        # marker inside a JSON string does not end the block.
        if t.startswith(marker) and t.endswith(marker) and len(t) >= 6:
            nl = t.find("\n")
            if 0 <= nl <= len(t) - 3:
                return t[nl + 1 : len(t) - 3], True
    best: tuple[str, bool] | None = None
    pos = 0
    for _ in range(8):  # at most 8 fences inspected
        i = text.find("```", pos)
        j = text.find("~~~", pos)
        if i < 0 or (0 <= j < i):
            i = j
        if i < 0:
            break
        marker = text[i : i + 3]
        nl = text.find("\n", i)
        if nl < 0:
            info, body_start = text[i + 3 :], len(text)
        else:
            info, body_start = text[i + 3 : nl], nl + 1
        end = text.find(marker, body_start)
        closed = end >= 0
        body = text[body_start : end if closed else len(text)]
        found = (body, closed)
        tag = info.strip().lower()
        if tag in ("json", "jsonc", "json5", "javascript", "js", "jsonl"):
            return found
        if best is None:
            best = found
        if not closed:
            break
        pos = end + 3
    return best


def _python_literal(text: str, limits: JsonLimits) -> bool:
    t = text.strip()
    if not t or len(t) > limits.max_literal_chars:
        return False
    if t[0] not in "{[('\"" and t not in ("True", "False", "None"):
        return False
    try:
        value = ast.literal_eval(t)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, OverflowError):
        return False
    except Exception:
        return False
    if not isinstance(value, (dict, list, tuple, str, bool, type(None), set)):
        return False
    # Only Python-specific syntax counts (a bare trailing comma is just broken JSON).
    return "'" in t or t[0] == "(" or _PY_TOKEN_RE.search(t) is not None


def _decode_error(exc: Exception) -> str:
    msg = str(exc)
    if "recursion" in msg.lower() or "depth limit" in msg.lower():
        return "limit: nesting depth exceeds 1024"
    return msg[:200]


def classify_json(
    text: str | None,
    schema: str | None = None,
    finish_reason: str | None = None,
    limits: JsonLimits = DEFAULT_LIMITS,
) -> tuple[str, str | None]:
    """Parse status and error for one response that is expected to be JSON. Never raises.

    >>> classify_json('{"a": 1}')
    ('ok', None)
    >>> classify_json('```json\\n{"a": 1}\\n```')
    ('fenced', None)
    >>> classify_json("{'a': True}")[0]
    'python_literal'
    >>> classify_json('{"a": [1, 2')[0]
    'truncated'
    >>> classify_json('{"a": "x"}', '{"properties": {"a": {"type": "integer"}}}')
    ('schema_violation', "type at /a: 'x' is not of type 'integer'")
    >>> classify_json("Sure! Here it is.")[0]
    'not_json'
    """
    try:
        return _classify(text, schema, finish_reason, limits)
    except RecursionError:
        return "not_json", "limit: nesting depth"
    except MemoryError:
        return "not_json", "limit: out of memory"
    except Exception as exc:  # last-resort guard: a status, never an exception
        return "not_json", f"internal: {type(exc).__name__}: {str(exc)[:120]}"


def _validate(value: Any, schema: str | None, limits: JsonLimits) -> str | None:
    if schema is None:
        return None
    compiled = _compile(schema, limits)
    if compiled.validator is None:
        return compiled.error
    try:
        if compiled.validator.is_valid(value):
            return None
    except Exception as exc:
        return f"schema error: {type(exc).__name__}: {str(exc)[:160]}"
    return explain_violation(compiled.schema, value, limits, compiled)


def _classify(text: str | None, schema: str | None, finish_reason: str | None, limits: JsonLimits) -> tuple[str, str | None]:
    if text is None:
        text = ""
    if len(text) > limits.max_json_chars:
        return "not_json", f"limit: response longer than {limits.max_json_chars} characters"
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        error = _decode_error(exc)
        if error.startswith("limit:"):
            return "not_json", error
    else:
        err = _validate(value, schema, limits)
        return ("ok", None) if err is None else ("schema_violation", err)

    candidate = text
    fence = _fence_content(text)
    if fence is not None:
        body, closed = fence
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            ferr = _decode_error(exc)
            if ferr.startswith("limit:"):
                return "not_json", ferr
            candidate = body
            error = f"in code fence: {ferr}"
        else:
            if closed:
                err = _validate(value, schema, limits)
                return ("fenced", None) if err is None else ("schema_violation", f"in code fence: {err}")
            candidate = body
    fr = (finish_reason or "").strip().lower()
    if fr in TRUNCATING_FINISH_REASONS:
        return "truncated", f"finish_reason={finish_reason}: {error}"
    if not fr and _looks_truncated(candidate):
        return "truncated", f"unbalanced brackets: {error}"
    if _python_literal(candidate, limits):
        return "python_literal", error
    return "not_json", error


def parse_batch(
    responses: Sequence[str | None],
    expects_json: Sequence[bool],
    schemas: Sequence[str | None],
    finish_reasons: Sequence[str | None],
    limits: JsonLimits = DEFAULT_LIMITS,
) -> tuple[list[str], list[str | None]]:
    """Statuses and errors for a batch; rows not expecting JSON get ``not_expected``.

    >>> parse_batch(['{"a":1}', "hi"], [True, False], [None, None], [None, None])
    (['ok', 'not_expected'], [None, None])
    """
    statuses: list[str] = []
    errors: list[str | None] = []
    validators: dict[str, Any] = {}  # per-batch view of the schema cache
    loads = orjson.loads
    max_chars = limits.max_json_chars
    for text, exp, schema, fr in zip(responses, expects_json, schemas, finish_reasons):
        if not exp:
            statuses.append("not_expected")
            errors.append(None)
            continue
        # Fast path: bare JSON that is schema-valid (the common case) in two C calls.
        if isinstance(text, str) and len(text) <= max_chars:
            try:
                value = loads(text)
            except orjson.JSONDecodeError:
                pass
            else:
                if schema is None:
                    statuses.append("ok")
                    errors.append(None)
                    continue
                v = validators.get(schema)
                if v is None:
                    v = validators[schema] = _compile(schema, limits).validator or False
                try:
                    valid = bool(v) and v.is_valid(value)
                except Exception:
                    valid = False
                if valid:
                    statuses.append("ok")
                    errors.append(None)
                    continue
        s, e = classify_json(text, schema, fr, limits)
        statuses.append(s)
        errors.append(e)
    return statuses, errors


# --------------------------------------------------------------------------- tool / function calls

_SEVERITY = {"ok": 0, "fenced": 1, "schema_violation": 2, "python_literal": 3, "not_json": 4, "truncated": 5}


def _as_json(value: Any) -> Any:
    if isinstance(value, (str, bytes)):
        return orjson.loads(value)
    return value


def classify_tool_calls(
    tool_calls: Any,
    tools: Any = None,
    finish_reason: str | None = None,
    limits: JsonLimits = DEFAULT_LIMITS,
) -> tuple[str, str | None]:
    """Parse status for OpenAI-style tool calls; the worst call decides. Never raises.

    ``tool_calls``: list (or its JSON text) of ``{"function": {"name": ..., "arguments": "<JSON
    text>"}}``; ``tools``: the request's declared tools, ``[{"type": "function", "function":
    {"name": ..., "parameters": {JSON Schema}}}]`` (or JSON text). Each call's arguments get
    the statuses of :func:`classify_json` against the ``parameters`` schema of the function of
    the same name; a call to an undeclared function is a ``schema_violation``. Errors are
    prefixed with ``tool_calls[i] <name>:``.

    >>> tools = [{"type": "function", "function": {"name": "get_weather",
    ...           "parameters": {"type": "object", "required": ["city"],
    ...                          "properties": {"city": {"type": "string"}}}}}]
    >>> classify_tool_calls([{"function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}], tools)
    ('ok', None)
    >>> classify_tool_calls([{"function": {"name": "get_weather", "arguments": '{"town": "Paris"}'}}], tools)
    ('schema_violation', "tool_calls[0] get_weather: required at /: 'city' is a required property")
    >>> classify_tool_calls([{"function": {"name": "launch", "arguments": "{}"}}], tools)[1]
    'tool_calls[0] launch: function not declared in tools'
    """
    try:
        calls = _as_json(tool_calls)
        declared = _as_json(tools) if tools is not None else None
    except (orjson.JSONDecodeError, TypeError) as exc:
        return "not_json", f"tool_calls: {_decode_error(exc)}"
    if not isinstance(calls, list) or not calls:
        return "not_json", "tool_calls: no tool call"
    schemas: dict[str, str] | None = None
    if isinstance(declared, list):
        schemas = {}
        for t in declared:
            fn = t.get("function", t) if isinstance(t, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                params = fn.get("parameters")
                schemas[fn["name"]] = orjson.dumps(params, option=orjson.OPT_SORT_KEYS).decode() if params is not None else ""
    worst: tuple[str, str | None] = ("ok", None)
    for i, call in enumerate(calls):
        fn = call.get("function", call) if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            status, error, name = "not_json", "not a tool call object", "?"
        else:
            name = str(fn.get("name"))
            args = fn.get("arguments", "")
            schema = None
            if schemas is not None:
                if name not in schemas:
                    status, error = "schema_violation", "function not declared in tools"
                    schema = False
                else:
                    schema = schemas[name] or None
            if schema is not False:
                if not isinstance(args, str):  # some SDKs hand over already-parsed arguments
                    try:
                        args = orjson.dumps(args).decode()
                    except TypeError as exc:
                        args = str(exc)
                status, error = classify_json(args, schema, finish_reason, limits)
        if _SEVERITY[status] > _SEVERITY[worst[0]]:
            worst = (status, f"tool_calls[{i}] {name}: {error}" if error else None)
    return worst
