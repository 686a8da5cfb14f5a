"""Tutorial 08's claim about versions: a file exported by one end of the tested window is refused by
the other (Colab's jax 0.7.2 and the newest, more than JAX's six months of compatibility apart).

Run by `make test-colab` with .venv-colab's Python; the newest end is .venv's (`make setup`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
NEWEST_PYTHON = REPO / ".venv" / "bin" / "python"
EXPORT = """import sys
import jax, jax.numpy as jnp
from jax import export
(b,) = export.symbolic_shape("b")
exported = export.export(jax.jit(lambda x: jnp.tanh(x) * 2))(jax.ShapeDtypeStruct((b, 3), jnp.float32))
open(sys.argv[1], "wb").write(exported.serialize())
print(jax.__version__)
"""
LOAD = """import sys
import numpy as np
from jax import export
exported = export.deserialize(open(sys.argv[1], "rb").read())
print(exported.call(np.ones((2, 3), np.float32)))
"""


def run(python: Path | str, program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", program, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("exporter", "loader", "refusal"), [
    ("colab", "newest", "older than the 6-month backward-compatibility window"),
    ("newest", "colab", "deserialize unsupported version"),
], ids=["colab's file, newest jax", "newest file, colab's jax"])
def test_a_file_from_one_end_is_refused_by_the_other(tmp_path: Path, exporter: str, loader: str,
                                                       refusal: str) -> None:
    assert NEWEST_PYTHON.exists(), "the newest end's .venv is missing: run `make setup`"
    pythons = {"colab": sys.executable, "newest": NEWEST_PYTHON}
    model_file = tmp_path / "f.jax"
    exported = run(pythons[exporter], EXPORT, str(model_file))
    assert exported.returncode == 0, exported.stderr
    assert run(pythons[exporter], LOAD, str(model_file)).returncode == 0, "it loads where it was made"
    loaded = run(pythons[loader], LOAD, str(model_file))
    assert loaded.returncode != 0
    assert refusal in loaded.stderr
