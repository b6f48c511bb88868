"""Modules imported on first use, so that importing a detector does not import scipy.

scipy.stats takes about a second to import; commands that test nothing (``llm-monitor
signals``, ``ingest``, ``--help``) import the detectors' modules through the configuration and
the statistics query, and should not pay for it. ``importlib.util.LazyLoader`` would do the same
for a whole module, but its first attribute access is not thread-safe before Python 3.12 (the
sidecar tests from more than one thread); ``importlib.import_module`` takes the import lock.
Until the first read nothing is imported and nothing is put in ``sys.modules``, so ``"x" in
sys.modules`` still tells whether a command loaded ``x``. ``monitor`` uses the same helper for
DuckDB and ``pyarrow.parquet`` in the API and the store (``signals`` and ``check`` of small
files make no DuckDB call and read no segment).

>>> special = LazyModule("scipy.special")
>>> float(special.expit(0.0))
0.5
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LazyModule"]


class LazyModule:
    """Stands for the module ``name``; imports it on the first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"LazyModule({self._name!r})"
