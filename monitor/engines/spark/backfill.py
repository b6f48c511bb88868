"""``llm-monitor ingest --engine spark``: a backfill of many log files on Spark.

The steps:

1. **Read.** The files (paths, globs or directories, local or at a URI such as ``s3a://``;
   expanded on the driver, URIs through Hadoop's file system; sorted) are read by
   Spark as whole files (the ``binaryFile`` source), one file per task.
2. **Load, on the executors.** ``mapInArrow`` runs the local path's own code on each file: the
   file's bytes are spooled to the executor's local disk and read with
   :func:`monitor.ingest.iter_lines` (so line numbers and byte offsets are the local path's), and
   each batch of lines goes through :class:`monitor.ingest.BatchLoader` (parse, format detection
   per file, adapter, validation, the vectorized signals of :mod:`monitor.signals`, redaction).
   Out come the events (the store's columns) and the rejected lines, tagged with the file's
   place in the list. This is staged as Parquet in a run directory of the store,
   ``<store>/tmp-spark/<run>/`` (:mod:`.runs`; for a store at a URI, at that URI).
3. **Dedup and write, under the store's writer lock.** Events are de-duplicated on
   ``request_id`` across all files (the first by file order, then line, wins, as in the local
   path) and against the store's live segments (an anti-join, read by Spark wherever the store
   is), then written by Spark into the run directory. The rejected lines not quarantined before
   (the same keys as :meth:`Store.new_quarantine_rows`) become one quarantine file.
4. **Commit.** The quarantine file is moved in first, then each written file is moved into
   ``events/`` as an ``s-`` segment: for a local store with :meth:`Store.write_quarantine` and
   ``os.replace`` (and ``fsync``), for a store at a URI through Hadoop's file system
   (:func:`.hadoop.rename`: atomic on HDFS, ABFS and local disks, an object copy that appears
   whole on S3 and GCS). A crash before the moves leaves nothing visible; a crash between two
   moves leaves whole segments only, and running the backfill again adds exactly the rest
   (every event is keyed by ``request_id``). The run directory is removed at the end, and a
   run directory left by a killed backfill is removed by the next one (:mod:`.runs`).

The writer lock is held from the dedup to the last rename: a sidecar's commits wait for it.
A file is one Spark row, so a single file must fit in an executor's memory, several times over
(with the default 1 GB ``local[2]`` session, files of up to about 50 MB; see docs/SCALE.md).
"""

from __future__ import annotations

import glob
import os
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq

from monitor.config import Config
from monitor.errors import UserError
from monitor.ingest import BatchLoader, IngestReport, iter_lines, reason_class
from monitor.engines.spark.runs import RUN_DIR, remove_stale, run_lock, run_name
from monitor.store import EVENT_COLUMNS, EVENT_SCHEMA, Store, fresh_quarantine_rows, quarantine_lines, quarantine_name

SEGMENT_ROWS = 2_000_000
"""At most this many events per written segment."""

EXTRA_FIELDS = [
    pa.field("kind", pa.string()),          # event | reject | file | error
    pa.field("file_index", pa.int64()),
    pa.field("reject_line", pa.int64()),
    pa.field("reason", pa.string()),
    pa.field("raw", pa.binary()),
    pa.field("reject_offset", pa.int64()),
    pa.field("lines", pa.int64()),
    pa.field("blank", pa.int64()),
    pa.field("fmt", pa.string()),
]
STAGED_SCHEMA = pa.schema(list(EVENT_SCHEMA) + EXTRA_FIELDS)
"""One staged row: an event (store columns), a rejected line, or a file's summary."""


def expand_inputs(paths: Iterable[str], glob_uri: Callable[[str], list[str]] | None = None) -> list[str]:
    """Local paths, globs and directories (recursively) -> the sorted, distinct files they name.

    A URI (``s3a://``, ``file://``, ...) is expanded by ``glob_uri`` (Hadoop's file system:
    :func:`monitor.engines.spark.hadoop.glob_files`); a ``file:`` URI's files are named by their
    local path, as the local ingest names them.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); os.makedirs(os.path.join(d, "a"))
    >>> for name in ("a/x.jsonl", "y.jsonl"):
    ...     _ = open(os.path.join(d, name), "w").write("{}")
    >>> [os.path.relpath(p, d) for p in expand_inputs([d])]
    ['a/x.jsonl', 'y.jsonl']
    >>> expand_inputs([os.path.join(d, "*.log")])
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: no such file: ....log
    """
    files: list[str] = []
    for path in paths:
        if "://" in path:
            if glob_uri is None:
                raise UserError(f"cannot read {path}: logs at a URI are read with --engine spark")
            files.extend(_local_path(uri) for uri in glob_uri(path))
            continue
        matches = sorted(glob.glob(path, recursive=True)) if glob.has_magic(path) else [path]
        if not matches or not all(os.path.exists(m) for m in matches):
            shown = path if len(path) < 8 else "..." + path[-4:]
            raise UserError(f"no such file: {shown}")
        for match in matches:
            if os.path.isdir(match):
                files.extend(str(p) for p in sorted(Path(match).rglob("*")) if p.is_file())
            elif os.access(match, os.R_OK):
                files.append(match)
            else:
                raise UserError(f"cannot read file: {match}")
    resolved = sorted({f if "://" in f else str(Path(f).resolve()) for f in files})
    if not resolved:
        raise UserError(f"no log file in {', '.join(paths)}")
    return resolved


