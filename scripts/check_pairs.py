"""Check that every tutorial exists as a synchronised md/ + notebooks/ pair.

Usage: python scripts/check_pairs.py [ROOT]

ROOT (default: the repository) holds `md/NAME.md` and `notebooks/NAME.ipynb`.
Both halves are read with jupytext and their cells compared by type and
source (outputs and execution metadata live in the .ipynb alone; the
`# NBVAL_...` markers are part of the source). Exits 1, naming each problem and the
command that fixes it, when a pair has drifted or a half is missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jupytext


def cells(path: Path) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in jupytext.read(path).cells]


def first_difference(md: Path, notebook: Path) -> str | None:
    a, b = cells(md), cells(notebook)
    for index, (cell_a, cell_b) in enumerate(zip(a, b)):
        if cell_a != cell_b:
            return f"cell {index}: {cell_a[1][:60]!r} vs {cell_b[1][:60]!r}"
    if len(a) != len(b):
        return f"{len(a)} cells vs {len(b)} cells"
    return None


def pair_problems(root: Path) -> list[str]:
    md = {p.stem: p for p in sorted((root / "md").glob("*.md"))}
    nb = {p.stem: p for p in sorted((root / "notebooks").glob("*.ipynb"))}
    problems = []
    for name in sorted(md.keys() - nb.keys()):
        problems.append(
            f"{md[name]}: has no notebooks/{name}.ipynb; create it with `make sync`"
        )
    for name in sorted(nb.keys() - md.keys()):
        problems.append(
            f"{nb[name]}: has no md/{name}.md; create it with `make sync`"
        )
    for name in sorted(md.keys() & nb.keys()):
        difference = first_difference(md[name], nb[name])
        if difference:
            problems.append(
                f"{md[name]} and {nb[name]} differ ({difference}); "
                "run `make sync` (the newer file wins), then `make outputs`"
            )
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    problems = pair_problems(root)
    for problem in problems:
        print(f"OUT OF SYNC: {problem}", file=sys.stderr)
    if not problems:
        count = len(list((root / "md").glob("*.md")))
        print(f"{count} md/ + notebooks/ pairs in sync")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
