"""The check runner: two windows of segment statistics in, policy-applied findings out.

For every segment seen in either window and every metric, one finding:
response length (KS + Wasserstein + median/p90 ratios), refusal rate, parse-failure rate
among events that expect JSON, task-success rate among events that carry a label. The
policy (minimum samples, practical floors, Benjamini-Hochberg across all findings of the
run) decides ``alert``.

Which key is compared is found from the data, not assumed (:func:`match_windows`): a
model-identity key (``model``, ``model_version``, ``requested_model``) whose values in the
baseline window and in the current window do not overlap at all (``model_version`` ``a`` versus
``b`` in a model swap; ``model`` too when the family changed) is the thing being compared, so it
is dropped from the segmentation and segments are matched across it. A traffic key (``route``,
``schema_name``) is compared that way only when the two selectors pin it to different values
(``route=chat`` versus ``route=search``): two windows that merely serve different routes are not
like for like, and comparing them pooled would report the traffic mix as a regression. Keys whose values partly overlap stay: the segments with events in both
windows are compared, and segments with events in one window only are listed apart as
*unmatched*, never as findings. A rate metric with no eligible event in either window (no event
expects JSON, no task label) is not applicable and gives no finding.

Example:
    >>> from detectors.histogram import IntHistogram
    >>> from detectors.policy import PolicyConfig
    >>> base = {("chat",): SegmentStats(n=3000, refusals=60, length=IntHistogram.from_samples([100] * 3000))}
    >>> cur = {("chat",): SegmentStats(n=3000, refusals=180, length=IntHistogram.from_samples([100] * 3000))}
    >>> fs = compare_windows(base, cur, ["route"], PolicyConfig())
    >>> [(f.metric, f.alert) for f in fs if f.metric == "refusal_rate"]
    [('refusal_rate', True)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Any, Iterable

from detectors.finding import METRICS, Finding
from detectors.metrics import RATE_METRICS
from detectors.policy import PolicyConfig, apply_policy, compare_length, compare_rate
from monitor.errors import NothingToCompare
from monitor.selectors import Selector
from monitor.stats import SegmentKey, SegmentStats


IDENTITY_KEYS: frozenset[str] = frozenset({"model", "model_version", "requested_model"})
"""Keys that name the model: disjoint values across the windows mean a model swap to compare."""

NONE_LABEL = "(none)"
"""How a missing key value (a null ``route``) is written in ``compared`` labels."""


@dataclass
class WindowMatch:
    """How two windows' segments line up: see :func:`match_windows`.

    ``keys`` are the segmentation keys kept; ``compared`` maps each dropped key to its
    (baseline, current) values, several values joined with ``|`` as in a selector;
    ``baseline`` / ``current`` hold the statistics of the segments present in both windows;
    ``unmatched`` lists the segments with events in one window only.
    """

    keys: list[str]
    compared: dict[str, tuple[str, str]]
    baseline: dict[SegmentKey, SegmentStats]
    current: dict[SegmentKey, SegmentStats]
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    within: dict[str, list[Any]] = field(default_factory=dict)
    """Keys compared within some models only: ``{"model_version": ["acme-chat"]}``."""
    baseline_labels: dict[SegmentKey, dict[str, str]] = field(default_factory=dict)
    """For segments matched within a model: the baseline value of each key compared there."""

    @property
    def matched(self) -> int:
        """Number of segments with events in both windows."""
        return len(self.baseline)


def _label(values: set[Any]) -> str:
    return "|".join(sorted(NONE_LABEL if v is None else str(v) for v in values))


def _project(stats: dict[SegmentKey, SegmentStats], positions: list[int]) -> dict[SegmentKey, SegmentStats]:
    merged: dict[SegmentKey, SegmentStats] = {}
    for key, s in stats.items():
        short = tuple(key[i] for i in positions)
        merged[short] = merged[short] + s if short in merged else s
    return merged


def _sort_key(key: SegmentKey) -> tuple[str, ...]:
    return tuple("" if v is None else str(v) for v in key)


def pinned_apart(baseline: Selector, current: Selector) -> set[str]:
    """Keys the two selectors pin to value sets with nothing in common (what the user compares).

    >>> from monitor.selectors import parse_selector
    >>> sorted(pinned_apart(parse_selector("route=chat,model=m"), parse_selector("route=faq|search,model=m")))
    ['route']
    """
    return {key for key in set(baseline.equals) & set(current.equals)
            if not set(baseline.equals[key]) & set(current.equals[key])}


def match_windows(baseline: dict[SegmentKey, SegmentStats], current: dict[SegmentKey, SegmentStats],
                  by: list[str], *, comparable: Iterable[str] = IDENTITY_KEYS) -> WindowMatch:
    """Find the compared keys and line up the segments of two windows (statistics keyed by ``by``).

    A key of ``comparable`` whose values do not overlap across the windows is compared (dropped
    from the segmentation). Statistics are sufficient and add up, so dropping a key merges its
    segments exactly.

    >>> from detectors.histogram import IntHistogram
    >>> s = lambda n: SegmentStats(n=n, length=IntHistogram.from_samples([10] * n))
    >>> base = {("v1", "chat"): s(50), ("v1", "faq"): s(30)}
    >>> cur = {("v2", "chat"): s(40), ("v2", "search"): s(20)}
    >>> m = match_windows(base, cur, ["model_version", "route"])
    >>> m.keys, m.compared, list(m.baseline), m.current[("chat",)].n
    (['route'], {'model_version': ('v1', 'v2')}, [('chat',)], 40)
    >>> [(u["segment"]["route"], u["window"], u["n"]) for u in m.unmatched]
    [('faq', 'baseline', 30), ('search', 'current', 20)]

    One model swapped, another unchanged (time windows over a whole store): the version is
    compared within the swapped model only.

    >>> base = {("acme", "v1", "chat"): s(50), ("ctl", "c1", "chat"): s(40)}
    >>> cur = {("acme", "v2", "chat"): s(45), ("ctl", "c1", "chat"): s(42)}
    >>> m = match_windows(base, cur, ["model", "model_version", "route"])
    >>> m.compared, m.within, sorted(m.baseline), m.baseline_labels
    ({'model_version': ('v1', 'v2')}, {'model_version': ['acme']}, [('acme', 'v2', 'chat'), ('ctl', 'c1', 'chat')], {('acme', 'v2', 'chat'): {'model_version': 'v1'}})
    """
    width = len(by)
    base_values = [{k[i] for k in baseline} for i in range(width)]
    cur_values = [{k[i] for k in current} for i in range(width)]
    comparable = set(comparable)
    compared: dict[str, tuple[str, str]] = {}
    kept: list[int] = []
    for i, key in enumerate(by):
        if key in comparable and baseline and current and not base_values[i] & cur_values[i]:
            compared[key] = (_label(base_values[i]), _label(cur_values[i]))
        else:
            kept.append(i)
    base = _project(baseline, kept)
    cur = _project(current, kept)
    keys = [by[i] for i in kept]
    within: dict[str, list[Any]] = {}
    labels: dict[SegmentKey, dict[str, str]] = {}
    if "model" in keys:
        for key in [k for k in keys if k in comparable and k != "model"]:
            base, cur, swaps = _compare_within_model(base, cur, keys.index("model"), keys.index(key), key, labels)
            if swaps:
                within[key] = sorted(swaps, key=str)
                compared[key] = (_label(set().union(*(b for b, _ in swaps.values()))),
                                 _label(set().union(*(c for _, c in swaps.values()))))
    both = set(base) & set(cur)
    unmatched = [{"segment": dict(zip(keys, key)), "window": window, "n": stats[key].n}
                 for window, stats in (("baseline", base), ("current", cur))
                 for key in sorted(set(stats) - both, key=_sort_key)]
    return WindowMatch(keys, compared, {k: base[k] for k in both}, {k: cur[k] for k in both}, unmatched,
                       within, {k: v for k, v in labels.items() if k in both})


def _compare_within_model(base: dict[SegmentKey, SegmentStats], cur: dict[SegmentKey, SegmentStats], model_at: int,
                          key_at: int, key: str, labels: dict[SegmentKey, dict[str, str]]) -> tuple[
                              dict[SegmentKey, SegmentStats], dict[SegmentKey, SegmentStats], dict[Any, tuple[set, set]]]:
    """Match segments across ``key`` for each model served by both windows whose ``key`` values
    (its versions) do not overlap: a store where one model was swapped and another was not."""
    swaps: dict[Any, tuple[set, set]] = {}
    for model in {k[model_at] for k in base} & {k[model_at] for k in cur}:
        b = {k[key_at] for k in base if k[model_at] == model}
        c = {k[key_at] for k in cur if k[model_at] == model}
        if not b & c:
            swaps[model] = (b, c)
    if not swaps:
        return base, cur, swaps

    def relabel(stats: dict[SegmentKey, SegmentStats]) -> dict[SegmentKey, SegmentStats]:
        out: dict[SegmentKey, SegmentStats] = {}
        for k, v in stats.items():
            if k[model_at] in swaps:
                k = k[:key_at] + (_label(swaps[k[model_at]][1]),) + k[key_at + 1:]
            out[k] = out[k] + v if k in out else v
        return out

    base, cur = relabel(base), relabel(cur)
    for k in cur:
        if k[model_at] in swaps:
            labels.setdefault(k, {})[key] = _label(swaps[k[model_at]][0])
    return base, cur, swaps


def suggest_keys(baseline: dict[SegmentKey, SegmentStats], current: dict[SegmentKey, SegmentStats],
                 by: list[str]) -> tuple[list[str], dict[str, int]]:
    """When no segment is in both windows: the largest subset of ``by`` that matches some
    segment, and the number of values each key shares across the windows.

    >>> base = {("a", "x"): SegmentStats(n=1), ("b", "y"): SegmentStats(n=1)}
    >>> cur = {("a", "y"): SegmentStats(n=1), ("b", "x"): SegmentStats(n=1)}
    >>> suggest_keys(base, cur, ["model", "route"])
    (['model'], {'model': 2, 'route': 2})
    """
    shared = {key: len({k[i] for k in baseline} & {k[i] for k in current}) for i, key in enumerate(by)}
    for size in range(len(by), 0, -1):
        for subset in combinations(range(len(by)), size):
            if set(_project(baseline, list(subset))) & set(_project(current, list(subset))):
                return [by[i] for i in subset], {k: n for k, n in shared.items() if n}
    return [], {k: n for k, n in shared.items() if n}


def nothing_matched(baseline: dict[SegmentKey, SegmentStats], current: dict[SegmentKey, SegmentStats],
                    by: list[str], keys: list[str] | None = None) -> NothingToCompare:
    """The error for two windows (statistics keyed by ``by``) that share no segment under ``keys``
    (the keys :func:`match_windows` kept; default ``by``).

    >>> base = {("v1", "chat"): SegmentStats(n=5)}
    >>> print(nothing_matched(base, {("v2", "faq"): SegmentStats(n=5)}, ["model_version", "route"], ["route"]))
    no segment has events in both windows (segments by route); no route is in both (baseline: chat; current: faq)
    """
    if keys is not None:
        positions = [by.index(k) for k in keys]
        baseline, current, by = _project(baseline, positions), _project(current, positions), list(keys)
    keys, shared = suggest_keys(baseline, current, by)
    disjoint = [(i, k) for i, k in enumerate(by) if k not in shared]
    parts = [f"no segment has events in both windows (segments by {', '.join(by)})"]
    parts += [f"no {k} is in both (baseline: {_label({s[i] for s in baseline})}; "
              f"current: {_label({s[i] for s in current})})" for i, k in disjoint]
    if shared:
        parts.append("the windows share these keys: "
                     + ", ".join(f"{k} ({n} value{'s' if n > 1 else ''})" for k, n in shared.items()))
    return NothingToCompare("; ".join(parts), keys=keys, shared=shared)


def compare_windows(baseline: dict[SegmentKey, SegmentStats], current: dict[SegmentKey, SegmentStats],
                    by: list[str], policy: PolicyConfig, *,
                    compared: dict[str, tuple[str, str]] | None = None,
                    baseline_labels: dict[SegmentKey, dict[str, str]] | None = None) -> list[Finding]:
    """Findings for every segment x metric, with the policy applied across all of them.

    ``compared`` keys were dropped from ``by``: each segment is labelled with the current value and
    ``details["baseline_<key>"]`` holds the baseline's. ``baseline_labels`` does the same for
    segments matched across a key within one model only (see :func:`match_windows`)."""
    findings: list[Finding] = []
    empty = SegmentStats()
    for key in sorted(set(baseline) | set(current), key=_sort_key):
        b = baseline.get(key, empty)
        c = current.get(key, empty)
        segment: dict[str, Any] = {k: v for k, v in zip(by, key)}
        for name, (baseline_value, current_value) in (compared or {}).items():
            if name in by:  # compared within some models only: the key holds each segment's own value
                continue
            # label the segment with the side that served it: a route only the baseline
            # version served is named with the baseline version
            segment[name] = current_value if c.n or not b.n else baseline_value
        new = _segment_findings(segment, b, c, policy)
        for f in new:
            f.details.update({f"baseline_{name}": value for name, value in (baseline_labels or {}).get(key, {}).items()})
        findings.extend(new)
    findings = apply_policy(findings, policy)
    for f in findings:
        for name, (baseline_value, _) in (compared or {}).items():
            if name not in by:
                f.details[f"baseline_{name}"] = baseline_value
    order = {m: i for i, m in enumerate(METRICS)}
    findings.sort(key=lambda f: (f.segment_key, order.get(f.metric, 99)))
    return findings


def _segment_findings(segment: dict[str, Any], b: SegmentStats, c: SegmentStats,
                      policy: PolicyConfig) -> list[Finding]:
    """The segment's findings, one per row of the metric table; a rate whose denominator is empty
    in both windows is not applicable (no event expects JSON, none carries a schema or a task
    label) and yields no finding, and so is ``reasoning_length`` when neither window holds a
    response with reasoning."""
    findings = [compare_length(segment, b.length, c.length, policy, events_baseline=b.n, events_current=c.n)]
    if b.reasoning.n or c.reasoning.n:
        findings.append(compare_length(segment, b.reasoning, c.reasoning, policy, events_baseline=b.n,
                                       events_current=c.n, metric="reasoning_length"))
    for metric in RATE_METRICS:
        (xb, nb), (xc, nc) = b.rate(metric.numerator, metric.denominator), c.rate(metric.numerator, metric.denominator)
        if nb or nc or metric.name == "refusal_rate":
            findings.append(compare_rate(metric.name, segment, xb, nb, xc, nc, policy))
    return findings
