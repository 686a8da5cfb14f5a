"""pytest configuration shared by the repository's tests and the nbval run.

Its jobs:

* stderr is not compared by nbval. Libraries write log lines there
  (TensorFlow's C++ start-up messages carry timestamps and process ids,
  absl and TFDS print progress); they are not part of any lesson, and what a
  tutorial claims is asserted in its own cells instead.
* A notebook cell whose fresh output shows a DeprecationWarning or
  FutureWarning raised from our own code (not from inside an installed
  library) fails, naming the notebook and the cell: the API it uses is on its
  way out.
* After an nbval run, the terminal summary lists each notebook's execution
  time (the sum of its cells' setup, call and teardown).
* Each of the repository's own tests (not a notebook cell, which has nbval's
  cell timeout) gets a time limit (pytest-timeout), so that a hung test fails
  instead of stalling CI.
* Before a notebook that reads MNIST through TensorFlow Datasets runs, a
  preflight checks that MNIST is prepared in TFDS's data dir or that TFDS's
  download host answers. Without either, TFDS would retry for minutes and end
  with a ConnectionError that does not say what to do; the preflight stops
  the run within seconds with a message that does.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from collections import defaultdict
from pathlib import Path

import pytest

TFDS_DOWNLOAD_HOST = ("storage.googleapis.com", 443)
NETWORK_TIMEOUT_S = 3.0


def tfds_data_dir() -> str:
    """The data dir TFDS reads: $TFDS_DATA_DIR, else TFDS's default."""
    return os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")


def network_answers(address: tuple[str, int] = TFDS_DOWNLOAD_HOST,
                    timeout: float = NETWORK_TIMEOUT_S) -> bool:
    """True when a TCP connection to `address` opens within `timeout` seconds.

    Runs in a daemon thread so that a hanging DNS lookup cannot outlast the
    timeout either.
    """
    answered: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection(address, timeout=timeout).close()
            answered.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)


def mnist_problem(data_dir: str) -> str | None:
    """None when `tfds.load('mnist')` can work here, else what to do about it."""
    import tensorflow_datasets as tfds

    builder = tfds.builder("mnist", data_dir=data_dir)
    if builder.is_prepared() or network_answers():
        return None
    return (
        f"MNIST is not prepared in the TFDS data dir ({builder.data_dir}) and "
        f"TFDS's download host {TFDS_DOWNLOAD_HOST[0]} cannot be reached, so "
        "tfds.load('mnist') would retry for minutes and then fail.\n"
        "Fix one of these:\n"
        "  * point TFDS_DATA_DIR at a folder that holds a prepared copy, e.g.\n"
        "      export TFDS_DATA_DIR=/absolute/path/to/shared/data/tfds\n"
        "    (the folder that contains mnist/3.0.1/dataset_info.json);\n"
        "  * or connect to the internet once and run\n"
        "      python -c \"import tensorflow_datasets as tfds; tfds.load('mnist')\"\n"
        "    to download and prepare it into the data dir."
    )


def uses_tfds(notebook: Path) -> bool:
    return "tensorflow_datasets" in notebook.read_text(encoding="utf-8")


REPOSITORY_TEST_TIMEOUT_S = 300


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix != ".ipynb":
            item.add_marker(pytest.mark.timeout(REPOSITORY_TEST_TIMEOUT_S))


def pytest_collectstart(collector: pytest.Collector) -> None:
    if hasattr(collector, "skip_compare"):  # an nbval notebook collector
        collector.skip_compare = collector.skip_compare + ("stderr",)


def pytest_collection_finish(session: pytest.Session) -> None:
    notebooks = {item.path for item in session.items if item.path.suffix == ".ipynb"}
    if any(uses_tfds(nb) for nb in notebooks):
        problem = mnist_problem(tfds_data_dir())
        if problem:
            pytest.exit(f"MNIST preflight failed.\n{problem}", returncode=3)


NOTEBOOK_SECONDS: defaultdict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.location[0]
    if path.endswith(".ipynb"):
        NOTEBOOK_SECONDS[path] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if NOTEBOOK_SECONDS:
        terminalreporter.section("notebook execution times")
        for path, seconds in sorted(NOTEBOOK_SECONDS.items()):
            terminalreporter.write_line(f"{seconds:7.1f} s  {path}")


# "path/file.py:12: DeprecationWarning: message", as the warnings module prints it.
WARNING_LINE = re.compile(r"^(?P<origin>.*?):\d+: (?P<category>DeprecationWarning|FutureWarning): (?P<message>.*)$",
                          re.MULTILINE)


def deprecation_warnings(outputs: list[dict]) -> list[str]:
    """The deprecation warnings in a cell's outputs that our own code raised.

    Warnings whose origin is inside an installed library (site-packages) are
    left out: the library raised them about its own internals, on import say,
    and there is nothing in our code to change (we pin the versions).
    """
    found = []
    for output in outputs:
        text = output.get("text", "")
        text = "".join(text) if isinstance(text, list) else text
        for match in WARNING_LINE.finditer(text):
            if "site-packages" not in match["origin"]:
                found.append(f"{match['category']}: {match['message']}")
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    warnings = deprecation_warnings(getattr(item, "test_outputs", None) or [])
    if warnings:
        pytest.fail(f"{item.path.name}, {item.name}, uses a deprecated API: " + "; ".join(warnings), pytrace=False)
    return result
