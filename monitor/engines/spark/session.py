"""The Spark session of the ``spark`` engine: a small local one by default, or the caller's.

A notebook that already has a session passes it (``monitor.open(store, spark=spark)``); the
CLI starts one with :data:`DEFAULT_CONF` overlaid by the config's ``[spark]`` table (any
``spark.*`` setting, e.g. ``spark.master = "spark://host:7077"`` or the Hadoop connector
settings of docs/SCALE.md). Whatever the session, its SQL time zone is set to UTC: the store's
``ts`` is UTC and the time buckets must fall on the same hours as DuckDB's.

Without pyspark or without Java the engine cannot start: :func:`spark_session` raises a
:class:`~monitor.errors.UserError` that says what to install.

Example:
    >>> DEFAULT_CONF["spark.master"], DEFAULT_CONF["spark.sql.session.timeZone"]
    ('local[2]', 'UTC')
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from monitor.errors import UserError

DEFAULT_CONF: dict[str, str] = {
    "spark.master": "local[2]",
    "spark.app.name": "llm-monitor",
    "spark.driver.memory": "1g",
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.ansi.enabled": "false",
    # The JVM of a short command: its own JIT compiler and garbage collector cost more CPU than
    # the queries (docs/SCALE.md "Why Spark was slow"). C1 only (no C2 recompilation of hot code)
    # and the throughput collector: a cold 10M-event check took 2.6x less time and half the CPU.
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseParallelGC",
}
"""Settings of a session the engine starts itself (the config's ``[spark]`` table wins)."""

SESSION_CONF = {"spark.sql.session.timeZone": "UTC"}
"""Settings applied to any session the engine uses, a notebook's included."""


def spark_session(conf: dict[str, str] | None = None) -> Any:
    """The active SparkSession with :data:`SESSION_CONF` set, else a new one from
    :data:`DEFAULT_CONF` and ``conf``; a :class:`UserError` when pyspark or Java is missing."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UserError("the spark engine needs pyspark: pip install 'llm-monitor[spark]'") from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return prepare(active)
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise UserError("the spark engine needs Java 17 or later on PATH (Debian: apt-get install "
                        "openjdk-17-jre-headless) or JAVA_HOME")
    builder = SparkSession.builder
    for key, value in {**DEFAULT_CONF, **(conf or {})}.items():
        builder = builder.config(key, str(value))
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # noqa: BLE001 - the JVM did not start: the user's setup to fix
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise UserError(f"could not start Spark: {first}") from None
    session.sparkContext.setLogLevel("ERROR")
    return prepare(session)


def prepare(session: Any) -> Any:
    """Apply :data:`SESSION_CONF` to ``session`` and return it."""
    for key, value in SESSION_CONF.items():
        session.conf.set(key, value)
    return session
