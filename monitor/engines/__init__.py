"""The query engines a :class:`~monitor.api.Monitor` reads the store with: DuckDB or Spark.

An engine runs the one statistics query (:mod:`monitor.stats`) and the other small SQL reads
over the store's live segments. Both engines see the same file list, computed by
:meth:`monitor.store.Store.live_segments`, so they read exactly the same rows. A store at a URI
(:attr:`monitor.store.Store.location`: ``s3a://``, ``gs://``, ``abfss://``, ``hdfs://``,
``file://``) is listed by the engine itself with the same rule (:func:`monitor.listing.live_files`):
DuckDB through its extensions (:mod:`.duckdb_uri`), Spark through Hadoop's file system
(:mod:`.spark.hadoop`). An engine has

- ``name``: ``duckdb`` or ``spark``;
- ``dialect``: which time-bucket expression of :data:`monitor.stats.BUCKET_SQL` it runs;
- ``read(work)``: ``work(con)`` on a connection whose ``execute(sql, params)`` returns a result
  with ``fetchall()``, ``fetchnumpy()`` and ``df()`` (DuckDB's own, or
  :class:`monitor.engines.spark.reader.SparkConnection`);
- ``sql(query, params)``: a query over the ``events`` view -> DataFrame;
- ``windows(selectors, by, length_measure)``: the statistics of each window
  (:class:`monitor.selectors.Selector`), all read on one listing. DuckDB over a local store merges
  the segments' summaries where a window covers a segment whole and scans the rest
  (:mod:`monitor.summaries`); Spark, and DuckDB over a URI, scan (:func:`scan_windows`). The
  results are the same.

Which engine: the ``engine`` argument (``--engine``), else ``LLM_MONITOR_ENGINE``, else the
config's ``store.engine``, else ``duckdb`` (:func:`engine_name`).

Example:
    >>> import tempfile
    >>> from monitor.store import Store
    >>> e = open_engine(Store(tempfile.mkdtemp()), "duckdb")
    >>> e.name, e.dialect, int(e.sql("SELECT count(*) AS n FROM events").n[0])
    ('duckdb', 'duckdb', 0)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar

from monitor.errors import UserError
from monitor.store import Store

if TYPE_CHECKING:  # DataFrames are handed out, not built here
    import pandas as pd

ENGINES = ("duckdb", "spark")
ENGINE_ENV = "LLM_MONITOR_ENGINE"
T = TypeVar("T")


class Engine(Protocol):
    """What :class:`~monitor.api.Monitor` needs of an engine (see the module doc)."""

    name: str
    dialect: str

    def read(self, work: Callable[[Any], T]) -> T:
        """Run ``work(con)`` on a connection over the store's live segments."""

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """A query over the ``events`` view -> DataFrame."""

    def quarantine_records(self) -> list[dict[str, Any]]:
        """The store's quarantine records (a store at a URI read through the engine)."""

    def windows(self, selectors: list[Any], by: list[str], length_measure: str) -> list[dict[Any, Any]]:
        """The statistics of each window (a store selector), on one listing of the segments."""


def scan_windows(con: Any, selectors: list[Any], by: list[str], length_measure: str) -> list[dict[Any, Any]]:
    """The statistics of each window by the statistics query over the ``events`` view."""
    from monitor.stats import window_stats

    return [window_stats(con, *sel.where(), by, length_measure) for sel in selectors]


class DuckDBEngine:
    """The default engine: an in-memory DuckDB view over the live segments (:meth:`Store.read`)."""

    name = "duckdb"
    dialect = "duckdb"

    def __init__(self, store: Store) -> None:
        self.store = store

    def read(self, work: Callable[[Any], T]) -> T:
        return self.store.read(work)

    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        return self.store.sql(query, params)

    def windows(self, selectors: list[Any], by: list[str], length_measure: str) -> list[dict[Any, Any]]:
        if self.store.location is not None:
            return self.read(lambda con: scan_windows(con, selectors, by, length_measure))
        import duckdb

        from monitor.summaries import windows_stats

        try:
            return self.store.read_listed(lambda con, files: windows_stats(con, files, selectors, by, length_measure),
                                          view=False)
        except duckdb.InvalidInputException as exc:
            raise self.store.unreadable(exc) from None

    def quarantine_records(self) -> list[dict[str, Any]]:
        if self.store.location is None:
            return self.store.quarantine_records()
        import duckdb

        from monitor.engines.duckdb_uri import quarantine_texts
        from monitor.store import quarantine_records

        return [r for text in quarantine_texts(duckdb.connect(), self.store.location) for r in quarantine_records(text)]


def engine_name(explicit: str | None = None, configured: str | None = None) -> str:
    """The engine to use: ``explicit``, else ``$LLM_MONITOR_ENGINE``, else ``configured``, else duckdb.

    >>> engine_name("spark"), engine_name(None, None) in ENGINES
    ('spark', True)
    >>> engine_name("presto")
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: unknown engine 'presto'; use duckdb or spark
    """
    name = explicit or os.environ.get(ENGINE_ENV) or configured or "duckdb"
    if name not in ENGINES:
        source = "" if explicit else f" (from {ENGINE_ENV})" if os.environ.get(ENGINE_ENV) else ""
        raise UserError(f"unknown engine {name!r}{source}; use duckdb or spark")
    return name


def open_engine(store: Store, name: str, *, spark: Any = None, conf: dict[str, str] | None = None) -> Engine:
    """The engine ``name`` over ``store``; ``spark`` is an existing SparkSession to use (a
    notebook's), ``conf`` Spark settings for a session started on the first read (``[spark]`` in
    the config).
    """
    if name == "duckdb" and spark is None:
        return DuckDBEngine(store)
    from monitor.engines.spark import SparkEngine

    return SparkEngine(store, spark, conf=conf)
