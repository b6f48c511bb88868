"""The sidecar's main loop (:class:`Tailer`) and its library entry point (:func:`run_tail`).

One loop in one process (plus a thread that delivers the outbox to Sentry and one that
compacts small segments):

1. look at the files (every ``poll_interval`` seconds): new files matching the globs, rotated
   files (rename-and-create, copytruncate), complete new lines (:mod:`monitor.tail.follower`);
2. per source, turn up to ``max_batch_lines`` new lines into events with signals
   (:class:`monitor.ingest.BatchLoader`) and **commit** them (:mod:`monitor.tail.writer`, the
   commit path of ``ingest``): under the store's writer lock, write the quarantined lines (one
   file, atomic rename), then drop request ids the store already holds and write the events
   as one Parquet segment (atomic rename);
3. add the committed events' sufficient statistics to the in-memory window, feed the
   sequential detectors and check them (:mod:`monitor.tail.detect`); alerts go through the
   alert log, the alert lifecycle and the outbox (``<store>/outbox.sqlite``,
   :mod:`monitor.tail.delivery`);
4. every ``status_interval`` seconds, a status line on stderr and the status file; every hour,
   the outbox's retention.

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
    status is written, the Sentry sender gets ``sentry_timeout_s`` to finish, a compaction in
    progress finishes its group (the compactor is joined); the process exits 0. A watchdog ends the process at ``shutdown_timeout_s`` (default 4 s) whatever happens: an
    uncommitted batch is simply read again at the next start.

See docs/TAIL.md for the guarantees, the status fields and the ``[tail]`` keys.

Example (``once=True``: ingest what is there, check once, exit):
    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp(); log = os.path.join(d, "app.log")
    >>> with open(log, "w") as fh:
    ...     _ = fh.write(json.dumps({"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m",
    ...                              "response": "Hello"}) + "\\n{oops\\n")
    >>> store = os.path.join(d, "store")
    >>> run_tail([log], store=store, once=True, quiet=True)
    0
    >>> from monitor.store import Store
    >>> s = Store(store)
    >>> int(s.sql("select count(*) as n from events").n[0]), len(s.quarantine())
    (1, 1)
    >>> run_tail([log], store=store, once=True, quiet=True), int(s.sql("select count(*) as n from events").n[0])
    (0, 1)
    >>> len(s.quarantine())
    1
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pyarrow as pa

from monitor.config import Config, load_config
from monitor.errors import UserError
from monitor.ingest import BatchLoader, LoadedBatch, Line
from monitor.selectors import parse_selector
from monitor.store import Store, StoreExposureWarning, default_store_path, exposure, exposure_message, open_store
from monitor.tail.compactor import Compactor
from monitor.tail.dedup import DuplicateGuard
from monitor.tail.delivery import Deliverer, Housekeeping
from monitor.tail.detect import WindowState, batch_stats
from monitor.tail.follower import Follower, Source, has_magic
from monitor.tail.logs import TailLog
from monitor.tail.memory import (cold_code_interval_s, drop_cold_code, heavy_modules, release_free_memory,
                                 resident_bytes, tune_for_long_run)
from monitor.tail.settings import TailSettings
from monitor.tail.writer import commit_tail_batch, committed_positions
from monitor.stats import SegmentKey

__all__ = ["run_tail", "Tailer"]

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
        self.logger = TailLog(self.err, settings.log_format, quiet=quiet)
        self.stop = threading.Event()
        self.counters = Counters()
        self._loaders: dict[str, BatchLoader] = {}
        self._con = duckdb.connect(":memory:")
        self.window = WindowState(settings.by, policy=config.policy, window_s=settings.window_s,
                                  min_baseline=settings.min_baseline, min_current=settings.min_current,
                                  false_alarms_per_day=settings.false_alarms_per_day)
        self._positions, self._quarantined = committed_positions(store)
        self._dedup = DuplicateGuard(store, horizon_s=settings.dedup_horizon_s, capacity=settings.dedup_max_ids)
        self.follower = Follower(patterns, self._resume, rotate_grace=settings.rotate_grace_s,
                                 max_line_bytes=settings.max_line_bytes)
        self._started = time.monotonic()
        self._last_status = self._started
        self._cold_interval = cold_code_interval_s()
        self._last_cold_drop = float("-inf")  # the first status write drops the start-up code
        self._status_events = 0
        self._last_check = self._started
        self._last_baseline = 0.0
        self._last_commit: dict[str, float] = {}
        self._tracked_keys: dict[str, tuple[SegmentKey, str]] = {}
        self._open_alerts = 0
        self._outbox: Any = None
        self._lifecycle: Any = None
        self._sink: Any = None
        self._deliverer: Deliverer | None = None
        self._housekeeping: Housekeeping | None = None
        self._wake = threading.Event()
        self._deliver_stop = threading.Event()
        self._compactor: Compactor | None = None
        self.metrics: Any = None  # TailMetrics when settings.metrics_addr is set
        self.server: Any = None
        self._heartbeat: float | None = None  # monotonic time of the loop's last round (None: not started)
        self._waiting_s = 0.0  # longest time a file with unread bytes has gone without a commit
        self._last_publish = 0.0
        self._last_sequential = -1e18
        if settings.metrics_addr:
            from monitor.tail.metrics import TailMetrics

            self.metrics = TailMetrics(max_segments=settings.metrics_max_segments,
                                       max_files=settings.metrics_max_files)

    # ------------------------------------------------------------------ helpers
    def _resume(self, sid: str) -> tuple[int, int]:
        return self._positions.get(sid, (0, 0))

    def log(self, text: str, level: str = "info", **fields: Any) -> None:
        """One log line on stderr (unless quiet), as text or JSON (``[tail] log_format``)."""
        self.logger.line(level, text, **fields)

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
        self._housekeeping = Housekeeping(self.store, self.config, self._outbox,
                                          every_s=self.settings.housekeeping_interval_s)
        if self.dsn:
            from sinks.sentry import SentrySink

            self._sink = SentrySink(dsn=self.dsn, environment=self.config.sentry.environment,
                                    send_text=self.config.sentry.send_text, timeout=s.sentry_timeout_s)
            if not self.once:
                self._deliverer = Deliverer(self._outbox, self._sink, self._wake, self._deliver_stop,
                                            on_report=self._delivery_report if self.metrics else None)
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

    def _delivery_report(self, sent: int, failed: int) -> None:
        self.metrics.delivered.inc(sent)
        self.metrics.delivery_errors.inc(failed)

    def _refresh_baseline(self, now: float, *, only_new: bool) -> None:
        from monitor.api import Monitor

        try:
            stats = Monitor(self.store, self.config).window(parse_selector(self.settings.baseline), self.settings.by)
        except duckdb.Error as exc:
            self.log(f"baseline not read ({str(exc).splitlines()[0]}); will retry", "warning")
            return
        added = self.window.set_baseline(stats, only_new=only_new, now=now)
        self._last_baseline = now
        if added:
            self.log(f"monitoring {len(added)} segment(s) against baseline {self.settings.baseline!r}",
                     segments=len(added), baseline=self.settings.baseline)

    def _check(self, now: float) -> None:
        from sinks.alert_log import append_alerts, new_run_id

        findings = self.window.check(now)
        if self.metrics is not None:
            for f in findings:
                if f.alert:
                    self.metrics.alert(f.metric)  # before the gauges (see monitor.tail.metrics)
            if findings or now - self._last_sequential >= 1.0:
                self._last_sequential = now  # the gauges need not be fresher than a second (scrapes: 15-30 s)
                self.metrics.sequential(self.window.statistics, self.settings.by)
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
            self.log(f"alert {t.action}: {f.metric} on {f.segment_key}: {f.reason}", "warning", metric=f.metric,
                     segment=f.segment, action=t.action, severity=f.severity)
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
                        self.log(f"alert resolved: {key}", key=key, action="resolved")
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

    def _tidy(self, now: float) -> None:
        """The retention (``[retention]``, ``[outbox] retention_days``); a failure is logged, never fatal."""
        try:
            report, purged = self._housekeeping.run(now)
        except Exception as exc:  # noqa: BLE001 - housekeeping must not stop the sidecar
            self.log(f"retention not applied ({type(exc).__name__}: {exc}); will retry", "warning")
            return
        if self.metrics is not None:
            for kind, n in (("events", report.event_segments), ("quarantine", report.quarantine_files),
                            ("alerts", report.alert_files), ("outbox", purged)):
                self.metrics.retention_deleted.labels(kind).inc(n)
        if report.event_segments or report.quarantine_files or report.alert_files:
            self.log(report.summary(), event_segments=report.event_segments, event_rows=report.event_rows,
                     quarantine_files=report.quarantine_files, alert_files=report.alert_files)
        if purged:
            self.log(f"outbox: {purged} delivered entr{'y' if purged == 1 else 'ies'} older than "
                     f"{self.config.outbox_retention_days:g} days deleted", outbox_rows=purged)

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
        frame = pa.concat_tables([p.frame for p in parts])
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
        started = time.perf_counter()
        result = commit_tail_batch(self.store, batch.frame, rejects, self._quarantined,
                                   guard=self._dedup)
        n_lines = len(chunk.lines) + len(chunk.oversize)
        if self.metrics is not None:
            self.metrics.committed(lines=n_lines, events=len(result.frame), duplicates=result.duplicates,
                                   reasons=[r["reason"] for r in result.quarantine_rows],
                                   seconds=time.perf_counter() - started)
        self.counters.lines += n_lines
        self.counters.events += len(result.frame)
        self.counters.duplicates += result.duplicates
        self.counters.quarantined += result.quarantined
        self.counters.segments += result.segment is not None
        self._status_events += len(result.frame)
        self._last_commit[src.id] = now
        if result.frame.num_rows:
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
        """The status as a dict (what the status file holds)."""
        span = max(1e-9, now - self._last_status)
        sources = self.follower.all_sources()
        lagging = [s for s in sources if s.lag_bytes > 0]
        pending = self._outbox.counts()["pending"] if self._outbox is not None else 0
        return {
            "time": datetime.now(timezone.utc).isoformat(),
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
            "heavy_modules": heavy_modules(),
            "metrics_url": None if self.server is None else self.server.url,
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
        if self._cold_interval and now - self._last_cold_drop >= self._cold_interval:
            self._last_cold_drop = now
            drop_cold_code()
        self.log(f"{st['events_per_s']:.0f} events/s, lag {st['lag_bytes']} B / {st['lag_seconds']:.1f} s, "
                 f"{st['quarantined']} quarantined, {st['open_alerts']} open alert(s), {st['outbox_pending']} pending, "
                 f"{st['total_events']} events total", status=st)
        if self.status_file:
            path = Path(self.status_file)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(st) + "\n", encoding="utf-8")
            os.replace(tmp, path)

    # ------------------------------------------------------------------ probes and metrics
    def health(self) -> list[str]:
        """Why the sidecar is not alive (``[]``: alive); ``/healthz``. Before the loop's first
        round (start-up, the first baseline) it counts as alive."""
        if self._heartbeat is None:
            return []
        stalled = time.monotonic() - self._heartbeat
        limit = self.settings.health_stall_s
        return [] if stalled <= limit else [f"main loop stalled for {stalled:.0f} s (limit {limit:g} s)"]

    def readiness(self) -> list[str]:
        """Why the sidecar is not ready (``[]``: ready); ``/readyz`` (see :mod:`monitor.tail.server`)."""
        from monitor.tail.server import readiness, store_writable

        beat = self._heartbeat
        return readiness(running=beat is not None and not self.stop.is_set(),
                         stalled_s=0.0 if beat is None else time.monotonic() - beat,
                         stall_s=self.settings.health_stall_s, writable=store_writable(self.store.root),
                         waiting_s=self._waiting_s, commit_age_s=self.settings.ready_commit_age_s)

    def _start_server(self) -> None:
        from monitor.tail.metrics import CONTENT_TYPE_LATEST
        from monitor.tail.server import ProbeServer

        outbox = self._outbox
        self.metrics.watch(rss=resident_bytes, live_segments=lambda: len(self.store.live_segments()),
                           outbox_pending=lambda: outbox.counts()["pending"])
        self.server = ProbeServer(self.settings.metrics_addr, metrics=self.metrics.exposition,
                                  content_type=CONTENT_TYPE_LATEST, health=self.health, ready=self.readiness)
        self.server.start()
        self.log(f"metrics on {self.server.url}/metrics (and /healthz, /readyz)", metrics_url=self.server.url)

    def _publish(self, now: float) -> None:
        """The loop's heartbeat, and (at most once a second) the lag per file for the metrics and /readyz."""
        self._heartbeat = now
        if self.server is None or now - self._last_publish < 1.0:
            return
        self._last_publish = now
        sources = self.follower.all_sources()
        self._waiting_s = max((now - self._last_commit.get(s.id, s.caught_up_at) for s in sources if s.lag_bytes > 0),
                              default=0.0)
        self.metrics.files({s.path or s.id: s.lag_bytes for s in sources})

    # ------------------------------------------------------------------ main loop
    def run(self) -> int:
        """Run until stopped (or, with ``once``, until everything present is ingested)."""
        self._open_sinks()
        if self.metrics is not None:
            self._start_server()
        if not self.once:
            on_merge = None
            if self.metrics is not None:
                def on_merge(n: int) -> None:
                    self.metrics.compactions.inc()
                    self.metrics.compacted.inc(n)
            self._compactor = Compactor(self.store, self._deliver_stop, interval_s=self.settings.compact_interval_s,
                                        min_segments=self.settings.compact_min_segments,
                                        log=lambda text: self.log(text, "warning"), on_merge=on_merge)
            self._compactor.start()
        now = time.monotonic()
        self._refresh_baseline(now, only_new=False)
        self.log(f"following {', '.join(self.patterns)} into {self.store.root}", patterns=self.patterns,
                 store=str(self.store.root))
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
                if self._housekeeping.due(now):
                    self._tidy(now)
                self._publish(time.monotonic())
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
                self._close_sinks(deadline)  # also tells the compactor to stop after its current group
                if self._compactor is not None:
                    # A merge in progress runs in pyarrow and DuckDB: the interpreter must not be torn
                    # down under it (a native thread pool destroyed mid-task aborts the process with
                    # SIGABRT). It ends after one group; from the CLI, the watchdog bounds the wait.
                    self._compactor.join(self.settings.shutdown_timeout_s)
                if self.server is not None:
                    self.server.close()
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


