"""``llm-monitor tail``: follow inference logs, ingest continuously, alert within seconds.

One loop in one process (plus one thread that delivers the outbox to Sentry):

1. look at the files (``--poll-interval``): new files matching the globs, rotated files
   (rename-and-create, copytruncate), complete new lines (:mod:`monitor.tail.follower`);
2. per source, turn up to ``max_batch_lines`` new lines into events with signals
   (:class:`monitor.ingest.BatchLoader`) and **commit** them: under the store's writer lock,
   write the quarantined lines (one file, atomic rename), then drop request ids the store
   already holds and write the events as one Parquet segment (atomic rename);
3. add the committed events' sufficient statistics to the in-memory window, feed the
   sequential detectors and check them (:mod:`monitor.tail.detect`); alerts go through the
   alert log, the alert lifecycle and the outbox (``<store>/outbox.sqlite``);
4. every ``--status-interval`` seconds, a status line on stderr and ``--status-file``.

Exactly once across ``kill -9``
    Nothing but the store records progress. Each event row carries ``source_id`` (the source's
    identity: a hash of its first line) and ``source_offset`` (the byte just past its line);
    quarantine rows carry the same. At start, a source resumes at the largest
    ``source_offset`` the store holds for it (``S``). Because the quarantine file of a batch is
    renamed into place *before* its segment, everything up to ``S`` is committed; lines after
    ``S`` are read again, events among them cannot be in the store (they would have an offset
    above ``S``), and quarantined lines among them are recognised by ``(source_id, offset)``
    and not written twice. Dedup by ``request_id`` against the store is a second guard (and
    gives duplicate request ids in the logs the same treatment as ``llm-monitor ingest``).

Shutdown
    SIGTERM / SIGINT stop the loop after the current batch; the batch is committed, a last
    status is written, the Sentry sender gets ``sentry_timeout_s`` to finish; the process exits
    0. A watchdog ends the process at ``shutdown_timeout_s`` (default 4 s) whatever happens: an
    uncommitted batch is simply read again at the next start.

See docs/TAIL.md for the guarantees, the status fields and the ``[tail]`` keys.

Example (``--once``: ingest what is there, check once, exit):
    >>> import tempfile, os, json, argparse
    >>> d = tempfile.mkdtemp(); log = os.path.join(d, "app.log")
    >>> with open(log, "w") as fh:
    ...     _ = fh.write(json.dumps({"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m",
    ...                              "response": "Hello"}) + "\\n{oops\\n")
    >>> args = argparse.Namespace(paths=[log], store=os.path.join(d, "store"), config=None, baseline=None,
    ...     input_format=None, status_file=None, status_interval=10.0, check_interval=5.0,
    ...     poll_interval=0.2, once=True)
    >>> run_tail(args, quiet=True)
    0
    >>> from monitor.store import Store
    >>> s = Store(os.path.join(d, "store"))
    >>> int(s.sql("select count(*) as n from events").n[0]), len(s.quarantine())
    (1, 1)
    >>> run_tail(args, quiet=True), int(s.sql("select count(*) as n from events").n[0]), len(s.quarantine())
    (0, 1, 1)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pandas as pd

from monitor.config import Config, load_config
from monitor.errors import UserError
from monitor.ingest import BatchLoader, LoadedBatch, Line
from monitor.tail.memory import release_free_memory, resident_bytes, tune_for_long_run
from monitor.selectors import parse_selector
from monitor.store import Store, default_store_path, open_store
from monitor.tail.detect import WindowState
from monitor.tail.follower import Follower, Source, has_magic
from monitor.tail.writer import Compactor, DuplicateGuard, commit_tail_batch, committed_positions
from monitor.windows import SegmentKey, SegmentStats, window_stats

__all__ = ["run_tail", "TailSettings", "Tailer", "batch_stats"]

STATS_COLUMNS = ("refusal", "expects_json", "parse_failed", "task_success")


@dataclass
class TailSettings:
    """The tailer's settings: ``[tail]`` keys of ``llm-monitor.toml`` plus the command line.

    >>> s = TailSettings.from_config({"by": ["route"], "window_s": 60})
    >>> s.by, s.window_s, s.flush_interval_s
    (['route'], 60.0, 1.0)
    >>> TailSettings.from_config({"colour": 1})
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: [tail] colour: unknown key; known: baseline, baseline_refresh_s, by, compact_interval_s, compact_min_segments, dedup_horizon_s, dedup_max_ids, false_alarms_per_day, flush_interval_s, max_batch_bytes, max_batch_lines, max_line_bytes, min_baseline, min_current, retry_base_s, retry_max_s, rotate_grace_s, sentry_timeout_s, shutdown_timeout_s, window_s
    """

    by: list[str] = field(default_factory=lambda: ["model", "route"])
    baseline: str = "last=7d"
    window_s: float = 300.0
    false_alarms_per_day: float = 1 / 30
    min_baseline: int = 100
    min_current: int = 30
    flush_interval_s: float = 1.0
    max_batch_lines: int = 5_000
    max_batch_bytes: int = 8 << 20
    max_line_bytes: int = 8 << 20
    rotate_grace_s: float = 30.0
    baseline_refresh_s: float = 300.0
    sentry_timeout_s: float = 1.5
    retry_base_s: float = 1.0
    retry_max_s: float = 30.0
    shutdown_timeout_s: float = 4.0
    dedup_horizon_s: float = 600.0
    dedup_max_ids: int = 1_000_000
    compact_interval_s: float = 60.0
    compact_min_segments: int = 32
    # from the command line
    check_interval: float = 5.0
    poll_interval: float = 0.2
    status_interval: float = 10.0

    _CONFIG_KEYS = ("by", "baseline", "window_s", "false_alarms_per_day", "min_baseline", "min_current",
                    "flush_interval_s", "max_batch_lines", "max_batch_bytes", "max_line_bytes", "rotate_grace_s",
                    "baseline_refresh_s", "sentry_timeout_s", "retry_base_s", "retry_max_s", "shutdown_timeout_s",
                    "dedup_horizon_s", "dedup_max_ids", "compact_interval_s", "compact_min_segments")

    @classmethod
    def from_config(cls, table: dict[str, Any], where: str = "llm-monitor.toml") -> "TailSettings":
        """Validate the ``[tail]`` table; a bad key or value is a :class:`UserError` naming it."""
        from monitor.config import SEGMENT_KEYS

        s = cls()
        for key, value in table.items():
            if key not in cls._CONFIG_KEYS:
                raise UserError(f"[tail] {key}: unknown key; known: {', '.join(sorted(cls._CONFIG_KEYS))}")
            if key == "by":
                keys = [value] if isinstance(value, str) else value
                if not isinstance(keys, list) or not keys or any(k not in SEGMENT_KEYS for k in keys):
                    raise UserError(f"{where}: [tail] by: must be a list of segment keys from {list(SEGMENT_KEYS)}")
                s.by = list(keys)
            elif key == "baseline":
                if not isinstance(value, str) or not value.strip():
                    raise UserError(f"{where}: [tail] baseline: must be a selector string")
                parse_selector(value)
                s.baseline = value
            else:
                default = getattr(cls, key)
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
                if isinstance(default, int) and not isinstance(default, bool):
                    ok = ok and float(value).is_integer()
                if not ok:
                    raise UserError(f"{where}: [tail] {key}: must be a number > 0, got {value!r}")
                setattr(s, key, type(default)(value))
        return s


# --------------------------------------------------------------------------- statistics
def batch_stats(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, by: list[str],
                length_measure: str = "chars") -> dict[SegmentKey, SegmentStats]:
    """Per-segment sufficient statistics of a frame of committed events.

    >>> import duckdb, pandas as pd
    >>> f = pd.DataFrame({"route": ["a", "a", "b"], "chars": [5, 7, 9], "refusal": [False, True, False],
    ...                   "expects_json": [False] * 3, "parse_failed": [False] * 3, "task_success": [None] * 3})
    >>> st = batch_stats(duckdb.connect(), f, ["route"])
    >>> st[("a",)].n, st[("a",)].refusals, st[("a",)].length.n, st[("b",)].n
    (2, 1, 1, 1)
    """
    if frame.empty:
        return {}
    cols = list(dict.fromkeys([*by, length_measure, *STATS_COLUMNS]))
    sub = frame[cols]
    con.register("tail_batch", sub)
    try:
        return window_stats(con, "TRUE", [], by, length_measure, relation="tail_batch")
    finally:
        con.unregister("tail_batch")


# --------------------------------------------------------------------------- delivery
class _Deliverer(threading.Thread):
    """Delivers pending outbox entries to Sentry, one at a time, until stopped."""

    def __init__(self, outbox: Any, sink: Any, wake: threading.Event, stop: threading.Event,
                 log: Any) -> None:
        super().__init__(name="tail-outbox", daemon=True)
        self.outbox, self.sink, self.wake, self.stop_event, self.log = outbox, sink, wake, stop, log
        self.sent = 0
        self.last_error: str | None = None

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                report = self.outbox.deliver(self.sink.send, max_items=1)
                self.sent += report.sent
                if report.errors:
                    self.last_error = report.errors[-1]
                more = report.sent > 0 and report.pending > 0
            except Exception as exc:  # noqa: BLE001 - keep delivering; the entry stays pending
                self.last_error = f"{type(exc).__name__}: {exc}"
                more = False
            if not more:
                self.wake.wait(0.5)
                self.wake.clear()


# --------------------------------------------------------------------------- the tailer
@dataclass
class Counters:
    """Totals since start."""

    lines: int = 0
    events: int = 0
    duplicates: int = 0
    quarantined: int = 0
    segments: int = 0
    alerts: int = 0


class Tailer:
    """The sidecar loop; see the module docstring. Build with :func:`run_tail` or directly."""

    def __init__(self, patterns: list[str], store: Store, config: Config, settings: TailSettings, *,
                 input_format: str | None = None, status_file: str | None = None, once: bool = False,
                 dsn: str | None = None, err: TextIO | None = None, quiet: bool = False) -> None:
        self.patterns = patterns
        self.store = store
        self.config = config
        self.settings = settings
        self.input_format = input_format
        self.status_file = status_file
        self.once = once
        self.dsn = dsn
        self.err = err or sys.stderr
        self.quiet = quiet
        self.stop = threading.Event()
        self.counters = Counters()
        self._loaders: dict[str, BatchLoader] = {}
        self._con = duckdb.connect(":memory:")
        self.window = WindowState(settings.by, floors=config.policy.floors, window_s=settings.window_s,
                                  min_baseline=settings.min_baseline, min_current=settings.min_current,
                                  false_alarms_per_day=settings.false_alarms_per_day,
                                  alert_on=config.policy.alert_on)
        self._positions, self._quarantined = committed_positions(store)
        self._dedup = DuplicateGuard(store, horizon_s=settings.dedup_horizon_s, capacity=settings.dedup_max_ids)
        self.follower = Follower(patterns, self._resume, rotate_grace=settings.rotate_grace_s,
                                 max_line_bytes=settings.max_line_bytes)
        self._started = time.monotonic()
        self._last_status = self._started
        self._status_events = 0
        self._last_check = self._started
        self._last_baseline = 0.0
        self._last_commit: dict[str, float] = {}
        self._tracked_keys: dict[str, tuple[SegmentKey, str]] = {}
        self._open_alerts = 0
        self._outbox: Any = None
        self._lifecycle: Any = None
        self._sink: Any = None
        self._deliverer: _Deliverer | None = None
        self._wake = threading.Event()
        self._deliver_stop = threading.Event()
        self._compactor: Compactor | None = None

    # ------------------------------------------------------------------ helpers
    def _resume(self, sid: str) -> tuple[int, int]:
        return self._positions.get(sid, (0, 0))

    def log(self, text: str) -> None:
        """One line on stderr (unless quiet)."""
        if not self.quiet:
            self.err.write(f"llm-monitor tail: {text}\n")
            self.err.flush()

    def _loader(self, src: Source) -> BatchLoader:
        loader = self._loaders.get(src.id)
        if loader is None:
            loader = self._loaders[src.id] = BatchLoader(self.config, src.path, input_format=self.input_format)
            loader.source_id = src.id
        loader.source = src.path
        return loader

    # ------------------------------------------------------------------ alert plumbing
    def _open_sinks(self) -> None:
        from sinks.outbox import AlertLifecycle, Outbox

        s = self.settings
        self._outbox = Outbox(self.store.outbox_path, base_backoff=s.retry_base_s, max_backoff=s.retry_max_s,
                              lease=max(10.0, 4 * s.sentry_timeout_s))
        self._lifecycle = AlertLifecycle(self._outbox, cooldown=self.config.sentry.cooldown_s,
                                         resolve_after=self.config.sentry.resolve_after_s)
        self._open_alerts = len(self._lifecycle.open_alerts())
        if self.dsn:
            from sinks.sentry import SentrySink

            self._sink = SentrySink(dsn=self.dsn, environment=self.config.sentry.environment,
                                    send_text=self.config.sentry.send_text, timeout=s.sentry_timeout_s)
            if not self.once:
                self._deliverer = _Deliverer(self._outbox, self._sink, self._wake, self._deliver_stop, self.log)
                self._deliverer.start()

    def _close_sinks(self, deadline: float) -> None:
        self._deliver_stop.set()
        self._wake.set()
        if self._deliverer is not None:
            self._deliverer.join(max(0.0, deadline - time.monotonic()))
        if self._sink is not None and (self._deliverer is None or not self._deliverer.is_alive()):
            try:
                self._sink.flush(timeout=max(0.0, min(self.settings.sentry_timeout_s, deadline - time.monotonic())))
            except Exception:  # noqa: BLE001
                pass
        if self._outbox is not None and (self._deliverer is None or not self._deliverer.is_alive()):
            self._outbox.close()

    def _refresh_baseline(self, now: float, *, only_new: bool) -> None:
        from monitor.api import Monitor

        try:
            stats = Monitor(self.store, self.config).window(parse_selector(self.settings.baseline), self.settings.by)
        except duckdb.Error as exc:
            self.log(f"baseline not read ({str(exc).splitlines()[0]}); will retry")
            return
        added = self.window.set_baseline(stats, only_new=only_new, now=now)
        self._last_baseline = now
        if added:
            self.log(f"monitoring {len(added)} segment(s) against baseline {self.settings.baseline!r}")

    def _check(self, now: float) -> None:
        from sinks.alert_log import append_alerts, new_run_id

        findings = self.window.check(now)
        due_status = now - self._last_check >= self.settings.check_interval
        if not findings and not due_status:
            return
        wall = time.time()
        alerts = [f for f in findings if f.alert]
        if alerts:
            append_alerts(self.store.alert_log, [f.to_dict() for f in alerts], f"tail-{new_run_id()}")
        for f in alerts:
            t = self._lifecycle.observe(f.to_dict(), now=wall)
            self._tracked_keys[t.key] = (tuple(f.segment[k] for k in self.settings.by), f.metric)
            self.counters.alerts += 1
            self.log(f"alert {t.action}: {f.metric} on {f.segment_key}: {f.reason}")
            if t.event_id:
                self._wake.set()
        if due_status:
            self._last_check = now
            open_keys = self._lifecycle.open_alerts()
            for key in open_keys:
                tracked = self._tracked_keys.get(key) or self._key_from_text(key)
                if tracked is None:
                    continue
                f = self.window.status_finding(tracked[0], tracked[1], now)
                if f is not None and not f.alert:
                    t = self._lifecycle.observe(f.to_dict(), now=wall)
                    if t.action == "resolved":
                        self.log(f"alert resolved: {key}")
            self._open_alerts = len(self._lifecycle.open_alerts())

    def _key_from_text(self, key: str) -> tuple[SegmentKey, str] | None:
        """An open alert of an earlier run: ``metric|k=v,...`` back to (segment key, metric)."""
        metric, _, seg = key.partition("|")
        parts = dict(p.split("=", 1) for p in seg.split(",") if "=" in p)
        if set(parts) != set(self.settings.by):
            return None
        values = tuple(None if parts[k] == "None" else parts[k] for k in self.settings.by)
        self._tracked_keys[key] = (values, metric)
        return values, metric

    # ------------------------------------------------------------------ ingest
    def _load(self, loader: BatchLoader, lines: list[Line]) -> LoadedBatch:
        """``loader.load``; a batch that raises is split in halves until the bad lines are isolated
        and quarantined (a bad line must never stop the sidecar)."""
        try:
            return loader.load(lines)
        except Exception as exc:  # noqa: BLE001
            if len(lines) == 1:
                line = lines[0]
                reject = {"source": loader.source, "line": line.number, "raw": line.raw,
                          "reason": f"could not be processed: {type(exc).__name__}: {exc}"[:300],
                          "offset": line.end_offset, "source_id": loader.source_id}
                return LoadedBatch(loader.load([]).frame, [reject], loader.fmt)
        mid = len(lines) // 2
        parts = [self._load(loader, lines[:mid]), self._load(loader, lines[mid:])]
        frames = [p.frame for p in parts if not p.frame.empty]
        frame = pd.concat(frames, ignore_index=True) if frames else parts[0].frame
        return LoadedBatch(frame, parts[0].rejects + parts[1].rejects, loader.fmt)

    def _process(self, src: Source, now: float) -> int:
        chunk = self.follower.read(src, max_bytes=self.settings.max_batch_bytes,
                                   max_lines=self.settings.max_batch_lines)
        if not chunk.lines and not chunk.oversize:
            return 0
        loader = self._loader(src)
        batch = self._load(loader, chunk.lines) if chunk.lines else loader.load([])
        rejects = list(batch.rejects)
        for line, length in chunk.oversize:
            rejects.append({"source": src.path, "line": line.number, "raw": line.raw,
                            "reason": f"line too long: {length} bytes > max_line_bytes "
                                      f"{self.settings.max_line_bytes} (first {len(line.raw)} bytes kept)",
                            "offset": line.end_offset, "source_id": src.id})
        result = commit_tail_batch(self.store, batch.frame, rejects, self._quarantined,
                                   guard=self._dedup)
        n_lines = len(chunk.lines) + len(chunk.oversize)
        self.counters.lines += n_lines
        self.counters.events += len(result.frame)
        self.counters.duplicates += result.duplicates
        self.counters.quarantined += result.quarantined
        self.counters.segments += result.segment is not None
        self._status_events += len(result.frame)
        self._last_commit[src.id] = now
        if not result.frame.empty:
            self.window.add(batch_stats(self._con, result.frame, self.settings.by, self.config.length_measure), now)
        return n_lines

    def _due(self, src: Source, now: float) -> bool:
        if src.lag_bytes <= 0:
            return False
        if self.once or self.stop.is_set():
            return True
        return (now - self._last_commit.get(src.id, 0.0) >= self.settings.flush_interval_s
                or src.lag_bytes >= self.settings.max_batch_bytes // 2)

    # ------------------------------------------------------------------ status
    def status(self, now: float) -> dict[str, Any]:
        """The status as a dict (what ``--status-file`` holds)."""
        span = max(1e-9, now - self._last_status)
        sources = self.follower.all_sources()
        lagging = [s for s in sources if s.lag_bytes > 0]
        pending = self._outbox.counts()["pending"] if self._outbox is not None else 0
        return {
            "time": pd.Timestamp.now(tz="UTC").isoformat(),
            "uptime_s": round(now - self._started, 3),
            "events_per_s": round(self._status_events / span, 2),
            "lag_bytes": int(sum(s.lag_bytes for s in sources)),
            "lag_seconds": round(max((now - s.caught_up_at for s in lagging), default=0.0), 3),
            "quarantined": self.counters.quarantined,
            "open_alerts": self._open_alerts,
            "outbox_pending": pending,
            "sources": len(sources),
            "segments_monitored": len(self.window.segments),
            "rss_bytes": resident_bytes(),
            **{f"total_{k}": v for k, v in asdict(self.counters).items()},
        }

    def _write_status(self, now: float) -> None:
        live = {src.id for src in self.follower.sources()}
        for sid in [sid for sid in self._loaders if sid not in live]:
            del self._loaders[sid]  # its file is gone; a loader is cheap to make again
        st = self.status(now)
        self._last_status = now
        self._status_events = 0
        release_free_memory()
        if not self.quiet:
            self.err.write(
                f"llm-monitor tail: {st['events_per_s']:.0f} events/s, lag {st['lag_bytes']} B / "
                f"{st['lag_seconds']:.1f} s, {st['quarantined']} quarantined, {st['open_alerts']} open alert(s), "
                f"{st['outbox_pending']} pending, {st['total_events']} events total\n")
            self.err.flush()
        if self.status_file:
            path = Path(self.status_file)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(st) + "\n", encoding="utf-8")
            os.replace(tmp, path)

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        """Run until stopped (or, with ``once``, until everything present is ingested)."""
        self._open_sinks()
        if not self.once:
            self._compactor = Compactor(self.store, self._deliver_stop, interval_s=self.settings.compact_interval_s,
                                        min_segments=self.settings.compact_min_segments, log=self.log)
            self._compactor.start()
        now = time.monotonic()
        self._refresh_baseline(now, only_new=False)
        self.log(f"following {', '.join(self.patterns)} into {self.store.root}")
        last_scan = 0.0
        try:
            while True:
                now = time.monotonic()
                if now - last_scan >= self.settings.poll_interval or self.once:
                    self.follower.scan()
                    last_scan = now
                worked = 0
                for src in self.follower.sources():
                    if self.stop.is_set() and not self.once:
                        break
                    if self._due(src, now):
                        worked += self._process(src, time.monotonic())
                        if time.monotonic() - last_scan >= self.settings.poll_interval:
                            self.follower.scan()  # between batches too: catch quick rotations
                            last_scan = time.monotonic()
                now = time.monotonic()
                if worked or now - self._last_check >= self.settings.check_interval:
                    if self.window.unmonitored and now - self._last_baseline >= self.settings.baseline_refresh_s:
                        self._refresh_baseline(now, only_new=True)
                    self._check(now)
                if now - self._last_status >= self.settings.status_interval:
                    self._write_status(now)
                if self.stop.is_set() or (self.once and not worked):
                    break
                if not worked:
                    self.stop.wait(self.settings.poll_interval)
        finally:
            now = time.monotonic()
            deadline = now + max(0.5, min(self.settings.sentry_timeout_s + 0.5, self.settings.shutdown_timeout_s - 1.0))
            try:
                self._check(now)
                if self.once and self._sink is not None:
                    self._outbox.deliver(self._sink.send, max_items=20)
                self._write_status(now)
            finally:
                self._close_sinks(deadline)
                self.follower.close()
                self._con.close()
        return 0


def _install_signals(tailer: Tailer) -> None:
    def handler(signum: int, frame: Any) -> None:
        if tailer.stop.is_set():
            return
        tailer.stop.set()
        timeout = tailer.settings.shutdown_timeout_s

        def watchdog() -> None:
            time.sleep(timeout)
            try:
                tailer.err.write("llm-monitor tail: shutdown took too long; exiting (uncommitted lines are "
                                 "read again at the next start)\n")
                tailer.err.flush()
            finally:
                os._exit(0)

        threading.Thread(target=watchdog, name="tail-watchdog", daemon=True).start()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_tail(args: argparse.Namespace, *, quiet: bool = False) -> int:
    """Entry point of ``llm-monitor tail`` (see the module docstring). Returns the exit code."""
    config = load_config(getattr(args, "config", None))
    tune_for_long_run()
    settings = TailSettings.from_config(config.tail, config.path or "llm-monitor.toml")
    if getattr(args, "baseline", None):
        parse_selector(args.baseline)
        settings.baseline = args.baseline
    settings.check_interval = float(args.check_interval)
    settings.poll_interval = float(args.poll_interval)
    settings.status_interval = float(args.status_interval)
    for pattern in args.paths:
        if not has_magic(pattern) and os.path.isdir(pattern):
            raise UserError(f"is a directory, not a log file: {pattern} (quote a glob such as '{pattern}/*.log')")
        parent = os.path.dirname(pattern) or "."
        if not has_magic(parent) and not os.path.isdir(parent):
            raise UserError(f"no such directory: {parent} (for {pattern})")
    store = open_store(default_store_path(getattr(args, "store", None), config.store))
    store.require_writable()
    dsn = config.sentry.dsn or os.environ.get("SENTRY_DSN") or None
    tailer = Tailer(list(args.paths), store, config, settings, input_format=getattr(args, "input_format", None),
                    status_file=getattr(args, "status_file", None), once=bool(getattr(args, "once", False)),
                    dsn=dsn, quiet=quiet)
    if threading.current_thread() is threading.main_thread() and not tailer.once:
        _install_signals(tailer)
    return tailer.run()
