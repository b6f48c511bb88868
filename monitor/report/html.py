"""The HTML report of a comparison: one self-contained file a reviewer reads in a minute.

``llm-monitor nightly --report PATH`` and ``llm-monitor check ... --report PATH`` write it with
:func:`write_report`. The file needs no network: the pictures are PNGs embedded as ``data:``
URIs, the style sheet is inline, there is no script, and a Content-Security-Policy meta tag
(``default-src 'none'; img-src data:; style-src 'unsafe-inline'``) makes the browser refuse
anything else. Every text taken from the data is HTML-escaped.

Sections (each an element with this id): ``summary`` (what regressed, by how much, since when,
which version), ``response-length`` (overlaid distributions and ECDFs), ``refusal-rate``,
``parse-failure-rate``, ``task-success-rate`` (time series with confidence bands, alert
markers and the change point), ``parse-failures`` (breakdown by ``parse_status``),
``examples`` (responses that newly fall into a refusal rule or a parse-failure status; text is
shown only in this local file and never when the store was ingested with redaction),
``all-findings`` and ``method``. See docs/REPORT.md.

Example:
    >>> import tempfile, os, monitor
    >>> m = monitor.open(tempfile.mkdtemp())
    >>> c = monitor.Comparison([], "since=2026-11-01,until=2026-11-02", "since=2026-11-02,until=2026-11-03",
    ...                        ["route"], monitor=m)
    >>> path = write_report(m, c, os.path.join(tempfile.mkdtemp(), "r.html"))
    >>> text = path.read_text()
    >>> 'id="summary"' in text and "http://" not in text and "https://" not in text
    True
"""

from __future__ import annotations

import datetime as dt
import html
import math
import os
import time
from pathlib import Path
from typing import Any

from detectors.finding import METRICS, Finding
from detectors.metrics import LENGTH_METRICS, METRIC_TABLE
from monitor.errors import UserError
from sinks.console import segment_key

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
SECTIONS = ("summary", *(m.name.replace("_", "-") for m in METRIC_TABLE),
            "parse-failures", "examples", "all-findings", "method")
