"""A seeded run gives identical results: the digits tutorial, executed twice."""

from __future__ import annotations

from pathlib import Path

import check_determinism
import nbformat

REPO = Path(__file__).resolve().parent.parent


def test_digits_tutorial_prints_identical_numbers_twice() -> None:
    assert check_determinism.differences(REPO / "notebooks" / "01_jax_nn_basics_digits.ipynb") == []


def test_timings_are_the_only_thing_left_out() -> None:
    text = "step 50: loss 0.1283, 301 steps in 3.0 s, eager: 1.69 ms, speed-up 3.6x"
    for pattern in check_determinism.timing_patterns():
        text = pattern.sub("TIMING", text)
    assert text == "step 50: loss 0.1283, 301 steps in TIMING, eager: TIMING, speed-up TIMING"


def test_an_unseeded_notebook_is_caught(tmp_path: Path) -> None:
    notebook = tmp_path / "unseeded.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import random\nprint(random.random())")]), notebook)
    problems = check_determinism.differences(notebook)
    assert len(problems) == 1 and problems[0].startswith("unseeded.ipynb, code cell 0: ")
