"""The notebooks' setup cells: their decision logic, and what a run does when a package is off.

The logic is read from the notebooks themselves (jupytext), never copied
here: the functions and constants of each setup cell are executed on their
own, without the part that acts, and called with made-up installed versions.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import pytest
import setup_cells
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
WINDOW = setup_cells.tested_window()


def setup_cell(notebook: Path) -> str:
    cell = next(c for c in jupytext.read(notebook).cells if c.cell_type == "code")
    assert "hide-cell" in cell.metadata.get("tags", []), f"{notebook.name}: the first code cell is not the setup cell"
    return cell.source


def setup_logic(notebook: Path) -> dict[str, Any]:
    """The setup cell's imports, UPPERCASE constants and functions, executed without the rest."""
    kept = [node for node in ast.parse(setup_cell(notebook)).body
            if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef)
            or (isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) and t.id.isupper() for t in node.targets))]
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module(kept, type_ignores=[]), notebook.name, "exec"), namespace)
    return namespace


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def logic(request: pytest.FixtureRequest) -> dict[str, Any]:
    return setup_logic(request.param)


def newest(logic: dict[str, Any], **changes: str | None) -> dict[str, str | None]:
    """Installed versions: the newest tested of every package the page checks, with `changes`."""
    versions = {package: ends[1] for package, ends in logic["TESTED"].items()}
    return versions | {name.replace("_", "-"): version for name, version in changes.items()}


def test_every_page_checks_its_packages_against_the_window(logic: dict[str, Any]) -> None:
    for package, ends in logic["TESTED"].items():
        assert tuple(ends) == WINDOW[package], package


def test_all_good_installs_nothing_and_says_nothing(logic: dict[str, Any]) -> None:
    assert logic["plan"](newest(logic)) == ([], [])


def test_colabs_preinstalled_stack_installs_nothing(logic: dict[str, Any]) -> None:
    colab = setup_cells.pins(setup_cells.OLDEST)
    versions = {package: colab.get(setup_cells.normalise(package)) or ends[1]
                for package, ends in logic["TESTED"].items()}
    assert logic["plan"](versions)[0] == []


def test_a_missing_package_is_installed_alone(logic: dict[str, Any]) -> None:
    package = next(p for p in logic["TESTED"] if p not in logic["JAX_FAMILY"])
    install, notes = logic["plan"](newest(logic) | {package: None})
    assert install == [f"{package}=={WINDOW[package][1]}"]
    assert notes == [f"{package} is missing"]


def test_too_old_flax_upgrades_the_jax_family_together() -> None:
    logic = setup_logic(REPO / "notebooks" / "03_flax_nnx_cnn_mnist.ipynb")
    install, notes = logic["plan"](newest(logic, flax="0.10.0"))
    assert install == [f"flax=={WINDOW['flax'][1]}", f"jax=={WINDOW['jax'][1]}", f"jaxlib=={WINDOW['jaxlib'][1]}"]
    assert notes == [f"flax 0.10.0 is older than this page needs ({WINDOW['flax'][0]})"]


def test_too_new_is_named_but_not_installed(logic: dict[str, Any]) -> None:
    install, notes = logic["plan"](newest(logic, jax="9.0", jaxlib="9.0"))
    assert install == []
    assert notes[0] == f"jax 9.0 is newer than tested; if this page fails: pip install jax=={WINDOW['jax'][1]}"


def test_flax_too_old_for_its_jax_is_caught_inside_the_window() -> None:
    """flax 0.12.8 and jax 0.11.2 are each within the window, but flax then fails at import."""
    logic = setup_logic(REPO / "notebooks" / "06_nnx_sharding_data_model_parallel.ipynb")
    install, notes = logic["plan"](newest(logic, flax="0.12.8", jax="0.11.2", jaxlib="0.11.2"))
    assert {requirement.split("==")[0] for requirement in install} == {"flax", "jax", "jaxlib"}
    assert notes == ["flax 0.12.8 does not import with jax 0.11.2: they must be upgraded together"]


def test_a_gpu_runtime_upgrades_its_cuda_plugin_with_jax(logic: dict[str, Any]) -> None:
    install, _ = logic["plan"](newest(logic, jax="0.6.0", jaxlib="0.6.0") | {"jax-cuda12-plugin": "0.6.0"})
    assert f"jax[cuda12]=={WINDOW['jax'][1]}" in install


def test_a_run_with_a_package_too_old_installs_it_and_stops(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real setup cell in a real kernel whose optax is too old: it pip installs, then stops.

    An `optax-0.1.0.dist-info` ahead of site-packages is what "optax 0.1.0 is
    installed" means to importlib.metadata; a stand-in `pip` module records
    the install command instead of changing this environment.
    """
    site = tmp_path / "site"
    (site / "optax-0.1.0.dist-info").mkdir(parents=True)
    (site / "optax-0.1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: optax\nVersion: 0.1.0\n")
    (site / "pip").mkdir()
    (site / "pip" / "__init__.py").write_text("")
    (site / "pip" / "__main__.py").write_text(
        f"import sys\nopen({str(tmp_path / 'pip-args')!r}, 'w').write(' '.join(sys.argv[1:]))\n")
    monkeypatch.setenv("PYTHONPATH", str(site))

    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        setup_cell(REPO / "notebooks" / "03_flax_nnx_cnn_mnist.ipynb"))])
    with pytest.raises(CellExecutionError) as stopped:
        NotebookClient(book, timeout=120, kernel_name="python3").execute()

    requirement = f"optax=={WINDOW['optax'][1]}"
    assert (tmp_path / "pip-args").read_text() == f"install -q {requirement}"
    assert stopped.value.ename == "RuntimeError"
    assert stopped.value.evalue == f"Installed {requirement}. Now restart the kernel and run this page again."
    printed = "".join(output.get("text", "") for output in book.cells[0].outputs)
    assert f"optax 0.1.0 is older than this page needs ({WINDOW['optax'][0]})" in printed
