"""Files at a URI through Hadoop's file system, in the Spark session's JVM.

A store or a log directory at ``s3a://``, ``gs://``, ``abfss://``, ``hdfs://`` or ``file://`` is
listed with the same ``org.apache.hadoop.fs.FileSystem`` (and the same connector settings, from
the session's Hadoop configuration) that Spark reads it with. Only names and footers cross to
the driver: the store's live segments (:func:`live_segment_uris`, through the one listing rule
:func:`monitor.listing.live_files`, with the compacted segments' replaced lists read from their
Parquet footers) and the files a backfill's input pattern names (:func:`glob_files`).

An unknown scheme or a connector missing from the classpath is a
:class:`~monitor.errors.UserError` of one line (which jar to add: docs/SCALE.md).
"""

from __future__ import annotations

from typing import Any

from monitor.errors import UserError
from monitor.listing import live_files, replaced_names


def _java_error(exc: Exception) -> str:
    """The first line of a Java exception's message (without Py4J's wrapping)."""
    java = getattr(exc, "java_exception", None)
    text = str(java.toString()) if java is not None else str(exc)
    return (text.splitlines() or [type(exc).__name__])[0]


def _missing(exc: Exception) -> bool:
    return "FileNotFoundException" in _java_error(exc)


def file_system(session: Any, uri: str) -> tuple[Any, Any]:
    """``(FileSystem, Path)`` for ``uri`` with the session's Hadoop configuration."""
    jvm = session.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    try:
        return path.getFileSystem(session.sparkContext._jsc.hadoopConfiguration()), path
    except Exception as exc:  # noqa: BLE001 - Py4J errors: no scheme, no connector jar
        raise UserError(f"cannot reach {uri} through Hadoop: {_java_error(exc)} (connectors: docs/SCALE.md)") from None


def footer_metadata(session: Any, uri: str) -> dict[bytes, bytes]:
    """The key-value metadata of the Parquet file at ``uri`` (only its footer is read)."""
    jvm = session.sparkContext._jvm
    conf = session.sparkContext._jsc.hadoopConfiguration()
    try:
        source = jvm.org.apache.parquet.hadoop.util.HadoopInputFile.fromPath(jvm.org.apache.hadoop.fs.Path(uri), conf)
        reader = jvm.org.apache.parquet.hadoop.ParquetFileReader.open(source)
    except Exception as exc:  # noqa: BLE001
        if _missing(exc):
            raise FileNotFoundError(uri) from None
        raise
    try:
        pairs = reader.getFooter().getFileMetaData().getKeyValueMetaData()
        return {str(k).encode(): str(v).encode() for k, v in pairs.items()}
    finally:
        reader.close()


def live_segment_uris(session: Any, location: str) -> list[str]:
    """The live segments of the store at ``location`` (its ``events/`` folder), as URIs."""
    fs, events = file_system(session, location + "/events")
    try:
        statuses = fs.listStatus(events) if fs.exists(events) else []
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"cannot list store {location}: {_java_error(exc)}") from None
    files = [str(s.getPath().toString()) for s in statuses if s.isFile()]
    return live_files(files, lambda f: replaced_names(footer_metadata(session, f)))


def glob_files(session: Any, pattern: str) -> list[str]:
    """The files a URI, URI glob or URI directory names (directories recursively), sorted; a
    :class:`UserError` when it names none."""
    fs, path = file_system(session, pattern)
    try:
        matches = fs.globStatus(path)
        files: list[str] = []
        for status in matches or []:
            if status.isFile():
                files.append(str(status.getPath().toString()))
                continue
            found = fs.listFiles(status.getPath(), True)
            while found.hasNext():
                files.append(str(found.next().getPath().toString()))
    except Exception as exc:  # noqa: BLE001
        raise UserError(f"cannot list {pattern}: {_java_error(exc)}") from None
    if not files:
        raise UserError(f"no such file: {pattern}")
    return sorted(set(files))
