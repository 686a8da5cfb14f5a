"""requirements.txt pins every package exactly, and the environment matches it."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines() -> list[str]:
    lines = (line.split("#")[0].strip() for line in REQUIREMENTS.read_text().splitlines())
    return [line for line in lines if line]


def test_every_requirement_is_pinned_exactly() -> None:
    loose = [line for line in requirement_lines() if not re.fullmatch(r"[A-Za-z0-9_.\-]+==[A-Za-z0-9_.+\-]+", line)]
    assert not loose, f"pin these with ==: {loose}"


def test_installed_versions_equal_the_pins() -> None:
    pins = dict(line.split("==") for line in requirement_lines())
    mismatched = {}
    for name, pinned in pins.items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            installed = None
        if installed != pinned:
            mismatched[normalise(name)] = (pinned, installed)
    assert not mismatched, f"(pinned, installed) differ; run `make setup`: {mismatched}"
