"""The check runner: two windows of segment statistics in, policy-applied findings out.

For every segment seen in either window and every metric, one finding:
response length (KS + Wasserstein + median/p90 ratios), refusal rate, parse-failure rate
among events that expect JSON, task-success rate among events that carry a label. The
policy (minimum samples, practical floors, Benjamini-Hochberg across all findings of the
run) decides ``alert``.

When both selectors pin a segment key to different values (``model_version=a`` versus
``model_version=b``), that key is the thing being compared, so it is dropped from the
segmentation: routes are matched across versions. A route served by only one side gets
findings with ``n=0`` on the other and ``alert=false`` with the reason. A rate metric with no
eligible event in either window (no event expects JSON, no task label) is not applicable
and gives no finding.

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

from typing import Any

from detectors.finding import METRICS, Finding
from detectors.policy import PolicyConfig, apply_policy, compare_length, compare_rate
from monitor.selectors import Selector
from monitor.windows import SegmentKey, SegmentStats


def effective_keys(by: list[str], baseline: Selector, current: Selector) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Segment keys after dropping those the two selectors pin to different values.

    >>> from monitor.selectors import parse_selector
    >>> effective_keys(["model", "model_version", "route"], parse_selector("model_version=a"),
    ...                parse_selector("model_version=b"))
    (['model', 'route'], {'model_version': ('a', 'b')})
    """
    kept: list[str] = []
    compared: dict[str, tuple[str, str]] = {}
    for key in by:
        b, c = baseline.only_value(key), current.only_value(key)
        if b is not None and c is not None and b != c:
            compared[key] = (b, c)
        else:
            kept.append(key)
    return kept, compared


def compare_windows(baseline: dict[SegmentKey, SegmentStats], current: dict[SegmentKey, SegmentStats],
                    by: list[str], policy: PolicyConfig, *,
                    compared: dict[str, tuple[str, str]] | None = None) -> list[Finding]:
    """Findings for every segment x metric, with the policy applied across all of them."""
    findings: list[Finding] = []
    empty = SegmentStats()
    for key in sorted(set(baseline) | set(current), key=lambda k: tuple("" if v is None else str(v) for v in k)):
        b = baseline.get(key, empty)
        c = current.get(key, empty)
        segment: dict[str, Any] = {k: v for k, v in zip(by, key)}
        for name, (baseline_value, current_value) in (compared or {}).items():
            # label the segment with the side that served it: a route only the baseline
            # version served is named with the baseline version
            segment[name] = current_value if c.n or not b.n else baseline_value
        findings.extend(_segment_findings(segment, b, c, policy))
    findings = apply_policy(findings, policy)
    for f in findings:
        for name, (baseline_value, _) in (compared or {}).items():
            f.details[f"baseline_{name}"] = baseline_value
    order = {m: i for i, m in enumerate(METRICS)}
    findings.sort(key=lambda f: (f.segment_key, order.get(f.metric, 99)))
    return findings


def _segment_findings(segment: dict[str, Any], b: SegmentStats, c: SegmentStats,
                      policy: PolicyConfig) -> list[Finding]:
    """The segment's findings; a rate whose denominator is empty in both windows is not applicable
    (no event expects JSON, or none carries a task label) and yields no finding."""
    findings = [
        compare_length(segment, b.length, c.length, policy),
        compare_rate("refusal_rate", segment, b.refusals, b.n, c.refusals, c.n, policy),
    ]
    if b.json_n or c.json_n:
        findings.append(compare_rate("parse_failure_rate", segment, b.parse_failures, b.json_n,
                                     c.parse_failures, c.json_n, policy))
    if b.task_n or c.task_n:
        findings.append(compare_rate("task_success_rate", segment, b.task_successes, b.task_n,
                                     c.task_successes, c.task_n, policy))
    return findings
