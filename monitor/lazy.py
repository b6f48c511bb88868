"""A module imported on its first use, so a command that never uses it never pays for it.

``duckdb = lazy_module("duckdb")`` at the top of a module stands for ``import duckdb``: the
first attribute read (``duckdb.connect``, ``duckdb.Error`` in an ``except`` clause that is
reached) imports the real module, and every read after that is the real module's attribute.
Until then nothing is imported and nothing is put in ``sys.modules``, so ``"duckdb" in
sys.modules`` keeps telling whether DuckDB was loaded (the start-up tests rely on it).

Why not the standard library's ``importlib.util.LazyLoader``: it puts a placeholder in
``sys.modules`` at once (so that test can no longer tell), and on Python 3.11, which this
project supports, it is not thread-safe (two threads reading the placeholder's first attribute
at once may run the module twice; fixed in 3.12.3, gh-114763). The sidecar and the columnar
reader use DuckDB from several threads. Here the import is ``importlib.import_module``, which
holds the import lock: two threads get the same module, run once.

Declare it as ``if TYPE_CHECKING: import duckdb`` / ``else: duckdb = lazy_module("duckdb")``
so type checkers see the real module.

>>> colorsys = lazy_module("colorsys")
>>> colorsys
<module 'colorsys' (lazy)>
>>> colorsys.rgb_to_hsv(1.0, 0.0, 0.0)
(0.0, 1.0, 1.0)
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LazyModule", "lazy_module"]


class LazyModule:
    """Stands for the module ``name``; reading an attribute imports it (:func:`lazy_module`)."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        # an imported module costs one sys.modules look-up here (about a microsecond)
        return getattr(importlib.import_module(self._name), attr)

    def __dir__(self) -> list[str]:
        return dir(importlib.import_module(self._name))

    def __repr__(self) -> str:
        return f"<module {self._name!r} (lazy)>"


def lazy_module(name: str) -> LazyModule:
    """A stand-in for ``import name`` that imports the module on the first attribute read.

    >>> json_ = lazy_module("json")
    >>> json_.dumps([1, 2])
    '[1, 2]'
    """
    return LazyModule(name)
