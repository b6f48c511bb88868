"""The ``spark`` engine: the statistics query as Spark SQL, and the backfill ingest on Spark.

- :mod:`.session`: the session (a small ``local[2]`` one by default, or the caller's);
- :mod:`.reader`: :class:`SparkEngine`, the store's live segments as a Spark view ``events``;
- :mod:`.backfill`: ``llm-monitor ingest --engine spark``.

pyspark is imported only when a session is made: ``import monitor`` never needs it.
"""

from monitor.engines.spark.reader import SparkEngine
from monitor.engines.spark.session import spark_session

__all__ = ["SparkEngine", "spark_session"]
