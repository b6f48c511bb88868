"""The Python API: one object over a store. The CLI is a thin face of this module.

    >>> import monitor, tempfile
    >>> m = monitor.open(tempfile.mkdtemp())
    >>> m.events().shape[0]
    0
    >>> int(m.sql("select 1 + 1 as two").two[0])
    2

Reads never take a lock: they list the immutable Parquet segments at call time, so a
notebook and the sidecar work on the same store at once.
"""

from __future__ import annotations

import json
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import pyarrow as pa

from detectors._lazy import LazyModule
from monitor.config import Config, check_segment_keys, load_config
from monitor.engines import DuckDBEngine, Engine, engine_name, open_engine
from monitor.formats import FORMATS
from monitor.errors import NothingToCompare, UserError
from monitor.ingest import IngestReport, describe_rejects, ingest_files, read_file, to_pandas
from monitor.selectors import Selector, parse_selector
from monitor.store import Store, default_store_path, open_store

if TYPE_CHECKING:  # imported where a DataFrame is handed out: the sidecar's baseline needs none
    import duckdb
    import pandas as pd

    from detectors.finding import Finding  # the statistics and findings: imported by the commands that compare
    from monitor.stats import SegmentKey, SegmentStats
else:  # imported at the first DuckDB call: ``signals`` and ``check`` of small files make none
    duckdb = LazyModule("duckdb")

_FREQ = re.compile(r"^(\d+)\s*(s|sec|second|seconds|min|minute|minutes|m|h|hour|hours|d|day|days)$")
_FREQ_UNITS = {"s": "second", "sec": "second", "second": "second", "seconds": "second", "m": "minute",
               "min": "minute", "minute": "minute", "minutes": "minute", "h": "hour", "hour": "hour",
               "hours": "hour", "d": "day", "day": "day", "days": "day"}


