"""pytest configuration shared by the repository's tests and the nbval run.

It wires the hooks; the helpers they call live in scripts/notebook_harness.py.
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
* After the run, no training process that a notebook started (tutorial 07
  launches its own) may still be alive: any left is listed, killed, and fails
  the run. The run's processes are told apart from any other run's by a token
  in their environment, which they inherit from this one.
* The terminal summary also shows what each page's setup cells printed (the
  versions they found, and what they installed), so that a run on the Colab
  replica shows each page's repair.
* In `make test-colab`, tests/colab/probe notes every search for a module the
  replica leaves out (in the harness, the kernels and what they start): any
  fails the run.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections import defaultdict

import pytest
from notebook_harness import (
    SESSION_VARIABLE,
    absent_module_searches,
    deprecation_warnings,
    mnist_problem,
    stray_processes,
    tfds_data_dir,
    uses_tfds,
)

REPOSITORY_TEST_TIMEOUT_S = 300
SETUP_INSTALL_CELL = "# @title Setup: install"  # the second setup cell, which acts and prints


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.pluginmanager.hasplugin("timeout"):  # pytest-timeout (not in the Colab replica)
        return
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
SETUP_PRINTED: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = report.location[0]
    if path.endswith(".ipynb"):
        NOTEBOOK_SECONDS[path] += report.duration


def pytest_terminal_summary(terminalreporter) -> None:
    if SETUP_PRINTED:
        terminalreporter.section("what the setup cells printed")
        for path, text in sorted(SETUP_PRINTED.items()):
            terminalreporter.write_line(f"{path}:\n    " + text.strip().replace("\n", "\n    "))
    if NOTEBOOK_SECONDS:
        terminalreporter.section("notebook execution times")
        for path, seconds in sorted(NOTEBOOK_SECONDS.items()):
            terminalreporter.write_line(f"{seconds:7.1f} s  {path}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    result = yield
    outputs = getattr(item, "test_outputs", None) or []
    if getattr(item, "cell", {}).get("source", "").startswith(SETUP_INSTALL_CELL):
        SETUP_PRINTED[item.path.name] = "".join(o.get("text", "") for o in outputs if o.get("name") == "stdout")
    warnings = deprecation_warnings(outputs)
    if warnings:
        pytest.fail(f"{item.path.name}, {item.name}, uses a deprecated API: " + "; ".join(warnings), pytrace=False)
    return result


def pytest_sessionstart(session: pytest.Session) -> None:
    os.environ[SESSION_VARIABLE] = uuid.uuid4().hex  # inherited by the kernels and what they start


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not NOTEBOOK_SECONDS:
        return
    searched = absent_module_searches()
    if searched:
        print("\nlooked for modules that the Colab replica leaves out, so the run may differ from Colab's:\n"
              + "".join(f"  {line}\n" for line in searched))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    strays = stray_processes(os.environ[SESSION_VARIABLE])
    for pid, command in strays.items():
        print(f"\nleft behind by a notebook, killed now: pid {pid}: {command}")
        os.kill(pid, signal.SIGKILL)
    if strays:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
