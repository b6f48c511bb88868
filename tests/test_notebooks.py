"""The analyst notebooks run top to bottom on a generated store, and are committed clean.

Each notebook is executed with nbclient in a fresh kernel that runs this interpreter
(``sys.executable``: a kernelspec written to a temporary ``JUPYTER_PATH``, so a user-level
``python3`` kernelspec pointing elsewhere cannot be picked up). A cell that raises fails the
test with the cell's source and traceback; every cell tagged ``figure`` must leave an
``image/png`` output.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from test_api import shared_demo_store

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL_NAME = "llm-monitor-test-python"
EXPECTED = {"quickstart.ipynb", "model_swap_review.ipynb"}

nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")


def test_both_notebooks_exist() -> None:
    assert EXPECTED <= {p.name for p in NOTEBOOKS}


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo store built by the real CLI (600 events per version and route), shared."""
    return shared_demo_store(tmp_path_factory, 600)


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A JUPYTER_PATH holding one kernelspec that runs this very interpreter."""
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "llm-monitor tests", "language": "python"}))
    return root


def _execute(path: Path, workdir: Path, kernel_dir: Path, monkeypatch: pytest.MonkeyPatch,
             env: dict[str, str]) -> nbformat.NotebookNode:
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the inline backend must produce image/png outputs
    monkeypatch.delenv("SENTRY_DSN", raising=False)
    monkeypatch.delenv("LLM_MONITOR_STORE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=KERNEL_NAME, timeout=120,
                                     resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: a cell raised:\n{exc}", pytrace=False)
    return nb


def _check_outputs(nb: nbformat.NotebookNode, name: str) -> None:
    figure_cells = [c for c in nb.cells if c.cell_type == "code" and "figure" in c.metadata.get("tags", [])]
    assert figure_cells, f"{name}: no cell is tagged 'figure'"
    for cell in figure_cells:
        kinds = [k for o in cell.outputs for k in o.get("data", {})]
        assert "image/png" in kinds, f"{name}: plotting cell produced no figure:\n{cell.source[:300]}"
    for cell in nb.cells:
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{name}: {errors[0].ename}: {errors[0].evalue}"
            streams = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
            assert "Traceback" not in streams, f"{name}: traceback on stderr:\n{streams}"


def _text(nb: nbformat.NotebookNode) -> str:
    return "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                     for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def test_model_swap_review_runs_on_demo_store(demo_store: Path, kernel_dir: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    nb = _execute(ROOT / "notebooks" / "model_swap_review.ipynb", tmp_path, kernel_dir, monkeypatch,
                  {"LLM_MONITOR_NOTEBOOK_STORE": str(demo_store)})
    _check_outputs(nb, "model_swap_review.ipynb")
    text = _text(nb)
    # The review reaches every injected regression, and the control route stays quiet.
    assert "review: acme-chat 2026-10-01 -> 2026-11-20" in text
    assert "4 alert(s)" in text
    assert "en_inability" in text and "support" in text          # which refusal rules
    assert "schema_violation" in text and "Invoice" in text      # which schema broke, how
    assert "faq" in text


def test_quickstart_builds_an_empty_store_and_runs(kernel_dir: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Pointed at an empty store, the quickstart builds the demo store itself, then runs to the end."""
    store = tmp_path / "fresh-store"
    nb = _execute(ROOT / "notebooks" / "quickstart.ipynb", tmp_path, kernel_dir, monkeypatch,
                  {"LLM_MONITOR_NOTEBOOK_STORE": str(store), "LLM_MONITOR_NOTEBOOK_EVENTS": "300"})
    _check_outputs(nb, "quickstart.ipynb")
    first = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "ingest: 1 file(s)" in first and "3600 ingested" in first, first
    assert any((store / "events").glob("*.parquet"))
    text = _text(nb)
    assert "refusal_rate 1.7% -> 6.8%" in text or "refusal_rate" in text
    assert "en_inability" in text and "I'm unable to provide that information." in text
    assert "schema: model: 7 is not of type 'string'" in text      # the quarantine is shown


def test_api_ingest_inside_a_kernel(kernel_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An analyst can call ``m.ingest`` from Jupyter (DuckDB behaves differently inside IPython)."""
    from monitor import demo

    log = tmp_path / "events.jsonl"
    demo.write_log(demo.generate_events(per_cell=20, seed=3), log)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import monitor\nm = monitor.open({str(tmp_path / 'store')!r})\n"
        f"print(m.ingest([{str(log)!r}]).summary())\nprint(len(m.events()))")])
    path = tmp_path / "ingest.ipynb"
    nbformat.write(nb, path)
    nb = _execute(path, tmp_path, kernel_dir, monkeypatch, {})
    assert "240 ingested" in _text(nb)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_clean(path: Path) -> None:
    """No outputs, no execution counts: diffs stay readable (fix: python tools/strip_notebooks.py)."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {i} has outputs; run tools/strip_notebooks.py"
            assert cell.execution_count is None, f"{path.name} cell {i} has an execution count"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


def test_strip_tool_check_mode(tmp_path: Path) -> None:
    """``tools/strip_notebooks.py --check`` passes on the repository and flags an executed notebook."""
    ok = subprocess.run([sys.executable, str(ROOT / "tools" / "strip_notebooks.py"), "--check"],
                        capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    dirty = nbformat.read(NOTEBOOKS[0], as_version=4)
    code = next(c for c in dirty.cells if c.cell_type == "code")
    code.execution_count = 3
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    target = tmp_path / "dirty.ipynb"
    nbformat.write(dirty, target)
    tool = [sys.executable, str(ROOT / "tools" / "strip_notebooks.py")]
    bad = subprocess.run([*tool, "--check", str(target)], capture_output=True, text=True)
    assert bad.returncode == 1 and "not stripped" in bad.stdout
    fixed = subprocess.run([*tool, str(target)], capture_output=True, text=True)
    assert fixed.returncode == 0
    assert subprocess.run([*tool, "--check", str(target)], capture_output=True, text=True).returncode == 0
    again = nbformat.read(target, as_version=4)
    assert all(c.get("outputs", []) == [] for c in again.cells)
