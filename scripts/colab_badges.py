"""Write or check the "Open in Colab" badge at the top of every tutorial.

Usage: python scripts/colab_badges.py [--check]

The badge goes right under the title in the first cell of `md/NAME.md` and
links to notebooks/NAME.ipynb in the GitHub repository named in
pyproject.toml ([tool.jax-mnist-tutorials] github-repo). `make badges` writes
them (then syncs the notebooks); `--check` exits 1 naming each tutorial whose
badge is missing, points elsewhere, or is not alone.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]+")
BADGE_LINE = re.compile(r"^\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)\n\n", re.MULTILINE)


def project_settings(root: Path = REPO) -> dict[str, str]:
    with open(root / "pyproject.toml", "rb") as file:
        return tomllib.load(file)["tool"]["jax-mnist-tutorials"]


def colab_url(notebook: str, root: Path = REPO) -> str:
    """The Colab address of `notebook`, a path relative to the repository."""
    config = project_settings(root)
    return f"https://colab.research.google.com/github/{config['github-repo']}/blob/{config['branch']}/{notebook}"


def badge(notebook: str, root: Path = REPO) -> str:
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(notebook, root)})\n\n"


def with_badge(text: str, notebook: str, root: Path = REPO) -> str:
    """`text` (a MyST notebook) with exactly one badge, right under its title."""
    text = BADGE_LINE.sub("", text)
    title = re.search(r"^# .*\n\n", text, re.MULTILINE)
    if title is None:
        raise SystemExit(f"{notebook}: no '# Title' line to put the badge under")
    return text[: title.end()] + badge(notebook, root) + text[title.end():]


def badge_problems(root: Path = REPO) -> list[str]:
    problems = []
    for md in sorted((root / "md").glob("*.md")):
        notebook = f"notebooks/{md.stem}.ipynb"
        links = COLAB_LINK.findall(md.read_text(encoding="utf-8"))
        if links != [colab_url(notebook, root)]:
            problems.append(f"{md}: expected one Colab link to {colab_url(notebook, root)}, found {links}")
        prefix = colab_url("", root)
        for link in links:
            target = link.removeprefix(prefix)
            if link == target or not (root / target).is_file():
                problems.append(f"{md}: its Colab link {link} names no notebook of this repository")
    return problems


def main(argv: list[str]) -> int:
    if "--check" in argv:
        problems = badge_problems()
        for problem in problems:
            print(f"BADGE: {problem}; run `make badges`", file=sys.stderr)
        return 1 if problems else 0
    for md in sorted((REPO / "md").glob("*.md")):
        text = md.read_text(encoding="utf-8")
        updated = with_badge(text, f"notebooks/{md.stem}.ipynb")
        if updated != text:
            md.write_text(updated, encoding="utf-8")
            print(f"badge written: {md}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
