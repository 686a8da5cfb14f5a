"""The benchmark takes the tutorials' loops and models from the notebooks themselves
(scripts/notebook_code.py, scripts/bench_loops.py): these checks fail as soon as a page and the
benchmark's description of it drift apart, without running any training."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest
from bench_loops import LOOPS, NOT_TIMED
from notebook_code import NotebookCode, cell_index, code_cells, definitions, with_overrides

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("key", sorted(LOOPS))
def test_loop_spec_matches_its_notebook(key: str) -> None:
    spec = LOOPS[key]
    cells = code_cells(NOTEBOOKS / spec.notebook)
    loop = cell_index(cells, spec.loop_cell)  # exactly one cell
    for name in spec.overrides:
        assigned = [i for i, source in enumerate(cells[: loop + 1])
                    if re.search(rf"^{name}\s*=", source, re.MULTILINE)]
        assert assigned, f"{spec.notebook}: no `{name} = ...` at or before the loop cell"


def test_every_tutorial_has_its_loop_benchmarked() -> None:
    """Every tutorial trains a model; a new one needs an entry in bench_loops.LOOPS (or a reason in
    NOT_TIMED)."""
    notebooks = {path.name for path in NOTEBOOKS.glob("*.ipynb")}
    assert notebooks - set(NOT_TIMED) == {spec.notebook for spec in LOOPS.values()}


def test_overrides_rewrite_assignments_only() -> None:
    used: set[str] = set()
    source = "STEPS = 3750  # two epochs\nprint(STEPS)\nOTHER_STEPS = 5\n"
    assert with_overrides(source, {"STEPS": 10}, used) == "STEPS = 10\nprint(STEPS)\nOTHER_STEPS = 5\n"
    assert used == {"STEPS"}


def write_notebook(tmp_path: Path, *cells: str) -> Path:
    text = "\n".join(f"```{{code-cell}} ipython3\n{cell}\n```\n" for cell in cells)
    path = tmp_path / "page.ipynb"
    jupytext.write(jupytext.reads(f"---\njupytext:\n  formats: md:myst\n---\n{text}", fmt="md:myst"), path)
    return path


def test_notebook_code_runs_cells_with_overrides(tmp_path: Path) -> None:
    page = write_notebook(tmp_path, "STEPS = 1000", "total = 0\nfor _ in range(STEPS):\n    total += 1",
                          "raise SystemExit('not reached')")
    nb = NotebookCode(page, {"STEPS": 3})
    nb.run_until("for _ in range(STEPS)", including=True)
    nb.check_overrides()
    assert nb["total"] == 3


def test_an_override_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    nb = NotebookCode(write_notebook(tmp_path, "STEPS = 1000", "print(STEPS)"), {"STEPZ": 3})
    nb.run_until("print(STEPS)", including=True)
    with pytest.raises(LookupError, match="STEPZ"):
        nb.check_overrides()


def test_definitions_execute_only_the_named_statements(tmp_path: Path) -> None:
    page = write_notebook(tmp_path, "import nothing_here", "class Model:\n    size = 3\n\n\nmodel = Model()")
    assert definitions(page, ["Model"], {})["Model"].size == 3
    with pytest.raises(LookupError, match="Missing"):
        definitions(page, ["Missing"], {})
