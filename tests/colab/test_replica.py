"""The Colab replica as installed: run by `make test-colab` with .venv-colab's Python, before the pages.

The environment is exactly requirements-colab.txt, so the pages' kernel is Colab's; on it, each
page's setup cell installs exactly the two fixes TensorFlow Datasets needs there, and each fix is
needed and both are enough.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

REPO = Path(__file__).resolve().parent.parent.parent
REPLICA = runpy.run_path(str(REPO / "scripts" / "colab_replica.py"))
WHEELS = Path(os.environ.get("COLAB_WHEELS", REPO / ".venv-colab" / "wheels")).resolve()
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def installed() -> dict[str, str]:
    return {REPLICA["normalise"](dist.name): dist.version for dist in importlib.metadata.distributions()}


def test_the_environment_is_exactly_the_replica() -> None:
    wanted = {REPLICA["normalise"](name): version for name, version in REPLICA["pins_of"](REPLICA["REPLICA"]).items()}
    have = installed()
    assert {name: (version, have.get(name)) for name, version in wanted.items() if have.get(name) != version} == {}
    assert sorted(set(have) - set(wanted)) == [], "installed, but not in the replica"


@pytest.mark.parametrize("package", ["ipython", "ipykernel", "jupyter-client"])
def test_the_kernel_that_runs_the_pages_is_colabs(package: str) -> None:
    pinned, _ = REPLICA["colab_list"]()
    assert importlib.metadata.version(package) == {REPLICA["normalise"](n): v for n, v in pinned.items()}[package]


def setup_requirements(notebook: Path) -> list[str]:
    """What a page's setup cell asks pip for here, computed by running the cell with %pip captured."""
    cell = next(c for c in nbformat.read(notebook, as_version=4).cells if c.source.startswith("# @title Setup"))
    shell = InteractiveShell.instance()
    calls: list[str] = []
    shell.register_magic_function(calls.append, "line", "pip")
    assert shell.run_cell(cell.source).success
    (call,) = calls
    return [word.strip("\"'") for word in call.split()[1:] if not word.startswith("-")]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_on_colab_a_setup_cell_installs_the_two_fixes_for_tfds_and_nothing_else(
        notebook: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--no-index",
                    "--find-links", str(WHEELS), "--report", str(report), *setup_requirements(notebook)], check=True)
    will_install = {REPLICA["normalise"](item["metadata"]["name"]): item["metadata"]["version"]
                    for item in json.loads(report.read_text())["install"]}
    uses_tfds = "tensorflow_datasets" in notebook.read_text(encoding="utf-8")
    assert will_install == (REPLICA["REPAIRS"] if uses_tfds else {})


def tfds(code: str, *fixes: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` after `import tensorflow_datasets as tfds` in this Python, with the wheels of `fixes`
    installed into a folder ahead of site-packages (the replica itself stays as it is)."""
    target = tmp_path / "fixes"
    if fixes:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                        "--find-links", str(WHEELS), "--target", str(target), *fixes], check=True)
    environment = os.environ | {"PYTHONPATH": str(target), "TF_CPP_MIN_LOG_LEVEL": "3"}
    program = f"import tensorflow_datasets as tfds\n{code}"
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=environment,
                          cwd=tmp_path, timeout=300)


LOOKS_UP_MNISTS_DOWNLOAD = "print(len(tfds.builder('mnist', data_dir='empty').url_infos), 'download URLs')"
FIXES = [f"{name}=={version}" for name, version in REPLICA["REPAIRS"].items()]


def test_on_colabs_versions_tfds_breaks_without_the_tensorflow_metadata_fix(tmp_path: Path) -> None:
    """tensorflow-metadata 1.21 was generated for protobuf 6.31; Colab has protobuf 5.29."""
    assert re.match(r"5\.", importlib.metadata.version("protobuf"))
    result = tfds(LOOKS_UP_MNISTS_DOWNLOAD, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "has no attribute 'builder'" in result.stderr


def test_tfds_cannot_download_without_importlib_resources(tmp_path: Path) -> None:
    result = tfds(LOOKS_UP_MNISTS_DOWNLOAD, *[f for f in FIXES if f.startswith("tensorflow-metadata")],
                  tmp_path=tmp_path)
    assert result.returncode != 0
    assert "No module named 'importlib_resources'" in result.stderr


def test_with_both_fixes_tfds_finds_mnists_download(tmp_path: Path) -> None:
    result = tfds(LOOKS_UP_MNISTS_DOWNLOAD, *FIXES, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "download URLs" in result.stdout
