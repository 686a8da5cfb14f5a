"""Both ends of the tested window pin every package exactly, and .venv holds the lock's versions.

Tools a maintainer adds to .venv (`uv pip install --python .venv jupyterlab`, say) are theirs:
only a locked package that is missing or at another version fails, and `make setup` repairs it.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
LOCKS = [REPO / "requirements.txt", REPO / "requirements-colab.txt"]
PIN = re.compile(r"(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[A-Za-z0-9_.+\-]+)(\s*;\s*(?P<marker>.+))?")


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@pytest.mark.parametrize("path", LOCKS, ids=lambda p: p.name)
def test_every_requirement_is_pinned_exactly(path: Path) -> None:
    loose = [line for line in requirement_lines(path) if not PIN.fullmatch(line)]
    assert not loose, f"{path.name}: pin these with ==: {loose}"


def test_the_environment_holds_the_locked_versions() -> None:
    pins = {}
    for line in requirement_lines(LOCKS[0]):
        pin = PIN.fullmatch(line)
        if not pin["marker"] or Marker(pin["marker"]).evaluate():  # this platform's
            pins[canonicalize_name(pin["name"])] = pin["version"]
    installed = {canonicalize_name(dist.name): dist.version for dist in importlib.metadata.distributions()}
    differ = {name: (locked, installed.get(name)) for name, locked in pins.items() if installed.get(name) != locked}
    assert differ == {}, f"(locked, installed) differ; `make setup` repairs them: {differ}"
