"""pytest's hooks around the pages' runs under nbval (`make test`, `make test-colab`).

* stderr is not compared: libraries write log lines there, with times and process ids.
* A DeprecationWarning or FutureWarning that a page's own code triggers fails its cell.
* Before pages that read MNIST run, a preflight checks that MNIST is prepared in TFDS's data dir
  or that TFDS's download host answers; otherwise it stops the run at once, saying what to do
  (TFDS itself would retry for minutes, then raise a bare ConnectionError).
* No process that a page started may outlive the run: any left is listed, killed, and fails it.
* In `make test-colab`, a search for a module that the Colab replica leaves out fails the run
  (tests/colab/probe notes them).
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from pathlib import Path

import psutil
import pytest

TFDS_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
# Every process a run starts inherits this variable, with a value of the run's own.
RUN_VARIABLE = "JAX_MNIST_TUTORIALS_TEST_RUN"
# "path/file.py:12: DeprecationWarning: message", as Python's warnings module writes it.
WARNING_LINE = re.compile(r"^(?P<origin>.*?):\d+: (?P<category>DeprecationWarning|FutureWarning): (?P<message>.*)$",
                          re.MULTILINE)


def mnist_prepared(data_dir: str) -> bool:
    """MNIST as TFDS writes it (`mnist/<version>/dataset_info.json`, written last), read from the files:
    no TensorFlow start-up, and no TFDS import, which fails on Colab's stack before a page repairs it."""
    return any(Path(data_dir).expanduser().glob("mnist/*/dataset_info.json"))


def mnist_problem(data_dir: str) -> str | None:
    """None when `tfds.load('mnist')` can work here, else what to do about it."""
    if mnist_prepared(data_dir):
        return None
    try:
        socket.create_connection(TFDS_DOWNLOAD_HOST, timeout=3).close()
        return None
    except OSError:
        pass
    return (f"MNIST is not prepared in TFDS's data dir ({data_dir}) and TFDS's download host "
            f"{TFDS_DOWNLOAD_HOST[0]} cannot be reached, so tfds.load('mnist') would retry for minutes, "
            "then fail. Either point TFDS_DATA_DIR at a folder that holds a prepared copy (the folder "
            "that contains mnist/3.0.1/dataset_info.json), or connect to the internet once.")


def own_deprecation_warnings(outputs: list[dict]) -> list[str]:
    """The deprecation warnings in a cell's outputs raised by the page's own code, not inside a library."""
    text = "".join(output.get("text", "") for output in outputs)
    return [f"{m['category']}: {m['message']}" for m in WARNING_LINE.finditer(text)
            if "site-packages" not in m["origin"]]


def pytest_collectstart(collector: pytest.Collector) -> None:
    if hasattr(collector, "skip_compare"):  # a notebook, collected by nbval
        collector.skip_compare = (*collector.skip_compare, "stderr")


def pytest_collection_finish(session: pytest.Session) -> None:
    pages = {item.path for item in session.items if item.path.suffix == ".ipynb"}
    if any("tensorflow_datasets" in page.read_text(encoding="utf-8") for page in pages):
        data_dir = os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")
        problem = mnist_problem(data_dir)
        if problem:
            pytest.exit(f"MNIST preflight failed. {problem}", returncode=3)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    warnings = own_deprecation_warnings(getattr(item, "test_outputs", None) or [])
    if warnings:
        pytest.fail(f"{item.path.name}, {item.name}, uses a deprecated API: " + "; ".join(warnings), pytrace=False)
    return result


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ[RUN_VARIABLE] = uuid.uuid4().hex


def started_by_this_run() -> list[psutil.Process]:
    """The processes that carry this run's RUN_VARIABLE, but this one."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and process.environ().get(RUN_VARIABLE) == os.environ[RUN_VARIABLE]:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not any(item.path.suffix == ".ipynb" for item in session.items):
        return
    _, left = psutil.wait_procs(started_by_this_run(), timeout=10)  # kernels still shutting down
    for process in left:
        print(f"\nleft running by a page, killed now: pid {process.pid}: {' '.join(process.cmdline())}")
        process.kill()
    log = os.environ.get("COLAB_REPLICA_PROBE_LOG")
    searched = sorted(set(Path(log).read_text().splitlines())) if log and Path(log).is_file() else []
    for line in searched:
        print(f"\nlooked for a module that the Colab replica leaves out (Colab's run may differ): {line}")
    if left or searched:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
