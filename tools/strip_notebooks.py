"""Clear outputs and execution counts of the project's notebooks, so diffs stay readable.

Usage::

    python tools/strip_notebooks.py            # strip notebooks/*.ipynb in place
    python tools/strip_notebooks.py --check    # exit 1 (and name them) if any notebook has outputs
    python tools/strip_notebooks.py a.ipynb b.ipynb

The test suite runs the check (tests/test_notebooks.py), so a notebook committed with outputs fails CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
# Per-cell metadata written by Jupyter front ends while running; meaningless in the repository.
_VOLATILE_CELL_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What stripping would remove, one line per cell (empty when the notebook is clean)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {i}: {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {i}: execution_count {cell.execution_count}")
        volatile = [k for k in _VOLATILE_CELL_METADATA if k in cell.metadata]
        if volatile:
            found.append(f"cell {i}: metadata {', '.join(volatile)}")
    return found


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and volatile metadata, in place; returns ``nb``."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        for key in _VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
    nb.metadata.get("language_info", {}).pop("version", None)
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if any notebook has outputs")
    args = parser.parse_args(argv)
    paths = args.paths or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    dirty = 0
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        found = problems(nb)
        if not found:
            continue
        dirty += 1
        if args.check:
            print(f"{path}: not stripped ({'; '.join(found[:3])}{' ...' if len(found) > 3 else ''})")
        else:
            nbformat.write(strip(nb), path)
            print(f"{path}: stripped")
    if args.check and dirty:
        print("fix: python tools/strip_notebooks.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