"""The ids of the report's sections, in order."""
TITLES = {m.name: m.label for m in METRIC_TABLE}
EXAMPLE_CHARS = 600

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1d2330;background:#fff}
main{max-width:1100px;margin:0 auto;padding:0 24px 48px}
header{background:#1d2330;color:#fff;padding:18px 24px}
header h1{margin:0 0 6px;font-size:22px} header p{margin:2px 0;font-size:13px;color:#cfd6e4}
nav{font-size:13px;margin:12px 0 0} nav a{color:#9ec1ff;margin-right:14px}
h2{border-bottom:2px solid #e5e8ef;padding-bottom:4px;margin-top:36px}
.banner{padding:12px 16px;border-radius:6px;margin:16px 0;font-weight:600}
.bad{background:#fdecee;border:1px solid #f3b4bc;color:#8a1c2b}
.good{background:#e9f7ef;border:1px solid #a8dcbc;color:#17603a}
ul.alerts li{margin:8px 0;line-height:1.45}
table{border-collapse:collapse;font-size:12.5px;width:100%;margin:8px 0}
th,td{border-bottom:1px solid #e5e8ef;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f6f9} tr.alert td{background:#fff4f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}\ntd{overflow-wrap:anywhere} td.reason{min-width:16em}
img{max-width:100%;height:auto;border:1px solid #eef0f4;margin:6px 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f7f7f9;border:1px solid #e5e8ef;padding:8px;
font-size:12px;margin:4px 0 14px;max-height:16em;overflow:auto}
.muted{color:#687083;font-size:13px} .tag{display:inline-block;background:#eef1f7;border-radius:4px;padding:1px 6px;
font-size:12px;margin-right:4px} .tag.alert{background:#fdecee;color:#8a1c2b}
details summary{cursor:pointer;font-weight:600}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _ok(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def fmt_value(metric: str, value: Any) -> str:
    """A metric value for people: ``346 chars`` or ``5.8%``.

    >>> fmt_value("response_length", 346.0), fmt_value("refusal_rate", 0.0581), fmt_value("refusal_rate", None)
    ('346 chars', '5.8%', 'n/a')
    """
    if not _ok(value):
        return "n/a"
    if metric in LENGTH_METRICS:
        return f"{value:,.0f} chars"
    return f"{value:.1%}"


def fmt_effect(f: Finding) -> str:
    """``+3.9 pp (95% CI +2.0..+5.9)`` for rates, ``+39.0% (95% CI +31.3%..+47.2%)`` for length."""
    if not _ok(f.effect):
        return "n/a"
    if f.metric in LENGTH_METRICS:
        text = f"{f.effect:+.1%} median"
        if _ok(f.ci_low) and _ok(f.ci_high):
            text += f" (95% CI {f.ci_low:+.1%}..{f.ci_high:+.1%})"
        return text
    text = f"{f.effect * 100:+.1f} pp"
    if _ok(f.ci_low) and _ok(f.ci_high):
        text += f" (95% CI {f.ci_low * 100:+.1f}..{f.ci_high * 100:+.1f})"
    return text


def _when(value: Any) -> str:
    try:
        return f"{value:%Y-%m-%d %H:%M:%S} UTC"
    except (TypeError, ValueError):
        return str(value)


def _stamp(text: str | None) -> str:
    if not text:
        return ""
    return str(text).replace("T", " ").replace(":00Z", " UTC").replace("Z", " UTC")


def _versions(f: Finding) -> str:
    d = f.details or {}
    parts = []
    for name, value in d.items():
        if name.startswith("baseline_") and name[9:] in f.segment:
            parts.append(f"{name[9:]} {value} -> {f.segment[name[9:]]}")
    if d.get("versions_current") is not None:
        base = ", ".join(sorted(d.get("versions_baseline") or {})) or "none"
        cur = ", ".join(sorted(d.get("versions_current") or {})) or "none"
        parts.append(f"versions: baseline {base}; current {cur}")
        if d.get("new_versions"):
            parts.append("new in the current window: " + ", ".join(d["new_versions"]))
    return "; ".join(parts)


def _img(fig: Any, alt: str) -> str:
    from monitor.report.plots import to_png_base64

    try:
        data = to_png_base64(fig)
    finally:
        fig.clear()
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _summary(data: Any) -> str:
    alerts = [f for f in data.findings if f.alert]
    out = ['<section id="summary"><h2>Summary</h2>']
    if alerts:
        out.append(f'<div class="banner bad">{len(alerts)} alert(s) found across '
                   f'{len({f.segment_key for f in alerts})} regressed segment(s)</div><ul class="alerts">')
        for f in alerts:
            since = ""
            if f.changed_at:
                since = (f"; changed at about <b>{_e(_stamp(f.changed_at))}</b> "
                         f"(95% interval {_e(_stamp(f.changed_at_low))} .. {_e(_stamp(f.changed_at_high))})")
            near = (f"; version(s) first seen near the change: <b>{_e(', '.join(f.versions_near_change))}</b>"
                    if f.versions_near_change else "")
            versions = _versions(f)
            out.append(
                f'<li><span class="tag alert">{_e(f.severity)}</span><b>{_e(TITLES.get(f.metric, f.metric))}</b> on '
                f'<b>{_e(", ".join(f"{k}={v}" for k, v in f.segment.items()))}</b>: '
                f'{_e(fmt_value(f.metric, f.baseline_value))} &rarr; <b>{_e(fmt_value(f.metric, f.current_value))}</b>, '
                f'{_e(fmt_effect(f))}, q={_e(f"{f.q_value:.2g}" if _ok(f.q_value) else "n/a")}'
                f'{since}{near}'
                + (f'<br><span class="muted">{_e(versions)}</span>' if versions else "") + "</li>")
        out.append("</ul>")
    else:
        out.append('<div class="banner good">No regression found: no finding passed both the significance '
                   'test (after multiple-testing correction) and the practical-effect floor.</div>')
    if data.unmatched:
        out.append('<p class="muted">Not compared (events in only one window, so no alert is possible): '
                   + ", ".join(f"<code>{_e(segment_key(u['segment']))}</code> ({_e(u['window'])} only, n={u['n']})"
                               for u in data.unmatched) + "</p>")
    too_few = sorted({f.segment_key for f in data.findings if not f.testable and f.n_baseline and f.n_current})
    if too_few:
        out.append('<p class="muted">Too few events to test: '
                   + ", ".join(f"<code>{_e(s)}</code>" for s in too_few) + "</p>")
    out.append("</section>")
    return "\n".join(out)


def _metric_section(data: Any, metric: str, measure: str) -> str:
    from monitor.report.plots import figures

    sid = metric.replace("_", "-")
    title = TITLES[metric]
    rel = [f for f in data.findings if f.metric == metric]
    out = [f'<section id="{sid}"><h2>{_e(title)}</h2>']
    if not rel:
        why = ("no response carries reasoning" if metric == "reasoning_length"
               else "no event expects JSON / carries a schema / carries a task label")
        out.append(f'<p class="muted">Not applicable: no segment has events for this metric ({why}).</p></section>')
        return "\n".join(out)
    n_alerts = sum(f.alert for f in rel)
    if metric in LENGTH_METRICS:
        what = "response length" if metric == "response_length" else "reasoning length (responses with reasoning)"
        explain = (f"Distribution of {what} (non-refusals) in the baseline and current windows, "
                   "per segment: density on log-spaced bins (left) and empirical CDF with medians (right).")
    else:
        widths = ", ".join(f"{w} per {f}" for w, f in data.freq.items())
        explain = (f"Rate per time bucket ({_e(widths)}) in each window with its 95% Wilson band; dashed lines are "
                   "the window-level rates; the red marker flags an alert; the black line and grey band are the "
                   "estimated change point and its 95% interval.")
    out.append(f'<p class="muted">{explain} {n_alerts} alert(s) among {len(rel)} segment(s); '
               "alerts are drawn first (up to 4 segments, or every alert up to 8).</p>")
    out.append(_img(figures(data, metric, measure=measure), f"{title} per segment"))
    out.append("</section>")
    return "\n".join(out)


def _parse_section(data: Any) -> str:
    from monitor.report.plots import figures, segment_label
    from monitor.report.data import segment_rows

    out = ['<section id="parse-failures"><h2>Parse failures by status</h2>']
    rel = [f for f in data.findings if f.metric == "parse_failure_rate"]
    if not rel or data.parse_status.empty:
        out.append('<p class="muted">No JSON-expecting events in these windows.</p></section>')
        return "\n".join(out)
    out.append('<p class="muted">Share of each parse status among events that expect JSON '
               "(ok omitted from the picture).</p>")
    out.append(_img(figures(data, "parse_status"), "parse failures by status"))
    out.append("<table><tr><th>segment</th><th>parse_status</th><th>baseline</th><th>current</th></tr>")
    seen = set()
    for f in rel:
        key = data.key_of(f)
        if key in seen:
            continue
        seen.add(key)
        rows = segment_rows(data.parse_status, data.keys, key)
        totals = rows.groupby("window").n.sum()
        for status in sorted(rows.parse_status.unique()):
            cells = []
            for window in ("baseline", "current"):
                n = int(rows[(rows.window == window) & (rows.parse_status == status)].n.sum())
                total = int(totals.get(window, 0))
                cells.append(f'<td class="num">{n:,} ({n / total:.1%})</td>' if total else '<td class="num">-</td>')
            out.append(f"<tr><td>{_e(segment_label(data.segment_of(f)))}</td><td>{_e(status)}</td>{''.join(cells)}</tr>")
    out.append("</table></section>")
    return "\n".join(out)


def _shell_word(text: str) -> str:
    return text if text and all(c.isalnum() or c in "=,._-:/|" for c in text) and "|" not in text else f"'{text}'"


def _examples_section(data: Any) -> str:
    out = ['<section id="examples"><h2>Examples of new refusals and parse failures</h2>',
           '<p class="muted">Responses from the current window in a refusal rule or parse-failure status whose rate '
           "rose by half or more over the baseline (alerting segments first). Shown only in this local file; "
           "never sent to Sentry.</p>",
           '<p class="muted">To audit the refusal classifier on a reproducible random sample of its decisions '
           "(class, rule and the matched text of each): <code>llm-monitor sample --select "
           f"{_e(_shell_word(data.current))} --where refusal_class=full_refusal</code> "
           "(<code>m.sample(...)</code> in Python; docs/SIGNALS.md).</p>"]
    if data.text_note:
        out.append(f"<p><b>{_e(data.text_note)}</b></p>")
    if data.examples is None or data.examples.empty:
        if not data.text_note:
            out.append('<p class="muted">No refusal rule or parse-failure status rose in the current window.</p>')
        out.append("</section>")
        return "\n".join(out)
    for row in data.examples.itertuples(index=False):
        seg = ", ".join(f"{k}={getattr(row, k)}" for k in ("model", "model_version", "route") if hasattr(row, k))
        extra = ""
        if row.kind == "parse failure" and getattr(row, "parse_error", None):
            extra = f" &middot; {_e(row.parse_error)}"
        if getattr(row, "finish_reason", None):
            extra += f" &middot; finish_reason={_e(row.finish_reason)}"
        out.append(f'<div><span class="tag">{_e(row.kind)}: {_e(row.class_ if hasattr(row, "class_") else row[1])}'
                   f'</span><span class="muted">{_e(seg)} &middot; {_e(_when(row.ts))} &middot; {_e(row.request_id)}'
                   f"{extra}</span></div>")
        text = row.response
        if text is None or (isinstance(text, float) and math.isnan(text)):
            out.append('<pre class="muted">(text not shown: redacted in the store)</pre>')
        else:
            clipped = text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + " [...]"
            out.append(f"<pre>{_e(clipped)}</pre>")
    out.append("</section>")
    return "\n".join(out)


def _findings_table(data: Any) -> str:
    out = ['<section id="all-findings"><h2>All findings</h2>',
           f"<details{' open' if len(data.findings) <= 30 else ''}><summary>{len(data.findings)} finding(s): "
           "every metric on every segment</summary>",
           "<table><tr><th>metric</th><th>segment</th><th>n baseline / current</th><th>baseline &rarr; current</th>"
           "<th>effect</th><th>q</th><th>alert</th><th>changed at</th><th>reason</th></tr>"]
    for f in data.findings:
        out.append(
            f'<tr class="{"alert" if f.alert else ""}"><td>{_e(f.metric)}</td><td>{_e(f.segment_key)}</td>'
            f'<td class="num">{f.n_baseline:,} / {f.n_current:,}</td>'
            f'<td class="num">{_e(fmt_value(f.metric, f.baseline_value))} &rarr; {_e(fmt_value(f.metric, f.current_value))}</td>'
            f'<td class="num">{_e(fmt_effect(f))}</td>'
            f'<td class="num">{_e(f"{f.q_value:.2g}" if _ok(f.q_value) else "-")}</td>'
            f'<td>{"ALERT" if f.alert else ""}</td><td>{_e(_stamp(f.changed_at))}</td><td class="reason">{_e(f.reason)}</td></tr>')
    out.append("</table></details></section>")
    return "\n".join(out)


def _method(m: Any, data: Any) -> str:
    policy = m.config.policy
    floors = ", ".join(f"{k} {v:g}" for k, v in sorted(policy.floors.items()))
    compared = "; ".join(f"{k}: {a} (baseline) vs {b} (current)" for k, (a, b) in data.compared.items())
    return (
        '<section id="method"><h2>How to read this</h2><ul class="muted">'
        f"<li>Segments: {_e(', '.join(data.keys) or 'all events')}"
        + (f"; compared key {_e(compared)}, so segments are matched across it." if compared else ".") + "</li>"
        f"<li>An alert needs a Benjamini-Hochberg q-value &le; {policy.alpha:g} across all findings of this run "
        f"and an effect at least the practical floor ({_e(floors)}); at least {policy.min_samples} events per window."
        "</li><li>Length compares the distribution of non-refusal responses (KS, Wasserstein, median and p90 "
        "ratio); its effect is the relative change of the median.</li>"
        "<li>Rates: parse failures count among events that expect JSON, task success among labelled events. "
        "A segment with events in only one window is listed as not compared and never alerts.</li>"
        "<li>Change points come from the hourly series of the segment across both windows (Bayesian single "
        "change point, 95% credible interval); the versions named are those first seen in the segment within "
        "an hour of that interval.</li></ul></section>")


def render_report(m: Any, comparison: Any, *, title: str | None = None) -> str:
    """The report as one HTML string (see the module doc)."""
    from monitor.attribution import locate_changes, name_versions, version_inventory
    from monitor.report.data import gather

    started = time.perf_counter()
    data = gather(m, comparison)
    if data.store_windows and data.findings:
        if any(f.alert and not f.changed_at for f in data.findings) and _sequential(data):
            locate_changes(m, data.findings, data.keys, comparison.baseline, comparison.current)
        if any("versions_current" not in f.details for f in data.findings) and "model_version" not in data.keys:
            inventory = version_inventory(m, data.keys, comparison.baseline, comparison.current)
            name_versions([f for f in data.findings if "versions_current" not in f.details], inventory, data.keys)
    measure = m.config.length_measure
    regressed = len({f.segment_key for f in data.findings if f.alert})  # a segment that regressed, on any metric
    heading = title or ("llm-monitor report: " + (f"{regressed} regression(s)" if regressed else "no regression"))
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(heading)}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{_e(heading)}</h1>",
        f"<p>Baseline: <code>{_e(comparison.baseline)}</code>" + _range(data, "baseline") + "</p>",
        f"<p>Current: <code>{_e(comparison.current)}</code>" + _range(data, "current") + "</p>",
        f"<p>Store: {_e(m.store.root)} &middot; generated {generated}</p>",
        "<nav>" + "".join(f'<a href="#{s}">{s.replace("-", " ")}</a>' for s in SECTIONS) + "</nav></header><main>",
        _summary(data),
    ]
    for metric in METRICS:
        parts.append(_metric_section(data, metric, measure))
    parts += [_parse_section(data), _examples_section(data), _findings_table(data), _method(m, data)]
    parts.append(f'<p class="muted">Built in {time.perf_counter() - started:.1f} s by llm-monitor.</p>')
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _range(data: Any, window: str) -> str:
    span = data.window_ranges.get(window)
    if not span:
        return " (no events)" if data.store_windows else ""
    lo, hi = span
    return f" &middot; events from {_e(f'{lo:%Y-%m-%d %H:%M}')} to {_e(f'{hi:%Y-%m-%d %H:%M}')} UTC"


def _sequential(data: Any) -> bool:
    """True when the baseline ends before the current window starts (a change point is meaningful)."""
    b, c = data.window_ranges.get("baseline"), data.window_ranges.get("current")
    return bool(b and c and b[1] <= c[0] + dt.timedelta(hours=1))


def check_report_path(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`UserError` unless a report can be written at ``path``; returns it as a Path.

    >>> check_report_path("/no/such/dir/r.html")
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: report /no/such/dir/r.html: directory /no/such/dir does not exist
    """
    target = Path(path)
    if target.is_dir():
        raise UserError(f"report {path}: is a directory; give a file name such as report.html")
    if not target.parent.exists():
        raise UserError(f"report {path}: directory {target.parent} does not exist")
    return target


def write_report(monitor: Any, comparison: Any, path: str | os.PathLike[str], *, title: str | None = None) -> Path:
    """Write the self-contained HTML report of ``comparison`` to ``path`` (atomically); returns the path."""
    target = check_report_path(path)
    text = render_report(monitor, comparison, title=title)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UserError(f"report {path}: cannot write: {exc.strerror or exc}") from None
    return target
