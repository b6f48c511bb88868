"""Files at a URI through Hadoop's file system, in the Spark session's JVM.

A store or a log directory at ``s3a://``, ``gs://``, ``abfss://``, ``hdfs://`` or ``file://`` is
listed with the same ``org.apache.hadoop.fs.FileSystem`` (and the same connector settings, from
the session's Hadoop configuration) that Spark reads it with. Only names and footers cross to
the driver: the store's live segments (:func:`live_segment_uris`, through the one listing rule
:func:`monitor.listing.live_files`, with the compacted segments' replaced lists read from their
Parquet footers) and the files a backfill's input pattern names (:func:`glob_files`). The
backfill into a store at a URI stages and commits through the writes at the end (:func:`rename`
and friends).

An unknown scheme or a connector missing from the classpath is a
:class:`~monitor.errors.UserError` of one line (which jar to add: docs/SCALE.md).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

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


@contextlib.contextmanager
def _parquet_reader(session: Any, uri: str) -> Iterator[Any]:
    """Parquet's ``ParquetFileReader`` on the file at ``uri`` (only its footer is read); a missing
    file is a :class:`FileNotFoundError`."""
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
        yield reader
    finally:
        reader.close()


def footer_metadata(session: Any, uri: str) -> dict[bytes, bytes]:
    """The key-value metadata of the Parquet file at ``uri`` (only its footer is read)."""
    with _parquet_reader(session, uri) as reader:
        pairs = reader.getFooter().getFileMetaData().getKeyValueMetaData()
        return {str(k).encode(): str(v).encode() for k, v in pairs.items()}


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


# ------------------------------------------------------------------------------------ writes
# The backfill into a store at a URI (monitor/engines/spark/backfill.py) stages and commits
# through these. A ``file:`` URI goes through Hadoop's raw local file system, so no ``.crc``
# side files are left next to segments.
_PRIVATE = {"file": "-rw-------", "dir": "drwx------"}


def _raw(session: Any, uri: str) -> tuple[Any, Any]:
    """:func:`file_system`, unwrapped from the checksum layer for ``file:`` URIs."""
    fs, path = file_system(session, uri)
    if fs.getScheme() == "file" and hasattr(fs, "getRawFileSystem"):
        fs = fs.getRawFileSystem()
    return fs, path


def _private(session: Any, fs: Any, path: Any, kind: str) -> None:
    """``0600`` / ``0700`` where the file system has permissions (HDFS, ABFS, ``file:``); object
    stores without them ignore it."""
    jvm = session.sparkContext._jvm
    try:
        fs.setPermission(path, jvm.org.apache.hadoop.fs.permission.FsPermission.valueOf(_PRIVATE[kind]))
    except Exception:  # noqa: BLE001 - UnsupportedOperationException on some connectors: nothing to protect
        pass


def make_dirs(session: Any, uri: str) -> None:
    """Create the directory ``uri`` and its missing parents, each ``0700`` where permissions exist."""
    fs, path = _raw(session, uri)
    missing = []
    while path is not None and not fs.exists(path):
        missing.append(path)
        path = path.getParent()
    if missing:
        fs.mkdirs(missing[0])
    for created in missing:
        _private(session, fs, created, "dir")


def list_entries(session: Any, uri: str) -> list[tuple[str, bool]]:
    """``(uri, is_directory)`` of each entry of the directory ``uri``, sorted; none if it is missing."""
    fs, path = _raw(session, uri)
    if not fs.exists(path):
        return []
    return sorted((str(s.getPath().toString()), bool(s.isDirectory())) for s in fs.listStatus(path))


def delete(session: Any, uri: str) -> None:
    """Delete ``uri`` (a directory recursively); a missing one is no error."""
    fs, path = _raw(session, uri)
    fs.delete(path, True)


def rename(session: Any, source: str, target: str) -> None:
    """Move the file ``source`` to ``target`` (``0600``); an :class:`OSError` when Hadoop refuses.

    Atomic on HDFS, ABFS with a hierarchical namespace and local disks; on S3 and GCS a copy of
    the object then a delete, the copy appearing whole or not at all (docs/SCALE.md).
    """
    fs, src = _raw(session, source)
    dst = session.sparkContext._jvm.org.apache.hadoop.fs.Path(target)
    if not fs.rename(src, dst):
        raise OSError(f"Hadoop could not rename {source} to {target}")
    _private(session, fs, dst, "file")


def write_bytes(session: Any, uri: str, data: bytes) -> None:
    """Write ``data`` as the new file ``uri`` (``0600``)."""
    fs, path = _raw(session, uri)
    out = fs.create(path, False)
    try:
        out.write(bytearray(data))
    finally:
        out.close()
    _private(session, fs, path, "file")


def parquet_rows(session: Any, uri: str) -> int:
    """The row count of the Parquet file at ``uri`` (only its footer is read)."""
    with _parquet_reader(session, uri) as reader:
        return int(reader.getRecordCount())


def quarantine_texts(session: Any, location: str) -> list[str]:
    """The text of each quarantine file of the store at ``location``, by file name (read by Spark)."""
    from pyspark.sql.functions import input_file_name

    files = [uri for uri, is_dir in list_entries(session, location.rstrip("/") + "/quarantine")
             if not is_dir and uri.endswith(".jsonl")]
    if not files:
        return []
    rows = session.read.text(files, wholetext=True).select(input_file_name().alias("file"), "value").collect()
    return [row["value"] for row in sorted(rows, key=lambda row: row["file"])]