@dataclass
class Comparison:
    """Result of :meth:`Monitor.compare`: the findings, as objects and as a DataFrame."""

    items: list[Finding]
    baseline: str
    current: str
    by: list[str]
    monitor: "Monitor | None" = field(default=None, repr=False)
    compared: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Keys whose values the two windows do not share, dropped from the segmentation:
    ``{"model_version": ("2026-10-01", "2026-11-20")}`` (several values joined with ``|``)."""
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    """Segments with events in one window only (``segment``, ``window``, ``n``): not tested."""
    within: dict[str, list[Any]] = field(default_factory=dict)
    """Compared keys that were compared within some models only (the models whose versions all
    changed, in a store where others did not): ``{"model_version": ["acme-chat"]}``."""

    @property
    def keys(self) -> list[str]:
        """The segmentation keys the findings are grouped by (``by`` less the compared keys)."""
        return [k for k in self.by if k not in self.compared or k in self.within]

    @property
    def findings(self) -> pd.DataFrame:
        """One row per finding, the same fields as ``llm-monitor check --format json``."""
        rows = [f.to_dict() for f in self.items]
        import pandas as pd

        from detectors.finding import Finding

        return pd.DataFrame(rows, columns=list(Finding.__dataclass_fields__))

    @property
    def alerts(self) -> list[Finding]:
        """The findings with ``alert=True``."""
        return [f for f in self.items if f.alert]

    def to_dict(self) -> dict[str, Any]:
        """``{"compared": {...}, "findings": [...], "unmatched": [...]}``, JSON-ready."""
        out: dict[str, Any] = {"compared": {k: list(v) for k, v in self.compared.items()},
                               "findings": [f.to_dict() for f in self.items],
                               "unmatched": [dict(u) for u in self.unmatched]}
        if self.within:
            out["compared_within"] = {k: list(v) for k, v in self.within.items()}
        return out

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON, exactly as ``llm-monitor check --format json`` prints it."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def report(self, path: str | Path, *, title: str | None = None) -> Path:
        """Write the self-contained HTML report of this comparison to ``path`` (``check --report``)."""
        from monitor.report import write_report

        return write_report(self._monitor(), self, path, title=title)

    def alert(self, *, source: str = "check") -> str:
        """Send the findings through the configured sinks (alert log, alert lifecycle, outbox,
        Sentry with a DSN), as ``check`` does unless ``--no-sinks``; returns a one-line note."""
        return self._monitor().alert(self.items, source=source)

    def _monitor(self) -> "Monitor":
        if self.monitor is None:
            raise UserError("this comparison has no monitor attached: compute it with Monitor.compare()")
        return self.monitor

    def plot(self, metric: str = "response_length", **kwargs: Any) -> Any:
        """A matplotlib figure of ``metric`` for the compared segments (see ``monitor.report.plots``)."""
        from monitor.report import plots

        try:
            return plots.plot_comparison(self, metric, **kwargs)
        except ValueError as exc:
            raise UserError(str(exc)) from None


@dataclass
class FileSignals:
    """Result of :meth:`Monitor.file_signals`: a log file's events with their signals, as an
    Arrow table, and its quarantined lines. Nothing is stored and no pandas is imported;
    :meth:`to_pandas` is the DataFrame of :meth:`Monitor.signals`.

    >>> import pyarrow as pa
    >>> fs = FileSignals(pa.table({"request_id": ["r1"], "chars": [5], "refusal": [None]}), [])
    >>> list(fs.rows(["request_id", "refusal", "not_a_column"]))
    [{'request_id': 'r1', 'refusal': None}]
    """

    table: pa.Table
    """The events (the store's schema: :data:`monitor.store.EVENT_SCHEMA`), in line order."""
    rejects: list[dict[str, Any]]
    """Quarantined lines: ``source``, ``line``, ``reason``."""

    def rows(self, columns: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """Each event as a dict of plain Python values (``None`` for a missing value), with
        ``columns`` (those the table has, in that order; default all): what ``llm-monitor
        signals`` prints, one JSON object a line."""
        names = [c for c in columns if c in self.table.column_names] if columns is not None \
            else self.table.column_names
        return iter(self.table.select(names).to_pylist())

    def to_pandas(self) -> pd.DataFrame:
        """The events as a DataFrame (nullable integer, float and boolean columns), the
        quarantined lines in ``frame.attrs["rejects"]``."""
        frame = to_pandas(self.table)
        frame.attrs["rejects"] = self.rejects
        return frame


class Monitor:
    """A store plus a configuration. Create with :func:`open`."""

    def __init__(self, store: Store | None, config: Config, engine: Engine | None = None) -> None:
        self.store = store
        self.config = config
        self.engine: Engine = engine if engine is not None else DuckDBEngine(store)  # type: ignore[arg-type]

    # -------------------------------------------------------------------------- reading
    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """SQL over the store's ``events`` view -> DataFrame (DuckDB's, or Spark SQL with the spark engine)."""
        try:
            return self.engine.sql(query, params)
        except duckdb.Error as exc:
            raise UserError(f"SQL error: {str(exc).splitlines()[0]}") from None
        except Exception as exc:  # Spark SQL's errors (pyspark is imported only by the spark engine)
            if type(exc).__name__ not in ("AnalysisException", "ParseException"):
                raise
            raise UserError(f"SQL error: {str(exc).splitlines()[0]}") from None

    def events(self, selector: str | None = None, *, since: str | None = None, until: str | None = None,
               columns: Iterable[str] | None = None, limit: int | None = None, **equals: str) -> pd.DataFrame:
        """Events with their signals, filtered like a selector, oldest first.

        ``m.events(since="2026-11-01", model="x")`` equals ``m.events("since=2026-11-01,model=x")``.
        """
        sel = self._selector(selector, since=since, until=until, **equals)
        where, params = sel.where()
        cols = ", ".join(columns) if columns else "*"
        if limit is not None:
            try:
                limit = operator.index(limit)
            except TypeError:
                raise UserError(f"limit must be a whole number, not {limit!r}") from None
            if limit < 0:
                raise UserError(f"limit must be >= 0, not {limit}")
        lim = f" LIMIT {limit}" if limit is not None else ""
        return self.sql(f"SELECT {cols} FROM events WHERE {where} ORDER BY ts, request_id{lim}", params)

    def stats(self, by: Iterable[str] = ("model", "model_version", "route"), freq: str = "1h",
              selector: str | None = None) -> pd.DataFrame:
        """Sufficient statistics per segment and time bucket (``freq`` like ``1h``, ``15min``, ``1d``)."""
        by = check_segment_keys(by)
        interval = parse_freq(freq)
        sel = self._selector(selector)
        where, params = sel.where()
        from monitor.stats import time_series

        return self.engine.read(lambda con: time_series(con, where, params, by, interval))

    def alerts(self) -> pd.DataFrame:
        """The alert log (one row per alert raised by ``check``, ``nightly`` or ``tail``)."""
        from sinks.alert_log import read_alerts

        columns = ["ts", "run_id", "metric", "segment_key", "segment", "alert", "reason"]
        import pandas as pd

        frame = pd.DataFrame(read_alerts(self.store.alert_log))
        return frame if len(frame.columns) else pd.DataFrame(columns=columns)

    def quarantine(self) -> pd.DataFrame:
        """Quarantined lines with source file, line number and reason (a store at a URI is read
        through the engine: DuckDB's reader of that scheme, or Spark's Hadoop file system)."""
        from monitor.store import quarantine_frame

        return quarantine_frame(self.engine.quarantine_records())

    def models(self, since: str | None = None) -> pd.DataFrame:
        """Every model / version seen: first and last seen, events, pinned, and new since ``since``."""
        from monitor.models import model_inventory

        return model_inventory(self, since)

    def new_versions(self, inventory: pd.DataFrame) -> list[Finding]:
        """One ``new_model_version`` finding per version marked new in :meth:`models` (none when
        ``sentry.alert_on_new_model`` is off): what ``models --alert`` sends."""
        from monitor.models import new_version_findings

        return new_version_findings(inventory) if self.config.sentry.alert_on_new_model else []

    def alert(self, findings: Iterable[Finding], *, source: str = "api") -> str:
        """Send findings through the sinks: the alert log, the alert lifecycle and outbox, and
        Sentry with a DSN (prompt and response text only with ``sentry.send_text``); returns a
        one-line note for people."""
        from monitor.alerting import dispatch

        return dispatch(list(findings), self.store, self.config, source=source)

    def signals(self, path: str | Path, *, input_format: str | None = None) -> pd.DataFrame:
        """The events of a log file with their derived signals, as a DataFrame.

        Nothing is stored. Quarantined lines are in ``frame.attrs["rejects"]`` (source, line,
        reason). A file with no valid event raises :class:`UserError` naming its quarantine
        reasons. :meth:`file_signals` is the same without pandas (what ``llm-monitor signals``
        prints).
        """
        return self.file_signals(path, input_format=input_format).to_pandas()

    def file_signals(self, path: str | Path, *, input_format: str | None = None) -> FileSignals:
        """The events of a log file with their derived signals, as an Arrow table
        (``llm-monitor signals FILE`` prints its :meth:`FileSignals.rows`).

        Nothing is stored. A file with no valid event raises :class:`UserError` naming its
        quarantine reasons.
        """
        _check_format(input_format)
        table, rejects = read_file(str(path), self.config, input_format=input_format)
        if not table.num_rows:
            raise UserError(f"{path} {describe_rejects(rejects)}")
        return FileSignals(table, [{k: r[k] for k in ("source", "line", "reason")} for r in rejects])

    def sample(self, selector: str | None = None, *, where: dict[str, Any] | None = None, n: int = 50,
               seed: int = 0) -> pd.DataFrame:
        """A reproducible random sample of refusal decisions to audit (``llm-monitor sample``).

        ``selector`` picks the events (a store selector or a log file), ``where`` filters them by
        column (``{"refusal_class": "full_refusal"}``); each row has the class, the rule and the
        matched span next to the start of the response (:func:`monitor.audit_sample.sample_decisions`).
        """
        from monitor.audit_sample import sample_decisions

        sel = parse_selector(selector) if selector else Selector(text="")
        if sel.file:
            frame = self.signals(sel.file)
        else:
            where_sql, params = sel.where()
            frame = self.sql(f"SELECT * FROM events WHERE {where_sql}", params)
        try:
            return sample_decisions(frame, where=where, n=n, seed=seed)
        except ValueError as exc:
            raise UserError(str(exc)) from None

    def nightly(self, day: Any = None, *, by: Iterable[str] | None = None, report: str | Path | None = None,
                compact: bool = True, out: Any = None, progress: Any = None) -> Any:
        """Compare a day with its trailing baseline (``llm-monitor nightly``): compaction, change
        points, version attribution, sinks, report, Sentry Crons with a DSN.

        ``day`` is a date or ``YYYY-MM-DD`` (default yesterday, UTC); ``out`` a text stream for the
        job's log lines (default: silent). Returns a :class:`monitor.nightly.NightlyResult`.
        """
        from monitor.nightly import run_nightly

        return run_nightly(self, day=day, by=by, report=report, compact=compact, progress=progress, out=out)

    def tail(self, paths: Iterable[str] | str, *, baseline: str | None = None, input_format: str | None = None,
             status_file: str | Path | None = None, status_interval: float = 10.0, check_interval: float = 5.0,
             poll_interval: float = 0.2, once: bool = False, quiet: bool = False, metrics_addr: str | None = None,
             log_format: str | None = None) -> int:
        """Follow log files into this store and alert within seconds (``llm-monitor tail``).

        Runs until SIGTERM / SIGINT, or with ``once=True`` ingests what is there, checks once and
        returns. Returns the exit code (0). See docs/TAIL.md and :func:`monitor.tail.run_tail`.
        """
        from monitor.tail import run_tail

        return run_tail([paths] if isinstance(paths, str) else list(paths), store=self.store, config=self.config,
                        baseline=baseline, input_format=input_format, status_file=status_file,
                        status_interval=status_interval, check_interval=check_interval,
                        poll_interval=poll_interval, once=once, quiet=quiet, metrics_addr=metrics_addr,
                        log_format=log_format)

    # --------------------------------------------------------------------------- writing
    def ingest(self, paths: Iterable[str], *, input_format: str | None = None,
               redact: str | None = None) -> IngestReport:
        """Ingest log files into the store (idempotent per request id).

        With the spark engine this is the backfill of :mod:`monitor.engines.spark.backfill`:
        ``paths`` may also be globs and directories.
        """
        _check_format(input_format)
        if redact is not None and redact not in ("none", "hash", "drop"):
            raise UserError(f"unknown redact {redact!r}; use none, hash or drop")
        if self.engine.name == "spark":
            from monitor.engines.spark.backfill import backfill

            return backfill(paths, self.store, self.config, self.engine.session,  # type: ignore[attr-defined]
                            input_format=input_format, redact=redact)
        return ingest_files(list(paths), self.store, self.config, input_format=input_format, redact=redact)

    # --------------------------------------------------------------------------- comparing
    def compare(self, baseline: str, current: str, by: Iterable[str] | None = None) -> Comparison:
        """Compare two windows per segment: the findings of ``llm-monitor check``."""
        # imported here: the detectors pull in scipy.stats, which commands that compare nothing
        # (``signals``, ``ingest``, ``--help``) should not pay for at start-up
        from monitor.compare import IDENTITY_KEYS, compare_windows, match_windows, nothing_matched, pinned_apart

        by_list = check_segment_keys(by if by is not None else self.config.segment_by)
        base_sel, cur_sel = parse_selector(baseline), parse_selector(current)
        base_stats, cur_stats = self._windows_with_events(base_sel, cur_sel, by_list)
        match = match_windows(base_stats, cur_stats, by_list,
                              comparable=IDENTITY_KEYS | pinned_apart(base_sel, cur_sel))
        if not match.matched:
            raise nothing_matched(base_stats, cur_stats, by_list, match.keys)
        items = compare_windows(match.baseline, match.current, match.keys, self.config.policy,
                                compared=match.compared, baseline_labels=match.baseline_labels)
        by_keys = match.keys + [k for k in match.compared if k not in match.keys]
        return Comparison(items, baseline, current, by_keys, monitor=self, compared=match.compared,
                          unmatched=match.unmatched, within=match.within)

    def window(self, selector: Selector | str, by: list[str]) -> dict[SegmentKey, SegmentStats]:
        """Per-segment sufficient statistics of one window (store selector or log file)."""
        sel = parse_selector(selector) if isinstance(selector, str) else selector
        by = check_segment_keys(by)
        if not sel.file:
            return self.engine.windows([sel], by, self.config.length_measure)[0]
        table, _ = read_file(sel.file, self.config)
        return self._table_window(table, sel, by)

    def _table_window(self, table: pa.Table, sel: Selector, by: list[str]) -> dict[SegmentKey, SegmentStats]:
        from monitor.stats import window_stats

        where, params = sel.where()
        con = duckdb.connect()
        try:
            con.register("events", table.drop_columns([c for c in ("attributes",) if c in table.column_names]))
            return window_stats(con, where, params, by, self.config.length_measure)
        finally:
            con.close()

    # --------------------------------------------------------------------------- helpers
    def _windows_with_events(self, base_sel: Selector, cur_sel: Selector,
                             by: list[str]) -> tuple[dict[SegmentKey, SegmentStats], dict[SegmentKey, SegmentStats]]:
        """Both windows' statistics, or :class:`NothingToCompare` naming a window with no event.

        Two store windows are read on one listing of the live segments (both windows see the
        same snapshot even while the sidecar commits or compacts; :meth:`Engine.windows`).
        """
        if base_sel.file or cur_sel.file:
            return (self._window_with_events(base_sel, by, "baseline"),
                    self._window_with_events(cur_sel, by, "current"))

        base_stats, cur_stats = self.engine.windows([base_sel, cur_sel], by, self.config.length_measure)
        for side, sel, stats in (("baseline", base_sel, base_stats), ("current", cur_sel, cur_stats)):
            if not stats:
                raise self._empty_window(side, sel, self._total())
        return base_stats, cur_stats

    def _total(self) -> int:
        """The events in the store (for the message of an empty window)."""
        return int(self.engine.sql("SELECT count(*) AS n FROM events").n.iloc[0])

    def _empty_window(self, side: str, sel: Selector, total: int) -> NothingToCompare:
        where = f"is empty: store {self.store.name} has no events" if total == 0 else \
            f"selects none of the {total} events in store {self.store.name}"
        return NothingToCompare(f"nothing to compare: the {side} window {sel.text!r} {where}")

    def _window_with_events(self, sel: Selector, by: list[str], side: str) -> dict[SegmentKey, SegmentStats]:
        """:meth:`window`, or :class:`NothingToCompare` naming the window when it has no event."""
        if not sel.file:
            stats = self.window(sel, by)
            if not stats:
                raise self._empty_window(side, sel, self._total())
            return stats
        table, rejects = read_file(sel.file, self.config)
        if not table.num_rows:
            raise NothingToCompare(f"nothing to compare: the {side} window {sel.file} {describe_rejects(rejects)}")
        return self._table_window(table, sel, by)

    def _selector(self, selector: str | None, *, since: str | None = None, until: str | None = None,
                  **equals: str) -> Selector:
        terms = [selector] if selector else []
        terms += [f"{k}={v}" for k, v in (("since", since), ("until", until)) if v]
        terms += [f"{k}={v}" for k, v in equals.items() if v is not None]
        sel = parse_selector(",".join(terms)) if terms else Selector(text="")
        if sel.file:
            raise UserError("events()/stats() read the store; to read a log file use signals() or file_signals()")
        return sel



def _check_format(input_format: str | None) -> None:
    if input_format is not None and input_format not in ("auto", *FORMATS):
        raise UserError(f"unknown input_format {input_format!r}; use auto, {', '.join(FORMATS)}")


def parse_freq(freq: str) -> str:
    """``1h`` -> ``1 hour``; ``15min`` -> ``15 minute`` (a DuckDB interval).

    >>> parse_freq("15min"), parse_freq("1d")
    ('15 minute', '1 day')
    """
    match = _FREQ.match(freq.strip()) if isinstance(freq, str) else None
    if not match or int(match.group(1)) == 0:
        raise UserError(f"bad freq {freq!r}: use e.g. 30s, 15min, 1h, 1d")
    return f"{int(match.group(1))} {_FREQ_UNITS[match.group(2)]}"


def open(path: str | Path | None = None, *, config: str | Config | None = None,  # noqa: A001
         engine: str | None = None, spark: Any = None) -> Monitor:
    """Open a store (created if missing) with a configuration and a query engine.

    ``path`` defaults to ``LLM_MONITOR_STORE``, then the config's ``store.path``, then
    ``./llm-monitor-data``. ``config`` is a path to ``llm-monitor.toml``, a :class:`Config`,
    or None (``./llm-monitor.toml`` if present, else defaults). ``engine`` is ``duckdb`` or
    ``spark`` (default: ``LLM_MONITOR_ENGINE``, then the config's ``store.engine``, then duckdb);
    ``spark`` is a SparkSession to use (a notebook's), which implies the spark engine.
    See :mod:`monitor.engines` and docs/SCALE.md.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    root = default_store_path(str(path) if path else None, cfg.store)
    name = "spark" if spark is not None else engine_name(engine, cfg.engine)
    store = open_store(root)
    return Monitor(store, cfg, open_engine(store, name, spark=spark, conf=cfg.spark))
