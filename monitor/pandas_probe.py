"""Keep pyarrow from importing pandas in commands that never use it.

pyarrow asks "is pandas there?" on its own, from compiled code, on paths that never touch a
DataFrame: its pandas shim on the first ``pa.array`` / ``pa.table`` / ``Schema.empty_table``,
and Arrow's C++ ``InitPandasStaticData`` on every ``Array.to_numpy()`` (until the import
succeeds). With pandas installed, the first such question imports it: about 0.35 s and
50 MB of resident memory in the sidecar, ``ingest`` and ``signals``, none of which hands out a
DataFrame.

:func:`defer_pandas` puts an import finder first on ``sys.meta_path`` that tells apart who asks:

* an ``import pandas`` *statement* in Python code (the asking frame stands at an ``IMPORT_NAME``
  instruction), ``importlib.import_module("pandas")``, pyarrow's ``pandas_compat`` (the Python
  half of ``to_pandas``), or compiled code asked by a Python line that calls one of
  :data:`DATAFRAME_CALLS` (DuckDB's ``.df()``, pyarrow's ``to_pandas``, ``__import__``): allowed. The finder steps aside for good and, once pandas has loaded,
  switches pyarrow's pandas support back on, so every later conversion behaves as in a process
  where nothing was deferred;
* any other import from compiled code (pyarrow's shim on a conversion, Arrow's C++ on
  ``to_numpy``): answered "not installed" at once (no search of ``sys.path``), so pyarrow takes
  its pandas-free path;
* ``importlib.util.find_spec("pandas")`` (a check, not an import): answered truthfully.

A call that wants pandas from compiled code under another name fails with a
``ModuleNotFoundError`` naming this module (:data:`REFUSAL`) rather than importing silently; an
``import pandas`` before it settles it. Only the command line installs the finder
(:func:`monitor.cli.main`); ``import monitor`` in a notebook leaves imports alone.

>>> import pyarrow as pa
>>> _who_asks(sys._getframe()), _who_asks(None)     # this line calls no DataFrame producer
('compiled', 'compiled')
>>> sorted(DATAFRAME_CALLS & _names_called(sys._getframe().f_code, sys._getframe().f_lineno, 10**6))
[]
"""

from __future__ import annotations

import dis
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from functools import lru_cache
from types import CodeType, FrameType, ModuleType
from typing import Any

__all__ = ["DATAFRAME_CALLS", "REFUSAL", "DeferPandas", "defer_pandas", "pandas_deferred"]

REFUSAL = "pandas deferred by llm-monitor (monitor.pandas_probe): import pandas in Python first"
"""The message of the ``ModuleNotFoundError`` a compiled-code import of pandas gets."""

_IMPORT_NAME = dis.opmap["IMPORT_NAME"]
_PANDAS_CONVERTERS = ("pyarrow.pandas_compat",)  # Python code that runs only to build pandas objects
_MACHINERY = ("importlib._bootstrap", "importlib._bootstrap_external", __name__)


def _asking_frame() -> FrameType | None:
    """The nearest frame outside the import machinery and this module."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__") in _MACHINERY:
        frame = frame.f_back
    return frame


DATAFRAME_CALLS = frozenset({"df", "fetchdf", "fetch_df", "fetch_df_chunk", "to_pandas", "__import__"})
"""Calls that want pandas: a compiled-code import made while the asking line calls one of them
(DuckDB's ``.df()``, pyarrow's ``to_pandas``, ``__import__("pandas")``) is let through."""


def _who_asks(frame: FrameType | None) -> str:
    """``"python"`` (an import statement, ``import_module``, a line calling one of
    :data:`DATAFRAME_CALLS`), ``"check"`` (``importlib.util.find_spec``) or ``"compiled"`` (a
    C extension asking on its own, with no frame of its own)."""
    if frame is None:
        return "compiled"
    code, module = frame.f_code, frame.f_globals.get("__name__")
    if (module == "importlib" and code.co_name == "import_module") or module in _PANDAS_CONVERTERS:
        return "python"
    if module == "importlib.util":
        return "check"
    lasti = frame.f_lasti
    if 0 <= lasti < len(code.co_code) and code.co_code[lasti] == _IMPORT_NAME:
        return "python"
    if DATAFRAME_CALLS & _names_called(code, frame.f_lineno, lasti):
        return "python"
    return "compiled"


@lru_cache(maxsize=256)
def _names_called(code: CodeType, line: int | None, lasti: int) -> frozenset[str]:
    """The names and attributes loaded on ``line`` of ``code`` up to the instruction at ``lasti``
    (what the line being run has called so far, or is calling)."""
    loads = ("LOAD_ATTR", "LOAD_METHOD", "LOAD_GLOBAL", "LOAD_NAME")
    return frozenset(str(ins.argval) for ins in dis.get_instructions(code)
                     if ins.offset <= lasti and ins.opname in loads and ins.positions is not None
                     and ins.positions.lineno == line)


class _ArmAfterLoad(importlib.abc.Loader):
    """pandas' own loader, followed by switching pyarrow's pandas support back on."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        _arm_pyarrow()

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, get_code ...
        return getattr(self._loader, name)


def _arm_pyarrow() -> None:
    """Make pyarrow's pandas shim import pandas now that it is loaded (a shim that was told
    "no pandas" re-tries on its ``compat`` property; a shim that never asked will find it)."""
    lib = sys.modules.get("pyarrow.lib")
    shim = getattr(lib, "_pandas_api", None)
    if shim is not None:
        shim.compat  # noqa: B018 - the property re-runs pyarrow's pandas import


class DeferPandas(importlib.abc.MetaPathFinder):
    """The finder of :func:`defer_pandas` (see the module docstring).

    ``refused`` counts the compiled-code imports it turned away.
    """

    def __init__(self) -> None:
        self.refused = 0

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if name != "pandas" and not name.startswith("pandas."):
            return None
        who = _who_asks(_asking_frame())
        if who == "compiled":
            self.refused += 1
            raise ModuleNotFoundError(REFUSAL, name=name)
        if who == "check" or name != "pandas":
            return None
        _remove(self)
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _ArmAfterLoad(spec.loader)
        return spec


def _remove(finder: importlib.abc.MetaPathFinder) -> None:
    try:
        sys.meta_path.remove(finder)
    except ValueError:
        pass


def pandas_deferred() -> bool:
    """Whether the finder of :func:`defer_pandas` is installed and pandas not yet imported.

    >>> isinstance(pandas_deferred(), bool)
    True
    """
    return any(isinstance(f, DeferPandas) for f in sys.meta_path)


def defer_pandas() -> DeferPandas | None:
    """Install the finder that keeps compiled code from importing pandas (module docstring).

    Call it once, at the start of a command-line process, before the first Arrow conversion.
    Returns the finder, or None when pandas is already imported or the finder is in place.

    >>> import subprocess, sys
    >>> code = ("from monitor.pandas_probe import defer_pandas; import sys, pyarrow as pa; "
    ...         "f = defer_pandas(); pa.array([1]).to_numpy(); print('pandas' in sys.modules, f.refused > 0)")
    >>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    ['False', 'True']
    """
    if "pandas" in sys.modules or pandas_deferred():
        return None
    finder = DeferPandas()
    sys.meta_path.insert(0, finder)
    return finder
