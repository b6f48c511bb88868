"""The DuckDB engine over a store at a URI: its live segments listed and read by DuckDB itself.

DuckDB reads object storage through its extensions: ``s3://`` (and Hadoop's spelling ``s3a://``)
and ``gs://`` through ``httpfs``, ``abfss://`` through ``azure``; ``file://`` needs none. An
extension that is not installed is installed on first use, which needs DuckDB's extension
repository (the internet, or a local mirror named by ``SET custom_extension_repository``). When
that fails, or for ``hdfs://`` (DuckDB has no HDFS reader), the read stops with one
:class:`~monitor.errors.UserError` line that names the way out: ``--engine spark``.

The segments are listed with DuckDB's ``glob`` and the compacted segments' replaced lists read
with ``parquet_kv_metadata``, through the store's one listing rule
(:func:`monitor.listing.live_files`), so both engines see the same rows here too. Credentials are
DuckDB's: a persistent secret (``CREATE PERSISTENT SECRET ... (TYPE s3, ...)``) is loaded by every
connection (docs/SCALE.md).

Example:
    >>> duckdb_uri("s3a://bucket/store"), duckdb_uri("gs://b/s")
    ('s3://bucket/store', 'gs://b/s')
"""

from __future__ import annotations

import duckdb

from monitor.errors import UserError
from monitor.listing import REPLACES_KEY, live_files, replaced_names

EXTENSIONS: dict[str, str | None] = {"s3": "httpfs", "s3a": "httpfs", "gs": "httpfs", "abfss": "azure",
                                     "file": None}
"""The DuckDB extension each URI scheme needs (``hdfs`` has none: DuckDB cannot read it)."""


def duckdb_uri(location: str) -> str:
    """``location`` spelled as DuckDB reads it (Hadoop's ``s3a://`` is DuckDB's ``s3://``)."""
    scheme, rest = location.split("://", 1)
    return f"{'s3' if scheme == 's3a' else scheme}://{rest}"


def load_extension(con: duckdb.DuckDBPyConnection, location: str) -> None:
    """Load the extension that reads ``location`` (installing it if needed), or say in one line why not.

    >>> load_extension(duckdb.connect(), "file:///data/store")
    >>> load_extension(duckdb.connect(), "hdfs://nn:8020/store")
    Traceback (most recent call last):
    ...
    monitor.errors.UserError: the duckdb engine cannot read hdfs://nn:8020/store: DuckDB has no HDFS reader; use --engine spark
    """
    scheme = location.split("://", 1)[0]
    if scheme not in EXTENSIONS:
        raise UserError(f"the duckdb engine cannot read {location}: DuckDB has no HDFS reader; use --engine spark")
    extension = EXTENSIONS[scheme]
    if extension is None:
        return
    try:
        con.execute(f"LOAD {extension}")
        return
    except duckdb.Error:
        pass
    try:
        con.execute(f"INSTALL {extension}")
        con.execute(f"LOAD {extension}")
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"the duckdb engine cannot read {location}: DuckDB's {extension} extension is not "
                        f"installed and could not be installed ({first}); use --engine spark, or see "
                        "docs/SCALE.md") from None


def live_segment_uris(con: duckdb.DuckDBPyConnection, location: str) -> list[str]:
    """The live segments of the store at ``location``, as DuckDB names them (paths for ``file://``).

    >>> import tempfile
    >>> from monitor.store import Store
    >>> s = Store(tempfile.mkdtemp()); p = s.write_segment(Store.frame_to_table(__import__("pandas").DataFrame()))
    >>> [u.rsplit("/", 1)[-1] for u in live_segment_uris(duckdb.connect(), s.root.as_uri())] == [p.name]
    True
    """
    load_extension(con, location)
    pattern = duckdb_uri(location) + "/events/*.parquet"
    try:
        files = [row[0] for row in con.execute("SELECT file FROM glob(?)", [pattern]).fetchall()]
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"cannot list store {location}: {first}") from None

    def replaces(file: str) -> list[str]:
        rows = con.execute("SELECT value FROM parquet_kv_metadata(?) WHERE key = ?", [file, REPLACES_KEY]).fetchall()
        return replaced_names({REPLACES_KEY: rows[0][0]} if rows else None)

    return live_files(files, replaces)


def quarantine_texts(con: duckdb.DuckDBPyConnection, location: str) -> list[str]:
    """The text of each quarantine file of the store at ``location``, by file name.

    >>> import tempfile
    >>> from monitor.store import Store
    >>> s = Store(tempfile.mkdtemp()); _ = s.write_quarantine([{"source": "a", "line": 1, "reason": "r", "raw": b"x"}])
    >>> [t.count("\\n") for t in quarantine_texts(duckdb.connect(), s.root.as_uri())]
    [1]
    """
    load_extension(con, location)
    pattern = duckdb_uri(location) + "/quarantine/*.jsonl"
    try:
        files = sorted(row[0] for row in con.execute("SELECT file FROM glob(?)", [pattern]).fetchall())
        if not files:
            return []
        rows = con.execute("SELECT filename, content FROM read_text(?)", [files]).fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(f"cannot read the quarantine of store {location}: {first}") from None
    return [content for _, content in sorted(rows)]
