"""``llm-monitor demo``: realistic synthetic traffic for a model swap, end to end.

Two versions of ``acme-chat`` serve five routes; the new version (served yesterday, UTC)
regresses on four of them and is unchanged on one; a second model (``llama3.1:8b``) serves
every day unchanged. The demo writes the traffic as a JSON-lines log (plus three broken
lines, to show the quarantine), ingests it, compares the two versions per route, prints
the findings, writes the alert log and, with ``SENTRY_DSN`` set, sends the alerts.

Injected changes (baseline version -> new version):

==========  =====================================================
route       change
==========  =====================================================
chat        responses about 35% longer (median)
support     refusal rate 2% -> 7%
extract     JSON parse failures 1.5% -> 9% (fences, truncation, ...)
summarize   task success 86% -> 74%
faq         nothing (control)
==========  =====================================================

Example:
    >>> events = generate_events(per_cell=50, seed=1, today=__import__("datetime").date(2026, 11, 26))
    >>> len(events), sorted({e["route"] for e in events})[:2]
    (600, ['chat', 'extract'])
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import numpy as np

OLD_VERSION = "2026-10-01"
NEW_VERSION = "2026-11-20"
MODEL = "acme-chat"
CONTROL_MODEL = "llama3.1:8b"
CONTROL_VERSION = "sha256:46e0c10c039e"

INVOICE_SCHEMA = {
    "title": "Invoice",
    "type": "object",
    "required": ["invoice_id", "total", "currency"],
    "properties": {
        "invoice_id": {"type": "string"},
        "total": {"type": "number", "minimum": 0},
        "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]},
        "paid": {"type": "boolean"},
    },
}

_WORDS = ("the model response includes several steps first check your account settings then open the "
          "billing page and confirm the invoice details you can also contact support if the issue "
          "persists this usually resolves within a few minutes after the update is applied please note "
          "that changes may take effect on the next cycle and we recommend keeping a copy of the "
          "confirmation for your records").split()

_REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "I can't assist with that. It goes against the policies I follow.",
    "I'm unable to provide that information.",
    "Sorry, I cannot help with this request as it may violate our usage policy.",
]
_NEAR_MISSES = [
    "I'm sorry to hear that you're having trouble. ",
    "Sorry for the wait! ",
    "I can't stress enough how important backups are. ",
]

# (route, baseline params, new-version params): length median in words, refusal rate, parse failure, task success
_ROUTES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "chat": ({"words": 60, "refusal": 0.01}, {"words": 81, "refusal": 0.01}),
    "support": ({"words": 45, "refusal": 0.02}, {"words": 45, "refusal": 0.07}),
    "extract": ({"words": 0, "refusal": 0.0, "parse_fail": 0.015}, {"words": 0, "refusal": 0.0, "parse_fail": 0.09}),
    "summarize": ({"words": 40, "refusal": 0.005, "task": 0.86}, {"words": 40, "refusal": 0.005, "task": 0.74}),
    "faq": ({"words": 30, "refusal": 0.01, "task": 0.9}, {"words": 30, "refusal": 0.01, "task": 0.9}),
}


def _prose(rng: np.random.Generator, median_words: float, n: int) -> list[str]:
    lengths = np.maximum(3, rng.lognormal(np.log(median_words), 0.45, size=n).astype(int))
    picks = rng.integers(0, len(_WORDS), size=int(lengths.sum()))
    out, start = [], 0
    for length in lengths:
        words = [_WORDS[i] for i in picks[start:start + length]]
        start += length
        out.append(" ".join(words).capitalize() + ".")
    return out


def _invoice(rng: np.random.Generator, i: int, failure: str | None) -> tuple[str, str]:
    doc = {"invoice_id": f"INV-{i:06d}", "total": round(float(rng.uniform(5, 900)), 2),
           "currency": str(rng.choice(["USD", "EUR", "GBP"])), "paid": bool(rng.random() < 0.5)}
    text = json.dumps(doc)
    if failure == "fenced":
        return f"```json\n{text}\n```", "stop"
    if failure == "truncated":
        return text[: len(text) // 2], "length"
    if failure == "python_literal":
        return repr(doc), "stop"
    if failure == "schema_violation":
        return json.dumps({**doc, "currency": "dollars"}), "stop"
    if failure == "not_json":
        return f"Sure! Invoice {doc['invoice_id']} totals {doc['total']} {doc['currency']}.", "stop"
    return text, "stop"


def _cell(rng: np.random.Generator, model: str, version: str, route: str, params: dict[str, float],
          days: list[dt.date], n: int, start_id: int) -> list[dict[str, Any]]:
    seconds = rng.integers(0, 86400, size=n)
    day_idx = rng.integers(0, len(days), size=n)
    refused = rng.random(n) < params.get("refusal", 0.0)
    events: list[dict[str, Any]] = []
    if route == "extract":
        failures = rng.random(n) < params["parse_fail"]
        kinds = rng.choice(["fenced", "truncated", "python_literal", "schema_violation", "not_json"], size=n)
        bodies = [_invoice(rng, start_id + i, str(kinds[i]) if failures[i] else None) for i in range(n)]
    else:
        prose = _prose(rng, params["words"], n)
        near = rng.random(n) < 0.03
        bodies = []
        for i in range(n):
            if refused[i]:
                bodies.append((str(rng.choice(_REFUSALS)), "stop"))
            else:
                prefix = str(rng.choice(_NEAR_MISSES)) if near[i] else ""
                bodies.append((prefix + prose[i], "stop"))
    task = rng.random(n) < params["task"] if "task" in params else None
    for i in range(n):
        ts = dt.datetime.combine(days[day_idx[i]], dt.time(), dt.timezone.utc) + dt.timedelta(seconds=int(seconds[i]))
        response, finish = bodies[i]
        event: dict[str, Any] = {
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "request_id": f"demo-{model}-{version}-{route}-{days[0].isoformat()}-{start_id + i}",
            "model": model,
            "model_version": version,
            "route": route,
            "prompt": f"[{route}] user request #{start_id + i}",
            "response": response,
            "output_tokens": max(1, int(len(response.split()) * 1.3)),
            "finish_reason": finish,
            "latency_ms": round(float(rng.gamma(4.0, 120.0)), 1),
        }
        if route == "extract":
            event["schema"] = INVOICE_SCHEMA
        if task is not None:
            event["task_success"] = bool(task[i])
        events.append(event)
    return events


def generate_events(per_cell: int = 4000, seed: int = 7, today: dt.date | None = None) -> list[dict[str, Any]]:
    """The demo traffic, time-ordered. The old version serves days -8..-2, the new one day -1."""
    rng = np.random.default_rng(seed)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    old_days = [today - dt.timedelta(days=d) for d in range(8, 1, -1)]
    new_days = [today - dt.timedelta(days=1)]
    events: list[dict[str, Any]] = []
    next_id = 0
    for route, (old, new) in _ROUTES.items():
        for version, params, days in ((OLD_VERSION, old, old_days), (NEW_VERSION, new, new_days)):
            events += _cell(rng, MODEL, version, route, params, days, per_cell, next_id)
            next_id += per_cell
    for route in ("chat", "extract"):
        params = _ROUTES[route][0]
        events += _cell(rng, CONTROL_MODEL, CONTROL_VERSION, route, params, old_days + new_days, per_cell, next_id)
        next_id += per_cell
    events.sort(key=lambda e: e["ts"])
    return events


def write_log(events: list[dict[str, Any]], path: Path) -> None:
    """Write the events as JSON lines, with three broken lines to show the quarantine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        for i, event in enumerate(events):
            fh.write(json.dumps(event).encode() + b"\n")
            if i == 10:
                fh.write(b'{"ts": "2026-11-01T00:00:00Z", "request_id": "broken-1", "model": "acme-chat"\n')
            if i == 20:
                fh.write(b'{"ts": "2026-11-01T00:00:00Z", "request_id": "broken-2", "model": "acme-chat"}\n')
            if i == 30:
                fh.write(b'{"ts": "2026-11-01T00:00:00Z", "request_id": "broken-3", "model": 7, "response": "x"}\n')
    os.replace(tmp, path)


