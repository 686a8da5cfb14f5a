"""Tests of the test harness itself: the pair check (jupytext's pre-commit hook), nbval and the MNIST preflight.

Each test shows that a check can fail: a drifted pair, a raising cell, a stale
stored output and missing data all stop the run with a message that names the
problem.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import nbformat
import notebook_harness
import pytest
from notebook_harness import REPO, run_nbval

FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Path:
    """A private copy of the fixture pair, safe to break."""
    shutil.copytree(FIXTURES, tmp_path / "pair")
    return tmp_path / "pair"


# --- pair check: the jupytext hook of .pre-commit-config.yaml (`make check-sync`) ---

def jupytext_hook(pair: Path) -> subprocess.CompletedProcess[str]:
    """Commit `pair` (md/ + notebooks/) into a new git repository and run the project's jupytext hook on it."""
    for name in (".pre-commit-config.yaml", "jupytext.toml"):
        shutil.copy(REPO / name, pair)
    (pair / ".venv").symlink_to(REPO / ".venv")
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "pair"]):
        subprocess.run([*git, *command], cwd=pair, check=True, capture_output=True)
    return subprocess.run([str(REPO / ".venv" / "bin" / "pre-commit"), "run", "jupytext", "--all-files"],
                          cwd=pair, capture_output=True, text=True, timeout=120)


def test_pair_check_passes_on_synchronised_pair(fixture_copy: Path) -> None:
    result = jupytext_hook(fixture_copy)
    assert result.returncode == 0, result.stdout
    assert "Passed" in result.stdout


def test_pair_check_fails_on_committed_drift(fixture_copy: Path) -> None:
    md = fixture_copy / "md" / "hello.md"
    md.write_text(md.read_text().replace("sum(range(10))", "sum(range(11))"))
    result = jupytext_hook(fixture_copy)
    assert result.returncode == 1
    assert "files were modified by this hook" in result.stdout
    assert "Updating notebooks/hello.ipynb" in result.stdout


@pytest.mark.parametrize("half", ["md/hello.md", "notebooks/hello.ipynb"])
def test_pair_check_fails_on_missing_half(fixture_copy: Path, half: str) -> None:
    (fixture_copy / half).unlink()
    result = jupytext_hook(fixture_copy)
    assert result.returncode == 1
    assert (fixture_copy / half).is_file(), "the hook writes the missing half"
    assert f"Please add the paired notebook with:\n    git add {half}" in result.stdout


# --- nbval ------------------------------------------------------------------

def test_nbval_passes_fixture_notebook() -> None:
    result = run_nbval(FIXTURES / "notebooks" / "hello.ipynb")
    assert result.returncode == 0, result.stdout
    assert "2 passed" in result.stdout


def test_nbval_fails_on_raising_cell(tmp_path: Path) -> None:
    notebook = tmp_path / "raises.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("raise ValueError('this cell is broken')"),
    ]), notebook)
    result = run_nbval(notebook)
    assert result.returncode == 1
    assert "ValueError: this cell is broken" in result.stdout
    assert "1 failed" in result.stdout


def test_nbval_fails_on_stale_stored_output(fixture_copy: Path) -> None:
    notebook = fixture_copy / "notebooks" / "hello.ipynb"
    book = nbformat.read(notebook, as_version=4)
    book.cells[1].outputs[0].text = "total: 46\n"
    nbformat.write(book, notebook)
    result = run_nbval(notebook)
    assert result.returncode == 1
    assert "Cell 0: Cell outputs differ" in result.stdout
    assert "total: 46" in result.stdout and "total: 45" in result.stdout


# --- MNIST preflight --------------------------------------------------------

def cut_network(*args: object, **kwargs: object) -> socket.socket:
    raise OSError(101, "Network is unreachable")


def test_preflight_accepts_prepared_data_dir(tmp_path: Path) -> None:
    prepared = Path(notebook_harness.tfds_data_dir())
    if not (prepared / "mnist").is_dir():
        pytest.fail(f"these tests need MNIST in TFDS_DATA_DIR ({prepared}); see README")
    assert notebook_harness.mnist_problem(str(prepared)) is None


def test_preflight_reads_the_folder_as_tfds_writes_it(tmp_path: Path) -> None:
    """A folder TFDS began to fill but did not finish holds no dataset_info.json: not prepared."""
    (tmp_path / "mnist" / "3.0.1").mkdir(parents=True)
    assert not notebook_harness.mnist_prepared(str(tmp_path))
    (tmp_path / "mnist" / "3.0.1" / "dataset_info.json").write_text("{}")
    assert notebook_harness.mnist_prepared(str(tmp_path))


def test_preflight_fails_fast_without_data_or_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "create_connection", cut_network)
    start = time.monotonic()
    problem = notebook_harness.mnist_problem(str(tmp_path / "empty"))
    elapsed = time.monotonic() - start
    assert problem is not None
    assert "TFDS_DATA_DIR" in problem and "mnist/3.0.1" in problem
    assert elapsed < 10, f"preflight took {elapsed:.1f} s"


def test_preflight_stops_notebook_run_before_it_starts(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole hook: a notebook that reads MNIST, an empty data dir, no network."""
    pytester.makeconftest((REPO / "conftest.py").read_text())
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import tensorflow_datasets as tfds\n"
                                  "tfds.load('mnist', split='test')"),
    ]), pytester.path / "reads_mnist.ipynb")
    monkeypatch.setenv("TFDS_DATA_DIR", str(pytester.path / "empty"))
    monkeypatch.setattr(socket, "create_connection", cut_network)
    start = time.monotonic()
    result = pytester.runpytest_inprocess("--nbval", "--nbval-current-env",
                                          "reads_mnist.ipynb")
    elapsed = time.monotonic() - start
    assert result.ret == 3
    result.stdout.fnmatch_lines(["*MNIST preflight failed*", "*TFDS_DATA_DIR*"])
    assert elapsed < 10, f"preflight took {elapsed:.1f} s"
