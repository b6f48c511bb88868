"""Per-event signals derived at ingest: length, refusal and structured-output parse status.

Entry point: :func:`derive_signals`. See docs/SIGNALS.md for the rule set, the three refusal
classes, the JSON modes and the limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .refusal import REFUSAL_CLASSES, active_rules, coerce_rule, text_signal_columns, text_signals
from .refusal_rules import RULES, RefusalRule
from .structured import (
    JSON_MODES,
    PARSE_STATUSES,
    JsonLimits,
    classify_json,
    classify_tool_calls,
    failure_statuses,
    is_parse_failure,
    parse_batch,
)

__all__ = [
    "SignalConfig",
    "derive_signals",
    "signal_columns",
    "failure_statuses",
    "is_parse_failure",
    "classify_json",
    "classify_tool_calls",
    "JsonLimits",
    "RefusalRule",
    "RULES",
    "REFUSAL_CLASSES",
    "PARSE_STATUSES",
    "JSON_MODES",
    "SIGNAL_COLUMNS",
]

#: Output columns of :func:`derive_signals`, in order.
SIGNAL_COLUMNS = (
    "chars",
    "words",
    "refusal",
    "refusal_class",
    "refusal_rule",
    "refusal_span",
    "expects_json",
    "parse_status",
    "parse_error",
    "parse_failed",
)


@dataclass
class SignalConfig:
    """Configuration of the signals (from ``llm-monitor.toml``).

    * ``extra_refusal_rules``: user rules, each a mapping (or :class:`RefusalRule`) with
      ``name``, ``family``, ``pattern`` (RE2, matched case-insensitively on the normalized
      text), optional ``models`` (list of model-name globs), ``position``
      (``"opening"`` default | ``"anywhere"``) and ``class`` (``"full_refusal"`` default |
      ``"partial_refusal"``). User rules are tried before the built-ins.
    * ``disabled_refusal_rules``: names of rules (built-in or user) to switch off.
    * ``count_partial_as_refusal``: ``refusal`` is True for partial refusals too.
    * ``json_mode``: ``"strict"`` (fenced JSON is a failure) or ``"extract"`` (it is a success).
    * ``limits``: :class:`JsonLimits` bounding parse/validation cost.

    :meth:`validate` (called by :func:`derive_signals`) raises ``ValueError`` naming the bad
    rule or value.

    >>> SignalConfig(json_mode="extract").validate().json_mode
    'extract'
    """

    extra_refusal_rules: list[Mapping[str, Any] | RefusalRule] = field(default_factory=list)
    disabled_refusal_rules: set[str] = field(default_factory=set)
    count_partial_as_refusal: bool = False
    json_mode: str = "strict"
    limits: JsonLimits = field(default_factory=JsonLimits)

    def validate(self) -> "SignalConfig":
        """Check every field; return self."""
        if self.json_mode not in JSON_MODES:
            raise ValueError(f"json_mode must be one of {JSON_MODES}, got {self.json_mode!r}")
        names = set()
        for r in self.extra_refusal_rules:
            rule = coerce_rule(r)
            if rule.name in names:
                raise ValueError(f"refusal rule {rule.name!r} defined twice")
            names.add(rule.name)
        if not isinstance(self.count_partial_as_refusal, bool):
            raise ValueError("count_partial_as_refusal must be a boolean")
        return self

    def rules(self) -> tuple[RefusalRule, ...]:
        """The active, ordered refusal rules (user rules first, disabled ones removed).

        >>> cfg = SignalConfig(extra_refusal_rules=[{"name": "x", "family": "f", "pattern": "nope"}],
        ...                    disabled_refusal_rules={"en_decline"})
        >>> names = [r.name for r in cfg.rules()]
        >>> names[0], "en_decline" in names
        ('x', False)
        """
        return active_rules(self.extra_refusal_rules, self.disabled_refusal_rules)


def _col(frame: Any, name: str) -> Any:
    if name in frame.columns:
        return frame[name]
    import pandas as pd

    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _bool_column(s: Any) -> np.ndarray:
    """Nullable booleans (a pandas Series) -> bool array (null = False)."""
    try:
        return s.astype("boolean").fillna(False).to_numpy(bool)
    except (TypeError, ValueError):
        return np.array([v is True or (isinstance(v, (bool, np.bool_)) and bool(v)) for v in s.tolist()], dtype=bool)


def _nullable_str(s: Any) -> list[str | None]:
    obj = s.astype(object)
    return obj.where(obj.notna(), None).tolist()


def _objects(values: Any, n: int, rows: np.ndarray | None = None) -> np.ndarray:
    """An Arrow array or a sequence (None = null) as a numpy object array, optionally of ``rows`` only."""
    if values is None:
        return np.full(n if rows is None else len(rows), None, dtype=object)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        if rows is not None:
            values = values.take(pa.array(rows, type=pa.int64()))
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)
    out = np.asarray(values, dtype=object)
    return out if rows is None else out[rows]


def _flags(values: Any, n: int) -> np.ndarray:
    """Booleans (Arrow with nulls, or a bool sequence) -> a bool array, null = False."""
    if values is None:
        return np.zeros(n, dtype=bool)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)
    return np.array([v is True or (isinstance(v, (bool, np.bool_)) and bool(v)) for v in values], dtype=bool)


def _present(values: Any, n: int) -> np.ndarray:
    if values is None:
        return np.zeros(n, dtype=bool)
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return np.asarray(values.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return np.array([v is not None for v in values], dtype=bool)


def signal_columns(response: Any, model: Any = None, finish_reason: Any = None, expects_json: Any = None,
                   schema: Any = None, config: SignalConfig | None = None, *, tool_calls: Any = None,
                   tools: Any = None) -> dict[str, np.ndarray]:
    """The per-event signals of a batch as numpy arrays, one per name of :data:`SIGNAL_COLUMNS`
    (text columns as object arrays, None = null): the engine of :func:`derive_signals`, used by
    ingest on the event frame's Arrow columns without a DataFrame.

    ``response``, ``model``, ``finish_reason`` (texts), ``expects_json`` (booleans, null = False)
    and ``schema`` (JSON Schema text; a schema implies ``expects_json``): Arrow arrays or
    sequences. ``tool_calls`` / ``tools``: see :func:`derive_signals`.

    >>> out = signal_columns(pa.array(["Sorry, but I can't help with that.", '{"a": 1}']), expects_json=pa.array([None, True]))
    >>> out["refusal_class"].tolist(), out["parse_status"].tolist(), out["chars"].tolist()
    (['full_refusal', 'compliance'], ['not_expected', 'ok'], [34, 8])
    """
    config = (config or SignalConfig()).validate()
    n = len(response)
    text = text_signal_columns(response, model, config.rules())

    ej = _flags(expects_json, n) | _present(schema, n)
    status = np.full(n, "not_expected", dtype=object)
    error = np.full(n, None, dtype=object)
    idx = np.flatnonzero(ej)
    if len(idx):
        st, er = parse_batch(_objects(response, n, idx), [True] * len(idx), _objects(schema, n, idx),
                             _objects(finish_reason, n, idx), config.limits)
        status[idx] = st
        error[idx] = er

    # Optional OpenAI-style tool calls: the arguments are what must be JSON, checked against
    # the declared function parameters (``tools``); a row with tool calls expects JSON.
    if tool_calls is not None:
        calls = _objects(tool_calls, n)
        has = np.array([c is not None and not (isinstance(c, float) and np.isnan(c)) for c in calls], dtype=bool)
        if has.any():
            declared = _objects(tools, n)
            reasons = _objects(finish_reason, n)
            for i in np.flatnonzero(has):
                t = declared[i]
                t = None if t is None or (isinstance(t, float) and np.isnan(t)) else t
                status[i], error[i] = classify_tool_calls(calls[i], t, reasons[i], config.limits)
            ej |= has

    cls = text["refusal_class"]
    refusal = (cls == "full_refusal") | ((cls == "partial_refusal") & config.count_partial_as_refusal)
    return {
        "chars": text["chars"],
        "words": text["words"],
        "refusal": refusal.astype(bool),
        "refusal_class": cls,
        "refusal_rule": text["refusal_rule"],
        "refusal_span": text["refusal_span"],
        "expects_json": ej,
        "parse_status": status,
        "parse_error": error,
        "parse_failed": np.isin(status, list(failure_statuses(config.json_mode))),
    }


def derive_signals(frame: Any, config: SignalConfig | None = None) -> Any:
    """Derive the per-event signals for a batch of events in a pandas DataFrame (the face of
    :func:`signal_columns` for notebooks and tools).

    Input columns: ``response`` (str, required), and optionally ``model``, ``finish_reason``,
    ``output_tokens``, ``expects_json`` (bool|None) and ``schema`` (JSON Schema text; a
    non-null schema implies ``expects_json``). Optional ``tool_calls`` (OpenAI-style list or
    its JSON text) and ``tools`` (declared functions): a row with tool calls is judged on its
    call arguments against the declared ``parameters`` (see :func:`classify_tool_calls`).
    Returns a new DataFrame with the same index and row order and the columns of
    :data:`SIGNAL_COLUMNS`.

    >>> import pandas as pd
    >>> df = pd.DataFrame({
    ...     "response": ["Sorry, but I can't help with that.", '```json\\n{"a": 1}\\n```', "Paris."],
    ...     "model": ["m", "m", "m"],
    ...     "expects_json": [None, True, False],
    ... })
    >>> out = derive_signals(df)
    >>> out[["refusal", "refusal_class", "parse_status", "parse_failed"]].values.tolist()
    [[True, 'full_refusal', 'not_expected', False], [False, 'compliance', 'fenced', True], [False, 'compliance', 'not_expected', False]]
    >>> derive_signals(df, SignalConfig(json_mode="extract"))["parse_failed"].tolist()
    [False, False, False]
    """
    import pandas as pd

    if "response" not in frame.columns:
        raise ValueError("derive_signals: frame has no 'response' column")
    schema = _col(frame, "schema")
    cols = signal_columns(
        frame["response"], _col(frame, "model"), _nullable_str(_col(frame, "finish_reason")),
        _bool_column(_col(frame, "expects_json")), _nullable_str(schema), config,
        tool_calls=frame["tool_calls"].to_numpy(object) if "tool_calls" in frame.columns else None,
        tools=_col(frame, "tools").to_numpy(object) if "tool_calls" in frame.columns else None)
    idx_ = frame.index
    return pd.DataFrame(
        {
            "chars": cols["chars"],
            "words": cols["words"],
            "refusal": cols["refusal"],
            "refusal_class": pd.Series(cols["refusal_class"], index=idx_, dtype="str"),
            "refusal_rule": pd.Series(cols["refusal_rule"], index=idx_, dtype=object),
            "refusal_span": pd.Series(cols["refusal_span"], index=idx_, dtype=object),
            "expects_json": cols["expects_json"],
            "parse_status": pd.Series(cols["parse_status"], index=idx_, dtype="str"),
            "parse_error": pd.Series(cols["parse_error"], index=idx_, dtype=object),
            "parse_failed": cols["parse_failed"],
        },
        index=idx_,
    )
