"""Run a tutorial's own code cells outside Jupyter, so that tools measure the code the page runs.

`make bench` uses it to take each tutorial's models, training step and training loop from the
notebook itself (read with jupytext) instead of from a copy that could drift. Constants can be
overridden (`TRAIN_STEPS = 3750` -> `TRAIN_STEPS = 625`): the assignment is rewritten in the
cell's source, so every later line that uses the constant sees the new value, and an override
that matches no assignment is an error rather than a silently full-length run.
"""

from __future__ import annotations

import ast
import contextlib
import io
import linecache
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jupytext


def code_cells(notebook: Path) -> list[str]:
    return [cell.source for cell in jupytext.read(notebook).cells if cell.cell_type == "code"]


def cell_index(cells: list[str], marker: str) -> int:
    """Index of the only code cell whose source contains `marker`."""
    found = [i for i, source in enumerate(cells) if marker in source]
    if len(found) != 1:
        raise LookupError(f"{len(found)} code cells contain {marker!r}; expected exactly one")
    return found[0]


def with_overrides(source: str, overrides: Mapping[str, Any], used: set[str]) -> str:
    """`source` with each top-level `NAME = ...` line of an overridden NAME replaced; the names
    replaced are added to `used`."""
    for name, value in overrides.items():
        pattern = re.compile(rf"^{re.escape(name)}\s*=.*$", re.MULTILINE)
        source, count = pattern.subn(f"{name} = {value!r}", source)
        if count:
            used.add(name)
    return source


class NotebookCode:
    """A notebook's code cells, executed in order in one namespace (its output captured)."""

    def __init__(self, notebook: Path, overrides: Mapping[str, Any] | None = None):
        self.notebook = notebook
        self.cells = code_cells(notebook)
        self.overrides = dict(overrides or {})
        self.namespace: dict[str, Any] = {"__name__": "__main__"}
        self.executed = 0
        self.output = io.StringIO()
        self._overridden: set[str] = set()

    def run_cell(self, index: int) -> None:
        if self.cells[index].startswith("# @title Setup"):  # %pip: IPython's, and the lock has it all
            return
        source = with_overrides(self.cells[index], self.overrides, self._overridden)
        filename = f"<{self.notebook.name} code cell {index}>"
        # Registered, so that tracebacks and source-reading tools (TensorFlow's AutoGraph) find the text.
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        code = compile(source, filename, "exec")
        with contextlib.redirect_stdout(self.output):
            exec(code, self.namespace)  # noqa: S102 - the repository's own notebook

    def run_until(self, marker: str, *, including: bool = False) -> None:
        """Execute every cell not yet run up to the one containing `marker` (that one too when
        `including`)."""
        stop = cell_index(self.cells, marker) + (1 if including else 0)
        while self.executed < stop:
            self.run_cell(self.executed)
            self.executed += 1

    def check_overrides(self) -> None:
        """Raise unless every override has replaced an assignment in the cells run so far."""
        missing = set(self.overrides) - self._overridden
        if missing:
            raise LookupError(f"{self.notebook.name}: no `NAME = ...` line for the overrides {sorted(missing)} "
                              "in the cells run")

    def __getitem__(self, name: str) -> Any:
        return self.namespace[name]


def defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, ast.ClassDef | ast.FunctionDef):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [target.id for target in node.targets if isinstance(target, ast.Name)]
    return []


def definitions(notebook: Path, names: list[str], namespace: dict[str, Any]) -> dict[str, Any]:
    """Execute only the notebook's top-level statements (`class`, `def`, `NAME = ...`) that define
    `names`, from whichever cells hold them, in `namespace`, which supplies what they use (imports);
    returns them by name. Cells run by a cell magic (`%%writefile`) are not the kernel's code: skipped."""
    found: dict[str, ast.stmt] = {}
    for source in code_cells(notebook):
        if source.startswith(("%%", "# @title Setup")):  # IPython's, not Python
            continue
        for node in ast.parse(source).body:
            for name in set(defined_names(node)) & set(names):
                found[name] = node
    missing = [name for name in names if name not in found]
    if missing:
        raise LookupError(f"{notebook.name} defines no {missing}")
    module = ast.Module(body=[found[name] for name in names], type_ignores=[])
    exec(compile(module, f"<{notebook.name} definitions>", "exec"), namespace)  # noqa: S102
    return {name: namespace[name] for name in names}
