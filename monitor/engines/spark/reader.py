"""Spark SQL over the store: the ``spark`` engine's ``read`` and ``sql``.

The live segments are listed once per read by the store's own code
(:meth:`monitor.store.Store.live_segments`, which skips the segments a compacted one replaces;
for a store at a URI, the same rule over Hadoop's listing, :mod:`.hadoop`) and handed to Spark as the file list, read with the store's schema
(:data:`monitor.store.EVENT_SCHEMA`), so Spark and DuckDB see exactly the same rows. The view is
called ``events``, as in DuckDB, so the one statistics query (:mod:`monitor.stats`) runs
unchanged; only its time-bucket expression is Spark's (``dialect = "spark"``). Only the small
aggregate comes back to the driver.

A segment deleted by a concurrent compaction between the listing and the read fails the
query; the read is retried on a fresh listing, as :meth:`Store.read` does for DuckDB.

Results come back as DuckDB's do: ``fetchall()`` tuples, ``fetchnumpy()`` and ``df()``, with
timestamps as UTC-aware pandas values.
"""

from __future__ import annotations

import threading
import time
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, TypeVar

import numpy as np
import pandas as pd

from monitor.engines import scan_windows
from monitor.store import EVENT_SCHEMA, Store

T = TypeVar("T")
VIEW = "events"
_VIEW_LOCK = threading.RLock()  # a temp view is per session: one reader at a time names it
_MISSING = ("FileNotFoundException", "FILE_NOT_EXIST", "does not exist")


def spark_event_schema() -> Any:
    """The store's Arrow schema as a Spark ``StructType``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(EVENT_SCHEMA)


def segment_uris(paths: list[Path]) -> list[str]:
    """Local segment paths as ``file://`` URIs (a bare path would resolve against a cluster's
    default file system, HDFS on most).

    >>> segment_uris([Path("/data/store/events/s-1.parquet")])
    ['file:///data/store/events/s-1.parquet']
    """
    return [p.resolve().as_uri() for p in paths]


class SparkResult:
    """One query's result, with the three readers the statistics query uses."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame

    @property
    def description(self) -> list[tuple[Any, ...]]:
        """Column names as a DB-API description (from the plan's schema; nothing is executed)."""
        return [(name, None, None, None, None, None, None) for name in self.frame.columns]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.frame.collect()]

    def df(self) -> pd.DataFrame:
        out = self.frame.toPandas()
        for f in self.frame.schema.fields:
            if f.dataType.typeName() in ("timestamp", "timestamp_ntz") and f.name in out.columns:
                out[f.name] = pd.to_datetime(out[f.name]).dt.tz_localize("UTC")
            elif f.dataType.typeName() == "string" and f.name in out.columns and out[f.name].isna().all():
                out[f.name] = pd.Series([None] * len(out), index=out.index, dtype=object)  # DuckDB's all-NULL text
        return out

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        """Columns as arrays; a missing key is None, as in DuckDB's (pandas' string columns say NaN)."""
        out = self.df()
        return {c: out[c].to_numpy() if pd.api.types.is_numeric_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c])
                else out[c].astype(object).where(out[c].notna(), None).to_numpy() for c in out.columns}


class SparkConnection:
    """What :mod:`monitor.stats` calls on a connection: ``execute(sql, params)`` (``?`` params)."""

    dialect = "spark"

    def __init__(self, session: Any) -> None:
        self.session = session

    def execute(self, sql: str, params: list[Any] | None = None) -> SparkResult:
        return SparkResult(self.session.sql(sql, args=list(params)) if params else self.session.sql(sql))


class SparkEngine:
    """The ``spark`` engine over one store (see the module doc)."""

    name = "spark"
    dialect = "spark"

    def __init__(self, store: Store, session: Any = None, *, conf: dict[str, str] | None = None) -> None:
        self.store = store
        self._session = session
        self.conf = conf

    @property
    def session(self) -> Any:
        """The SparkSession: the one given, else started on first use (``tail`` never reads
        through the engine, so it never starts a JVM)."""
        if self._session is None:
            from monitor.engines.spark.session import spark_session

            self._session = spark_session(self.conf)
        return self._session

    @cached_property
    def schema(self) -> Any:
        return spark_event_schema()

    def events_frame(self) -> Any:
        """A Spark DataFrame over the live segments (none: an empty frame with the store's schema)."""
        if self.store.location is None:
            files = segment_uris(self.store.live_segments())
        else:
            from monitor.engines.spark.hadoop import live_segment_uris

            files = live_segment_uris(self.session, self.store.location)
        if not files:
            return self.session.createDataFrame([], self.schema)
        return self.session.read.schema(self.schema).parquet(*files)

    def read(self, work: Callable[[SparkConnection], T]) -> T:
        for attempt in range(6):
            try:
                with _VIEW_LOCK:
                    self.events_frame().createOrReplaceTempView(VIEW)
                    try:
                        return work(SparkConnection(self.session))
                    finally:
                        self.session.catalog.dropTempView(VIEW)
            except Exception as exc:  # noqa: BLE001 - Py4J / Spark errors have no common base class
                if attempt == 5 or not any(m in str(exc) for m in _MISSING):
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        return self.read(lambda con: con.execute(query, params).df())

    def windows(self, selectors: list[Any], by: list[str], length_measure: str) -> list[dict[Any, Any]]:
        """Each window's statistics: the one query as Spark SQL, on one listing (no summaries)."""
        return self.read(lambda con: scan_windows(con, selectors, by, length_measure))

    def quarantine_records(self) -> list[dict[str, Any]]:
        """The store's quarantine records; a store at a URI is read through Hadoop by Spark."""
        if self.store.location is None:
            return self.store.quarantine_records()
        from monitor.engines.spark.hadoop import quarantine_texts
        from monitor.store import quarantine_records

        return [r for text in quarantine_texts(self.session, self.store.location) for r in quarantine_records(text)]
