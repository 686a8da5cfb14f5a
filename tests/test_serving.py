"""Tutorial 08 starts a server and fresh processes itself: whatever happens, none may be left behind.

The notebook's own `serving` (executed from the notebook, scripts/notebook_code.py) runs stand-in
servers: one that never answers (the start-up times out) and one that answers and then hangs (the
cell is interrupted while it serves). The fresh processes run with `subprocess.run(timeout=...)`,
which kills its child when the time is up: checked on a stand-in that hangs.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from notebook_code import code_cells, definitions
from notebook_harness import still_running

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "08_export_and_serve.ipynb"
NEVER_ANSWERS = """import os, sys, time
open(sys.argv[1] + ".pid", "w").write(str(os.getpid()))
time.sleep(600)
"""
ANSWERS_THEN_HANGS = """import os, sys, json
from http.server import BaseHTTPRequestHandler, HTTPServer
open(sys.argv[1] + ".pid", "w").write(str(os.getpid()))

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        data = json.dumps({"ready": True}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

HTTPServer(("127.0.0.1", int(sys.argv[2])), Handler).serve_forever()
"""


def notebook_serving(tmp_path: Path, server_script: str):
    (tmp_path / "serve.py").write_text(server_script)
    namespace = {"contextlib": __import__("contextlib"), "json": json, "os": os, "socket": socket,
                 "subprocess": subprocess, "sys": sys, "time": time, "urllib": urllib, "np": np,
                 "Path": Path, "SERVER": tmp_path / "serve.py"}
    return definitions(NOTEBOOK, ["free_port", "ask", "serving"], namespace)["serving"]


def assert_gone(pid_file: Path) -> None:
    """The kill has been sent and waited for; the kernel may take a moment to finish it."""
    assert still_running([int(pid_file.read_text())], within_s=5) == []


def test_a_server_that_never_answers_times_out_and_is_killed(tmp_path: Path) -> None:
    serving = notebook_serving(tmp_path, NEVER_ANSWERS)
    model_file = tmp_path / "model"
    with pytest.raises(TimeoutError, match="did not start"):
        with serving(model_file, timeout=3):
            pass
    assert_gone(tmp_path / "model.pid")


def test_an_interrupted_cell_kills_the_server(tmp_path: Path) -> None:
    """The stop button raises KeyboardInterrupt in the kernel, here while the server serves."""
    serving = notebook_serving(tmp_path, ANSWERS_THEN_HANGS)
    model_file = tmp_path / "model"
    with pytest.raises(KeyboardInterrupt):
        with serving(model_file, timeout=30) as url:
            assert url.startswith("http://127.0.0.1:")
            raise KeyboardInterrupt
    assert_gone(tmp_path / "model.pid")


def test_the_fresh_processes_run_with_a_time_limit(tmp_path: Path) -> None:
    """Every subprocess.run of the page has a timeout, which kills the child when it is up."""
    runs = [source for source in code_cells(NOTEBOOK)
            if "subprocess.run(" in source and not source.startswith("# @title Setup")]
    assert runs and all("timeout=" in source for source in runs)
    (tmp_path / "hang.py").write_text(NEVER_ANSWERS)
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, str(tmp_path / "hang.py"), str(tmp_path / "fresh")], timeout=3)
    assert_gone(tmp_path / "fresh.pid")
