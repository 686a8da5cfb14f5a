"""Tests of the test harness itself: the pair check, nbval and the MNIST preflight.

Each test shows that a check can fail: a drifted pair, a raising cell, a stale
stored output and missing data all stop the run with a message that names the
problem.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

import conftest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures"
CHECK_PAIRS = REPO / "scripts" / "check_pairs.py"


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run Python in the repository; ANSI colours are stripped from stdout."""
    result = subprocess.run([sys.executable, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    result.stdout = ANSI_ESCAPE.sub("", result.stdout)
    return result


def run_nbval(notebook: Path) -> subprocess.CompletedProcess[str]:
    """nbval in strict mode, as `make test-notebooks` runs it."""
    return run("-m", "pytest", "--nbval", "--nbval-current-env",
               "--nbval-sanitize-with", REPO / "nbval-sanitize.cfg",
               "-p", "no:cacheprovider", notebook)


@pytest.fixture
def fixture_copy(tmp_path: Path) -> Path:
    """A private copy of the fixture pair, safe to break."""
    shutil.copytree(FIXTURES, tmp_path / "pair")
    return tmp_path / "pair"


# --- pair check -------------------------------------------------------------

def test_pair_check_passes_on_synchronised_pair() -> None:
    result = run(CHECK_PAIRS, FIXTURES)
    assert result.returncode == 0, result.stderr
    assert "1 md/ + notebooks/ pairs in sync" in result.stdout


def test_pair_check_fails_on_drifted_pair(fixture_copy: Path) -> None:
    md = fixture_copy / "md" / "hello.md"
    md.write_text(md.read_text().replace("sum(range(10))", "sum(range(11))"))
    result = run(CHECK_PAIRS, fixture_copy)
    assert result.returncode == 1
    assert "hello.md and " in result.stderr and "hello.ipynb differ" in result.stderr
    assert "make sync" in result.stderr


@pytest.mark.parametrize("half", ["md/hello.md", "notebooks/hello.ipynb"])
def test_pair_check_fails_on_missing_half(fixture_copy: Path, half: str) -> None:
    (fixture_copy / half).unlink()
    result = run(CHECK_PAIRS, fixture_copy)
    assert result.returncode == 1
    assert "has no" in result.stderr and "make sync" in result.stderr


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
    prepared = Path(conftest.tfds_data_dir())
    if not (prepared / "mnist").is_dir():
        pytest.fail(f"these tests need MNIST in TFDS_DATA_DIR ({prepared}); see README")
    assert conftest.mnist_problem(str(prepared)) is None


def test_preflight_fails_fast_without_data_or_network(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "create_connection", cut_network)
    start = time.monotonic()
    problem = conftest.mnist_problem(str(tmp_path / "empty"))
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
