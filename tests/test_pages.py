"""What a learner sees of each page, in the measurable parts: the first screen shows the subject, the
machinery is collapsed in every viewer, cells are short, and the stored outputs hold no library log
lines or stray values. (The docs' rendering of it is checked in tests/test_docs_site.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MAX_CELL_LINES = 30
MAX_VISIBLE_CODE_BEFORE_SUBJECT = 8  # lines, on top of the collapsed setup cells
# What libraries write when they start or log: TensorFlow's and absl's C++ lines, Gloo's, XLA's.
LOG_LINE = re.compile(r"^(WARNING: All log messages|[IWEF]\d{4} |\[Gloo\]|.*oneDNN custom operations|"
                      r".*(Unable to register cu|cuInit|TensorRT))", re.MULTILINE)


def collapsed(cell: nbformat.NotebookNode) -> bool:
    """Collapsed in Colab (a form: only its `# @title` shows), in Jupyter and in the docs."""
    metadata = cell.metadata
    return (metadata.get("cellView") == "form" and metadata.get("jupyter", {}).get("source_hidden") is True
            and "hide-cell" in metadata.get("tags", []) and cell.source.startswith("# @title "))


def cells_before_subject(book: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The cells above the first section after "## Setup": title, introduction, setup."""
    setup_seen = False
    for index, cell in enumerate(book.cells):
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("## ") and setup_seen:
                return book.cells[:index]
            setup_seen |= line.strip() == "## Setup"
    raise AssertionError("no section after ## Setup")


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def book(request: pytest.FixtureRequest) -> nbformat.NotebookNode:
    return jupytext.read(request.param)


def test_the_setup_cells_are_collapsed_everywhere(book: nbformat.NotebookNode) -> None:
    setup = [cell for cell in cells_before_subject(book) if cell.cell_type == "code"][:2]
    assert len(setup) == 2 and all(map(collapsed, setup))


def test_little_visible_code_stands_before_the_subject(book: nbformat.NotebookNode) -> None:
    visible = [line for cell in cells_before_subject(book)
               if cell.cell_type == "code" and not collapsed(cell)
               for line in cell.source.splitlines() if line.strip()]
    assert len(visible) <= MAX_VISIBLE_CODE_BEFORE_SUBJECT, visible


def test_no_code_cell_is_longer_than_a_screen(book: nbformat.NotebookNode) -> None:
    long = {cell.source.splitlines()[0]: len(cell.source.splitlines())
            for cell in book.cells if cell.cell_type == "code" and len(cell.source.splitlines()) > MAX_CELL_LINES}
    assert long == {}, f"cells over {MAX_CELL_LINES} lines (first line: length)"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_hold_no_log_lines_or_stray_values(notebook: Path) -> None:
    book = nbformat.read(notebook, as_version=4)
    found = []
    for index, cell in enumerate(book.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stderr":
                found.append(f"cell {index}: stderr {output.text[:80]!r}")
            elif output.output_type == "stream" and LOG_LINE.search(output.text):
                found.append(f"cell {index}: {LOG_LINE.search(output.text)[0][:80]!r}")
            elif output.output_type == "execute_result" and set(output.data) == {"text/plain"}:
                found.append(f"cell {index}: a bare value {output.data['text/plain'][:80]!r}")
    assert found == []


def test_the_checks_catch_what_they_look_for() -> None:
    book = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\n## Setup"),
        nbformat.v4.new_code_cell("import os\n" * 9),
        nbformat.v4.new_markdown_cell("## Data"),
    ])
    assert len(cells_before_subject(book)) == 2 and not collapsed(book.cells[1])
    assert LOG_LINE.search("I0000 00:00:1795452575.936504   19038 port.cc:153] oneDNN custom operations")
    assert LOG_LINE.search("WARNING: All log messages before absl::InitializeLog() is called")
    assert not LOG_LINE.search("step 100: loss 0.2078")
