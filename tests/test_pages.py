"""What a learner sees of each page, in the parts a test can measure, and what a strict run compares.

The first screen reaches the subject: one short setup cell, collapsed in every viewer that can
collapse it (GitHub shows it whole). The harness stays out of sight (cell tags, not comments), and
every cell runs when a page runs top to bottom, as Colab's "Run all" does. Cells are short, links
work, stored outputs hold nothing a learner should not see, and every number in them is masked
from the strict comparison, so that it passes on any CPU and with any seed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import jupytext
import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell
from nbval.plugin import get_sanitize_patterns

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
MAX_CODE_LINES_BEFORE_SUBJECT = 12
MAX_CELL_LINES = 30
GITHUB_REPO = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["jax-mnist-tutorials"]["github-repo"]
# What libraries write when they start or log (TensorFlow's and absl's C++ lines, Gloo's, XLA's),
# and a machine's paths.
NOT_FOR_LEARNERS = re.compile(r"^(WARNING: All log messages|[IWEF]\d{4} |\[Gloo\]|.*oneDNN custom operations|"
                              r".*(Unable to register cu|cuInit|TensorRT)|.*(/tmp/|/home/|/root/|ipykernel_))",
                              re.MULTILINE)
LINK = re.compile(r"\]\(([^)\s#]+)(#[^)]*)?\)")


def pages() -> list[nbformat.NotebookNode]:
    return [jupytext.read(path) for path in NOTEBOOKS]


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.stem)
def notebook(request: pytest.FixtureRequest) -> Path:
    return request.param


def code_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


def cells_before_subject(path: Path) -> list[nbformat.NotebookNode]:
    """The cells above the first section after "## Setup": title, introduction, setup."""
    cells = nbformat.read(path, as_version=4).cells
    setup_seen = False
    for index, cell in enumerate(cells):
        lines = cell.source.splitlines() if cell.cell_type == "markdown" else []
        headings = [line for line in lines if line.startswith("## ")]
        if setup_seen and headings:
            return cells[:index]
        setup_seen |= "## Setup" in headings
    raise AssertionError("no section after ## Setup")


def setup_cell(path: Path) -> nbformat.NotebookNode:
    (cell,) = [cell for cell in cells_before_subject(path) if cell.cell_type == "code"]
    return cell


def test_one_short_setup_cell_collapsed_wherever_cells_collapse(notebook: Path) -> None:
    cell = setup_cell(notebook)
    lines = [line for line in cell.source.splitlines() if line.strip()]
    assert len(lines) <= MAX_CODE_LINES_BEFORE_SUBJECT, f"{len(lines)} code lines before the subject"
    assert cell.source.startswith("# @title ")  # Colab shows the title of a form
    assert cell.metadata.get("cellView") == "form"  # Colab
    assert cell.metadata.get("jupyter", {}).get("source_hidden") is True  # Jupyter
    assert "hide-cell" in cell.metadata.get("tags", [])  # the docs


def pip_arguments(cell_source: str) -> list[str]:
    """What the setup cell passes to `%pip`, computed by running the cell with %pip captured."""
    shell = InteractiveShell.instance()
    calls: list[str] = []
    shell.register_magic_function(calls.append, "line", "pip")
    assert shell.run_cell(cell_source).success
    (call,) = calls
    return call.split()


def test_setup_asks_for_the_oldest_tested_versions(notebook: Path) -> None:
    """Its floors are Colab's versions, the oldest end of the tested window (requirements-colab.txt)."""
    colab = dict(line.split("==") for line in (REPO / "requirements-colab.txt").read_text().splitlines()
                 if "==" in line and not line.startswith("#"))
    source = setup_cell(notebook).source.replace("{tf_package}", "tensorflow")
    floors = dict(re.findall(r'"([\w-]+)>=([\w.]+)"', source))
    assert floors and {name: colab[name] for name in floors} == floors


def test_setup_installs_nothing_at_the_newest_end(notebook: Path, tmp_path: Path) -> None:
    arguments = pip_arguments(setup_cell(notebook).source)
    assert arguments[0] == "install"
    requirements = [argument.strip("\"'") for argument in arguments[1:] if not argument.startswith("-")]
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--no-index", "--quiet",
                    "--report", str(report), *requirements], check=True)
    assert json.loads(report.read_text())["install"] == []


# The one XLA flag a lesson may set: tutorial 5's exact resumption needs deterministic GPU kernels.
LESSON_XLA_FLAGS = {"--xla_gpu_deterministic_ops=true"}


