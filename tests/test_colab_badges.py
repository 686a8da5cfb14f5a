"""Every tutorial starts with an "Open in Colab" badge pointing at its own notebook."""

from __future__ import annotations

import shutil
from pathlib import Path

import colab_badges

REPO = Path(__file__).resolve().parent.parent


def test_every_tutorial_badge_points_at_its_own_notebook() -> None:
    assert colab_badges.badge_problems() == []


def test_badges_are_in_the_notebooks_too() -> None:
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        url = colab_badges.colab_url(f"notebooks/{notebook.name}")
        assert notebook.read_text(encoding="utf-8").count(url) == 1, notebook


def test_badge_check_catches_a_badge_pointing_elsewhere(tmp_path: Path) -> None:
    for part in ("md", "notebooks", "pyproject.toml"):
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / part)
    first = sorted((tmp_path / "md").glob("*.md"))[0]
    text = first.read_text()
    first.write_text(text.replace(f"notebooks/{first.stem}.ipynb", "notebooks/elsewhere.ipynb"))
    problems = colab_badges.badge_problems(tmp_path)
    assert len(problems) == 2  # wrong link, and the notebook it names does not exist
    assert all(str(first) in problem for problem in problems)


def test_writing_badges_is_idempotent() -> None:
    text = (REPO / "md" / "01_jax_nn_basics_digits.md").read_text()
    notebook = "notebooks/01_jax_nn_basics_digits.ipynb"
    assert colab_badges.with_badge(text, notebook) == text
