"""Tutorial 08's server and its launcher: what a learner copies must answer every request.

The server is the notebook's own `%%writefile serve.py` cell (read with jupytext), run against a
tiny exported function that this test makes itself (no MNIST, no training): its logits are an
image's first ten pixels, so the digit it predicts is the index of the brightest of them. A good
request gets its digits; each bad request gets its 4xx status and a JSON message (the connection is
not dropped); the server keeps serving after them, exits when the process that started it ends, and
is gone once killed. The notebook's `serving` helper (the cell tagged `launcher`, run with testbook)
kills the server when start-up times out and when the `with` block it guards fails.
"""

from __future__ import annotations

import ast
import http.client
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import numpy as np
import psutil
import pytest
from testbook import testbook

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "08_export_and_serve.ipynb"
WRITEFILE = "%%writefile serve.py\n"
EXPORT = """import sys
import jax
import jax.numpy as jnp
from jax import export

(b,) = export.symbolic_shape("b")
rows = jax.ShapeDtypeStruct((b, 784), jnp.float32)
exported = export.export(jax.jit(lambda x: x[:, :10] * 2))(rows)
open(sys.argv[1], "wb").write(exported.serialize())
"""
NEVER_STARTS = """import os, sys, time
open(sys.argv[1] + ".pid", "w").write(str(os.getpid()))
time.sleep(600)
"""


def server_source() -> str:
    (source,) = [cell.source for cell in jupytext.read(NOTEBOOK).cells
                 if cell.cell_type == "code" and cell.source.startswith(WRITEFILE)]
    return source.removeprefix(WRITEFILE)


def constants(source: str) -> dict[str, object]:
    """The script's module-level constants (MAX_BYTES, SIZES)."""
    return {target.id: ast.literal_eval(node.value) for node in ast.parse(source).body
            if isinstance(node, ast.Assign) for target in node.targets
            if isinstance(target, ast.Name) and target.id.isupper()}


SERVER = constants(server_source())
MAX_BYTES, MAX_IMAGES = SERVER["MAX_BYTES"], SERVER["SIZES"][-1]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("serving")
    (folder / "serve.py").write_text(server_source())
    subprocess.run([sys.executable, "-c", EXPORT, str(folder / "tiny.jax")], check=True, timeout=120)
    return folder


def start(files: Path, *launcher: str) -> subprocess.Popen[str]:
    """serve.py on a free port; with `launcher`, started by that program, which then exits."""
    command = [sys.executable, str(files / "serve.py"), str(files / "tiny.jax"), "0"]
    if launcher:
        command = [sys.executable, "-c", *launcher, *command]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def assert_gone(pid: int) -> None:
    """The process has ended (a zombie that its parent has yet to reap counts as ended)."""
    try:
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        pass


@pytest.fixture(scope="module")
def server(files: Path) -> Iterator[tuple[str, int]]:
    process = start(files)
    try:
        first = process.stdout.readline()
        assert first.startswith("serving on http://127.0.0.1:"), first
        address = urlsplit(first.removeprefix("serving on ").strip())
        yield address.hostname, address.port
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    assert not psutil.pid_exists(process.pid)


def request(server: tuple[str, int], method: str, path: str, body: bytes = b"",
            headers: dict[str, str] | None = None) -> tuple[int, str, dict]:
    """The status, its Content-Type and the JSON answer. Content-Length is the body's unless
    `headers` says otherwise (None: no Content-Length at all)."""
    connection = http.client.HTTPConnection(*server, timeout=60)
    try:
        connection.putrequest(method, path)
        headers = {"Content-Length": str(len(body))} | (headers or {})
        for name, value in headers.items():
            if value is not None:
                connection.putheader(name, value)
        connection.endheaders()
        if body:
            connection.send(body)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), json.loads(response.read())
    finally:
        connection.close()


def images(*digits: int) -> list[list[float]]:
    """One image per digit, whose brightest of the first ten pixels is that digit's."""
    rows = np.zeros((len(digits), 784), np.float32)
    rows[np.arange(len(digits)), digits] = 1.0
    return rows.tolist()


BAD_REQUESTS = {
    "not JSON": ("POST", "/predict", b"images=1,2,3", {}, 400, "not JSON"),
    "not UTF-8": ("POST", "/predict", b"\xff\xfe\x00", {}, 400, "not JSON"),
    "a JSON list": ("POST", "/predict", b"[1, 2, 3]", {}, 400, '"images" key'),
    "no images key": ("POST", "/predict", b'{"pixels": [0.5]}', {}, 400, '"images" key'),
    "words for pixels": ("POST", "/predict", b'{"images": ["one", "two"]}', {}, 400, "numbers only"),
    "ragged rows": ("POST", "/predict", json.dumps({"images": [[0.0] * 784, [0.0]]}).encode(), {}, 400,
                    "numbers only"),
    "no images": ("POST", "/predict", b'{"images": []}', {}, 400, "784 pixel values per image, got 0"),
    "700 values": ("POST", "/predict", json.dumps({"images": [0.5] * 700}).encode(), {}, 400,
                   "784 pixel values per image, got 700"),
    "too many images": ("POST", "/predict", json.dumps({"images": [0] * 784 * (MAX_IMAGES + 1)}).encode(),
                        {}, 413, f"at most {MAX_IMAGES} images"),
    "a body over the limit": ("POST", "/predict", b"", {"Content-Length": str(MAX_BYTES + 1)}, 413,
                              f"over {MAX_BYTES} bytes"),
    "no Content-Length": ("POST", "/predict", b"", {"Content-Length": None}, 411, "Content-Length"),
    "a Content-Length not a number": ("POST", "/predict", b"", {"Content-Length": "many"}, 400,
                                      "Content-Length must be a number"),
    "POST elsewhere": ("POST", "/predict/now", json.dumps({"images": images(1)}).encode(), {}, 404,
                       "POST /predict"),
    "GET elsewhere": ("GET", "/predict", b"", {"Content-Length": None}, 404, "GET /health"),
}