def test_the_harness_stays_out_of_the_lessons(notebook: Path) -> None:
    """nbval's cell tags, not comments; no cell that raises, so that "Run all" runs every cell;
    no XLA flag for speed."""
    for cell in code_cells(notebook):
        assert "NBVAL_" not in cell.source, cell.source.splitlines()[0]
        assert "raises-exception" not in cell.metadata.get("tags", []), cell.source.splitlines()[0]
        flags = set(re.findall(r"--xla_\w+(?:=\S*?)?(?=[\s\"'])", cell.source))
        assert flags <= LESSON_XLA_FLAGS, flags


def test_no_code_cell_is_longer_than_a_screen(notebook: Path) -> None:
    """A script that a page writes to a file (`%%writefile`) is read as one program: it may be longer."""
    long = {cell.source.splitlines()[0]: len(cell.source.splitlines()) for cell in code_cells(notebook)
            if len(cell.source.splitlines()) > MAX_CELL_LINES and not cell.source.startswith("%%writefile")}
    assert long == {}, f"cells over {MAX_CELL_LINES} lines (first line: length)"


def test_stored_outputs_show_only_what_a_learner_should_see(notebook: Path) -> None:
    found = []
    for index, cell in enumerate(code_cells(notebook)):
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stderr":
                found.append(f"code cell {index}: stderr {output.text[:80]!r}")
            elif output.output_type == "stream" and NOT_FOR_LEARNERS.search(output.text):
                found.append(f"code cell {index}: {NOT_FOR_LEARNERS.search(output.text)[0][:80]!r}")
            elif output.output_type == "error":
                found.append(f"code cell {index}: an error, {output.ename}")
            elif output.output_type == "execute_result" and set(output.data) == {"text/plain"}:
                found.append(f"code cell {index}: a bare value {output.data['text/plain'][:80]!r}")
    assert found == []


def sanitized(text: str) -> str:
    """As nbval sanitizes an output before comparing it."""
    for regex, replace in get_sanitize_patterns((REPO / "nbval-sanitize.cfg").read_text()):
        text = re.sub(regex, replace, text)
    return text


NUMBER = re.compile(r"\b0x[0-9a-fA-F]+|\d[\d,._]*")


def another_run(text: str) -> str:
    """`text` as another CPU or seed might print it: every number other, some longer, some negative."""
    count = 0

    def other(number: re.Match) -> str:
        nonlocal count
        count += 1
        if number[0].startswith("0x"):  # an address
            return "0x" + "".join(f"{(int(c, 16) + 5) % 16:x}" for c in number[0][2:])
        digits = re.sub(r"\d", lambda d: str((int(d[0]) + 3) % 10), number[0]) + "7" * (count % 2)
        before = text[number.start() - 1] if number.start() else " "
        return ("-" if count % 3 == 0 and before in " (\n[" else "") + digits

    return NUMBER.sub(other, text)


def compared_texts(notebook: Path) -> list[str]:
    """What a strict nbval run compares of the stored outputs (not images, stderr, or the cells tagged
    nbval-ignore-output)."""
    texts = []
    for cell in code_cells(notebook):
        if "nbval-ignore-output" in cell.metadata.get("tags", []):
            continue
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stdout":
                texts.append(output.text)
            for kind, value in output.get("data", {}).items():
                if not kind.startswith("image/") or kind == "image/svg+xml":
                    texts.append(value if isinstance(value, str) else json.dumps(value))
    return texts


def test_a_strict_run_compares_no_number(notebook: Path) -> None:
    """Every number in the stored outputs is masked: on another CPU, or with another seed, they differ."""
    texts = compared_texts(notebook)
    assert texts, "no output to compare"
    for text in texts:
        assert sanitized(another_run(text)) == sanitized(text), text[:200]


def test_the_number_check_catches_an_unmasked_number() -> None:
    assert sanitized(another_run("73 of 10000 test digits wrong")) == sanitized("73 of 10000 test digits wrong")
    assert another_run("73 wrong") != "73 wrong" and sanitized("step 7") != sanitized("stop 7")


def test_the_colab_badge_opens_this_notebook(notebook: Path) -> None:
    md = (REPO / "md" / f"{notebook.stem}.md").read_text(encoding="utf-8")
    badges = re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", md)
    assert badges == [f"{GITHUB_REPO}/blob/main/notebooks/{notebook.name}"]


def test_relative_links_work_from_md_and_from_notebooks(notebook: Path) -> None:
    """A link is written once, in the md twin, and jupytext copies it into the notebook: it must
    resolve from md/ (GitHub) and from notebooks/ (GitHub, Colab and the docs)."""
    md = (REPO / "md" / f"{notebook.stem}.md").read_text(encoding="utf-8")
    targets = [target for target, _ in LINK.findall(md) if not re.match(r"[a-z]+:", target)]
    broken = [f"{target} (from {folder}/)" for target in targets for folder in ("md", "notebooks")
              if not (REPO / folder / target).resolve().is_file()]
    assert broken == []
