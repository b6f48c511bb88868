"""``llm-monitor nightly``: compare a day with its trailing baseline, once a night.

Steps (each one line on stdout, a progress bar on stderr when it is a terminal):

1. compaction of the day's small segments (:mod:`monitor.compaction`; skipped with
   ``--no-compact``);
2. the comparison: current = the UTC day ``--date`` (default: yesterday), baseline = the
   ``nightly.baseline_days`` (default 7) days before it, or the pinned selector
   ``nightly.baseline`` from the config (e.g. ``model_version=2026-10-01``). Segments default to
   the configured ``segments.by`` without ``model_version`` (``model,route``): a new model version
   has no history of its own, so segmenting by it would compare nothing. The versions seen in
   each window are named in every finding's ``details`` (``versions_baseline``,
   ``versions_current``, ``new_versions``);
3. for every alert, the change point (:mod:`detectors.changepoint`) on the hourly series of the
   segment over baseline and current: ``changed_at`` (first hour of the new regime),
   ``changed_at_low`` / ``changed_at_high`` (95% credible interval) and
   ``versions_near_change`` (model versions first seen in the segment within an hour of that
   interval);
4. the findings go through :func:`monitor.alerting.dispatch` (alert log, lifecycle, outbox,
   Sentry with a DSN);
5. with ``--report PATH`` (checked before anything runs), the HTML report
   (:func:`monitor.report.write_report`).

With a DSN (``SENTRY_DSN`` or ``sentry.dsn``) the whole job is wrapped in a Sentry Crons
check-in pair under ``sentry.monitor_slug`` (``in_progress``, then ``ok`` or ``error`` with the
same ``check_in_id``); the ``monitor_config`` carries ``sentry.schedule``, ``sentry.timezone``,
``sentry.checkin_margin`` and ``sentry.max_runtime``, so Sentry also alerts when the job never
starts or runs too long. Alerts found do not make the check-in an error: the job worked.

Exit codes: 0 = no alert, 1 = at least one alert, 2 = error (one line on stderr).

Example (a store with no events: nothing to compare, exit 0):
    >>> import argparse, tempfile
    >>> args = argparse.Namespace(store=tempfile.mkdtemp(), config=None, date="2026-11-25", report=None,
    ...                           by=None, no_compact=False)
    >>> run_nightly(args)  # doctest: +ELLIPSIS
    compaction: nothing to merge
    baseline: since=2026-11-18,until=2026-11-25 (0 events); current: since=2026-11-25,until=2026-11-26 (0 events)
    ...
    0
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from typing import Any, Iterable, TextIO

import numpy as np
import pandas as pd

from detectors.changepoint import changepoint_counts, changepoint_rate
from detectors.finding import Finding
from detectors.histogram import IntHistogram
from monitor.errors import UserError

EXIT_OK, EXIT_ALERT, EXIT_ERROR = 0, 1, 2
RATE_COLUMNS = {
    "refusal_rate": ("refusals", "n"),
    "parse_failure_rate": ("parse_failures", "json_n"),
    "task_success_rate": ("task_successes", "task_n"),
}
"""Per rate metric: (numerator, denominator) columns of :func:`monitor.windows.time_series`."""


# ------------------------------------------------------------------------------- progress
class Progress:
    """A minimal progress bar on stderr; silent when the stream is not a terminal.

    >>> import io
    >>> p = Progress(io.StringIO())          # not a TTY: draws nothing
    >>> p.update("compaction", 3, 10); p.done("compaction")
    >>> p.stream.getvalue()
    ''
    """

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            isatty = getattr(self.stream, "isatty", None)
            enabled = bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
        self.enabled = enabled
        self.width = width
        self._last = 0.0

    def update(self, label: str, done: int, total: int) -> None:
        """Draw ``label [#####-----] done/total`` (at most 20 times a second)."""
        if not self.enabled or total <= 0:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.05:
            return
        self._last = now
        filled = int(self.width * done / total)
        self.stream.write(f"\r{label:<14} [{'#' * filled}{'-' * (self.width - filled)}] {done}/{total}")
        self.stream.flush()

    def done(self, label: str) -> None:
        """Clear the bar's line."""
        if self.enabled:
            self.stream.write("\r" + " " * (self.width + 30) + "\r")
            self.stream.flush()

    def steps(self, label: str, items: Iterable[Any], total: int) -> Iterable[Any]:
        """Iterate ``items`` while drawing the bar."""
        for i, item in enumerate(items):
            self.update(label, i, total)
            yield item
        self.update(label, total, total)
        self.done(label)


# ------------------------------------------------------------------------------- windows
def parse_day(text: str | None, *, today: dt.date | None = None) -> dt.date:
    """The day to check: ``YYYY-MM-DD``, default yesterday (UTC).

    >>> parse_day("2026-11-25"), parse_day(None, today=dt.date(2026, 3, 1))
    (datetime.date(2026, 11, 25), datetime.date(2026, 2, 28))
    """
    if text:
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise UserError(f"--date {text!r} is not a date: use YYYY-MM-DD") from None
    today = today or dt.datetime.now(dt.timezone.utc).date()
    return today - dt.timedelta(days=1)


def nightly_windows(day: dt.date, baseline_days: int = 7, pinned: str | None = None) -> tuple[str, str]:
    """(baseline, current) selectors for ``day``.

    >>> nightly_windows(dt.date(2026, 11, 25))
    ('since=2026-11-18,until=2026-11-25', 'since=2026-11-25,until=2026-11-26')
    >>> nightly_windows(dt.date(2026, 11, 25), pinned="model_version=v1")[0]
    'model_version=v1'
    """
    current = f"since={day.isoformat()},until={(day + dt.timedelta(days=1)).isoformat()}"
    if pinned:
        return pinned, current
    start = day - dt.timedelta(days=baseline_days)
    return f"since={start.isoformat()},until={day.isoformat()}", current


def nightly_keys(by: str | None, configured: list[str]) -> list[str]:
    """Segment keys: ``--by`` if given, else the configured keys without ``model_version``.

    >>> nightly_keys(None, ["model", "model_version", "route"]), nightly_keys("route", [])
    (['model', 'route'], ['route'])
    """
    if by:
        return [k.strip() for k in by.split(",") if k.strip()]
    return [k for k in configured if k != "model_version"] or ["model"]


# ------------------------------------------------------------------------------- versions
def _or_where(*selectors: str) -> tuple[str, list[Any]]:
    from monitor.selectors import parse_selector

    terms, params = [], []
    for text in selectors:
        where, p = parse_selector(text).where()
        terms.append(f"({where})")
        params.extend(p)
    return " OR ".join(terms), params


def version_inventory(m: Any, keys: list[str], baseline: str, current: str) -> pd.DataFrame:
    """Per segment and model version: events in each window and first/last time seen in either.

    Columns: the segment ``keys``, ``model_version``, ``n_baseline``, ``n_current``,
    ``first_seen``, ``last_seen``.
    """
    from monitor.selectors import parse_selector

    bw, bp = parse_selector(baseline).where()
    cw, cp = parse_selector(current).where()
    sel = "".join(f"{k}, " for k in keys if k != "model_version")
    query = (f"SELECT {sel} model_version, count(*) FILTER (WHERE {bw}) AS n_baseline, "
             f"count(*) FILTER (WHERE {cw}) AS n_current, min(ts) AS first_seen, max(ts) AS last_seen "
             f"FROM events WHERE ({bw}) OR ({cw}) GROUP BY ALL ORDER BY ALL")
    return m.sql(query, bp + cp + bp + cp)


def _segment_mask(frame: pd.DataFrame, segment: dict[str, Any]) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in segment.items():
        if k in frame.columns:
            col = frame[k]
            mask &= (col.isna().to_numpy() if v is None else (col == v).fillna(False).to_numpy(dtype=bool))
    return mask


def name_versions(findings: list[Finding], inventory: pd.DataFrame, keys: list[str]) -> None:
    """Fill ``details`` with the model versions each window of a finding's segment saw."""
    for f in findings:
        seg = {k: f.segment.get(k) for k in keys if k != "model_version" and k in f.segment}
        rows = inventory[_segment_mask(inventory, seg)]
        base = {str(r.model_version): int(r.n_baseline) for r in rows.itertuples() if r.n_baseline}
        cur = {str(r.model_version): int(r.n_current) for r in rows.itertuples() if r.n_current}
        f.details["versions_baseline"] = base
        f.details["versions_current"] = cur
        f.details["new_versions"] = sorted(set(cur) - set(base))


# ------------------------------------------------------------------------------- change points
def _iso(value: Any) -> str:
    return pd.Timestamp(value).tz_convert("UTC").isoformat().replace("+00:00", "Z")


def _segment_where(segment: dict[str, Any], keys: list[str]) -> tuple[str, list[Any]]:
    terms, params = [], []
    for k in keys:
        if k not in segment:
            continue
        if segment[k] is None:
            terms.append(f"{k} IS NULL")
        else:
            terms.append(f"{k} = ?")
            params.append(segment[k])
    return " AND ".join(terms) or "TRUE", params


def _length_series(m: Any, where: str, params: list[Any], measure: str) -> tuple[list[Any], np.ndarray]:
    """Hourly counts of the (non-refusal) length in the 4 bins between the pooled quartiles."""
    pooled = m.sql(f"SELECT {measure} AS v, count(*) AS c FROM events WHERE ({where}) AND {measure} IS NOT NULL "
                   f"AND NOT coalesce(refusal, false) GROUP BY 1", params)
    if pooled.empty:
        return [], np.zeros((0, 1))
    hist = IntHistogram.from_pairs(pooled.v.to_numpy(), pooled.c.to_numpy())
    cuts = sorted({int(hist.order_statistic(min(hist.n - 1, int(hist.n * q / 4)))) for q in (1, 2, 3)})
    case = " ".join(f"WHEN {measure} <= {c} THEN {i}" for i, c in enumerate(cuts))
    frame = m.sql(f"SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, CASE {case} ELSE {len(cuts)} END AS bin, "
                  f"count(*) AS c FROM events WHERE ({where}) AND {measure} IS NOT NULL "
                  f"AND NOT coalesce(refusal, false) GROUP BY ALL ORDER BY ALL", params)
    table = frame.pivot_table(index="bucket", columns="bin", values="c", fill_value=0, aggfunc="sum").sort_index()
    return list(table.index), table.to_numpy(dtype=np.float64)


def locate_changes(m: Any, findings: list[Finding], keys: list[str], baseline: str, current: str, *,
                   confidence: float = 0.95, inventory: pd.DataFrame | None = None,
                   progress: Progress | None = None) -> None:
    """Fill ``changed_at``, ``changed_at_low/high`` and ``versions_near_change`` of every alert.

    The series is hourly over the union of both windows, restricted to the finding's segment
    (on ``keys``); the estimate is :func:`detectors.changepoint.changepoint_rate` for rates and
    the quartile-bin count change (as :func:`detectors.changepoint.changepoint_length`) for length.
    """
    alerts = [f for f in findings if f.alert]
    if not alerts:
        return
    window_where, window_params = _or_where(baseline, current)
    from monitor.store import EVENT_COLUMNS

    measure = m.config.length_measure if m.config.length_measure in EVENT_COLUMNS else "chars"
    if inventory is None:
        inventory = version_inventory(m, keys, baseline, current)
    series_cache: dict[str, pd.DataFrame] = {}
    items = progress.steps("change points", alerts, len(alerts)) if progress else alerts
    for f in items:
        seg_where, seg_params = _segment_where(f.segment, [k for k in keys if k != "model_version"])
        where = f"({window_where}) AND {seg_where}"
        params = window_params + seg_params
        if f.metric == "response_length":
            times, matrix = _length_series(m, where, params, measure)
            if len(times) < 2:
                continue
            result = changepoint_counts(matrix, times=times, confidence=confidence)
        else:
            num, den = RATE_COLUMNS[f.metric]
            key = f.segment_key
            if key not in series_cache:
                series_cache[key] = m.sql(
                    "SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket, count(*) AS n, "
                    "count(*) FILTER (WHERE refusal) AS refusals, count(*) FILTER (WHERE expects_json) AS json_n, "
                    "count(*) FILTER (WHERE expects_json AND parse_failed) AS parse_failures, "
                    "count(task_success) AS task_n, count(*) FILTER (WHERE task_success) AS task_successes "
                    f"FROM events WHERE {where} GROUP BY 1 ORDER BY 1", params)
            series = series_cache[key]
            series = series[series[den] > 0]
            if len(series) < 2:
                continue
            result = changepoint_rate(series[num].to_numpy(), series[den].to_numpy(),
                                      times=list(series.bucket), confidence=confidence)
        if result.index is None:
            continue
        f.changed_at, f.changed_at_low, f.changed_at_high = _iso(result.time), _iso(result.time_low), _iso(result.time_high)
        f.details["change_log_bayes_factor"] = round(float(result.log_bayes_factor), 2)
        lo = pd.Timestamp(result.time_low) - pd.Timedelta(hours=1)
        hi = pd.Timestamp(result.time_high) + pd.Timedelta(hours=2)
        seg = {k: f.segment.get(k) for k in keys if k != "model_version" and k in f.segment}
        rows = inventory[_segment_mask(inventory, seg)]
        near = rows[(rows.first_seen >= lo) & (rows.first_seen < hi)]
        f.versions_near_change = sorted(str(v) for v in near.model_version.unique())


# ------------------------------------------------------------------------------- the job
def _dsn(config: Any) -> str | None:
    return config.sentry.dsn or os.environ.get("SENTRY_DSN") or None


def _count(m: Any, selector: str) -> int:
    from monitor.selectors import parse_selector

    where, params = parse_selector(selector).where()
    return int(m.sql(f"SELECT count(*) AS n FROM events WHERE {where}", params).n.iloc[0])


def nightly_job(m: Any, args: argparse.Namespace, progress: Progress, out: TextIO) -> int:
    """The job's body (no Sentry Crons); returns the exit code."""
    from monitor.alerting import dispatch, purge_outbox
    from monitor.compaction import compact
    from sinks.console import render_table, render_unmatched

    day = parse_day(getattr(args, "date", None))
    report_path = getattr(args, "report", None)
    if report_path:
        from monitor.report import check_report_path

        check_report_path(report_path)
    if not getattr(args, "no_compact", False):
        report = compact(m.store, day, progress=lambda d, t: progress.update("compaction", d, t))
        progress.done("compaction")
        print(report.summary(), file=out)
    keys = m._check_by(nightly_keys(getattr(args, "by", None), m.config.segment_by))
    baseline, current = nightly_windows(day, m.config.nightly_baseline_days, m.config.nightly_baseline)
    n_base, n_cur = _count(m, baseline), _count(m, current)
    print(f"baseline: {baseline} ({n_base} events); current: {current} ({n_cur} events)", file=out)
    if n_cur == 0 and n_base > 0:
        raise UserError(f"no events on {day.isoformat()} in {m.store.root} although the baseline has {n_base}: "
                        "is ingestion running?")
    progress.update("comparing", 0, 1)
    comparison = m.compare(baseline, current, by=keys)
    progress.done("comparing")
    inventory = version_inventory(m, comparison.by, baseline, current)
    name_versions(comparison.items, inventory, comparison.by)
    locate_changes(m, comparison.items, comparison.by, baseline, current, inventory=inventory, progress=progress)
    if comparison.items:
        print(render_table([f.to_dict() for f in comparison.items]), file=out)
    if comparison.unmatched:
        print(render_unmatched(comparison.unmatched), file=out)
    for f in comparison.alerts:
        since = f" since {f.changed_at} [{f.changed_at_low} .. {f.changed_at_high}]" if f.changed_at else ""
        versions = f"; versions near the change: {', '.join(f.versions_near_change)}" if f.versions_near_change else ""
        print(f"ALERT {f.metric} {f.segment_key}{since}{versions}", file=out)
    new_versions = new_versions_on(m, day) if m.config.sentry.alert_on_new_model else []
    for f in new_versions:
        print(f"ALERT {f.reason}", file=out)
    note = dispatch(comparison.items + new_versions, m.store, m.config, source="nightly")  # alerts first: a report
    if note:                                                                  # problem must not hold them
        print(note, file=out)
    purge_outbox(m.store, m.config)  # the outbox's retention ([outbox] retention_days)
    if report_path:
        from monitor.report import write_report

        path = write_report(m, comparison, report_path)
        print(f"report: {path}", file=out)
    print(f"{len(comparison.alerts) + len(new_versions)} alert(s) for {day.isoformat()}", file=out)
    return EXIT_ALERT if comparison.alerts or new_versions else EXIT_OK


def new_versions_on(m: Any, day: dt.date) -> list[Finding]:
    """``new_model_version`` findings for each model/version first seen on ``day`` (UTC)."""
    from monitor.models import new_version_findings

    inventory = m.models(since=day.isoformat())
    end = pd.Timestamp(day + dt.timedelta(days=1), tz="UTC")
    inventory["new"] = inventory["new"] & (inventory["first_seen"] < end)
    return new_version_findings(inventory)


def run_nightly(args: argparse.Namespace) -> int:
    """The ``nightly`` command: exit 0 (no alert), 1 (alerts) or 2 (error, one line on stderr)."""
    from monitor.api import open as open_monitor

    progress = Progress()
    try:
        m = open_monitor(getattr(args, "store", None), config=getattr(args, "config", None))
    except UserError as exc:
        sys.stderr.write(f"llm-monitor nightly: error: {exc}\n")
        return EXIT_ERROR
    dsn = _dsn(m.config)
    if not dsn:
        try:
            return nightly_job(m, args, progress, sys.stdout)
        except UserError as exc:
            sys.stderr.write(f"llm-monitor nightly: error: {exc}\n")
            return EXIT_ERROR
        except Exception as exc:  # noqa: BLE001 - one line, exit 2
            sys.stderr.write(f"llm-monitor nightly: error: {type(exc).__name__}: {exc}\n")
            return EXIT_ERROR
    return _run_with_crons(m, args, progress, dsn)


def _run_with_crons(m: Any, args: argparse.Namespace, progress: Progress, dsn: str) -> int:
    from sinks.crons import cron_job, monitor_config
    from sinks.sentry import SentrySink

    s = m.config.sentry
    try:
        cfg = monitor_config(s.schedule, timezone=s.timezone, checkin_margin=s.checkin_margin,
                             max_runtime=s.max_runtime)
    except ValueError as exc:
        sys.stderr.write(f"llm-monitor nightly: error: sentry.schedule: {exc}\n")
        return EXIT_ERROR
    try:
        sink = SentrySink(dsn=dsn, environment=s.environment, send_text=s.send_text)
    except Exception as exc:  # noqa: BLE001 - a malformed DSN: one line, exit 2
        sys.stderr.write(f"llm-monitor nightly: error: Sentry DSN: {type(exc).__name__}: {exc}\n")
        return EXIT_ERROR
    code = EXIT_ERROR
    try:
        with cron_job(s.monitor_slug, cfg) as run:
            try:
                code = nightly_job(m, args, progress, sys.stdout)
            finally:
                # dispatch() delivers through its own Sentry client and closes it; the closing
                # check-in needs a live client again.
                if not sentry_client_active():
                    sink = SentrySink(dsn=dsn, environment=s.environment, send_text=s.send_text)
        print(f"Sentry Crons: {s.monitor_slug} {run.status}")
    except UserError as exc:
        sys.stderr.write(f"llm-monitor nightly: error: {exc} (Sentry Crons: error)\n")
        code = EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - reported as a failed check-in, then one line, exit 2
        sys.stderr.write(f"llm-monitor nightly: error: {type(exc).__name__}: {exc} (Sentry Crons: error)\n")
        code = EXIT_ERROR
    finally:
        sink.close()
    return code


def sentry_client_active() -> bool:
    """True when the process-wide Sentry client is configured and open."""
    import sentry_sdk

    client = sentry_sdk.get_client()
    return bool(client.is_active()) and getattr(client, "transport", None) is not None
