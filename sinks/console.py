"""Console sink: a readable fixed-width table of findings.

Rates are shown as percentages and their effects in percentage points (pp); response length
is shown in characters with its effect as a relative change of the median.

Example:
    >>> rows = [{"metric": "refusal_rate", "segment": {"model": "m", "route": "chat"},
    ...          "n_baseline": 3000, "n_current": 2950, "baseline_value": 0.02,
    ...          "current_value": 0.051, "effect": 0.031, "ci_low": 0.022, "ci_high": 0.040,
    ...          "q_value": 1e-8, "alert": True, "reason": "significant and above floor"}]
    >>> print(render_table(rows))  # doctest: +NORMALIZE_WHITESPACE
    metric        segment             n_b/n_c    baseline -> current  effect [95% CI]           q        alert  reason
    ------------  ------------------  ---------  -------------------  ------------------------  -------  -----  ---------------------------
    refusal_rate  model=m,route=chat  3000/2950  2.0% -> 5.1%         +3.1 pp [+2.2, +4.0]      1.0e-08  ALERT  significant and above floor
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["render_table", "render_compared", "render_unmatched", "render_sample", "segment_key", "format_value", "format_effect"]

LENGTH_METRICS = frozenset({"response_length", "reasoning_length"})


def segment_key(segment: Mapping[str, Any] | None) -> str:
    """Stable text key of a segment (sorted ``k=v`` pairs joined by commas).

    >>> segment_key({"route": "chat", "model": "m"})
    'model=m,route=chat'
    >>> segment_key({})
    '(all)'
    """
    if not segment:
        return "(all)"
    return ",".join(f"{k}={segment[k]}" for k in sorted(segment))


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def format_value(metric: str, value: Any) -> str:
    """One metric value for humans: rates as %, lengths as chars.

    >>> format_value("refusal_rate", 0.0512), format_value("response_length", 412.0)
    ('5.1%', '412 chars')
    >>> format_value("refusal_rate", None)
    '-'
    """
    if not _is_num(value):
        return "-"
    if metric in LENGTH_METRICS:
        return f"{value:,.0f} chars"
    return f"{100 * value:.1f}%"


def format_effect(metric: str, effect: Any, ci_low: Any = None, ci_high: Any = None) -> str:
    """The effect with its CI: pp for rates, relative % for length.

    >>> format_effect("refusal_rate", 0.031, 0.022, 0.04)
    '+3.1 pp [+2.2, +4.0]'
    >>> format_effect("response_length", 0.452, 0.40, 0.51)
    '+45.2% [+40.0, +51.0]'
    """
    if not _is_num(effect):
        return "-"
    unit = "%" if metric in LENGTH_METRICS else " pp"
    out = f"{100 * effect:+.1f}{unit}"
    if _is_num(ci_low) and _is_num(ci_high):
        out += f" [{100 * ci_low:+.1f}, {100 * ci_high:+.1f}]"
    return out


def _fmt_q(q: Any) -> str:
    if not _is_num(q):
        return "-"
    return f"{q:.1e}" if q < 0.001 else f"{q:.3f}"


def _fmt_n(a: Any, b: Any) -> str:
    return f"{a if a is not None else '-'}/{b if b is not None else '-'}"


_COLUMNS = ("metric", "segment", "n_b/n_c", "baseline -> current", "effect [95% CI]", "q", "alert", "reason")


def render_table(findings: Sequence[Mapping[str, Any]], *, max_reason: int = 60) -> str:
    """Render findings (``Finding.to_dict()`` dicts) as a fixed-width text table.

    Alerting rows carry ``ALERT`` in the alert column. An empty list gives a one-line note.

    >>> render_table([])
    '(no findings)'
    """
    if not findings:
        return "(no findings)"
    rows: list[tuple[str, ...]] = []
    for f in findings:
        metric = str(f.get("metric", "?"))
        reason = str(f.get("reason") or "")
        if len(reason) > max_reason:
            reason = reason[: max_reason - 1] + "…"
        rows.append(
            (
                metric,
                segment_key(f.get("segment")),
                _fmt_n(f.get("n_baseline"), f.get("n_current")),
                f"{format_value(metric, f.get('baseline_value'))} -> {format_value(metric, f.get('current_value'))}",
                format_effect(metric, f.get("effect"), f.get("ci_low"), f.get("ci_high")),
                _fmt_q(f.get("q_value")),
                "ALERT" if f.get("alert") else "",
                reason,
            )
        )
    widths = [max(len(_COLUMNS[i]), *(len(r[i]) for r in rows)) for i in range(len(_COLUMNS))]
    # give the effect column a little room so CIs of different rows line up nicely
    widths[4] = max(widths[4], 24)

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    out = [line(_COLUMNS), line(["-" * w for w in widths])]
    out.extend(line(r) for r in rows)
    return "\n".join(out)


def render_compared(compared: Mapping[str, Sequence[str]], keys: Sequence[str],
                    within: Mapping[str, Sequence[Any]] | None = None) -> str:
    """The line above the table that says what the two windows compare.

    >>> render_compared({"model_version": ("2026-10-01", "2026-11-20")}, ["model", "route"])
    'compared: model_version 2026-10-01 (baseline) -> 2026-11-20 (current); segments by model, route'
    >>> render_compared({}, ["route"])
    'segments by route'
    """
    by = f"segments by {', '.join(keys)}" if keys else "one segment (all events)"
    if not compared:
        return by
    what = "; ".join(f"{k} {b} (baseline) -> {c} (current)"
                     + (f" within model {', '.join(map(str, within[k]))}" if within and k in within else "")
                     for k, (b, c) in compared.items())
    return f"compared: {what}; {by}"


def render_unmatched(unmatched: Sequence[Mapping[str, Any]], *, limit: int = 20) -> str:
    """A short section for segments with events in one window only (not tested).

    >>> print(render_unmatched([{"segment": {"route": "faq"}, "window": "baseline", "n": 30}]))
    unmatched (events in one window only, not tested):
      route=faq  baseline only  n=30
    >>> render_unmatched([])
    ''
    """
    if not unmatched:
        return ""
    rows = [(segment_key(u.get("segment")), f"{u.get('window')} only", f"n={u.get('n')}") for u in unmatched[:limit]]
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = ["unmatched (events in one window only, not tested):"]
    lines += [f"  {a.ljust(widths[0])}  {b.ljust(widths[1])}  {c}" for a, b, c in rows]
    if len(unmatched) > limit:
        lines.append(f"  ... and {len(unmatched) - limit} more")
    return "\n".join(lines)


def render_sample(rows: Sequence[Mapping[str, Any]], *, width: int = 100) -> str:
    """An audit sample (``llm-monitor sample``): one block per decision, easy to scan.

    >>> print(render_sample([{"request_id": "r1", "model": "m", "route": "chat", "refusal_class": "full_refusal",
    ...     "refusal_rule": "en_apology_inability", "refusal_span": "sorry, i can't", "response": "Sorry, I can't."}]))
    r1  model=m  route=chat  full_refusal  en_apology_inability  span: "sorry, i can't"
        Sorry, I can't.
    >>> render_sample([])
    '(no event matches)'
    """
    if not rows:
        return "(no event matches)"
    out = []
    for r in rows:
        span = f'  span: "{r.get("refusal_span")}"' if r.get("refusal_span") else ""
        out.append(f"{r.get('request_id')}  model={r.get('model')}  route={r.get('route')}  "
                   f"{r.get('refusal_class')}  {r.get('refusal_rule') or '-'}{span}")
        text = " ".join(str(r.get("response") or "").split())
        out.append("    " + (text[: width - 1] + "…" if len(text) > width else text))
    return "\n".join(out)
