"""The store: a directory of immutable Parquet segments, read through DuckDB.

A store may also be a URI (``s3a://``, ``gs://``, ``abfss://``, ``hdfs://``, ``file://``): the
engines read its segments there and nothing writes them (:func:`open_store`, docs/SCALE.md).

Layout::

    <store>/events/*.parquet        event segments (events + derived signals + provenance)
    <store>/quarantine/*.jsonl      lines that could not be ingested, with file, line and reason
    <store>/alerts.jsonl            alert log (one line per alert finding)
    <store>/outbox.sqlite           alerts waiting for / delivered to Sentry
    <store>/tmp/                    files being written; renamed into place when complete

Permissions: the store holds prompts and responses (often personal data), so, like a
database's data directory, a new store's directories are created ``0700`` and its files
``0600`` (:mod:`sinks.private`), whatever the umask. An existing store that is group- or
world-accessible is left as it is, and :func:`open_store` warns
(:class:`StoreExposureWarning`, see :func:`exposure`).

Writers write a whole segment to ``tmp/`` then ``os.replace`` it into ``events/``: a reader
sees all of a segment or none of it. No process holds a database lock on the store, so the
sidecar, the nightly job and notebooks read and write it at the same time (DESIGN.md).

A compacted segment records in its Parquet metadata which segments it replaces; readers
skip replaced segments, so a crash between writing the compacted file and deleting the
old ones never shows a row twice.

Example:
    >>> import tempfile
    >>> s = Store(tempfile.mkdtemp())
    >>> int(s.sql("select count(*) as n from events").n[0])
    0
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import hashlib
import json
import os
import time
import stat
import uuid
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

import numpy as np
import pyarrow as pa

from detectors._lazy import LazyModule  # one lazy-import helper for both packages (monitor may import detectors)
from monitor.errors import UserError
from monitor.pool import later, threaded
from monitor.listing import REPLACES_KEY, live_files, replaced_names  # noqa: F401 (the store's own listing rule, re-exported)
from sinks.private import private_dir, private_file

if TYPE_CHECKING:  # pandas is imported where a DataFrame is handed out, not on the write path
    import duckdb
    import pandas as pd
    import pyarrow.parquet as pq
else:  # imported at first use: ``signals`` and ``check`` of small files read no segment (detectors/_lazy.py)
    duckdb = LazyModule("duckdb")
    pq = LazyModule("pyarrow.parquet")

T = TypeVar("T")

EVENT_COLUMNS: dict[str, pa.DataType] = {
    "ts": pa.timestamp("us", tz="UTC"),
    "request_id": pa.string(),
    "model": pa.string(),
    "model_version": pa.string(),
    "requested_model": pa.string(),
    "route": pa.string(),
    "prompt": pa.string(),
    "response": pa.string(),
    "output_tokens": pa.int64(),
    "input_tokens": pa.int64(),
    "finish_reason": pa.string(),
    "latency_ms": pa.float64(),
    "task_success": pa.bool_(),
    "expects_json": pa.bool_(),
    "schema_name": pa.string(),
    "schema": pa.string(),
    "attributes": pa.string(),
    "pinned": pa.bool_(),
    "chars": pa.int64(),
    "words": pa.int64(),
    "reasoning_length": pa.int64(),
    "refusal": pa.bool_(),
    "refusal_class": pa.string(),
    "refusal_rule": pa.string(),
    "refusal_span": pa.string(),
    "parse_status": pa.string(),
    "parse_error": pa.string(),
    "parse_failed": pa.bool_(),
    "source_format": pa.string(),
    "source_path": pa.string(),
    "source_id": pa.string(),
    "source_line": pa.int64(),
    "source_offset": pa.int64(),
    "ingested_at": pa.timestamp("us", tz="UTC"),
}
EVENT_SCHEMA = pa.schema([pa.field(n, t) for n, t in EVENT_COLUMNS.items()])

PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd"}
"""The Parquet writer's options for event segments (``pyarrow.parquet.ParquetWriter`` keywords;
measured in benchmarks/commit_write.py, the choice in docs/ARCHITECTURE.md)."""
ROW_GROUP_ROWS = 128_000
"""Rows per row group of an event segment."""


def _nothing() -> None:
    return None


def events_table(columns: dict[str, Any], n: int) -> pa.Table:
    """A table with the store's exact schema (:data:`EVENT_SCHEMA`) from one column per name:
    Arrow arrays (cast where the type differs), numpy arrays or lists of Python values; a missing
    or None column is all null. Other names are ignored.

    >>> t = events_table({"request_id": ["a"], "chars": [3], "extra": [1]}, 1)
    >>> t.schema == EVENT_SCHEMA, t["chars"].to_pylist(), t["model"].to_pylist()
    (True, [3], [None])
    """
    arrays = []
    for name, type_ in EVENT_COLUMNS.items():
        value = columns.get(name)
        if value is None:
            arrays.append(pa.nulls(n, type_))
            continue
        if isinstance(value, pa.ChunkedArray):
            value = value.combine_chunks()
        if isinstance(value, pa.Array):
            arrays.append(value if value.type == type_ else value.cast(type_))
        else:
            arrays.append(pa.array(value, type=type_, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def default_store_path(explicit: str | None = None, configured: str | None = None) -> str:
    """``--store`` if given, else ``LLM_MONITOR_STORE``, else the config's ``store.path``, else ``./llm-monitor-data``.

    >>> default_store_path("x")
    'x'
    """
    return explicit or os.environ.get("LLM_MONITOR_STORE") or configured or "llm-monitor-data"


class StoreExposureWarning(UserWarning):
    """An existing store is readable or writable by the group or by others."""


def exposure(root: str | os.PathLike[str]) -> list[str]:
    """The store's directories and files (top level, and one file per sub-directory) that the
    group or others may access, as ``"name mode"`` strings; ``[]`` when the store is private.

    >>> import tempfile, os
    >>> s = Store(tempfile.mkdtemp() + "/store")
    >>> exposure(s.root)
    []
    >>> os.chmod(s.events_dir, 0o755); exposure(s.root)
    ['events/ 0755']
    >>> link = s.root.parent / "link"; link.symlink_to(s.root); os.chmod(s.events_dir, 0o700); exposure(link)
    []
    """
    root = Path(root)
    loose: list[str] = []

    def look(p: Path, label: str) -> None:
        try:
            mode = stat.S_IMODE(p.stat().st_mode)  # through a symlink (its own mode is 0777)
        except OSError:
            return
        if mode & 0o077:
            loose.append(f"{label} {mode:04o}")

    look(root, "./")
    for sub in ("events", "quarantine", "tmp"):
        d = root / sub
        look(d, f"{sub}/")
        with contextlib.suppress(OSError):
            first = next((p for p in d.iterdir() if p.is_file()), None)
            if first is not None:
                look(first, f"{sub}/{first.name}")
    for name in ("alerts.jsonl", "outbox.sqlite", ".writer.lock"):
        if (root / name).exists():
            look(root / name, name)
    return loose


def exposure_message(root: str | os.PathLike[str], loose: list[str]) -> str:
    """The one-line warning for a store :func:`exposure` found loose.

    >>> exposure_message("data", ["events/ 0755"])
    'store data is accessible to group or others (events/ 0755); it holds prompts and responses: run chmod -R go-rwx data'
    """
    shown = ", ".join(loose[:4]) + (f", ... {len(loose) - 4} more" if len(loose) > 4 else "")
    return (f"store {root} is accessible to group or others ({shown}); it holds prompts and responses: "
            f"run chmod -R go-rwx {root}")


OBJECT_STORE_SCHEMES = ("s3a", "s3", "gs", "abfss", "hdfs", "file")
"""URI schemes a store may be given with (see :func:`store_location` and docs/SCALE.md)."""


def store_location(root: str | os.PathLike[str]) -> str | None:
    """The URI of a store given as a URI (trailing ``/`` dropped), None for a local path.

    >>> store_location("s3a://bucket/llm-monitor/"), store_location("data/store")
    ('s3a://bucket/llm-monitor', None)
    >>> store_location("ftp://host/store")
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: store ftp://host/store: unsupported URI scheme ftp://; use a local path or s3a://, s3://, gs://, abfss://, hdfs://, file://
    """
    text = os.fspath(root)
    if "://" not in text:
        return None
    scheme = text.split("://", 1)[0].lower()
    if scheme not in OBJECT_STORE_SCHEMES:
        known = ", ".join(f"{s}://" for s in OBJECT_STORE_SCHEMES)
        raise UserError(f"store {text}: unsupported URI scheme {scheme}://; use a local path or {known}")
    return text.rstrip("/")


def state_dir(location: str) -> Path:
    """The local directory that holds the alert log, outbox and locks of the store at URI ``location``
    (``$LLM_MONITOR_STATE``, else ``$XDG_STATE_HOME/llm-monitor``, else ``~/.local/state/llm-monitor``,
    then one folder per URI).

    >>> os.environ["LLM_MONITOR_STATE"] = "/var/lib/llm-monitor"
    >>> str(state_dir("s3a://bucket/llm monitor"))
    '/var/lib/llm-monitor/s3a-bucket-llm-monitor'
    >>> del os.environ["LLM_MONITOR_STATE"]
    """
    base = os.environ.get("LLM_MONITOR_STATE") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "llm-monitor")
    slug = "-".join(part for part in "".join(c if c.isalnum() or c in "._" else "-" for c in location).split("-")
                    if part)
    return Path(base) / slug


def open_store(root: str | os.PathLike[str]) -> "Store":
    """A :class:`Store` at ``root`` (created if missing, ``0700``), or a :class:`UserError` that says why not.

    An existing store that the group or others may access gives a :class:`StoreExposureWarning`
    (Python's ``warnings``; the command line prints it as one line). A URI (``s3a://``, ``gs://``,
    ``abfss://``, ``hdfs://``, ``s3://``, ``file://``) opens a store that the engines read there
    and only the Spark backfill writes (:attr:`Store.location`).

    >>> import tempfile, os
    >>> f = tempfile.mktemp(); _ = open(f, "w").write("x")
    >>> open_store(f)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: store ... is a file, not a directory
    >>> os.environ["LLM_MONITOR_STATE"] = tempfile.mkdtemp()
    >>> open_store("s3a://bucket/llm-monitor").location
    's3a://bucket/llm-monitor'
    >>> del os.environ["LLM_MONITOR_STATE"]
    """
    location = store_location(root)
    if location is not None:
        try:
            return Store(state_dir(location), location=location)
        except OSError as exc:
            raise UserError(f"cannot create the local state of store {location}: {exc.strerror or exc}") from None
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise UserError(f"store {root} is a file, not a directory")
    existed = path.is_dir()
    try:
        store = Store(path)
    except OSError as exc:
        raise UserError(f"cannot open store {root}: {exc.strerror or exc}") from None
    if existed:
        loose = exposure(path)
        if loose:
            warnings.warn(exposure_message(root, loose), StoreExposureWarning, stacklevel=2)
    return store


def quarantine_key(row: dict[str, Any]) -> str:
    """Identity of a quarantined line: source, line number and a hash of its bytes."""
    digest = hashlib.sha1(row["raw"]).hexdigest()
    return f"{row['source']}:{row['line']}:{digest}"


def quarantine_name() -> str:
    """The name of a new quarantine file (``q-<UTC time>-<random>.jsonl``)."""
    return f"q-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:12]}.jsonl"


def quarantine_lines(rows: list[dict[str, Any]]) -> bytes:
    """Quarantined lines as the JSON lines of a quarantine file (the raw bytes as text, or
    base64 when they are not UTF-8), each with its :func:`quarantine_key`.

    >>> out = quarantine_lines([{"source": "a.log", "line": 3, "reason": "not JSON", "raw": b"\\xff{"}])
    >>> record = json.loads(out); record["raw_base64"], record["key"].startswith("a.log:3:")
    ('/3s=', True)
    """
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = []
    for row in rows:
        raw: bytes = row["raw"]
        record = {"quarantined_at": now, "source": row["source"], "line": row["line"],
                  "reason": row["reason"], "key": quarantine_key(row)}
        for extra in ("offset", "source_id"):
            if row.get(extra) is not None:
                record[extra] = row[extra]
        try:
            record["raw"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            record["raw_base64"] = base64.b64encode(raw).decode("ascii")
        out.append(json.dumps(record, ensure_ascii=False) + "\n")
    return "".join(out).encode("utf-8")


def quarantine_records(text: str) -> list[dict[str, Any]]:
    """The records of one quarantine file's text (:func:`quarantine_lines` wrote it).

    >>> [r["reason"] for r in quarantine_records(quarantine_lines([{"source": "a", "line": 1, "reason": "not JSON", "raw": b"{"}]).decode())]
    ['not JSON']
    """
    return [json.loads(line) for line in text.splitlines() if line.strip()]


#: The columns of :meth:`Store.quarantine` / ``Monitor.quarantine()``.
QUARANTINE_COLUMNS = ["quarantined_at", "source", "line", "reason", "raw", "raw_base64"]


def quarantine_frame(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Quarantine records as the DataFrame users get (:data:`QUARANTINE_COLUMNS`, in that order)."""
    import pandas as pd

    frame = pd.DataFrame(records)
    for c in QUARANTINE_COLUMNS:
        if c not in frame.columns:
            frame[c] = None
    return frame[QUARANTINE_COLUMNS]


def fresh_quarantine_rows(rows: list[dict[str, Any]], seen: set[str]) -> list[dict[str, Any]]:
    """The ``rows`` whose :func:`quarantine_key` is not in ``seen`` (nor repeated among them).

    >>> row = {"source": "a.log", "line": 1, "raw": b"x"}
    >>> len(fresh_quarantine_rows([row, dict(row)], set())), fresh_quarantine_rows([row], {quarantine_key(row)})
    (1, [])
    """
    seen = set(seen)
    fresh = []
    for row in rows:
        key = quarantine_key(row)
        if key not in seen:
            seen.add(key)
            fresh.append(row)
    return fresh


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Store:
    """One store directory. Cheap to create; every read lists the live segments anew."""

    def __init__(self, root: str | os.PathLike[str], *, create: bool = True, location: str | None = None) -> None:
        self.root = Path(root)
        self.location = location
        """The store's URI when its segments live there (object storage, HDFS); None for a local store.
        ``root`` is then the local state directory (alert log, outbox), see :func:`state_dir`."""
        self.events_dir = self.root / "events"
        self.quarantine_dir = self.root / "quarantine"
        self.tmp_dir = self.root / "tmp"
        self.alert_log = self.root / "alerts.jsonl"
        self.outbox_path = self.root / "outbox.sqlite"
        if create:
            private_dir(self.root)
            for d in (self.events_dir, self.quarantine_dir, self.tmp_dir) if location is None else ():
                private_dir(d)

    @property
    def name(self) -> str:
        """How messages name the store: its URI, else its directory."""
        return self.location or str(self.root)

    def read_only(self, action: str) -> UserError:
        """The error for a write (or a local listing) on a store at a URI."""
        return UserError(f"store {self.location} is a URI: llm-monitor reads it (check, nightly --no-compact) "
                         f"and writes it with ingest --engine spark, but cannot {action} there otherwise; "
                         "see docs/SCALE.md")

    def require_writable(self) -> None:
        """Raise :class:`UserError` unless this process may write segments here (readers need not)."""
        if self.location is not None:
            raise self.read_only("write segments")
        for d in (self.events_dir, self.quarantine_dir, self.tmp_dir):
            if not os.access(d, os.W_OK | os.X_OK):
                raise UserError(f"cannot write to store {self.root}: {d.name}/ is not writable")

    # ---- segments -----------------------------------------------------------------
    def live_segments(self) -> list[Path]:
        """Event segments a reader should read now (replaced segments left out; :func:`live_files`)."""
        if self.location is not None:
            raise self.read_only("list its segments on this machine")
        if not self.events_dir.is_dir():
            return []
        files = [str(p) for p in self.events_dir.iterdir()]
        return [Path(f) for f in live_files(files, lambda f: replaced_names(pq.read_schema(f).metadata))]

    def write_segment(self, table: pa.Table, *, prefix: str = "s", replaces: list[str] | None = None) -> Path:
        """Write ``table`` as one immutable segment, atomically; returns its path."""
        return self.write_segment_from([table], prefix=prefix, replaces=replaces)[0]

    def write_segment_from(self, tables: Iterable[pa.Table], *, prefix: str = "s",
                           replaces: list[str] | None = None,
                           row_group_bytes: int = 64 << 20) -> tuple[Path, int]:
        """Write a stream of tables as one segment, atomically; returns (path, rows).

        Only about ``row_group_bytes`` of input is held at a time, so merging many segments
        (compaction) keeps memory flat. The file is written in ``tmp/``, fsync-ed, then
        renamed into ``events/``: readers see all of it or none.

        The segment's summary (:mod:`monitor.summaries`: DuckDB statements over each table) is
        computed on the process's pool (:mod:`monitor.pool`) while the Parquet writer
        encodes the same rows: both release the GIL, so on two cores the summary costs no wall
        time. Tables are summarized one after the other, in order, as on one thread; tables of
        fewer than :data:`monitor.pool.PARALLEL_ROWS` rows (the sidecar's) stay in this thread.
        """
        if self.location is not None:
            raise self.read_only("write segments")
        metadata = {REPLACES_KEY: json.dumps(sorted(replaces)).encode()} if replaces else None
        schema = EVENT_SCHEMA.with_metadata(metadata) if metadata else EVENT_SCHEMA
        name = f"{prefix}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:12]}.parquet"
        tmp = self.tmp_dir / name
        rows = 0
        pending: list[pa.Table] = []
        pending_bytes = 0
        from monitor.summaries import SUMMARY_KEY, SummaryBuilder, encode  # not on the read-only paths

        os.close(private_file(tmp))  # 0600 before a byte is written; the writer keeps the mode
        summary = SummaryBuilder(EVENT_SCHEMA)  # the segment's statistics, in its footer (monitor.summaries)
        summarized: Callable[[], None] = _nothing  # waits for the summary of the table before
        with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer:
            try:
                for table in tables:
                    table = table.cast(EVENT_SCHEMA) if table.schema != EVENT_SCHEMA else table
                    summarized()  # one table at a time, in order
                    summarized = later(functools.partial(summary.add, table), threaded(table.num_rows))
                    pending.append(table.replace_schema_metadata(metadata))
                    pending_bytes += table.nbytes
                    rows += table.num_rows
                    if pending_bytes >= row_group_bytes:
                        writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
                        pending, pending_bytes = [], 0
                if pending or rows == 0:
                    writer.write_table(pa.concat_tables(pending) if pending else schema.empty_table(),
                                       row_group_size=ROW_GROUP_ROWS)
            except BaseException:
                with contextlib.suppress(Exception):  # the pool is done with this segment; the first error is raised
                    summarized()
                raise
            summarized()
            done = summary.summary()
            if done is not None:
                writer.add_key_value_metadata({SUMMARY_KEY: encode(done)})
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        final = self.events_dir / name
        os.replace(tmp, final)
        _fsync_dir(self.events_dir)
        return final, rows

    @staticmethod
    def frame_to_table(frame: "pd.DataFrame | pa.Table") -> pa.Table:
        """Arrow table with the store's exact schema from an events+signals frame (a pandas
        DataFrame, or an Arrow table: :func:`events_table`)."""
        if isinstance(frame, pa.Table):
            return frame if frame.schema == EVENT_SCHEMA else events_table(
                {name: frame[name] for name in frame.column_names}, frame.num_rows)
        missing = {c: None for c in EVENT_COLUMNS if c not in frame.columns}
        ordered = frame.assign(**missing)[list(EVENT_COLUMNS)] if missing else frame[list(EVENT_COLUMNS)]
        return pa.Table.from_pandas(ordered, schema=EVENT_SCHEMA, preserve_index=False)

    # ---- quarantine ------------------------------------------------------------------
    def write_quarantine(self, rows: list[dict[str, Any]]) -> Path | None:
        """Append quarantined lines (``source``, ``line``, ``reason``, ``raw`` bytes) as one file."""
        if not rows:
            return None
        if self.location is not None:
            raise self.read_only("write its quarantine")
        name = quarantine_name()
        tmp = self.tmp_dir / name
        with open(private_file(tmp), "wb") as fh:
            fh.write(quarantine_lines(rows))
            fh.flush()
            os.fsync(fh.fileno())
        final = self.quarantine_dir / name
        os.replace(tmp, final)
        return final

    def new_quarantine_rows(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The rows not quarantined before (same source, line number and bytes)."""
        if not rows:
            return []
        seen: set[str] = set()
        if self.quarantine_dir.is_dir():
            for p in self.quarantine_dir.glob("*.jsonl"):
                with open(p, encoding="utf-8") as fh:
                    seen.update(json.loads(line).get("key", "") for line in fh if line.strip())
        return fresh_quarantine_rows(rows, seen)

    def quarantine_records(self) -> list[dict[str, Any]]:
        """The records of every quarantine file of this (local) store, oldest file first."""
        rows: list[dict[str, Any]] = []
        if self.quarantine_dir.is_dir():
            for p in sorted(self.quarantine_dir.glob("*.jsonl")):
                with contextlib.suppress(FileNotFoundError), open(p, encoding="utf-8") as fh:  # retention may delete
                    rows.extend(quarantine_records(fh.read()))
        return rows

    def quarantine(self) -> pd.DataFrame:
        """All quarantined lines as a DataFrame (``source, line, reason, raw, raw_base64, quarantined_at``)."""
        return quarantine_frame(self.quarantine_records())

    # ---- reading ---------------------------------------------------------------------
    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with a view ``events`` over the live segments."""
        return self.connect_listed()[0]

    def connect_listed(self, *, view: bool = True) -> tuple[duckdb.DuckDBPyConnection, list[str]]:
        """:meth:`connect`, and the live segments its view is over (paths or URIs); with
        ``view=False`` the connection has no ``events`` view (the caller reads ``files`` itself)
        and is a cursor of a process-wide in-memory database, which costs next to nothing to open."""
        from monitor.summaries import scratch_cursor

        con = duckdb.connect(":memory:") if view else scratch_cursor()
        if self.location is None:
            files = [str(p) for p in self.live_segments()]
        else:
            from monitor.engines.duckdb_uri import live_segment_uris

            try:
                files = live_segment_uris(con, self.location)
            except BaseException:
                con.close()
                raise
        if view and files:
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            try:
                con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{listing}], union_by_name = true)")
            except duckdb.InvalidInputException as exc:  # a damaged segment: the user's to repair
                con.close()
                raise self.unreadable(exc) from None
        elif view:
            con.register("empty_events", EVENT_SCHEMA.empty_table())
            con.execute("CREATE VIEW events AS SELECT * FROM empty_events")
        return con, files

    def unreadable(self, exc: duckdb.Error) -> UserError:
        """The error of a damaged segment (DuckDB's ``InvalidInputException``): the user's to repair."""
        return UserError(f"unreadable segment in store {self.name}: {str(exc).splitlines()[0]}")

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run DuckDB SQL over the store's ``events`` view; returns a DataFrame."""
        return self.read(lambda con: con.execute(query, params or []).df())

    def read(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``work(con)`` on a fresh connection over the live segments.

        A segment removed by a concurrent compaction between listing and reading makes
        DuckDB fail to open it; the work is retried on a fresh listing (the compacted
        segment holds the same rows).
        """
        return self.read_listed(lambda con, files: work(con))

    def read_listed(self, work: Callable[[duckdb.DuckDBPyConnection, list[str]], T], *, view: bool = True) -> T:
        """:meth:`read`, with the listing the view is over: ``work(con, files)`` (``view``: see
        :meth:`connect_listed`)."""
        for attempt in range(6):
            con = None
            try:
                con, files = self.connect_listed(view=view)
                return work(con, files)
            except duckdb.IOException as exc:
                if attempt == 5 and self.location is not None:  # the network or the credentials
                    raise UserError(f"cannot read store {self.location}: {str(exc).splitlines()[0]}") from None
                if attempt == 5:
                    raise
                time.sleep(0.05 * (attempt + 1))
            finally:
                if con is not None:
                    con.close()
        raise AssertionError("unreachable")

    # ---- writer lock -------------------------------------------------------------------
    @contextlib.contextmanager
    def writer_lock(self, *, remote: bool = False) -> Iterator[None]:
        """Exclusive advisory lock for the dedup-then-write step of ingest and compaction.

        Readers never take it; it only orders writers so that two concurrent ingests of
        the same file cannot both add the same event. ``remote``: the Spark backfill into a
        store at a URI, the one writer such a store has; its lock is in the local state
        directory, so it orders the backfills of this machine only (docs/SCALE.md).
        """
        if self.location is not None and not remote:
            raise self.read_only("write segments")
        private_dir(self.root)
        with open(private_file(self.root / ".writer.lock", append=True), "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def stored_request_ids(self, request_ids: "pa.Array | pa.ChunkedArray | Iterable[str]") -> np.ndarray:
        """A boolean mask over ``request_ids`` (an Arrow string array or a sequence): True where the
        store already holds the id (null ids: False). One DuckDB semi-join of the batch's ids (and
        their positions) with the ``request_id`` column of the live segments, on a cursor of the
        process's scratch database (no database opened per commit).

        >>> import tempfile
        >>> s = Store(tempfile.mkdtemp())
        >>> _ = s.write_segment(events_table({"request_id": ["a", "b"]}, 2))
        >>> s.stored_request_ids(["b", "c", None, "a", "b"]).tolist()
        [True, False, False, True, True]
        """
        from monitor.summaries import scratch_cursor

        files = [str(p) for p in self.live_segments()]
        if not isinstance(request_ids, (pa.Array, pa.ChunkedArray)):
            request_ids = pa.array(list(request_ids), pa.string())
        n = len(request_ids)
        stored = np.zeros(n, dtype=bool)
        if not files or not n:
            return stored
        con = scratch_cursor()
        try:
            con.register("batch_ids", pa.table({"request_id": request_ids, "i": pa.array(np.arange(n, dtype=np.int64))}))
            listing = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            hits = con.execute(
                f"SELECT b.i FROM batch_ids b SEMI JOIN read_parquet([{listing}], union_by_name = true) e "
                "ON b.request_id = e.request_id").fetchnumpy()["i"]
        finally:
            con.close()
        stored[np.asarray(hits, dtype=np.int64)] = True
        return stored
