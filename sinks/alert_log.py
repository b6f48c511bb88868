"""JSON-lines alert log: one line per alerting finding, with a timestamp and the run id.

Durability and concurrency: each line is written with a single ``os.write`` on a descriptor
opened with ``O_APPEND`` (the kernel appends each write atomically at the end of the file on a
local filesystem, so lines of concurrent appenders never interleave), then ``fsync``-ed before
:func:`append_alerts` returns. A line is therefore either fully in the log or not at all;
:func:`read_alerts` skips a torn last line left by a crash in the middle of a write (which cannot
happen with a single ``write`` on a local filesystem, but is cheap insurance on NFS).

Example:
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "alerts.jsonl")
    >>> findings = [{"metric": "refusal_rate", "segment": {"model": "m"}, "alert": True},
    ...             {"metric": "response_length", "segment": {"model": "m"}, "alert": False}]
    >>> append_alerts(path, findings, run_id="run-1", now="2026-01-01T00:00:00Z")
    1
    >>> [(a["run_id"], a["metric"], a["ts"]) for a in read_alerts(path)]
    [('run-1', 'refusal_rate', '2026-01-01T00:00:00Z')]
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from sinks.console import segment_key
from sinks.private import private_dir, private_file

__all__ = ["append_alerts", "read_alerts", "new_run_id"]

# Text fields a finding may carry in ``details``; kept out of the log unless asked for.
_TEXT_KEYS = ("examples",)


def new_run_id() -> str:
    """A fresh run id (UTC time plus a random suffix), sortable by time.

    >>> len(new_run_id()) > 16
    True
    """
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def append_alerts(
    path: str | os.PathLike[str],
    findings: Iterable[Mapping[str, Any]],
    run_id: str | None = None,
    *,
    now: str | None = None,
    include_text: bool = False,
    only_alerts: bool = True,
) -> int:
    """Append one JSON line per alerting finding to ``path``; return how many were written.

    Each record is the finding plus ``ts`` (UTC ISO 8601), ``run_id`` and ``segment_key``.
    Example texts under ``details.examples`` are dropped unless ``include_text`` is true.
    Parent directories are created (``0700``), the file ``0600`` (:mod:`sinks.private`). The data is flushed and fsync-ed before returning.
    """
    run_id = run_id or new_run_id()
    ts = now or _now_iso()
    lines: list[bytes] = []
    for f in findings:
        if only_alerts and not f.get("alert"):
            continue
        rec: dict[str, Any] = {"ts": ts, "run_id": run_id, "segment_key": segment_key(f.get("segment"))}
        rec.update(f)
        if not include_text and isinstance(rec.get("details"), Mapping):
            rec["details"] = {k: v for k, v in rec["details"].items() if k not in _TEXT_KEYS}
        line = json.dumps(rec, ensure_ascii=False, sort_keys=True, allow_nan=False, default=str)
        lines.append(line.encode("utf-8") + b"\n")
    if not lines:
        return 0
    path = os.fspath(path)
    private_dir(os.path.dirname(os.path.abspath(path)))
    fd = private_file(path, append=True)
    try:
        for data in lines:
            view = memoryview(data)
            written = os.write(fd, view)
            if written != len(data):  # pragma: no cover - only on exotic filesystems
                raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(lines)


def read_alerts(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read every complete record of an alert log (a missing file gives ``[]``).

    A final line without its newline (torn write) or a line that is not valid JSON is skipped.

    >>> read_alerts("/nonexistent/alerts.jsonl")
    []
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return []
    out: list[dict[str, Any]] = []
    lines = data.split(b"\n")
    # the last element is b"" if the file ends with a newline, else a torn line
    for raw in lines[:-1]:
        if not raw.strip():
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out.append(rec)
    return out
