"""Model inventory: every model / version seen in traffic, and which ones are new.

An unnoticed model swap is exactly what this tool exists to catch, so the inventory is
the first thing to look at after an alert, and a new version (or a new unpinned alias)
in traffic can itself raise an alert (``sentry.alert_on_new_model``).

Example:
    >>> import monitor, tempfile
    >>> model_inventory(monitor.open(tempfile.mkdtemp()), None).columns.tolist()[:4]
    ['model', 'model_version', 'first_seen', 'last_seen']
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from detectors.finding import Finding
from monitor.selectors import parse_time

INVENTORY_COLUMNS = ["model", "model_version", "first_seen", "last_seen", "events", "pinned",
                     "requested_models", "routes", "new"]


def model_inventory(monitor: Any, since: str | None) -> pd.DataFrame:
    """One row per (model, model_version); ``new`` is True when first seen at or after ``since``."""
    frame = monitor.sql(
        """SELECT model, model_version, min(ts) AS first_seen, max(ts) AS last_seen, count(*) AS events,
                  coalesce(bool_and(pinned), false) AS pinned,
                  array_sort(array_distinct(array_agg(requested_model) FILTER (WHERE requested_model IS NOT NULL)))
                      AS requested_models,
                  count(DISTINCT route) AS routes
           FROM events GROUP BY model, model_version ORDER BY model, first_seen, model_version""")
    if since:
        frame["new"] = frame["first_seen"] >= parse_time(since, "since")
    else:
        frame["new"] = False
    return frame.reindex(columns=INVENTORY_COLUMNS)


def new_version_findings(inventory: pd.DataFrame) -> list[Finding]:
    """One alerting finding (metric ``new_model_version``) per inventory row marked ``new``.

    An unpinned identifier (``llama3:latest``, ``gpt-4o`` without a snapshot) is an error:
    the model behind it can change without any sign in the logs. A new pinned version is a
    warning: a swap happened, and the regression checks will say whether it mattered.

    >>> inv = pd.DataFrame([{"model": "llama3", "model_version": "unknown", "events": 40, "pinned": False,
    ...                      "first_seen": pd.Timestamp("2026-11-20", tz="UTC"), "new": True}])
    >>> f = new_version_findings(inv)[0]
    >>> f.metric, f.severity, f.alert
    ('new_model_version', 'error', True)
    """
    findings = []
    for row in inventory[inventory["new"]].itertuples(index=False):
        pinned = bool(row.pinned)
        findings.append(Finding(
            metric="new_model_version", segment={"model": row.model, "model_version": row.model_version},
            n_baseline=0, n_current=int(row.events), alert=True, direction="none",
            severity="warning" if pinned else "error",
            reason=(f"new model version in traffic: {row.model} {row.model_version}, first seen "
                    f"{row.first_seen:%Y-%m-%d %H:%M} UTC, {int(row.events)} events"
                    + ("" if pinned else "; NOT pinned: the model behind this name can change silently")),
            details={"pinned": pinned, "first_seen": str(row.first_seen)}))
    return findings


def render_inventory(frame: pd.DataFrame) -> str:
    """A fixed-width table of the inventory for the terminal; the model and version columns are as
    wide as their longest value, so long ids (Bedrock ARNs, inference profiles) stay whole.

    >>> inv = pd.DataFrame([{"model": "anthropic.claude-3-5-sonnet-20241022-v2:0", "model_version": "20241022-v2:0",
    ...     "first_seen": pd.Timestamp("2026-11-20", tz="UTC"), "last_seen": pd.Timestamp("2026-11-21", tz="UTC"),
    ...     "events": 3, "pinned": True, "new": False}])
    >>> "anthropic.claude-3-5-sonnet-20241022-v2:0 " in render_inventory(inv)
    True
    """
    if frame.empty:
        return "no events in the store"
    mw = max(28, *(len(str(m)) for m in frame["model"]))
    vw = max(24, *(len(str(v)) for v in frame["model_version"]))
    header = (f"{'model':<{mw}} {'version':<{vw}} {'first seen (UTC)':<17} {'last seen (UTC)':<17} {'events':>9}"
              "  pinned  new")
    lines = [header, "-" * len(header)]
    for row in frame.itertuples(index=False):
        lines.append(f"{str(row.model):<{mw}} {str(row.model_version):<{vw}} "
                     f"{row.first_seen:%Y-%m-%d %H:%M} {row.last_seen:%Y-%m-%d %H:%M} {row.events:>9}  "
                     f"{'yes' if row.pinned else 'NO':<6}  {'NEW' if row.new else ''}")
    return "\n".join(lines)
