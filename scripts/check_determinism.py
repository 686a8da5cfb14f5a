"""Execute notebooks twice and check that they print exactly the same numbers.

Usage: python scripts/check_determinism.py NOTEBOOK [NOTEBOOK ...]

Outputs are compared without nbval's float sanitizing: a seeded run must
reproduce every printed digit on the same machine. Only wall-clock readings
are taken out first: the `durations` and `timeit-loops` patterns of
nbval-sanitize.cfg, and speed-up ratios such as `3.6x` computed from them;
cells marked `# NBVAL_IGNORE_OUTPUT` (declared volatile) are skipped.
Exits 1 naming each notebook and cell whose outputs differ.
"""

from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from notebook_harness import cell_timeout_s

REPO = Path(__file__).resolve().parent.parent


def timing_patterns() -> list[re.Pattern[str]]:
    config = configparser.ConfigParser()
    config.read(REPO / "nbval-sanitize.cfg", encoding="utf-8")
    patterns = [re.compile(config[section]["regex"]) for section in ("durations", "timeit-loops")]
    return [*patterns, re.compile(r"\d+(\.\d+)?x\b")]


def execute_and_read_printed_text(path: Path) -> list[str]:
    """Execute the notebook afresh; the text each code cell printed, timings removed."""
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=cell_timeout_s(), kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    patterns = timing_patterns()
    texts = []
    for cell in (c for c in book.cells if c.cell_type == "code"):
        if "# NBVAL_IGNORE_OUTPUT" in cell.source:  # declared volatile, with its reason in the cell
            texts.append("")
            continue
        text = "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")
                       for o in cell.outputs if o.get("name") != "stderr")
        for pattern in patterns:
            text = pattern.sub("TIMING", text)
        texts.append(text)
    return texts


def differences(path: Path) -> list[str]:
    first, second = execute_and_read_printed_text(path), execute_and_read_printed_text(path)
    return [f"{path.name}, code cell {i}: {a!r} != {b!r}"
            for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]


def main(paths: list[str]) -> int:
    problems = [problem for path in paths for problem in differences(Path(path))]
    for problem in problems:
        print(f"NOT DETERMINISTIC: {problem}", file=sys.stderr)
    if not problems:
        print(f"{len(paths)} notebook(s) printed identical results in two runs")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
