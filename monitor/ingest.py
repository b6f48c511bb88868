"""Ingest: log lines -> canonical events -> signals -> store segments; bad lines -> quarantine.

The path of one batch of lines:

1. split into lines (line numbers and byte offsets kept), parse each with ``orjson``;
2. detect the log format from the first valid records (or use the forced one) and convert
   with the adapter (``monitor.adapters``);
3. validate each canonical event against the event JSON Schema (compiled validator);
4. build a columnar frame, resolve expected schemas, derive the signals vectorized;
5. under the store's writer lock: drop request ids the store already holds, write one
   Parquet segment atomically, write the quarantine file.

Nothing is dropped silently: every non-blank line ends up as an event, a duplicate, or a
quarantine record with its file, line number and reason.

Example:
    >>> import tempfile, os, json
    >>> d = tempfile.mkdtemp(); log = os.path.join(d, "events.jsonl")
    >>> with open(log, "w") as fh:
    ...     _ = fh.write(json.dumps({"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m",
    ...                              "response": "Hello"}) + "\\n" + "{not json\\n")
    >>> from monitor.config import Config
    >>> report = ingest_files([log], Store(os.path.join(d, "store")), Config())
    >>> report.ingested, report.quarantined, report.duplicates
    (1, 1, 0)
    >>> ingest_files([log], Store(os.path.join(d, "store")), Config()).ingested
    0
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from datetime import datetime, timezone

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from monitor import adapters
from monitor.columnar import pinned_flags, read_batch
from monitor.columnar.lines import Line, LineBlock, iter_line_blocks
from monitor.config import Config
from monitor.errors import UserError
from monitor.events import SchemaResolver, check_event, events_to_frame, first_occurrences, frame_from_columns
from monitor.runahead import run_ahead as run_ahead_of
from monitor.signals import signal_columns
from monitor.signals.config import signal_config_from
from monitor.signals.provider import apply_provider_refusals
from monitor.signals.reasoning import separate_reasoning
from monitor.store import EVENT_SCHEMA, Store, events_table

BATCH_LINES = 100_000
DETECT_SAMPLE = 50
#: Batches shorter than this take the per-record path: the fast path's fixed cost per batch (its
#: DuckDB statement, prepared once per thread, the screens, the frame's columns) is more than it
#: saves below about 3,000 lines. Measured in CPU time on one core, 1,000-5,000-line batches of 0.3
#: and 1.2 KB native events, medians of 5 alternated (docs/BENCHMARKS.md, "The fast path on the
#: sidecar's batches"): level at 2,000 lines, the fast path 4-35% cheaper from 3,000. So the
#: sidecar's full batches (``[tail] max_batch_lines``, 5,000) take the fast path, its small ones
#: (a quiet log, one commit a second) the per-record path.
COLUMNAR_MIN_LINES = 3_000


@dataclass
class LoadedBatch:
    """Events (with signals) and quarantined lines from one batch of lines.

    ``frame``: an Arrow table with the store's schema (:data:`monitor.store.EVENT_SCHEMA`), in
    line order; ``rejects``: quarantine rows (``source``, ``line``, ``reason``, ``raw``, ...).
    """

    frame: pa.Table
    rejects: list[dict[str, Any]]
    fmt: str | None


@dataclass
class IngestReport:
    """Counts of one ingest run; ``lines = ingested + duplicates + quarantined + blank``."""

    files: int = 0
    lines: int = 0
    ingested: int = 0
    duplicates: int = 0
    quarantined: int = 0
    blank: int = 0
    segments: list[str] = field(default_factory=list)
    reasons: Counter = field(default_factory=Counter)
    formats: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        """One line for humans."""
        text = (f"{self.files} file(s), {self.lines} line(s): {self.ingested} ingested, "
                f"{self.duplicates} duplicate, {self.quarantined} quarantined")
        if self.reasons:
            top = ", ".join(f"{r} ({n})" for r, n in self.reasons.most_common(3))
            text += f"; quarantine reasons: {top}"
        return text


def iter_lines(path: str | os.PathLike[str], *, start_offset: int = 0, start_line: int = 0,
               batch_lines: int = BATCH_LINES, final: bool = True) -> Iterator[list[Line]]:
    """Batches of numbered lines of a file, from a byte offset.

    With ``final=False`` a last line without its newline is not returned (a writer may
    still be writing it): the tailer uses this.

    >>> import tempfile
    >>> p = tempfile.mktemp(); _ = open(p, "wb").write(b"a\\nbb\\nccc")
    >>> [(l.number, l.end_offset, l.raw) for b in iter_lines(p) for l in b]
    [(1, 2, b'a'), (2, 5, b'bb'), (3, 8, b'ccc')]
    >>> [l.raw for b in iter_lines(p, final=False) for l in b]
    [b'a', b'bb']
    """
    number = start_line
    offset = start_offset
    with open(path, "rb") as fh:
        fh.seek(start_offset)
        batch: list[Line] = []
        carry = b""
        while True:
            chunk = fh.read(8 << 20)
            if not chunk:
                break
            data = carry + chunk
            pieces = data.split(b"\n")
            carry = pieces.pop()
            for piece in pieces:
                number += 1
                offset += len(piece) + 1
                batch.append(Line(number, offset, piece.rstrip(b"\r")))
                if len(batch) >= batch_lines:
                    yield batch
                    batch = []
        if carry and final:
            number += 1
            offset += len(carry)
            batch.append(Line(number, offset, carry.rstrip(b"\r")))
        if batch:
            yield batch


def parse_lines(lines: Iterable[Line]) -> tuple[list[tuple[int, Any]], list[tuple[int, str]], int]:
    """(parsed records, rejects with reasons, number of blank lines).

    >>> recs, bad, blank = parse_lines([Line(1, 3, b'{}'), Line(2, 6, b'{x'), Line(3, 7, b'  '),
    ...                                 Line(4, 9, b'\\xff')])
    >>> [n for n, _ in recs], [(n, r.split(':')[0]) for n, r in bad], blank
    ([1], [(2, 'invalid JSON'), (4, 'invalid UTF-8')], 1)
    """
    records: list[tuple[int, Any]] = []
    rejects: list[tuple[int, str]] = []
    blank = 0
    loads = orjson.loads
    for line in lines:
        try:
            records.append((line.number, loads(line.raw)))
        except orjson.JSONDecodeError as exc:
            if not line.raw.strip():
                blank += 1
                continue
            try:
                line.raw.decode("utf-8")
            except UnicodeDecodeError as uexc:
                rejects.append((line.number, f"invalid UTF-8: byte {uexc.start}"))
                continue
            rejects.append((line.number, f"invalid JSON: {exc}"[:300]))
    return records, rejects, blank


class BatchLoader:
    """Turns batches of raw lines of one source into events with signals (no store I/O).

    Lines of a format that declares a columnar mapping (:func:`monitor.adapters.columnar_mapping`)
    are read by the columnar fast path (:mod:`monitor.columnar`); the lines it does not take, and
    every line of the other formats, by the per-record path (``orjson``, the adapter,
    :func:`check_event`). ``columnar=False`` uses the per-record path only (the reference the
    fast path is tested against). Batches of fewer than ``columnar_min_lines`` lines take the
    per-record path (default :data:`COLUMNAR_MIN_LINES`).
    """

    def __init__(self, config: Config, source: str, *, input_format: str | None = None,
                 redact: str | None = None, columnar: bool = True,
                 columnar_min_lines: int = COLUMNAR_MIN_LINES) -> None:
        self.config = config
        self.source = source
        forced = input_format or config.input_format
        self.fmt: str | None = None if forced in (None, "auto") else forced
        self.redact = redact or config.redact
        self.schemas = SchemaResolver(config.schemas_dir)
        self.signal_config = signal_config_from(config)
        self.columnar = columnar
        self.columnar_min_lines = columnar_min_lines
        self.blank = 0
        self.source_id = source

    def load(self, lines: list[Line] | LineBlock) -> LoadedBatch:
        """Parse, convert, validate and derive signals for one batch of lines."""
        block = lines if isinstance(lines, LineBlock) else LineBlock.from_lines(lines)
        listed = None if isinstance(lines, LineBlock) else lines

        def line(k: int) -> Line:
            return listed[k] if listed is not None else block.line(k)

        if self.fmt is None and len(block):
            self._detect(line(k).raw for k in range(len(block)))
        use_fast = self.columnar and len(block) >= max(1, self.columnar_min_lines)
        mapping = adapters.columnar_mapping(self.fmt) if use_fast else None
        fast = np.zeros(len(block), dtype=bool)
        fast_frame = None
        if mapping is not None and len(block):
            rows = read_batch(block.text, mapping)
            fast = rows.fast
            fast_frame = frame_from_columns(rows.columns, int(fast.sum())).append_column(
                "source_line", pa.array(block.numbers[fast], type=pa.int64()))
        slow = np.flatnonzero(~fast).tolist()
        if fast_frame is not None and not slow:  # every line read by the fast path
            frame, rejects = fast_frame, []
        else:
            frame, rejects = self._per_record([line(k) for k in slow])
            if fast_frame is not None and fast_frame.num_rows:
                if frame.num_rows:  # in line order; the per-record events of one line first (stable)
                    frame = pa.concat_tables([frame, fast_frame])
                    frame = frame.take(pc.sort_indices(frame["source_line"]))
                else:
                    frame = fast_frame
        position = np.searchsorted(block.numbers, frame["source_line"].to_numpy())
        frame = frame.append_column("source_offset", pa.array(block.end_offsets[position], type=pa.int64()))
        frame, more_rejects = self._frame(frame)
        rejects.extend(more_rejects)
        reject_rows = []
        for n, reason in sorted(rejects):
            k = int(np.searchsorted(block.numbers, n))
            reject_rows.append({"source": self.source, "line": int(n), "reason": reason, "raw": line(k).raw,
                                "offset": int(block.end_offsets[k]), "source_id": self.source_id})
        return LoadedBatch(frame, reject_rows, self.fmt)

    def _detect(self, raws: Iterable[bytes]) -> None:
        """The format from the first :data:`DETECT_SAMPLE` records that parse (as the per-record
        path would find it from the whole batch)."""
        sample: list[Any] = []
        for raw in raws:
            try:
                sample.append(orjson.loads(raw))
            except orjson.JSONDecodeError:
                continue
            if len(sample) >= DETECT_SAMPLE:
                break
        if sample:
            self.fmt = adapters.detect_format(sample)

    def _per_record(self, lines: list[Line]) -> tuple[pa.Table, list[tuple[int, str]]]:
        """Events (a frame with ``source_line``) and rejects of ``lines``, one record at a time."""
        records, parse_rejects, blank = parse_lines(lines)
        self.blank += blank
        rejects: list[tuple[int, str]] = list(parse_rejects)
        if self.fmt is None and records:
            self.fmt = adapters.detect_format([r for _, r in records[:DETECT_SAMPLE]])
            if self.fmt is None:
                rejects.extend((n, "format not recognised (name the input format to force one)") for n, _ in records)
                records = []
        events: list[tuple[int, dict[str, Any]]] = []
        if records:
            if self.fmt == "mapping" and not self.config.mapping:
                raise UserError("input format 'mapping' needs a [mapping] table in llm-monitor.toml "
                                "(see docs/FORMATS.md)")
            try:
                converted = adapters.convert(self.fmt, records, mapping=self.config.mapping,
                                             fallback_ts=self._fallback_ts())
            except adapters.AdapterError as exc:
                raise UserError(f"{self.source}: {exc}") from None
            rejects.extend(converted.rejects)
            for number, event in converted.events:
                reason = check_event(event)
                if reason is None:
                    events.append((number, event))
                else:
                    rejects.append((number, reason))
        frame = events_to_frame([e for _, e in events])
        frame = frame.append_column("source_line", pa.array([n for n, _ in events], type=pa.int64()))
        return frame, rejects

    def _fallback_ts(self) -> str:
        """The time of records that carry none: the file's modification time when the batch is
        read (for a tailed file, about when the line was written), else now (docs/FORMATS.md)."""
        try:
            stamp = datetime.fromtimestamp(os.stat(self.source).st_mtime, timezone.utc)
        except OSError:
            stamp = datetime.now(timezone.utc)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _frame(self, frame: pa.Table) -> tuple[pa.Table, list[tuple[int, str]]]:
        """The event frame (:func:`monitor.events.frame_from_columns`, with ``source_line`` and
        ``source_offset``) -> the batch's events as a table of the store's schema, and the rows it
        rejects (a ``ts`` that is not ISO 8601, a schema that cannot be resolved)."""
        rejects: list[tuple[int, str]] = []
        lines = frame["source_line"].to_numpy()
        # reasoning apart from the answer (both paths carry the event's ``reasoning`` as a column)
        response, reasoning_length = separate_reasoning(frame["response"], frame["reasoning"], self.config.reasoning,
                                                        self.config.reasoning_tags)
        keep = frame["ts"].is_valid().to_numpy(zero_copy_only=False)
        rejects.extend((int(n), "ts: not an ISO 8601 date-time") for n in lines[~keep])
        # schemas: only the events that carry one (named schemas are read once, see SchemaResolver)
        n = frame.num_rows
        schema_json: list[str | None] = [None] * n
        schema_name: list[str | None] = [None] * n
        raw_schemas = frame["schema_raw"]
        if raw_schemas.null_count < n:
            texts = raw_schemas.to_pylist()
            for i in np.flatnonzero(raw_schemas.is_valid().to_numpy(zero_copy_only=False)).tolist():
                try:
                    schema_json[i], schema_name[i] = self.schemas.resolve(orjson.loads(texts[i]))
                except UserError as exc:
                    keep[i] = False
                    rejects.append((int(lines[i]), str(exc)))
        columns: dict[str, Any] = {name: frame[name] for name in frame.column_names
                                   if name not in ("schema_raw", "reasoning")}
        columns.update(response=response, reasoning_length=reasoning_length,
                       schema=pa.array(schema_json, type=pa.string()),
                       schema_name=pa.array(schema_name, type=pa.string()))
        table = pa.table(columns)
        if not keep.all():
            table = table.filter(pa.array(keep))
        expects = pc.or_(pc.fill_null(table["expects_json"], False), table["schema"].is_valid())
        table = table.set_column(table.schema.get_field_index("expects_json"), "expects_json", expects)
        return self._signals(table), rejects

    def _signals(self, table: pa.Table) -> pa.Table:
        """Pinned flags, signals, provider refusals, redaction and provenance: the store's table."""
        n = table.num_rows
        columns: dict[str, Any] = {name: table[name] for name in table.column_names}
        if n:
            versions = table["model_version"]
            columns["pinned"] = pinned_flags(table["model"], pc.if_else(pc.equal(versions, "unknown"), None, versions))
            signals = signal_columns(table["response"], table["model"], table["finish_reason"], table["expects_json"],
                                     table["schema"], self.signal_config)
            # A refusal the provider reported (message.refusal, stop_reason "refusal", safety blocks,
            # guardrails) is a refusal whatever the wording: rule provider:<reason>.
            apply_provider_refusals(signals, table["attributes"])
            columns.update(signals)
            if self.redact in ("hash", "drop"):
                columns["refusal_span"] = None  # the matched span is response text
            if self.redact == "hash":
                for name in ("prompt", "response"):
                    columns[name] = [None if t is None else "sha256:" + hashlib.sha256(t.encode()).hexdigest()
                                     for t in table[name].to_pylist()]
            elif self.redact == "drop":
                columns["prompt"] = columns["response"] = None
        # one value per batch, repeated by Arrow (a list of n Python datetimes cost ~8 us a row)
        for name, value in (("source_format", self.fmt), ("source_path", self.source), ("source_id", self.source_id),
                            ("ingested_at", datetime.now(timezone.utc))):
            columns[name] = pa.repeat(pa.scalar(value, EVENT_SCHEMA.field(name).type), n)
        return events_table(columns, n)


