"""What the test harness does around notebook runs; conftest.py wires it into pytest.

* The MNIST preflight: whether `tfds.load('mnist')` can work here (MNIST
  prepared in TFDS's data dir, or TFDS's download host reachable), and if not
  what to do, said within seconds instead of after TFDS's minutes of retries.
* What tests/colab/probe noted in a `make test-colab` run.
* The deprecation scan: DeprecationWarning or FutureWarning lines in a
  cell's outputs that our own code (not an installed library) triggered.
* Which of the processes a test saw started are still running.
* Running Python, and nbval the way `make test-notebooks` does, for the tests;
  nbval's cell timeout (read from pytest.ini) for the scripts that execute
  notebooks themselves.
"""

from __future__ import annotations

import configparser
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

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


def mnist_prepared(data_dir: str) -> bool:
    """Whether MNIST is prepared in `data_dir`, in the layout TFDS writes and `tfds.load` reads
    (`mnist/<version>/dataset_info.json` beside its record files). Read from the files, not through
    TFDS, so that the check neither costs TensorFlow's start-up nor depends on the environment's TFDS
    importing cleanly (on Colab's stack it does not until a page's setup cell fixes it)."""
    return any(Path(data_dir).expanduser().glob("mnist/*/dataset_info.json"))


def mnist_problem(data_dir: str) -> str | None:
    """None when `tfds.load('mnist')` can work here, else what to do about it."""
    if mnist_prepared(data_dir) or network_answers():
        return None
    return (
        f"MNIST is not prepared in the TFDS data dir ({data_dir}) and "
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


def run_python(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run this Python in the repository; ANSI colours are stripped from stdout."""
    result = subprocess.run([sys.executable, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    result.stdout = ANSI_ESCAPE.sub("", result.stdout)
    return result


def run_nbval(notebook: Path) -> subprocess.CompletedProcess[str]:
    """nbval in strict mode, as `make test-notebooks` runs it: its options come from pytest.ini."""
    return run_python("-m", "pytest", "-c", REPO / "pytest.ini", "--nbval", notebook)


def cell_timeout_s() -> int:
    """nbval's cell timeout, from pytest.ini's addopts (its one place)."""
    config = configparser.ConfigParser()
    config.read(REPO / "pytest.ini", encoding="utf-8")
    return int(re.search(r"--nbval-cell-timeout (\d+)", config["pytest"]["addopts"])[1])


# Tutorial 07 starts training processes from a script in a temporary folder named like this.
DISTRIBUTED_WORKDIR_PREFIX = "jax-distributed-"


# conftest.py sets it to a token of its own for each run: the processes a run's notebooks start
# inherit it, so that a run recognises its own processes and never touches another run's.
SESSION_VARIABLE = "JAX_MNIST_TUTORIALS_TEST_SESSION"


def stray_processes(session: str, marker: str = DISTRIBUTED_WORKDIR_PREFIX) -> dict[int, str]:
    """{pid: command line} of the running processes whose command line contains `marker` and whose
    environment holds SESSION_VARIABLE=session (Linux /proc; other users' processes are not readable)."""
    found = {}
    tag = f"{SESSION_VARIABLE}={session}".encode()
    for process in Path("/proc").glob("[0-9]*"):
        try:
            command = (process / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            environment = (process / "environ").read_bytes().split(b"\0")
        except OSError:  # ended meanwhile, or not ours to read
            continue
        if marker in command and tag in environment and int(process.name) != os.getpid():
            found[int(process.name)] = command
    return found


def still_running(pids: list[int], within_s: float = 0.0) -> list[int]:
    """The processes of `pids` still running after waiting up to `within_s` seconds for them to go."""
    deadline = time.monotonic() + within_s
    while True:
        alive = []
        for pid in pids:
            try:
                os.kill(pid, 0)
                alive.append(pid)
            except ProcessLookupError:
                pass
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.1)


def absent_module_searches() -> list[str]:
    """What tests/colab/probe noted in this run (`make test-colab` names its log), one line a search."""
    log = os.environ.get("COLAB_REPLICA_PROBE_LOG")
    if not log or not Path(log).is_file():
        return []
    return sorted(set(Path(log).read_text(encoding="utf-8").splitlines()))
