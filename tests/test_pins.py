"""Both ends of the tested window pin every package exactly, and .venv is the newest end's lock as it
applies to this machine (uv's universal lock marks the packages of other platforms)."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from setup_cells import NEWEST, OLDEST, normalise

# `uv venv --seed` puts pip into .venv (so that `.venv/bin/pip install jupyterlab` works), and
# `uv pip sync` leaves it there.
SEED_PACKAGES = {"pip", "setuptools", "wheel"}
PIN = re.compile(r"(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>[A-Za-z0-9_.+\-]+)(\s*;\s*(?P<marker>.+))?")


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def pins_for_this_machine(path: Path) -> dict[str, str]:
    found = {}
    for line in requirement_lines(path):
        pin = PIN.fullmatch(line)
        if pin and (not pin["marker"] or Marker(pin["marker"]).evaluate()):
            found[normalise(pin["name"])] = pin["version"]
    return found


@pytest.mark.parametrize("path", [NEWEST, OLDEST], ids=lambda p: p.name)
def test_every_requirement_is_pinned_exactly(path: Path) -> None:
    loose = [line for line in requirement_lines(path) if not PIN.fullmatch(line)]
    assert not loose, f"{path.name}: pin these with ==: {loose}"


def test_the_lock_is_universal() -> None:
    """One lock for every platform: TensorFlow's CPU build where it exists, the full one elsewhere."""
    lines = requirement_lines(NEWEST)
    assert any(line.startswith("tensorflow-cpu==") and "sys_platform == 'linux'" in line for line in lines)
    assert any(line.startswith("tensorflow==") and "sys_platform != 'linux'" in line for line in lines)


def test_installed_versions_equal_the_lock() -> None:
    pins = pins_for_this_machine(NEWEST)
    installed = {normalise(dist.name): dist.version for dist in importlib.metadata.distributions()}
    mismatched = {name: (pinned, installed.get(name)) for name, pinned in pins.items()
                  if installed.get(name) != pinned}
    assert not mismatched, f"(locked, installed) differ; run `make setup`: {mismatched}"
    extra = installed.keys() - pins.keys() - SEED_PACKAGES
    assert sorted(extra) == [], "installed, but not in the lock; run `make setup`"