def read_file(path: str, config: Config, *, input_format: str | None = None) -> tuple[pa.Table, list[dict[str, Any]]]:
    """All events of a file with their signals (an Arrow table of the store's schema, in line
    order), and its quarantined lines, without a store. Duplicated request ids are dropped (the
    first wins).

    Used by ``llm-monitor signals`` and by ``check`` when a selector is a file; no pandas is
    imported (:func:`load_file` is the same as a DataFrame).

    >>> import tempfile, os, json
    >>> from monitor.config import Config
    >>> log = os.path.join(tempfile.mkdtemp(), "one.jsonl")
    >>> with open(log, "w") as fh:
    ...     _ = fh.write(json.dumps({"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m",
    ...                              "response": "Hello there"}) + "\\n" + "{not json\\n")
    >>> table, rejects = read_file(log, Config())
    >>> table.num_rows, table["words"].to_pylist(), [(r["line"], r["reason"][:12]) for r in rejects]
    (1, [2], [(2, 'invalid JSON')])
    """
    _require_file(path)
    loader = BatchLoader(config, str(Path(path).resolve()), input_format=input_format)
    tables, rejects = [], []
    for block in iter_line_blocks(path):
        batch = loader.load(block)
        tables.append(batch.frame)
        rejects.extend(batch.rejects)
    table = pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()
    return table.filter(pa.array(first_occurrences(table["request_id"]))), rejects


