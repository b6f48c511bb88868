"""Where Arrow's ``utf8_lower`` and DuckDB's ``lower()`` disagree, found once per installed pair.

The refusal rules match text lower-cased as DuckDB's ``lower()`` does (the statement the engine
replaced). Arrow's kernel is used instead, and the few code points where its Unicode tables
differ from DuckDB's (newer letters) send their rows to DuckDB (see ``refusal._normalize``).
Which code points those are depends only on the installed DuckDB and pyarrow: the comparison
of every code point (about 0.25 s) runs once per pair of versions and its result is kept in
``$XDG_CACHE_HOME/llm-monitor`` (else ``~/.cache/llm-monitor``), one line of text; a cache that
cannot be read or written (a read-only home) is skipped, and the comparison runs as before.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors._lazy import LazyModule

if TYPE_CHECKING:
    import duckdb
else:  # imported for the comparison only; a cached result needs no DuckDB (detectors/_lazy.py)
    duckdb = LazyModule("duckdb")

__all__ = ["lower_diff_class", "compare_lower", "cache_path"]

_diff: str | None = None
_lock = threading.Lock()
#: What a cached value may be: "", "*" or a character class of ``\x{...}`` escapes.
_VALID = re.compile(r"|\*|\[(?:\\x\{[0-9a-f]{1,6}\})+\]")


def _all_code_points() -> tuple[np.ndarray, pa.Array]:
    """Every non-ASCII scalar value, and one string holding them all (UTF-8 built by numpy)."""
    cps, data = [], []
    for lo, hi, n in ((0x80, 0x800, 2), (0x800, 0x10000, 3), (0x10000, 0x110000, 4)):
        c = np.arange(lo, hi, dtype=np.uint32)
        c = c[(c < 0xD800) | (c > 0xDFFF)]
        b = np.empty((len(c), n), dtype=np.uint8)
        b[:, 0] = (0xF0 << (4 - n)) & 0xFF | (c >> (6 * (n - 1)))
        for k in range(1, n):
            b[:, k] = 0x80 | ((c >> (6 * (n - 1 - k))) & 0x3F)
        cps.append(c)
        data.append(b.reshape(-1))
    raw = np.concatenate(data).tobytes()
    offsets = pa.py_buffer(np.array([0, len(raw)], dtype=np.int64).tobytes())
    return np.concatenate(cps), pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(raw))


def compare_lower() -> str:
    """An RE2 character class of the code points where the two lower() differ: "" if none,
    "*" if they cannot be compared code point by code point (then DuckDB lowers every row
    with a non-ASCII character). Computed afresh (no cache).

    >>> compare_lower() in ("", "*") or compare_lower().startswith("[\\\\x{")
    True
    """
    # Both map each code point to one code point: lower one string of all of them.
    cps, text = _all_code_points()
    con = duckdb.connect(":memory:")
    try:
        con.register("cp", pa.table({"s": text}))
        duck = con.execute("SELECT lower(s) AS l FROM cp").fetchnumpy()["l"][0]
    finally:
        con.close()
    arrow = pc.utf8_lower(text)[0].as_py()
    d = np.frombuffer(duck.encode("utf-32-le"), dtype="<u4")
    a = np.frombuffer(arrow.encode("utf-32-le"), dtype="<u4")
    if len(d) != len(cps) or len(a) != len(cps):
        return "*"
    odd = cps[d != a].tolist()
    return "[" + "".join(f"\\x{{{c:x}}}" for c in odd) + "]" if odd else ""


def cache_path() -> Path:
    """The cache file of the installed DuckDB and pyarrow versions.

    >>> cache_path().name.startswith("lower-diff-duckdb")
    True
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "llm-monitor" / f"lower-diff-duckdb{version('duckdb')}-pyarrow{pa.__version__}.txt"


def _read(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return text if _VALID.fullmatch(text) else None


def _write(path: Path, value: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".lower-diff-")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(value + "\n")
            os.replace(tmp, path)  # whole or absent: a concurrent reader never sees half a file
        except OSError:
            os.unlink(tmp)
            raise
    except OSError:
        pass


def lower_diff_class() -> str:
    """:func:`compare_lower` of the installed versions: from the cache file when it holds a valid
    value, else computed and written there; then kept for the process.

    >>> lower_diff_class() == compare_lower()
    True
    """
    global _diff
    if _diff is None:
        with _lock:
            if _diff is None:
                path = cache_path()
                value = _read(path)
                if value is None:
                    value = compare_lower()
                    _write(path, value)
                _diff = value
    return _diff