def run_tail(paths: list[str] | str, *, store: str | os.PathLike[str] | Store | None = None,
             config: str | os.PathLike[str] | Config | None = None, baseline: str | None = None,
             input_format: str | None = None, status_file: str | os.PathLike[str] | None = None,
             status_interval: float = 10.0, check_interval: float = 5.0, poll_interval: float = 0.2,
             once: bool = False, quiet: bool = False, metrics_addr: str | None = None,
             log_format: str | None = None) -> int:
    """Follow ``paths`` (files or globs) into ``store`` until SIGTERM / SIGINT; returns the exit code (0).

    The library face of ``llm-monitor tail`` (see the module docstring and docs/TAIL.md):

    * ``store``: a store directory or :class:`~monitor.store.Store` (default:
      ``LLM_MONITOR_STORE``, the config's ``store.path``, else ``./llm-monitor-data``);
    * ``config``: a :class:`~monitor.config.Config` or the path of an ``llm-monitor.toml``
      (default: ``./llm-monitor.toml`` if present);
    * ``baseline``: a selector for the baseline window (default: ``[tail] baseline``);
    * ``input_format``: force a log format (default: detected per file);
    * ``status_file``: also write the status as JSON to this file (atomic rename);
    * ``status_interval``, ``check_interval``, ``poll_interval``: seconds between status lines,
      the longest time between sequential checks, and seconds between looks at the files;
    * ``once``: ingest what is there now, check once, and return;
    * ``quiet``: no status lines or log lines on stderr;
    * ``metrics_addr``: serve ``/metrics``, ``/healthz`` and ``/readyz`` on ``HOST:PORT`` (a bare
      port: loopback only; default: ``[tail] metrics_addr``, else off);
    * ``log_format``: ``text`` or ``json`` log lines (default: ``[tail] log_format``, else text).

    Mistakes (a path that is a directory, a missing parent directory, a bad baseline or
    configuration) raise :class:`~monitor.errors.UserError`. See the module example.

    >>> run_tail(["/no/such/dir/app.log"], once=True)
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: no such directory: /no/such/dir (for /no/such/dir/app.log)
    >>> run_tail(["app.log"], baseline="nope=1", once=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    monitor.errors.SelectorError: ...nope...
    """
    patterns = [os.fspath(paths)] if isinstance(paths, (str, os.PathLike)) else [os.fspath(p) for p in paths]
    if not patterns:
        raise UserError("no log file or glob to follow")
    config = config if isinstance(config, Config) else load_config(None if config is None else os.fspath(config))
    settings = TailSettings.from_config(config.tail, config.path or "llm-monitor.toml")
    if baseline:
        parse_selector(baseline)
        settings.baseline = baseline
    if metrics_addr:
        from monitor.tail.server import parse_addr

        parse_addr(metrics_addr)
        settings.metrics_addr = metrics_addr
    if log_format is not None:
        if log_format not in ("text", "json"):
            raise UserError(f"unknown log format {log_format!r}; use text or json")
        settings.log_format = log_format
    for name, value in (("status_interval", status_interval), ("check_interval", check_interval),
                        ("poll_interval", poll_interval)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise UserError(f"{name} must be a number of seconds > 0, got {value!r}")
        setattr(settings, name, float(value))
    for pattern in patterns:
        if not has_magic(pattern) and os.path.isdir(pattern):
            raise UserError(f"is a directory, not a log file: {pattern} (quote a glob such as '{pattern}/*.log')")
        parent = os.path.dirname(pattern) or "."
        if not has_magic(parent) and not os.path.isdir(parent):
            raise UserError(f"no such directory: {parent} (for {pattern})")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StoreExposureWarning)
        if not isinstance(store, Store):
            store = open_store(default_store_path(None if store is None else os.fspath(store), config.store))
        else:
            loose = exposure(store.root)
            if loose:
                warnings.warn(exposure_message(store.root, loose), StoreExposureWarning, stacklevel=1)
    store.require_writable()
    tune_for_long_run()
    dsn = config.sentry.resolved_dsn()
    if dsn:
        from sinks.dsn import dsn_problem

        problem = dsn_problem(dsn)
        if problem:
            raise UserError(f"{problem} (SENTRY_DSN or sentry.dsn)")
    tailer = Tailer(patterns, store, config, settings, input_format=input_format,
                    status_file=None if status_file is None else os.fspath(status_file), once=once,
                    dsn=dsn, quiet=quiet)
    for w in caught:
        if issubclass(w.category, StoreExposureWarning):
            tailer.log(str(w.message), "warning", store=str(store.root))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if dsn:
        from sinks.dsn import redact_dsn

        tailer.log(f"alerts go to Sentry at {redact_dsn(dsn)}", sentry=redact_dsn(dsn))
    if threading.current_thread() is threading.main_thread() and not tailer.once:
        _install_signals(tailer)
    return tailer.run()
