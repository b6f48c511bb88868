"""The code points where Arrow's and DuckDB's lower() differ: computed once per installed pair of
versions, kept in a cache file that is read back, and never trusted when it is damaged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.signals import lowercase


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(lowercase, "_diff", None)
    return tmp_path


def test_computed_once_then_read_from_the_cache(cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = lowercase.compare_lower()
    assert lowercase.lower_diff_class() == want
    path = lowercase.cache_path()
    assert path.parent == cache_home / "llm-monitor" and path.read_text().strip() == want
    # a new process (module state reset) reads the file and does not compare again
    monkeypatch.setattr(lowercase, "_diff", None)
    monkeypatch.setattr(lowercase, "compare_lower", lambda: pytest.fail("compared again"))
    assert lowercase.lower_diff_class() == want


@pytest.mark.parametrize("damaged", ["[\\x{41}", "(?s).*", "[a-z]", "\x00", ""])
def test_a_damaged_cache_is_recomputed_and_rewritten(cache_home: Path, damaged: str) -> None:
    path = lowercase.cache_path()
    path.parent.mkdir(parents=True)
    if damaged:
        path.write_text(damaged)
    else:
        path.write_bytes(b"\xff\xfe")  # not text
    want = lowercase.compare_lower()
    assert lowercase.lower_diff_class() == want
    assert path.read_text().strip() == want


def test_an_unwritable_cache_is_skipped(cache_home: Path) -> None:
    (cache_home / "llm-monitor").write_text("a file where the folder should be")
    assert lowercase.lower_diff_class() == lowercase.compare_lower()
    assert not any(p.name.startswith(".lower-diff-") for p in cache_home.rglob("*"))


def test_the_cache_follows_the_installed_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    path = lowercase.cache_path()
    assert path.parent == Path(os.path.expanduser("~/.cache")) / "llm-monitor"
    import duckdb
    import pyarrow as pa

    assert duckdb.__version__ in path.name and pa.__version__ in path.name
