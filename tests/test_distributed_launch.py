"""Tutorial 07 starts training processes itself: whatever happens, none may be left behind.

testbook runs the notebook's own launcher (its cell tagged `launcher`) in a kernel whose current
directory is a temporary folder. There, stand-ins for the page's train.py play the processes: they
need neither JAX nor MNIST, and they ignore SIGTERM, as JAX does (it takes SIGTERM as a preemption
notice), and SIGINT, which the stop button may send them too.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from testbook import testbook
from testbook.exceptions import TestbookRuntimeError

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_jax_distributed_multiprocess.ipynb"
SIGKILL = -9  # a process's exit code once SIGKILL has ended it
# The launcher passes --process-id and more; a stand-in reads only its id. Each line goes out in one write
# (the processes share one pipe, and PYTHONUNBUFFERED would split a print into two).
STAND_IN = """import argparse, os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGINT, signal.SIG_IGN)
parser = argparse.ArgumentParser()
parser.add_argument("--process-id", type=int)
i = parser.parse_known_args()[0].process_id
open(f"pid-{i}", "w").write(str(os.getpid()))
def say(text):
    sys.stdout.write(f"process {i}: {text}\\n")
    sys.stdout.flush()
"""
HANGS = STAND_IN + """say("started")
time.sleep(600)
"""
COUNTS = STAND_IN + """for step in range(1, 4):
    say(f"step {step}")
    time.sleep(0.5)
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def notebook(folder: Path) -> Iterator:
    """A kernel in which the launcher cell has run, in `folder`."""
    with testbook(NOTEBOOK, execute="launcher", timeout=120, resources={"metadata": {"path": str(folder)}}) as tb:
        yield tb


def pids(folder: Path, n: int) -> list[int]:
    return [int((folder / f"pid-{i}").read_text()) for i in range(n)]


def left_running(pids: list[int]) -> list[int]:
    """The pids that are still there, as processes or as zombies that nobody has reaped."""
    return [pid for pid in pids if psutil.pid_exists(pid)]


def test_the_timeout_kills_every_process(notebook, folder: Path) -> None:
    (folder / "train.py").write_text(HANGS)
    codes, output = notebook.ref("launch")(2, timeout=3)
    assert codes == [SIGKILL, SIGKILL]
    assert sorted(re.findall(r"^process \d: started$", output, re.MULTILINE)) == ["process 0: started",
                                                                                   "process 1: started"]
    assert left_running(pids(folder, 2)) == []


def test_a_killed_process_does_not_stop_the_others(notebook, folder: Path) -> None:
    (folder / "train.py").write_text(COUNTS)
    codes, output = notebook.ref("launch")(3, kill=(1, "step 1"), timeout=30)
    assert codes == [0, SIGKILL, 0]
    assert "process 1: step 2" not in output
    assert "process 0: step 3" in output and "process 2: step 3" in output
    assert left_running(pids(folder, 3)) == []


def test_the_stop_button_kills_every_process(notebook, folder: Path) -> None:
    """The stop button interrupts the kernel (KeyboardInterrupt) while `launch` waits for output."""
    (folder / "train.py").write_text(HANGS)

    def interrupt_once_both_started() -> None:
        for _ in range(600):  # at most a minute
            if all((folder / f"pid-{i}").exists() for i in range(2)):
                break
            time.sleep(0.1)
        asyncio.run(notebook.km.interrupt_kernel())  # as Jupyter's stop button does

    threading.Thread(target=interrupt_once_both_started, daemon=True).start()
    with pytest.raises(TestbookRuntimeError, match="KeyboardInterrupt"):
        notebook.ref("launch")(2, timeout=60)
    assert left_running(pids(folder, 2)) == []