def load_file(path: str, config: Config, *, input_format: str | None = None) -> tuple[Any, list[dict[str, Any]]]:
    """:func:`read_file` with the events as a pandas DataFrame (:func:`to_pandas`), as notebooks get them."""
    table, rejects = read_file(path, config, input_format=input_format)
    return to_pandas(table), rejects


def to_pandas(table: pa.Table) -> Any:
    """An events table as the pandas DataFrame users get (nullable integer, float and boolean columns)."""
    import pandas as pd

    mapping = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype(), pa.float64(): pd.Float64Dtype()}
    return table.to_pandas(types_mapper=mapping.get)


def describe_rejects(rejects: list[dict[str, Any]], *, top: int = 3) -> str:
    """Why a file gave no event, for a one-line message: its quarantine reasons with counts.

    >>> describe_rejects([])
    'is empty (no line holds an event)'
    >>> describe_rejects([{"reason": "invalid JSON: x"}, {"reason": "invalid JSON: y"}, {"reason": "format not recognised"}])
    'has no valid event: 3 line(s) quarantined: invalid JSON (2), format not recognised (1)'
    """
    if not rejects:
        return "is empty (no line holds an event)"
    reasons = Counter(reason_class(r["reason"]) for r in rejects)
    listing = ", ".join(f"{reason} ({n})" for reason, n in reasons.most_common(top))
    more = f", {len(reasons) - top} other reason(s)" if len(reasons) > top else ""
    return f"has no valid event: {len(rejects)} line(s) quarantined: {listing}{more}"


