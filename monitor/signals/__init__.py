"""Per-event signals derived at ingest: length, refusal and structured-output parse status.

Entry point: :func:`derive_signals`. See docs/SIGNALS.md for the rule set, the three refusal
classes, the JSON modes and the limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .refusal import REFUSAL_CLASSES, active_rules, coerce_rule, text_signals
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


def _col(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _bool_column(s: pd.Series) -> np.ndarray:
    """Nullable booleans -> bool array (null = False)."""
    try:
        return s.astype("boolean").fillna(False).to_numpy(bool)
    except (TypeError, ValueError):
        return np.array([v is True or (isinstance(v, (bool, np.bool_)) and bool(v)) for v in s.tolist()], dtype=bool)


def _nullable_str(s: pd.Series) -> list[str | None]:
    obj = s.astype(object)
    return obj.where(obj.notna(), None).tolist()


def derive_signals(frame: pd.DataFrame, config: SignalConfig | None = None) -> pd.DataFrame:
    """Derive the per-event signals for a batch of events.

    Input columns: ``response`` (str, required), and optionally ``model``, ``finish_reason``,
    ``output_tokens``, ``expects_json`` (bool|None) and ``schema`` (JSON Schema text; a
    non-null schema implies ``expects_json``). Optional ``tool_calls`` (OpenAI-style list or
    its JSON text) and ``tools`` (declared functions): a row with tool calls is judged on its
    call arguments against the declared ``parameters`` (see :func:`classify_tool_calls`).
    Returns a new DataFrame with the same index and row order and the columns of
    :data:`SIGNAL_COLUMNS`.

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
    config = (config or SignalConfig()).validate()
    n = len(frame)
    if "response" not in frame.columns:
        raise ValueError("derive_signals: frame has no 'response' column")
    text = text_signals(frame["response"], _col(frame, "model"), config.rules())

    schema = _nullable_str(_col(frame, "schema"))
    ej = _bool_column(_col(frame, "expects_json"))
    ej |= _col(frame, "schema").notna().to_numpy(bool)

    status = np.full(n, "not_expected", dtype=object)
    error = np.full(n, None, dtype=object)
    idx = np.flatnonzero(ej)
    if len(idx):
        resp = frame["response"].to_numpy(object)[idx]
        fr = np.asarray(_nullable_str(_col(frame, "finish_reason")), dtype=object)[idx]
        sch = np.asarray(schema, dtype=object)[idx]
        st, er = parse_batch(resp, [True] * len(idx), sch, fr, config.limits)
        status[idx] = st
        error[idx] = er

    # Optional OpenAI-style tool calls: the arguments are what must be JSON, checked against
    # the declared function parameters (``tools``); a row with tool calls expects JSON.
    if "tool_calls" in frame.columns:
        calls = frame["tool_calls"].to_numpy(object)
        has = np.array([c is not None and not (isinstance(c, float) and np.isnan(c)) for c in calls], dtype=bool)
        if has.any():
            tools = _col(frame, "tools").to_numpy(object)
            fr_all = _nullable_str(_col(frame, "finish_reason"))
            for i in np.flatnonzero(has):
                t = tools[i]
                t = None if t is None or (isinstance(t, float) and np.isnan(t)) else t
                status[i], error[i] = classify_tool_calls(calls[i], t, fr_all[i], config.limits)
            ej |= has

    cls = text["refusal_class"].to_numpy(object)
    refusal = (cls == "full_refusal") | ((cls == "partial_refusal") & config.count_partial_as_refusal)
    idx_ = frame.index
    out = pd.DataFrame(
        {
            "chars": text["chars"].to_numpy(np.int64),
            "words": text["words"].to_numpy(np.int64),
            "refusal": refusal.astype(bool),
            "refusal_class": pd.Series(cls, index=idx_, dtype="str"),
            "refusal_rule": pd.Series(text["refusal_rule"].to_numpy(object), index=idx_, dtype=object),
            "refusal_span": pd.Series(text["refusal_span"].to_numpy(object), index=idx_, dtype=object),
            "expects_json": ej,
            "parse_status": pd.Series(status, index=idx_, dtype="str"),
            "parse_error": pd.Series(error, index=idx_, dtype=object),
            "parse_failed": np.isin(status, list(failure_statuses(config.json_mode))),
        },
        index=idx_,
    )
    return out
