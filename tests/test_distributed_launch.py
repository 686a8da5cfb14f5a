"""Tutorial 07 starts training processes itself: whatever happens, none may be left behind.

The notebook's own `launch` (executed from the notebook, scripts/notebook_code.py) runs stand-in
scripts that hang and ignore SIGTERM, as a stuck JAX process would."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from notebook_code import definitions
from notebook_harness import still_running

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_jax_distributed_multiprocess.ipynb"
STUCK = """import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as JAX's own SIGTERM handler can
print(f"process {os.getpid()}: started", flush=True)
time.sleep(600)
"""


def notebook_launch(tmp_path: Path, script: str, clock: types.ModuleType = time) -> Callable[..., list[int]]:
    (tmp_path / "train.py").write_text(script)
    namespace = {"os": os, "re": re, "shutil": shutil, "socket": socket, "subprocess": subprocess, "sys": sys,
                 "time": clock, "Path": Path, "WORKDIR": tmp_path, "SCRIPT": tmp_path / "train.py", "SEED": 0}
    names = ["free_port", "SHOWN", "start", "show", "follow", "launch"]
    return definitions(NOTEBOOK, names, namespace)["launch"]


def started_pids(output: str) -> list[int]:
    return [int(pid) for pid in re.findall(r"^process (\d+): started$", output, re.MULTILINE)]


def test_a_timeout_kills_every_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    launch = notebook_launch(tmp_path, STUCK)
    with pytest.raises(TimeoutError, match="did not finish within 3 s"):
        launch(2, "stuck", local_devices=1, timeout=3)
    pids = started_pids(capsys.readouterr().out)
    assert len(pids) == 2
    assert still_running(pids) == []


def test_an_interrupted_cell_kills_every_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The stop button raises KeyboardInterrupt in the kernel, here while `launch` waits."""
    polls = []

    def sleep(seconds: float) -> None:
        polls.append(seconds)
        if started_pids(capsys.readouterr().out):  # interrupt once both processes are up
            raise KeyboardInterrupt
        time.sleep(seconds)

    clock = types.SimpleNamespace(monotonic=time.monotonic, sleep=sleep)
    launch = notebook_launch(tmp_path, STUCK.replace("time.sleep(600)", "time.sleep(1); time.sleep(600)"), clock)
    with pytest.raises(KeyboardInterrupt):
        launch(2, "stuck", local_devices=1, timeout=60)
    logs = [(tmp_path / f"stuck-{i}.log").read_text() for i in range(2)]
    pids = started_pids("".join(logs))
    assert pids, "the stand-in processes should have started"
    assert still_running(pids) == []


def test_kill_ends_one_process_and_the_others_finish(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = """import argparse, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--process-id", type=int)
args, _ = parser.parse_known_args()
for step in range(1, 4):
    print(f"process {args.process_id}: step {step}", flush=True)
    time.sleep(0.5)
"""
    codes = notebook_launch(tmp_path, script)(2, "run", local_devices=1, kill=(1, "step 1"), timeout=30)
    assert codes[1] == -9 and codes[0] == 0
    output = capsys.readouterr().out
    assert "--- killed process 1 (SIGKILL) ---" in output and "process 0: step 3" in output


def test_the_harness_finds_processes_left_behind(tmp_path: Path) -> None:
    """conftest.py fails a notebook run that leaves a training process alive; it finds them so."""
    from notebook_harness import DISTRIBUTED_WORKDIR_PREFIX, SESSION_VARIABLE, stray_processes

    folder = tmp_path / f"{DISTRIBUTED_WORKDIR_PREFIX}test"
    folder.mkdir()
    (folder / "train.py").write_text("import time\ntime.sleep(600)\n")
    ours = subprocess.Popen([sys.executable, str(folder / "train.py")], env={**os.environ, SESSION_VARIABLE: "ours"})
    theirs = subprocess.Popen([sys.executable, str(folder / "train.py")], env={**os.environ, SESSION_VARIABLE: "x"})
    try:
        assert ours.pid in stray_processes("ours")
        assert theirs.pid not in stray_processes("ours"), "another test run's processes are not ours"
    finally:
        for process in (ours, theirs):
            process.kill()
            process.wait()
    assert ours.pid not in stray_processes("ours")
