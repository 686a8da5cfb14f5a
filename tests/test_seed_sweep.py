"""The seed sweep's record (docs/seeds.json) backs every floor the notebooks assert."""

from __future__ import annotations

import json

import nbformat
import pytest
import seed_sweep


@pytest.fixture(scope="module")
def results() -> dict:
    if not seed_sweep.RESULTS.is_file():
        pytest.fail(f"{seed_sweep.RESULTS} is missing: run `make seeds`")
    return json.loads(seed_sweep.RESULTS.read_text())


def test_every_notebook_asserts_a_floor() -> None:
    without = [name for name, floors in seed_sweep.current_floors().items() if not floors]
    assert without == [], f"these notebooks assert no floor (`assert NAME >= NUMBER`): {without}"


def test_every_floor_is_below_the_lowest_result_of_the_sweep(results: dict) -> None:
    assert seed_sweep.floor_problems(results, seed_sweep.current_floors()) == []


def test_the_pages_are_generated_from_the_record(results: dict) -> None:
    for path, text in seed_sweep.page_texts(results).items():
        assert path.read_text(encoding="utf-8") == text, \
            f"{path.name} is stale: run `.venv/bin/python scripts/seed_sweep.py --page`, then `make sync`"


def test_a_floor_above_the_sweep_and_a_missing_notebook_are_caught() -> None:
    results = {"notebooks": {"a": {"floors": {"acc": 0.99}, "runs": [
        {"seed": 0, "values": {"acc": 0.9925}, "error": None, "seconds": 1.0},
        {"seed": 1, "values": {"acc": 0.9905}, "error": "code cell 9: AssertionError: ", "seconds": 1.0}]}}}
    problems = seed_sweep.floor_problems(results, {"a": {"acc": 0.99}, "b": {"acc": 0.5}})
    assert problems == [
        "a: asserts acc >= 0.99, but the sweep's lowest is 0.9905 (standard deviation 0.0014); "
        "the floor must be at most 0.9877 (or improve the recipe)",
        "a: the sweep failed for seeds [1]",
        "b: not in seeds.json; run `make seeds NB=notebooks/b.ipynb`",
    ]


def test_floors_and_asserted_names_are_read_from_the_source() -> None:
    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "assert test_accuracy >= 0.985, 'too low'\nassert apart <= 0.05 * moved")])
    assert seed_sweep.asserted_floors(book) == {"test_accuracy": 0.985}
    assert seed_sweep.asserted_names(book.cells[0].source) == ["apart", "moved", "test_accuracy"]
