"""requirements-colab.txt is Colab's published list (colab/), derived by scripts/colab_replica.py.

What the replica holds once installed, and that the pages' kernel is Colab's, is checked inside
it by tests/colab/ (`make test-colab`).
"""

from __future__ import annotations

from pathlib import Path

import colab_replica
import pytest
from colab_replica import normalise


def test_the_replica_is_what_colabs_list_gives() -> None:
    assert colab_replica.problems() == []


def test_every_package_of_colabs_list_is_pinned_at_colabs_version_or_left_out_with_a_reason() -> None:
    pinned, sourced = colab_replica.colab_list()
    replica = {normalise(name): version for name, version in colab_replica.pins_of(colab_replica.REPLICA).items()}
    differ = [name for name, version in pinned.items() if replica.get(normalise(name)) != version]
    assert sorted(map(normalise, differ)) == sorted(colab_replica.NOT_REPLICATED)
    assert not {normalise(name) for name in sourced} & replica.keys()
    left_out = colab_replica.REPLICA.read_text(encoding="utf-8").split("# Colab's packages")[0]
    for name in [*differ, *sourced]:
        assert f"#   {name}" in left_out, f"{name}: left out with no reason given"


def test_the_only_additions_are_the_harness_and_what_it_needs() -> None:
    pinned, sourced = colab_replica.colab_list()
    colab = {normalise(name) for name in [*pinned, *sourced]}
    additions = {normalise(name) for name in colab_replica.recorded_additions()}
    assert {normalise(name) for name in colab_replica.HARNESS} <= additions
    assert not additions & colab


def test_what_is_left_out_is_named_with_the_modules_the_probe_watches_for() -> None:
    modules = colab_replica.absent_modules()
    assert {"torch", "google.colab", "dlib"} <= set(modules)


def test_a_newer_list_is_pinned_as_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A list as Colab publishes it, with a package from a URL and one that cannot be built here."""
    newer = tmp_path / "pip-freeze.txt"
    newer.write_text("# Do not modify this file directly\njax==0.9.1\nflax==0.12.1\ndlib==20.0.0\n"
                     "torch @ https://download.pytorch.org/whl/cpu/torch-2.12.0%2Bcpu-cp313-cp313.whl\n")
    monkeypatch.setattr(colab_replica, "CPU_LIST", newer)
    text = colab_replica.render({"nbval": "0.11.0"})
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert lines == ["jax==0.9.1", "flax==0.12.1", "nbval==0.11.0"]
    assert "#   dlib 20.0.0: " in text and "#   torch: Colab installs it from https://download.pytorch.org" in text
