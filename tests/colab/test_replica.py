"""The Colab replica as installed: run by `make test-colab` with .venv-colab's Python, before the pages.

The environment is exactly requirements-colab.txt (Colab's list, with the exceptions it names, and
the harness's own additions), so the pages' kernel is Colab's; and the two fixes the pages' setup
cells install for TensorFlow Datasets are each needed, and enough, on Colab's versions.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from colab_replica import REPLICA, colab_list, normalise, pins_of, repairs

WHEELS = Path(os.environ.get("COLAB_WHEELS", ".venv-colab/setup-cell-wheels")).resolve()


def installed() -> dict[str, str]:
    return {normalise(dist.name): dist.version for dist in importlib.metadata.distributions()}


def test_the_environment_is_exactly_the_replica() -> None:
    wanted = {normalise(name): version for name, version in pins_of(REPLICA).items()}
    have = installed()
    assert {name: (version, have.get(name)) for name, version in wanted.items() if have.get(name) != version} == {}
    assert sorted(set(have) - set(wanted)) == [], "installed, but not in the replica"


def test_every_package_of_colabs_list_is_at_colabs_version_or_named_as_left_out() -> None:
    pinned, sourced = colab_list()
    have = installed()
    differ = {name: (version, have.get(normalise(name))) for name, version in pinned.items()
              if have.get(normalise(name)) != version}
    left_out = REPLICA.read_text(encoding="utf-8").split("# Colab's packages")[0]
    unexplained = [name for name in [*differ, *sourced] if f"#   {name}" not in left_out]
    assert unexplained == [], f"differ from Colab's list, with no reason given: {unexplained}"


@pytest.mark.parametrize("package", ["ipython", "ipykernel", "jupyter-client"])
def test_the_kernel_that_runs_the_pages_is_colabs(package: str) -> None:
    pinned, _ = colab_list()
    assert importlib.metadata.version(package) == {normalise(n): v for n, v in pinned.items()}[package]


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
                          cwd=tmp_path, timeout=120)


LOOKS_UP_MNISTS_DOWNLOAD = "print(len(tfds.builder('mnist', data_dir='empty').url_infos), 'download URLs')"


def test_on_colabs_versions_tfds_breaks_without_the_tensorflow_metadata_fix(tmp_path: Path) -> None:
    """tensorflow-metadata 1.21 was generated for protobuf 6.31; Colab has protobuf 5.29."""
    assert importlib.metadata.version("protobuf") < "6"
    result = tfds(LOOKS_UP_MNISTS_DOWNLOAD, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "has no attribute 'builder'" in result.stderr


def test_tfds_cannot_download_without_importlib_resources(tmp_path: Path) -> None:
    fix = next(r for r in repairs() if r.startswith("tensorflow-metadata"))
    result = tfds(LOOKS_UP_MNISTS_DOWNLOAD, fix, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "No module named 'importlib_resources'" in result.stderr


def test_with_both_fixes_tfds_finds_mnists_download(tmp_path: Path) -> None:
    result = tfds(LOOKS_UP_MNISTS_DOWNLOAD, *repairs(), tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "download URLs" in result.stdout