def reason_class(reason: str) -> str:
    """The class of a quarantine reason: its text before the details (the first colon), or, when
    the reason names a field first (``ts: ...``), the field and its problem.

    >>> reason_class("invalid JSON: unexpected character: line 1 column 2 (char 1)")
    'invalid JSON'
    >>> reason_class("ts: not an ISO 8601 date-time")
    'ts: not an ISO 8601 date-time'
    """
    head, _, rest = reason.partition(": ")
    if rest and " " not in head:
        return f"{head}: {rest.partition(': ')[0]}"
    return head


def _require_file(path: str) -> None:
    if not os.path.exists(path):
        hint = " (a URI: this engine reads local log files; read object-store logs with --engine spark)" \
            if "://" in path else ""
        raise UserError(f"no such file: {path}{hint}")
    if os.path.isdir(path):
        raise UserError(f"is a directory, not a log file: {path}")
    if not os.access(path, os.R_OK):
        raise UserError(f"cannot read file: {path}")


def ingest_files(paths: Iterable[str], store: Store, config: Config, *, input_format: str | None = None,
                 redact: str | None = None, run_ahead: bool = False,
                 batch_lines: int = BATCH_LINES) -> IngestReport:
    """Ingest log files into ``store``; idempotent per request id. See the module example.

    ``run_ahead=True``: a pipeline of three threads (:class:`monitor.runahead.RunAhead`): the lines
    of block N+2 are read while block N+1 is loaded (:func:`loaded_blocks`) and block N is
    committed in the caller's thread. It is not the default: on the project's 2-core machine it
    was no faster than one thread and used more CPU (docs/BENCHMARKS.md). Commits stay sequential
    and in file order, so the store, the quarantine and the report are those of the one-thread path
    (``run_ahead=False``, the reference the pipeline is tested against). An error while reading or loading a block is raised after every block before it
    is committed, as on one thread. Blocks in memory at once: at most :data:`BLOCKS_IN_FLIGHT`
    of ``batch_lines`` lines (docs/ARCHITECTURE.md, "Ingest as a pipeline").
    """
    paths = list(paths)
    for path in paths:
        _require_file(path)
    store.require_writable()
    report = IngestReport()
    blocks = loaded_blocks(paths, config, input_format=input_format, redact=redact, batch_lines=batch_lines,
                           read_ahead=run_ahead)
    with run_ahead_of(blocks, enabled=run_ahead, depth=LOAD_AHEAD, name="llm-monitor-ingest-next") as items:
        for item in items:
            if item.batch is None:  # the file's last block is committed
                report.files += 1
                report.blank += item.blank
                if item.fmt:
                    report.formats[item.path] = item.fmt
                continue
            report.lines += item.lines
            commit_batch(store, item.batch, report)
    return report


