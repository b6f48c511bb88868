"""A reproducible random sample of refusal decisions, for a person to audit.

One pure function, :func:`sample_decisions`: it takes an events DataFrame (the store's events,
or the frame ``llm-monitor signals`` prints) and returns ``n`` of its rows with the class,
the rule and the matched span of each decision next to the start of the response, so that a
reviewer can read 50 decisions in a minute and say which are wrong.

Reproducible: a row is picked by a hash of its ``request_id`` (its position when there is
no ``request_id``) and the ``seed``, not by a random generator walking the frame, so the same
seed picks the same events whatever the order of the rows, and a sample of a larger frame
holding the same events keeps the events they share in the same order.

Examples
--------
>>> import pandas as pd
>>> events = pd.DataFrame({
...     "request_id": ["a", "b", "c", "d"],
...     "model": ["m1", "m1", "m2", "m2"],
...     "route": ["chat", "chat", "chat", "search"],
...     "response": ["Sorry, but I can't help with that.", "Paris.", "Here you go.",
...                  "Violence is never the answer."],
... })
>>> s = sample_decisions(events, where={"refusal_class": "full_refusal"}, n=5)
>>> s[["request_id", "refusal_rule", "refusal_span"]].values.tolist()
[['a', 'en_apology_inability', "sorry, but i can't"], ['d', 'en_moral_never_answer', 'is never the answer.']]
>>> sample_decisions(events, n=2, seed=1)["request_id"].tolist() == sample_decisions(
...     events.iloc[::-1], n=2, seed=1)["request_id"].tolist()
True
"""

from __future__ import annotations

import hashlib
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["AUDIT_COLUMNS", "sample_decisions"]

#: Columns of the returned frame, in order.
AUDIT_COLUMNS = ("request_id", "model", "route", "refusal_class", "refusal_rule", "refusal_span", "response")

_DECISION = ("refusal_class", "refusal_rule", "refusal_span")


def _matches(col: pd.Series, want: str | Iterable[str] | None) -> np.ndarray:
    """Rows whose value, as text, equals ``want`` (or one of them); None matches missing values."""
    text = col.astype(object).where(col.notna(), None)
    if want is None:
        return text.isna().to_numpy(bool)
    wanted = {str(want)} if isinstance(want, (str, bool, int, float)) else {str(w) for w in want}
    return np.array([v is not None and str(v) in wanted for v in text.tolist()], dtype=bool)


def _with_decisions(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the decision columns, classified from ``response`` where they are missing.

    A stored ``refusal_class`` / ``refusal_rule`` is kept (the event was judged by the rules
    in force when it was ingested); a missing ``refusal_span`` is recomputed and kept only
    where today's rules reach the stored rule, so the span always explains the stored rule.
    """
    missing = [c for c in _DECISION if c not in frame.columns]
    if not missing:
        return frame
    from monitor.signals.refusal import text_signals

    if "response" not in frame.columns:
        raise ValueError("sample_decisions: frame has no 'response' column to classify")
    model = frame["model"] if "model" in frame.columns else None
    now = text_signals(frame["response"].reset_index(drop=True),
                       None if model is None else model.reset_index(drop=True))
    out = frame.copy()
    for c in ("refusal_class", "refusal_rule"):
        if c in missing:
            out[c] = now[c].to_numpy(object)
    if "refusal_span" in missing:
        same = now["refusal_rule"].to_numpy(object) == out["refusal_rule"].to_numpy(object)
        out["refusal_span"] = np.where(same, now["refusal_span"].to_numpy(object), None)
    return out


def sample_decisions(
    frame: pd.DataFrame,
    *,
    where: Mapping[str, str | Iterable[str] | None] | None = None,
    n: int = 50,
    seed: int = 0,
    max_chars: int | None = 300,
) -> pd.DataFrame:
    """A reproducible random sample of ``n`` events with their refusal decision.

    Parameters
    ----------
    frame:
        Events: ``response`` and, when present, ``request_id``, ``model``, ``route``,
        ``refusal_class``, ``refusal_rule``, ``refusal_span``. Decision columns that are
        missing are computed from ``response`` with today's rules (a missing span next to a
        stored rule is recomputed and kept only where it explains that rule).
    where:
        Column -> value filters, all of which must hold (``{"model": "gpt-4o",
        "refusal_class": "full_refusal"}``); a value may be a list of accepted values, or
        None for missing. Values are compared as text. An unknown column is a ``ValueError``.
    n:
        Sample size (all matching rows when fewer).
    seed:
        Another seed, another sample; the same seed, the same sample.
    max_chars:
        Responses longer than this are cut (with "…") so a reviewer reads the start, where
        the rules look; None keeps them whole.

    Returns a new DataFrame with the columns of :data:`AUDIT_COLUMNS` (missing optional ones
    are None), in sample order, with the index of ``frame``.
    """
    if n < 0:
        raise ValueError("sample_decisions: n must be >= 0")
    where = dict(where or {})
    decided = _with_decisions(frame) if any(c in where for c in _DECISION) else frame
    keep = np.ones(len(frame), dtype=bool)
    for col, want in where.items():
        if col not in decided.columns:
            raise ValueError(f"sample_decisions: no column {col!r} to filter on")
        keep &= _matches(decided[col], want)
    pool = decided[keep]
    if "request_id" in pool.columns:
        keys = pool["request_id"].astype(object).where(pool["request_id"].notna(), "").astype(str)
    else:
        keys = pd.Series(np.flatnonzero(keep).astype(str), index=pool.index)
    hash_key = hashlib.sha256(str(int(seed)).encode()).hexdigest()[:16]
    rank = pd.util.hash_pandas_object(keys.reset_index(drop=True), index=False, hash_key=hash_key).to_numpy()
    order = np.lexsort((np.arange(len(rank)), rank))[:n]
    picked = _with_decisions(pool.iloc[order])
    out = pd.DataFrame(index=picked.index)
    for col in AUDIT_COLUMNS:
        out[col] = picked[col].astype(object).where(picked[col].notna(), None) if col in picked.columns else None
    if max_chars is not None:
        out["response"] = [r if not isinstance(r, str) or len(r) <= max_chars else r[:max_chars] + "…"
                           for r in out["response"].tolist()]
    return out
