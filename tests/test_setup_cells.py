"""The notebooks' setup cells: their decisions, and what a run does when a package is off.

The logic is read from the notebooks themselves, never copied here: the first setup cell (the
tested window and `plan`) and the functions of the second (`tfds_fixes`) are executed on their own,
without the part that acts, and asked what they would install given made-up installed versions,
Colab's published lists among them (colab/).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import colab_replica
import nbformat
import pytest
import setup_cells
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
WINDOW = setup_cells.tested_window()
CNN = REPO / "notebooks" / "03_flax_nnx_cnn_mnist.ipynb"
TFDS_FIXES = {f"importlib-resources=={setup_cells.pins(setup_cells.NEWEST)['importlib-resources']}",
              f"tensorflow-metadata=={setup_cells.TENSORFLOW_METADATA_FOR_PROTOBUF_5}"}


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def logic(request: pytest.FixtureRequest) -> dict[str, Any]:
    return setup_cells.setup_logic(request.param)


def uses_tfds(logic: dict[str, Any]) -> bool:
    return "tensorflow-datasets" in logic["TESTED"]


def listed(path: Path) -> dict[str, Version]:
    """Installed versions as a setup cell sees them, from a pip freeze list."""
    pinned, _ = colab_replica.colab_list(path)
    have = {name.lower().replace("_", "-"): Version(version) for name, version in pinned.items()}
    return have | ({"tensorflow": have["tensorflow-cpu"]} if "tensorflow-cpu" in have else {})


def newest(logic: dict[str, Any], **changes: str | None) -> dict[str, Version]:
    """The newest end (requirements.txt), with `changes` (None: not installed)."""
    have = {name: Version(version) for name, version in setup_cells.pins(setup_cells.NEWEST).items()}
    have["tensorflow"] = have.pop("tensorflow-cpu")
    for name, version in changes.items():
        name = name.replace("_", "-")
        if version is None:
            have.pop(name, None)
        else:
            have[name] = Version(version)
    return have


def test_every_page_checks_its_packages_against_the_window(logic: dict[str, Any]) -> None:
    for package, ends in logic["TESTED"].items():
        assert tuple(ends) == WINDOW[package], package


def test_the_newest_end_installs_nothing(logic: dict[str, Any]) -> None:
    assert logic["decide"](newest(logic)) == {}


@pytest.mark.parametrize("colab_list", [colab_replica.CPU_LIST, colab_replica.GPU_LIST], ids=["cpu", "gpu"])
def test_colabs_runtime_gets_the_tfds_fixes_and_nothing_else(logic: dict[str, Any], colab_list: Path) -> None:
    install = logic["decide"](listed(colab_list))
    assert set(install) == (TFDS_FIXES if uses_tfds(logic) else set())


def test_a_missing_package_is_installed_alone(logic: dict[str, Any]) -> None:
    package = next(p for p in logic["TESTED"] if p not in {"jax", "flax"})
    assert logic["decide"](newest(logic, **{package: None})) == {f"{package}=={WINDOW[package][1]}": "missing"}


def test_too_old_flax_upgrades_jax_with_it() -> None:
    logic = setup_cells.setup_logic(CNN)
    install = logic["decide"](newest(logic, flax="0.10.0"))
    assert install == {f"flax=={WINDOW['flax'][1]}": "too old", f"jax=={WINDOW['jax'][1]}": "to match"}


def test_newer_than_tested_is_kept(logic: dict[str, Any]) -> None:
    assert logic["decide"](newest(logic, jax="9.0", jaxlib="9.0")) == {}


def test_flax_too_old_for_its_jax_is_caught_inside_the_window() -> None:
    """flax 0.12.8 and jax 0.11.2 are each within the window, but flax then fails at import."""
    logic = setup_cells.setup_logic(CNN)
    install = logic["decide"](newest(logic, flax="0.12.8", jax="0.11.2", jaxlib="0.11.2"))
    assert install == {f"flax=={WINDOW['flax'][1]}": "0.12.8 does not import with jax 0.11.2",
                       f"jax=={WINDOW['jax'][1]}": "to match"}


def test_a_gpu_runtime_upgrades_its_cuda_plugin_with_jax(logic: dict[str, Any]) -> None:
    install = logic["decide"](newest(logic, jax="0.6.0", jaxlib="0.6.0", jax_cuda12_plugin="0.6.0"))
    assert f"jax[cuda12]=={WINDOW['jax'][1]}" in install


def test_tensorflow_metadata_is_kept_where_protobuf_is_new_enough() -> None:
    logic = setup_cells.setup_logic(CNN)
    colab = listed(colab_replica.CPU_LIST)
    assert set(logic["decide"](colab | {"protobuf": Version("6.31.1")})) == TFDS_FIXES - {
        f"tensorflow-metadata=={setup_cells.TENSORFLOW_METADATA_FOR_PROTOBUF_5}"}


# --- the real cells in a real kernel ------------------------------------------------------------

def run_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, before: str = "") -> tuple[list[str], str]:
    """Both setup cells of the CNN page in a real kernel whose optax is 0.1.0, after `before`; returns
    the pip command the cells ran (a stand-in `pip` records it instead of installing) and their output.

    An `optax-0.1.0.dist-info` ahead of site-packages is what "optax 0.1.0 is installed" means to
    importlib.metadata; the real optax stays importable.
    """
    site = tmp_path / "site"
    (site / "optax-0.1.0.dist-info").mkdir(parents=True)
    (site / "optax-0.1.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: optax\nVersion: 0.1.0\n")
    (site / "pip").mkdir()
    (site / "pip" / "__init__.py").write_text("")
    (site / "pip" / "__main__.py").write_text(
        f"import sys\nopen({str(tmp_path / 'pip-args')!r}, 'w').write(' '.join(sys.argv[1:]))\n")
    monkeypatch.setenv("PYTHONPATH", str(site))
    cells = [nbformat.v4.new_code_cell(before)] + [nbformat.v4.new_code_cell(source)
                                                   for source in setup_cells.setup_cells(CNN)]
    book = nbformat.v4.new_notebook(cells=cells)
    try:
        NotebookClient(book, timeout=120, kernel_name="python3").execute()
    finally:
        printed = "".join(output.get("text", "") for output in book.cells[-1].outputs)
    return (tmp_path / "pip-args").read_text().split(), printed


def test_a_package_too_old_is_installed_and_the_page_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pip, printed = run_setup(tmp_path, monkeypatch)
    requirement = f"optax=={WINDOW['optax'][1]}"
    assert pip == ["install", "-q", requirement]
    assert printed.splitlines()[0] == f"Installed {requirement} (too old)"
    assert "optax 0.1.0" in printed.splitlines()[1]


def test_a_package_too_old_and_already_imported_stops_for_a_restart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CellExecutionError) as stopped:
        run_setup(tmp_path, monkeypatch, before="import optax")
    assert stopped.value.ename == "RuntimeError"
    assert stopped.value.evalue == "Restart the runtime, then run this page again"
    assert (tmp_path / "pip-args").read_text() == f"install -q optax=={WINDOW['optax'][1]}"