#: Loaded blocks waiting for their commit while the next one is loaded (ingest's pipeline).
LOAD_AHEAD = 1
#: Blocks of lines read and waiting for the loader.
READ_AHEAD = 1
#: The most loaded blocks of :data:`BATCH_LINES` lines held at once by ``ingest``: the one being
#: committed, :data:`LOAD_AHEAD` waiting for the commit and the one being loaded. Besides them,
#: :data:`READ_AHEAD` block of raw lines waits and one is being read (raw lines: about a quarter
#: of a loaded block).
BLOCKS_IN_FLIGHT = LOAD_AHEAD + 2


@dataclass
class LoadedBlock:
    """One item of :func:`loaded_blocks`: a loaded block of ``path`` (``lines`` lines), or, with
    ``batch=None``, the end of ``path`` with its count of blank lines and its format."""

    path: str
    lines: int
    batch: LoadedBatch | None
    blank: int = 0
    fmt: str | None = None


def loaded_blocks(paths: Iterable[str], config: Config, *, input_format: str | None = None,
                  redact: str | None = None, batch_lines: int = BATCH_LINES,
                  read_ahead: bool = False) -> Iterator[LoadedBlock]:
    """The blocks of each file, in order, loaded (no store I/O), then an end-of-file item per file.
    ``read_ahead``: the lines are read :data:`READ_AHEAD` blocks ahead, in a thread of their own.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); log = os.path.join(d, "events.jsonl")
    >>> _ = Path(log).write_text('{"ts": "2026-11-01T10:00:00Z", "request_id": "r1", "model": "m", "response": "hi"}\\n\\n{x\\n')
    >>> [(b.lines, b.batch and (b.batch.frame.num_rows, len(b.batch.rejects)), b.blank, b.fmt)
    ...  for b in loaded_blocks([log], Config())]
    [(3, (1, 1), 0, None), (0, None, 1, 'native')]
    """
    for path in paths:
        loader = BatchLoader(config, str(Path(path).resolve()), input_format=input_format, redact=redact)
        with run_ahead_of(iter_line_blocks(path, batch_lines=batch_lines), enabled=read_ahead, depth=READ_AHEAD,
                          name="llm-monitor-ingest-read") as blocks:
            for block in blocks:
                yield LoadedBlock(path, len(block), loader.load(block))
        yield LoadedBlock(path, 0, None, blank=loader.blank, fmt=loader.fmt)


def commit_batch(store: Store, batch: LoadedBatch, report: IngestReport) -> None:
    """Commit one batch through :func:`monitor.commit.commit_events` (quarantine first, then dedup
    against the whole store and the segment, under the writer lock) and count it in ``report``.

    A crash between the quarantine rename and the segment rename re-reads the batch, and the
    quarantine rows (deduplicated by source, line and bytes) and events (by request id) are
    not written twice. Rejected lines quarantined before count as duplicates.
    """
    from monitor.commit import commit_events

    result = commit_events(store, batch.frame, batch.rejects)
    report.duplicates += result.duplicates + result.known_rejects
    report.quarantined += result.quarantined
    report.reasons.update(reason_class(r["reason"]) for r in result.quarantine_rows)
    if result.segment is not None:
        report.segments.append(result.segment)
        report.ingested += len(result.frame)