def run_demo(store: str | os.PathLike[str] | None = None, *, config: Any = None, events: int = 4000, seed: int = 7,
             out: TextIO | None = None) -> Any:
    """The ``demo`` command: generate, ingest, compare, alert; returns the :class:`monitor.api.Comparison`.

    ``out`` receives the demo's lines (default: standard output).
    """
    from monitor.api import open as open_monitor
    from sinks.console import render_compared, render_table

    out = out if out is not None else sys.stdout
    started = time.perf_counter()
    m = open_monitor(store, config=config)
    log = m.store.root / "demo" / "demo-events.jsonl"
    generated = generate_events(per_cell=events, seed=seed)
    write_log(generated, log)
    print(f"generated {len(generated)} events (+3 broken lines) -> {log}", file=out)
    report = m.ingest([str(log)])
    print(f"ingest: {report.summary()}", file=out)
    baseline, current = f"model={MODEL},model_version={OLD_VERSION}", f"model={MODEL},model_version={NEW_VERSION}"
    result = m.compare(baseline, current, by=["model", "model_version", "route"])
    print(f"\ncheck --baseline {baseline} --current {current}\n", file=out)
    print(render_compared(result.compared, result.keys), file=out)
    print(render_table([f.to_dict() for f in result.items]), file=out)
    note = result.alert(source="demo")
    if note:
        print(note, file=out)
    elapsed = time.perf_counter() - started
    root = m.store.root.resolve()
    print(f"\n{len(result.alerts)} alert(s) in {elapsed:.1f} s. Store: {root}", file=out)
    print("Next:", file=out)
    print(f"  llm-monitor check --store {root} --baseline model_version={OLD_VERSION} "
          f"--current model_version={NEW_VERSION} --format json", file=out)
    print(f"  llm-monitor models --store {root}", file=out)
    print(f"  llm-monitor sample --store {root} --where refusal_class=full_refusal --n 20", file=out)
    print(f"  python -c \"import monitor; print(monitor.open('{root}').events(route='support').head())\"", file=out)
    if not m.config.sentry.resolved_dsn():
        print("  set SENTRY_DSN=... and run the demo again to send these alerts to Sentry", file=out)
    return result
