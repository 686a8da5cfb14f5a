"""Both ends of the tested window pin every package exactly, and .venv matches the newest end."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest
from setup_cells import NEWEST, OLDEST, normalise


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@pytest.mark.parametrize("path", [NEWEST, OLDEST], ids=lambda p: p.name)
def test_every_requirement_is_pinned_exactly(path: Path) -> None:
    loose = [line for line in requirement_lines(path)
             if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line)]
    assert not loose, f"{path.name}: pin these with ==: {loose}"


def test_installed_versions_equal_the_pins() -> None:
    pins = dict(line.split("==") for line in requirement_lines(NEWEST))
    mismatched = {}
    for name, pinned in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != pinned:
            mismatched[normalise(name)] = (pinned, installed)
    assert not mismatched, f"(pinned, installed) differ; run `make setup`: {mismatched}"