@pytest.fixture(scope="module")
def launcher() -> Iterator[testbook]:
    """The notebook's own `serving`, in a kernel of its own (the cell tagged `launcher`)."""
    with testbook(NOTEBOOK, execute="launcher", timeout=180) as tb:
        yield tb


class TestTutorial08Server:
    """serve.py, the notebook's `%%writefile serve.py` cell."""

    def test_a_good_request_gets_the_digits(self, server: tuple[str, int]) -> None:
        body = json.dumps({"images": images(3, 0, 9)}).encode()
        assert request(server, "POST", "/predict", body) == (200, "application/json", {"digits": [3, 0, 9]})

    @pytest.mark.parametrize("count", [1, 5, MAX_IMAGES])
    def test_any_batch_up_to_the_largest_is_answered(self, server: tuple[str, int], count: int) -> None:
        digits = [i % 10 for i in range(count)]
        status, _, answer = request(server, "POST", "/predict", json.dumps({"images": images(*digits)}).encode())
        assert (status, answer) == (200, {"digits": digits})

    def test_images_may_be_flat_or_28_by_28(self, server: tuple[str, int]) -> None:
        flat = np.asarray(images(7, 2)).ravel().tolist()
        square = np.asarray(images(7, 2)).reshape(2, 28, 28).tolist()
        for form in (flat, square):
            status, _, answer = request(server, "POST", "/predict", json.dumps({"images": form}).encode())
            assert (status, answer) == (200, {"digits": [7, 2]})

    def test_the_health_check_answers(self, server: tuple[str, int]) -> None:
        assert request(server, "GET", "/health", headers={"Content-Length": None}) == (
            200, "application/json", {"ready": True})

    @pytest.mark.parametrize("case", BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
    def test_a_bad_request_gets_a_4xx_status_and_a_message(self, server: tuple[str, int], case: tuple) -> None:
        method, path, body, headers, status, message = case
        answer = request(server, method, path, body, headers)
        assert answer[:2] == (status, "application/json")
        assert set(answer[2]) == {"error"} and message in answer[2]["error"]

    def test_the_server_still_serves_after_bad_requests(self, server: tuple[str, int]) -> None:
        for method, path, body, headers, _, _ in BAD_REQUESTS.values():
            request(server, method, path, body, headers)
        assert request(server, "POST", "/predict", json.dumps({"images": images(4)}).encode())[2] == {"digits": [4]}

    def test_the_server_exits_when_the_process_that_started_it_ends(self, files: Path) -> None:
        """As when the notebook's kernel ends: the server is orphaned and stops by itself."""
        launcher = textwrap.dedent("""\
            import subprocess, sys
            server = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
            print(server.pid, server.stdout.readline(), sep="\\n", end="", flush=True)
            """)
        parent = start(files, launcher)
        served = None
        try:
            served = psutil.Process(int(parent.stdout.readline()))
            assert parent.stdout.readline().startswith("serving on ")
            assert parent.wait(timeout=60) == 0
            served.wait(timeout=60)  # raises psutil.TimeoutExpired if it keeps running
        finally:
            parent.kill()
            parent.wait()
            parent.stdout.close()
            if served and served.is_running():
                served.kill()
        assert_gone(served.pid)


class TestTutorial08Launcher:
    """`serving`, the notebook's cell tagged `launcher`."""

    def test_serving_kills_a_server_that_does_not_start_in_time(self, launcher: testbook, tmp_path: Path) -> None:
        script = tmp_path / "never_starts.py"
        script.write_text(NEVER_STARTS)
        launcher.inject(f"""
            try:
                with serving({str(tmp_path / 'model.jax')!r}, script={str(script)!r}, timeout=3):
                    outcome = "started"
            except TimeoutError as error:
                outcome = str(error)
            """)
        assert launcher.value("outcome") == f"{script} did not start in 3 s"
        assert_gone(int((tmp_path / "model.jax.pid").read_text()))

    def test_serving_kills_the_server_when_its_block_fails(self, launcher: testbook, files: Path) -> None:
        """An error in the `with` block, here KeyboardInterrupt (the stop button), while it serves."""
        launcher.inject(f"""
            import psutil
            try:
                with serving({str(files / 'tiny.jax')!r}, script={str(files / 'serve.py')!r}) as url:
                    served = [child.pid for child in psutil.Process().children()]
                    raise KeyboardInterrupt
            except KeyboardInterrupt:
                outcome = url
            """)
        assert launcher.value("outcome").startswith("http://127.0.0.1:")
        (pid,) = launcher.value("served")
        assert_gone(pid)
