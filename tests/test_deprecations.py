"""No notebook uses a deprecated or removed API: stored outputs and fresh runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from notebook_harness import REPO, deprecation_warnings, run_nbval

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_show_no_deprecation_warning(notebook: Path) -> None:
    book = nbformat.read(notebook, as_version=4)
    code_cells = [cell for cell in book.cells if cell.cell_type == "code"]
    for index, cell in enumerate(code_cells):
        warnings = deprecation_warnings(cell.get("outputs", []))
        assert not warnings, f"{notebook.name}, code cell {index}: {warnings}"


def test_library_internal_warnings_are_not_ours() -> None:
    outputs = [{"output_type": "stream", "name": "stderr", "text":
                "/x/site-packages/lib/mod.py:3: DeprecationWarning: internal\n"
                "/tmp/ipykernel_1/123.py:2: FutureWarning: ours\n"}]
    assert deprecation_warnings(outputs) == ["FutureWarning: ours"]


def test_fresh_deprecation_warning_fails_the_run(tmp_path: Path) -> None:
    shutil.copy(REPO / "conftest.py", tmp_path)  # pytest loads conftests beside the notebook
    notebook = tmp_path / "deprecated.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print('fine')", execution_count=1, outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="fine\n")]),
        nbformat.v4.new_code_cell("import warnings\n"
                                  "warnings.warn('old_api() is deprecated', DeprecationWarning)"),
    ]), notebook)
    result = run_nbval(notebook)
    assert result.returncode == 1
    assert ("deprecated.ipynb, Cell 1, uses a deprecated API: "
            "DeprecationWarning: old_api() is deprecated") in result.stdout
