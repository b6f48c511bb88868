"""The one listing rule of a store's live segments, shared by every lister.

The local store (:meth:`monitor.store.Store.live_segments`), DuckDB over a URI
(:mod:`monitor.engines.duckdb_uri`) and Hadoop's file system for Spark
(:mod:`monitor.engines.spark.hadoop`) list ``events/`` their own way and hand the names to
:func:`live_files`. A module of its own so the engines need not import the store (and the store
its engines) to share it.
"""

from __future__ import annotations

import contextlib
import json
from typing import Callable, Iterable

REPLACES_KEY = b"llm_monitor.replaces"
"""The Parquet key-value metadata key of a compacted segment: the JSON list of names it replaces."""


def live_files(files: Iterable[str], replaces: Callable[[str], Iterable[str]]) -> list[str]:
    """The one listing rule of live segments: of the files in ``events/`` (paths or URIs), the
    ``.parquet`` ones, sorted, less those a compacted ``c-`` segment replaces (``replaces(file)``
    reads a ``c-`` file's list of replaced names; a file gone meanwhile replaces nothing).

    Every lister uses it: the local store, DuckDB over a URI, Hadoop's file system for Spark.

    >>> meta = {"e/c-2.parquet": ["s-1.parquet"]}
    >>> live_files(["e/s-1.parquet", "e/c-2.parquet", "e/s-3.parquet", "e/x.tmp"], meta.__getitem__)
    ['e/c-2.parquet', 'e/s-3.parquet']
    """
    parquet = sorted((f for f in files if f.endswith(".parquet")), key=lambda f: f.rsplit("/", 1)[-1])
    replaced: set[str] = set()
    for f in parquet:
        if f.rsplit("/", 1)[-1].startswith("c-"):
            with contextlib.suppress(FileNotFoundError):
                replaced.update(replaces(f))
    return [f for f in parquet if f.rsplit("/", 1)[-1] not in replaced]


def replaced_names(metadata: dict[bytes, bytes] | None) -> list[str]:
    """The segment names a segment's Parquet key-value ``metadata`` says it replaces.

    >>> replaced_names({REPLACES_KEY: b'["s-1.parquet"]'}), replaced_names(None)
    (['s-1.parquet'], [])
    """
    return list(json.loads((metadata or {}).get(REPLACES_KEY, b"[]")))
