"""docs/API.md stays true to the code: its Python blocks run, in order, against a demo store,
and every public member of the API is documented there."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import monitor
from test_api import shared_demo_store

DOC = Path(__file__).resolve().parent.parent / "docs" / "API.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_every_python_block_runs(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    store = shared_demo_store(tmp_path_factory, 600)  # shared: the blocks only read it
    monkeypatch.chdir(tmp_path)  # the overview block opens ./llm-monitor-data: the demo store here
    (tmp_path / "llm-monitor-data").symlink_to(store, target_is_directory=True)
    monkeypatch.delenv("LLM_MONITOR_STORE", raising=False)
    import matplotlib

    matplotlib.use("Agg")
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) >= 10
    namespace: dict = {"STORE": str(store), "__name__": "api_doc"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"docs/API.md block {i + 1}", "exec"), namespace)  # noqa: S102
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"docs/API.md python block {i + 1} failed: {type(exc).__name__}: {exc}\n{block}")


def test_every_public_member_is_documented() -> None:
    text = DOC.read_text()
    for name, member in inspect.getmembers(monitor.Monitor):
        if not name.startswith("_") and callable(member):
            assert f"m.{name}(" in text, f"Monitor.{name} is not in docs/API.md"
    members = set(monitor.Comparison.__dataclass_fields__)
    members |= {n for n, _ in inspect.getmembers(monitor.Comparison) if not n.startswith("_")}
    for name in sorted(members):
        assert f"`{name}" in text, f"Comparison.{name} is not in docs/API.md"
    assert "monitor.open(" in text


def test_documented_signatures_match() -> None:
    """The headings ``### `m.method(args) -> T` `` list the real parameters, in order."""
    text = DOC.read_text()
    for name, member in inspect.getmembers(monitor.Monitor, inspect.isfunction):
        if name.startswith("_"):
            continue
        heading = re.search(rf"^### `m\.{name}\((.*)\)(?: -> |`)", text, re.M)
        assert heading, f"no heading for m.{name}"
        args = re.sub(r"\([^()]*\)", "", heading.group(1))  # drop tuple defaults
        documented = [p.split("=")[0].strip(" *") for p in args.split(",") if p.strip(" *")]
        real = [p for p in inspect.signature(member).parameters if p != "self"]
        real = [("**" if inspect.signature(member).parameters[p].kind is inspect.Parameter.VAR_KEYWORD else "") + p
                for p in real]
        assert [d.lstrip("*") for d in documented] == [r.lstrip("*") for r in real], name