def _local_path(uri: str) -> str:
    """A ``file:`` URI from Spark -> the local path (the quarantine's ``source``, as the local path's).

    >>> _local_path("file:/data/logs/a%20b.jsonl")
    '/data/logs/a b.jsonl'
    """
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme in ("", "file") else uri


def _staged_batches(table: pa.Table) -> list[pa.RecordBatch]:
    """``table`` (some of the staged columns) with every staged column, in order."""
    columns = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
               for f in STAGED_SCHEMA]
    return pa.Table.from_arrays(columns, schema=STAGED_SCHEMA).to_batches()


def load_file_rows(source: str, data: bytes, index: int, config: Config, *, input_format: str | None,
                   redact: str | None) -> Iterator[pa.RecordBatch]:
    """The staged rows of one file: its events, its rejected lines, then its summary."""
    loader = BatchLoader(config, source, input_format=input_format, redact=redact)
    lines = 0
    with tempfile.NamedTemporaryFile(prefix="llm-monitor-spark-") as spool:
        spool.write(data)
        spool.flush()
        for batch_lines in iter_lines(spool.name):
            lines += len(batch_lines)
            batch = loader.load(batch_lines)
            if len(batch.frame):
                events = Store.frame_to_table(batch.frame)
                events = events.append_column("kind", pa.array(["event"] * len(events), pa.string()))
                events = events.append_column("file_index", pa.array([index] * len(events), pa.int64()))
                yield from _staged_batches(events)
            if batch.rejects:
                yield from _staged_batches(pa.table({
                    "kind": ["reject"] * len(batch.rejects),
                    "file_index": pa.array([index] * len(batch.rejects), pa.int64()),
                    "reject_line": pa.array([r["line"] for r in batch.rejects], pa.int64()),
                    "reason": [r["reason"] for r in batch.rejects],
                    "raw": pa.array([r["raw"] for r in batch.rejects], pa.binary()),
                    "reject_offset": pa.array([r.get("offset") for r in batch.rejects], pa.int64()),
                }))
    yield from _staged_batches(pa.table({"kind": ["file"], "file_index": pa.array([index], pa.int64()),
                                  "lines": pa.array([lines], pa.int64()),
                                  "blank": pa.array([loader.blank], pa.int64()), "fmt": [loader.fmt]}))


