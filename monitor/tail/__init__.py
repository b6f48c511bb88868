"""``llm-monitor tail``, the sidecar: follow logs, commit them exactly once, alert within seconds.

The flow of one batch, module by module:

``follower``
    file following: globs, rotation (rename-and-create, copytruncate), complete lines only;
``monitor.ingest.BatchLoader``
    lines -> events with signals (the same code as ``llm-monitor ingest``);
``writer``
    resume positions from the store, and the commit of one batch through
    :func:`monitor.commit.commit_batch` (quarantine first, then dedup and the segment);
``dedup``
    the in-memory request ids of recent segments (:class:`~monitor.tail.dedup.RecentIds`,
    :class:`~monitor.tail.dedup.DuplicateGuard`);
``detect``
    the window statistics and the sequential detectors; an alarm becomes an alert through the
    one alert policy, :func:`detectors.policy.decide`;
``delivery``
    the outbox thread (Sentry) and the outbox's retention;
``compactor``
    the background merge of small segments;
``memory``
    allocator settings and the resident set size;
``metrics``, ``server``, ``logs``
    the Prometheus collectors, the ``/metrics`` ``/healthz`` ``/readyz`` endpoint
    (``--metrics-addr``), and the log lines (``--log-format``);
``settings``
    the ``[tail]`` keys (also validated by :func:`monitor.config.load_config`);
``loop``
    :class:`Tailer`, the main loop, and :func:`run_tail`, the library entry point.

The public names are imported lazily, so ``monitor.tail.settings`` (read when the configuration
is loaded) does not pull in the loop, DuckDB or the ingest path.

Example:
    >>> import monitor.tail
    >>> sorted(monitor.tail.__all__)
    ['TailSettings', 'Tailer', 'run_tail']
    >>> monitor.tail.run_tail.__module__
    'monitor.tail.loop'
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_tail", "Tailer", "TailSettings"]

_WHERE = {"run_tail": "monitor.tail.loop", "Tailer": "monitor.tail.loop", "TailSettings": "monitor.tail.settings"}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'monitor.tail' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(where), name)
