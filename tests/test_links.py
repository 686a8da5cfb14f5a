"""Every relative link in a tutorial works from both halves of its pair.

A link is written once, in the md/ twin, and jupytext copies it into the
notebook, so it must resolve from md/ (the twin on GitHub) and from
notebooks/ (the notebook on GitHub and in Colab, whose address mirrors
GitHub's path; the docs are built from the repository root, so they resolve
it the same way). Sphinx's -W build catches a broken link in the docs too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = sorted((REPO / "md").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s#]+)(#[^)]*)?\)")


def broken_links(page: Path) -> list[str]:
    """The relative links of `page` that do not resolve from md/ or from notebooks/."""
    targets = [target for target, _ in LINK.findall(page.read_text(encoding="utf-8"))
               if not re.match(r"[a-z]+:", target)]
    return [f"{target} (from {folder}/)" for target in targets for folder in ("md", "notebooks")
            if not (REPO / folder / target).resolve().is_file()]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_relative_links_resolve_from_md_and_notebooks(page: Path) -> None:
    assert broken_links(page) == []


def test_a_link_that_works_next_to_the_notebook_only_is_caught(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("[next](02_pure_jax_mlp_mnist.ipynb), [same](../notebooks/02_pure_jax_mlp_mnist.ipynb), "
                    "[JAX](https://docs.jax.dev)")
    assert broken_links(page) == ["02_pure_jax_mlp_mnist.ipynb (from md/)"]