def _load_partition(batches: Iterator[pa.RecordBatch], sources: dict[str, tuple[int, str]], config: Config,
                    input_format: str | None, redact: str | None) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: binaryFile rows (``path``, ``content``) -> staged rows."""
    for batch in batches:
        paths = batch.column("path").to_pylist()
        contents = batch.column("content").to_pylist()
        for uri, data in zip(paths, contents):
            index, source = sources[_local_path(uri)]
            try:
                yield from load_file_rows(source, data, index, config, input_format=input_format, redact=redact)
            except UserError as exc:  # e.g. the mapping format without a [mapping] table: stop the run
                yield from _staged_batches(pa.table({"kind": ["error"], "file_index": pa.array([index], pa.int64()),
                                              "reason": [str(exc)]}))


def backfill(paths: Iterable[str], store: Store, config: Config, session: Any, *,
             input_format: str | None = None, redact: str | None = None) -> IngestReport:
    """Ingest log files into ``store`` (a local one, or one at a URI) on Spark; the same events,
    quarantine and report as :func:`monitor.ingest.ingest_files` (see the module doc)."""
    from pyspark.sql import functions as F
    from pyspark.sql.pandas.types import from_arrow_schema
    from pyspark.sql.window import Window

    from monitor.engines.spark import hadoop
    from monitor.engines.spark.reader import SparkEngine

    if store.location is None:
        store.require_writable()
    files = expand_inputs(paths, lambda pattern: hadoop.glob_files(session, pattern))
    sources = {f: (i, f) for i, f in enumerate(files)}
    base = store_uri(store)
    remove_stale(store.root, hadoop.list_entries(session, f"{base}/{RUN_DIR}"),
                 lambda uri: hadoop.delete(session, uri))
    name = run_name()
    run = f"{base}/{RUN_DIR}/{name}"
    with run_lock(store.root, name):
        hadoop.make_dirs(session, run)
        try:
            previous = session.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
            session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "1")  # one file per Arrow batch
            try:
                raw = session.read.format("binaryFile").load([f if "://" in f else Path(f).as_uri() for f in files])
                staged = raw.select("path", "content").mapInArrow(  # no shuffle: a file's bytes stay in its task
                    lambda it: _load_partition(it, sources, config, input_format, redact),
                    from_arrow_schema(STAGED_SCHEMA))
                staged.write.parquet(f"{run}/staged")
            finally:
                session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", previous)
            staged = session.read.parquet(f"{run}/staged")
            errors = staged.where("kind = 'error'").select("reason").limit(1).collect()
            if errors:
                raise UserError(errors[0][0])
            report = IngestReport(files=len(files))
            for row in staged.where("kind = 'file'").select("file_index", "lines", "blank", "fmt").collect():
                report.lines += int(row["lines"])
                report.blank += int(row["blank"])
                if row["fmt"]:
                    report.formats[files[row["file_index"]]] = row["fmt"]
            rejects = [{"source": files[r["file_index"]], "line": int(r["reject_line"]), "reason": r["reason"],
                        "raw": bytes(r["raw"]), "offset": r["reject_offset"], "source_id": files[r["file_index"]]}
                       for r in staged.where("kind = 'reject'").orderBy("file_index", "reject_line").collect()]
            events = staged.where("kind = 'event'")
            first = Window.partitionBy("request_id").orderBy("file_index", "source_line")
            unique = events.withColumn("_rank", F.row_number().over(first)).where("_rank = 1")
            with store.writer_lock(remote=True):
                stored = SparkEngine(store, session).events_frame().select("request_id")
                fresh_events = unique.join(stored, "request_id", "left_anti").select(*EVENT_COLUMNS)
                fresh_events.write.option("compression", "zstd").option("maxRecordsPerFile", SEGMENT_ROWS) \
                    .parquet(f"{run}/out")
                if store.location is None:
                    fresh_rejects = store.new_quarantine_rows(rejects)
                    store.write_quarantine(fresh_rejects)
                    committed = _commit_segments(store, store.root.resolve() / RUN_DIR / name / "out")
                else:
                    fresh_rejects = fresh_quarantine_rows(rejects, _quarantine_keys_at(session, store.location))
                    _commit_quarantine_at(session, base, run, fresh_rejects)
                    committed = _commit_segments_at(session, base, f"{run}/out")
            report.segments = [path for path, _ in committed]
            report.ingested = sum(rows for _, rows in committed)
            n_events = events.count()
            report.duplicates = n_events - report.ingested + len(rejects) - len(fresh_rejects)
            report.quarantined = len(fresh_rejects)
            report.reasons = Counter(reason_class(r["reason"]) for r in fresh_rejects)
            return report
        finally:
            hadoop.delete(session, run)


def store_uri(store: Store) -> str:
    """Where the store's folders are, as Spark names them: its URI, else its directory as a ``file:``
    URI (not percent-encoded: Hadoop's ``Path`` takes the characters as they are).

    >>> store_uri(Store("/data/llm monitor", create=False))
    'file:///data/llm monitor'
    """
    return store.location or f"file://{store.root.resolve()}"


def _quarantine_keys_at(session: Any, location: str) -> set[str]:
    """The keys of the lines quarantined in the store at URI ``location``, read there by Spark."""
    from monitor.engines.spark import hadoop

    folder = f"{location}/quarantine"
    if not any(uri.endswith(".jsonl") for uri, is_dir in hadoop.list_entries(session, folder) if not is_dir):
        return set()
    keys = session.read.schema("key STRING").json(f"{folder}/*.jsonl").where("key IS NOT NULL")
    return {row[0] for row in keys.distinct().collect()}


def _commit_quarantine_at(session: Any, base: str, run: str, rows: list[dict[str, Any]]) -> None:
    """Write the new quarantine records into the run, then move the file into ``quarantine/``."""
    if not rows:
        return
    from monitor.engines.spark import hadoop

    name = quarantine_name()
    hadoop.write_bytes(session, f"{run}/{name}", quarantine_lines(rows))
    hadoop.make_dirs(session, f"{base}/quarantine")
    hadoop.rename(session, f"{run}/{name}", f"{base}/quarantine/{name}")


def _segment_name() -> str:
    return f"s-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:12]}.parquet"


def _commit_segments(store: Store, out: Path) -> list[tuple[str, int]]:
    """Rename each written file into ``events/`` as a whole segment; empty files are dropped."""
    committed = []
    for part in sorted(out.glob("*.parquet")):
        rows = pq.read_metadata(part).num_rows
        if rows == 0:
            continue
        os.chmod(part, 0o600)  # Spark writes with the umask; a segment holds prompts (store.py: 0600)
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        final = store.events_dir / _segment_name()
        os.replace(part, final)
        committed.append((str(final), rows))
    if committed:
        fd = os.open(store.events_dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return committed


def _commit_segments_at(session: Any, base: str, out: str) -> list[tuple[str, int]]:
    """The same through Hadoop, into ``<base>/events/``: one rename per segment (atomic on HDFS,
    ABFS and local disks; a copy that appears whole on S3 and GCS: docs/SCALE.md)."""
    from monitor.engines.spark import hadoop

    hadoop.make_dirs(session, f"{base}/events")
    committed = []
    for part, is_dir in hadoop.list_entries(session, out):
        if is_dir or not part.endswith(".parquet"):
            continue
        rows = hadoop.parquet_rows(session, part)
        if rows == 0:
            continue
        final = f"{base}/events/{_segment_name()}"
        hadoop.rename(session, part, final)
        committed.append((final, rows))
    return committed
