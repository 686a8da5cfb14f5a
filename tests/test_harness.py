"""The hooks of conftest.py, each shown failing a page's run when it should: missing MNIST with no
network, a deprecated API called by a page, a process a page leaves running."""

from __future__ import annotations

import socket
from pathlib import Path

import nbformat
import psutil
import pytest

import conftest


def page(path: Path, *sources: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Every connection fails, as with the network cut; the attempts are recorded."""
    attempts: list[tuple] = []

    def refuse(address: tuple, *args: object, **kwargs: object) -> socket.socket:
        attempts.append(address)
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


def test_the_preflight_accepts_mnist_as_tfds_prepares_it(tmp_path: Path, no_network: list) -> None:
    """A folder TFDS began to fill holds no dataset_info.json (TFDS writes it last): not prepared."""
    version = tmp_path / "mnist" / "3.0.1"
    version.mkdir(parents=True)
    assert conftest.mnist_problem(str(tmp_path)) is not None
    (version / "dataset_info.json").write_text("{}")
    assert conftest.mnist_problem(str(tmp_path)) is None


def test_without_data_or_network_the_preflight_says_what_to_do_and_tries_once(
        tmp_path: Path, no_network: list) -> None:
    problem = conftest.mnist_problem(str(tmp_path / "empty"))
    assert problem is not None and "TFDS_DATA_DIR" in problem and "mnist/3.0.1" in problem
    assert no_network == [conftest.TFDS_DOWNLOAD_HOST]  # asked once, no retries


def test_the_preflight_stops_a_run_of_pages_that_read_mnist(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, no_network: list) -> None:
    pytester.makeconftest(Path(conftest.__file__).read_text())
    page(pytester.path / "reads_mnist.ipynb", "import tensorflow_datasets as tfds\ntfds.load('mnist')")
    monkeypatch.setenv("TFDS_DATA_DIR", str(pytester.path / "empty"))
    result = pytester.runpytest_inprocess("--nbval-lax", "reads_mnist.ipynb")
    assert result.ret == 3
    result.stdout.fnmatch_lines(["*MNIST preflight failed*TFDS_DATA_DIR*"])


def test_a_deprecated_api_called_by_a_page_fails_its_cell(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(conftest.RUN_VARIABLE, "outer")  # the inner run sets its own, undone after
    pytester.makeconftest(Path(conftest.__file__).read_text())
    page(pytester.path / "deprecated.ipynb", "print('fine')",
         "import warnings\nwarnings.warn('old_api() is deprecated', DeprecationWarning)")
    result = pytester.runpytest_subprocess("--nbval-lax", "-p", "no:cacheprovider", "deprecated.ipynb")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*deprecated.ipynb, Cell 1, uses a deprecated API: "
                                 "DeprecationWarning: old_api() is deprecated*"])


def test_a_warning_raised_inside_a_library_is_not_the_pages() -> None:
    outputs = [{"output_type": "stream", "name": "stderr", "text":
                "/x/site-packages/lib/mod.py:3: DeprecationWarning: internal\n"
                "/tmp/ipykernel_1/123.py:2: FutureWarning: ours\n"}]
    assert conftest.own_deprecation_warnings(outputs) == ["FutureWarning: ours"]


def test_a_process_a_page_leaves_running_fails_the_run_and_is_killed(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(Path(conftest.__file__).read_text())
    page(pytester.path / "leaves_a_process.ipynb",
         "import subprocess, sys\n"
         "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],\n"
         "                         start_new_session=True)\n"
         "open('child.pid', 'w').write(str(child.pid))")
    result = pytester.runpytest_subprocess("--nbval-lax", "-p", "no:cacheprovider", "leaves_a_process.ipynb")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*left running by a page, killed now: pid *"])
    pid = int((pytester.path / "child.pid").read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
