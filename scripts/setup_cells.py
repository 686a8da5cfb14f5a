"""Write or check each tutorial's setup section and the README's "Versions tested" table.

Usage: python scripts/setup_cells.py [--check]

The tested window is read from the two requirement files, its only source:
the oldest end is Colab's preinstalled stack (requirements-colab.txt), the
newest end our pins (requirements.txt). Each tutorial's "## Setup" section
(one shared text and two shared cells, collapsed in Colab, Jupyter and the
docs) carries the window for the packages that page imports, since a
notebook opened in Colab cannot read this repository: the first cell holds
the window and `plan()`, the decision (what to pip install, given the
installed versions), and the second acts on it. `make setup-cells` writes
them (then syncs the notebooks); `--check` exits 1 naming each page or table
that differs from what this script would write.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import jupytext

REPO = Path(__file__).resolve().parent.parent
NEWEST = REPO / "requirements.txt"
OLDEST = REPO / "requirements-colab.txt"

# What a page's imports need installed, in the order the window lists them.
PACKAGES_OF_MODULE = {
    "jax": ["jax"],
    "flax": ["flax"],
    "optax": ["optax"],
    "orbax": ["orbax-checkpoint"],
    "tensorflow": ["tensorflow"],
    "tensorflow_datasets": ["tensorflow-datasets"],
    "sklearn": ["scikit-learn"],
    "matplotlib": ["matplotlib"],
}
# The same package under another name in one of the requirement files.
ALIASES = {"tensorflow": ["tensorflow", "tensorflow-cpu"]}
# The fixes TFDS needs on Colab's stack, installed by the pages that use TFDS (the versions are
# the ones the pages were run with there): importlib_resources, which TFDS 4.9.10 imports to
# download a data set without requiring it (tensorflow/datasets#11212; Colab lacks it), and the
# newest tensorflow-metadata built for protobuf 5 (1.21 needs protobuf 6.31 at run time and Colab
# has 5.29: tensorflow/metadata#68).
IMPORTLIB_RESOURCES = "importlib-resources"
TENSORFLOW_METADATA_FOR_PROTOBUF_5 = "1.17.3"

# "## Setup" and its two code cells (with any text between them).
CODE_CELL = r"^```\{code-cell\}[^\n]*\n.*?^```\n"
SETUP_SECTION = re.compile(rf"^## Setup\n.*?{CODE_CELL}.*?{CODE_CELL}", re.MULTILINE | re.DOTALL)
README_TABLE = re.compile(r"(<!-- tested-versions:start.*?-->\n).*?(<!-- tested-versions:end -->)", re.DOTALL)
COLLAPSED = """---
cellView: form
jupyter:
  source_hidden: true
tags: [hide-cell]
---"""

SETUP_TEMPLATE = """\
## Setup

```{{code-cell}} ipython3
{collapsed}
# @title Setup: the versions this page was tested with
from packaging.version import Version

TESTED = {{  # package: (oldest, newest) version this page was run with
{window}}}
NONE = Version("0")  # the version of a package that is not installed


def plan(have: dict[str, Version]) -> dict[str, str]:
    \"\"\"{{requirement: why}} to pip install, given the installed versions.\"\"\"
    why = {{p: "too old" if p in have else "missing"
           for p, (oldest, _) in TESTED.items()
           if have.get(p, NONE) < Version(oldest)}}
    jax, flax = have.get("jax", NONE), have.get("flax", NONE)
    if "flax" in TESTED and jax >= Version("0.11"):  # it needs flax 0.12.10+
        if flax < Version("0.12.10"):
            why.setdefault("flax", f"{{flax}} does not import with jax {{jax}}")
    if why.keys() & {{"jax", "flax"}}:  # upgraded together, so that they match
        why = {{p: "to match" for p in {{"jax", "flax"}} & TESTED.keys()}} | why
    cuda = "[cuda12]" if "jax-cuda12-plugin" in have else ""  # a GPU runtime
    return {{f"{{p}}{{cuda * (p == 'jax')}}=={{TESTED[p][1]}}": reason
            for p, reason in why.items()}}
```

```{{code-cell}} ipython3
{collapsed}
# @title Setup: install what is missing or too old{title_fixes}
import importlib.metadata as metadata
import subprocess
import sys

{fixes_function}have = {{}}
for dist in metadata.distributions():  # the first of each name is imported
    have.setdefault(dist.name.lower().replace("_", "-"), Version(dist.version))
have.setdefault("tensorflow", have.get("tensorflow-cpu", NONE))
if install := plan(have){fixes_call}:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *install],
                   check=True)
    print("Installed", "; ".join(f"{{p}} ({{why}})" for p, why in install.items()))
    modules = metadata.packages_distributions()
    loaded = {{d.lower() for m in list(sys.modules) for d in modules.get(m, [])}}
    if loaded & {{p.split("=")[0].split("[")[0] for p in install}}:
        raise RuntimeError("Restart the runtime, then run this page again")
print("Versions:", ", ".join(f"{{p}} {{have.get(p)}}" for p in TESTED))
```
"""
TFDS_FIXES = """\

def tfds_fixes(have: dict[str, Version]) -> dict[str, str]:
    \"\"\"The two fixes that TensorFlow Datasets 4.9.10 needs on Colab.\"\"\"
    fixes = {{}}
    if "importlib-resources" not in have:  # tensorflow/datasets#11212
        fixes["importlib-resources=={importlib_resources}"] = "TFDS needs it to download"
    if have.get("tensorflow-metadata", NONE) >= Version("1.21") \\
            and have.get("protobuf", NONE) < Version("6.31"):  # metadata#68
        fixes["tensorflow-metadata=={tensorflow_metadata}"] = "1.21 needs a newer protobuf"
    return fixes


"""
# The notebooks' line length (ruff's, and what the docs' code column holds).
CODE_WIDTH = tomllib.loads((REPO / "ruff-notebooks.toml").read_text(encoding="utf-8"))["line-length"]


def setup_cells(notebook: Path) -> list[str]:
    """The sources of the notebook's two setup cells (its first two code cells, collapsed)."""
    cells = [cell for cell in jupytext.read(notebook).cells if cell.cell_type == "code"][:2]
    if len(cells) < 2 or any("hide-cell" not in cell.metadata.get("tags", []) for cell in cells):
        raise LookupError(f"{notebook.name}: the first two code cells are not the collapsed setup cells")
    return [cell.source for cell in cells]


def setup_logic(notebook: Path) -> dict[str, Any]:
    """The setup cells' decisions without their actions: the first cell (the window and `plan`) and
    the functions of the second (`tfds_fixes`), executed; `decide(have)` is what the page installs
    given the installed versions {normalised name: Version}."""
    window_cell, action_cell = setup_cells(notebook)
    namespace: dict[str, Any] = {}
    exec(compile(window_cell, f"<{notebook.name} setup cell 1>", "exec"), namespace)  # noqa: S102
    functions = [node for node in ast.parse(action_cell).body if isinstance(node, ast.FunctionDef)]
    exec(compile(ast.Module(functions, type_ignores=[]), f"<{notebook.name} setup cell 2>", "exec"), namespace)  # noqa: S102
    fixes = namespace.get("tfds_fixes", lambda have: {})
    namespace["decide"] = lambda have: namespace["plan"](have) | fixes(have)
    return namespace


def pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of the `name==version` lines of a requirements file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split(";")[0].split("==")
            found[normalise(name)] = version.strip()
    return found


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def tested_window() -> dict[str, tuple[str, str]]:
    """{package: (oldest, newest)} for every package a tutorial may import."""
    oldest, newest = pins(OLDEST), pins(NEWEST)
    window = {}
    for package in (p for packages in PACKAGES_OF_MODULE.values() for p in packages):
        names = [normalise(name) for name in ALIASES.get(package, [package])]
        ends = [next((end[n] for n in names if n in end), None) for end in (oldest, newest)]
        if None in ends:
            raise SystemExit(f"{package}: not pinned in both {OLDEST.name} and {NEWEST.name}")
        window[package] = (ends[0], ends[1])
    return window


def imported_modules(md: Path) -> set[str]:
    """Top-level modules imported by the page's code: its code cells (the setup cells aside), and the
    script that its `%%writefile` cells write, cell after cell (tutorial 7 runs it in processes)."""
    sources, script = [], []
    for cell in jupytext.read(md).cells:
        if cell.cell_type != "code" or "hide-cell" in cell.metadata.get("tags", []):
            continue
        if cell.source.startswith("%%writefile"):
            script.append(cell.source.split("\n", 1)[1])
        else:
            sources.append("\n".join(line for line in cell.source.splitlines()
                                      if not line.lstrip().startswith(("%", "!"))))
    modules = set()
    for source in [*sources, "\n".join(script)]:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules


def window_lines(window: dict[str, tuple[str, str]]) -> str:
    """The TESTED entries, as many to a line as fit the code column."""
    lines, line = [], "   "
    for package, (oldest, newest) in window.items():
        entry = f' "{package}": ("{oldest}", "{newest}"),'
        if len(line) + len(entry) > CODE_WIDTH:
            lines.append(line)
            line = "   "
        line += entry
    return "".join(f"{line}\n" for line in [*lines, line])


def setup_section(md: Path, window: dict[str, tuple[str, str]]) -> str:
    modules = imported_modules(md)
    packages = [p for module, ps in PACKAGES_OF_MODULE.items() if module in modules for p in ps]
    tfds = "tensorflow-datasets" in packages
    fixes = TFDS_FIXES.format(importlib_resources=pins(NEWEST)[IMPORTLIB_RESOURCES],
                              tensorflow_metadata=TENSORFLOW_METADATA_FOR_PROTOBUF_5)
    return SETUP_TEMPLATE.format(
        collapsed=COLLAPSED, window=window_lines({p: window[p] for p in packages}),
        title_fixes=", and TFDS's fixes" if tfds else "", fixes_function=fixes if tfds else "",
        fixes_call=" | tfds_fixes(have)" if tfds else "")


def with_setup_section(md: Path, window: dict[str, tuple[str, str]]) -> str:
    text = md.read_text(encoding="utf-8")
    if not SETUP_SECTION.search(text):
        raise SystemExit(f"{md}: no '## Setup' section followed by a code cell")
    return SETUP_SECTION.sub(lambda _: setup_section(md, window), text, count=1)


def readme_table(window: dict[str, tuple[str, str]]) -> str:
    rows = "".join(f"| {package} | {oldest} | {newest} |\n"
                   for package, (oldest, newest) in window.items())
    return "| package | oldest: Colab (`make test-colab`) | newest: the lock (`make test`) |\n|---|---|---|\n" + rows


def with_readme_table(text: str, window: dict[str, tuple[str, str]]) -> str:
    if not README_TABLE.search(text):
        raise SystemExit("README.md: no <!-- tested-versions:start --> ... <!-- tested-versions:end --> markers")
    return README_TABLE.sub(lambda m: m[1] + readme_table(window) + m[2], text, count=1)


def updates() -> dict[Path, str]:
    """{file: its text as this script would write it} for every file it manages."""
    window = tested_window()
    texts = {md: with_setup_section(md, window) for md in sorted((REPO / "md").glob("*.md"))}
    readme = REPO / "README.md"
    texts[readme] = with_readme_table(readme.read_text(encoding="utf-8"), window)
    return texts


def main(argv: list[str]) -> int:
    texts = updates()
    changed = [path for path, text in texts.items() if path.read_text(encoding="utf-8") != text]
    if "--check" in argv:
        for path in changed:
            print(f"SETUP CELLS: {path.relative_to(REPO)} differs from the tested window in the "
                  "requirement files; run `make setup-cells`", file=sys.stderr)
        return 1 if changed else 0
    for path in changed:
        path.write_text(texts[path], encoding="utf-8")
        print(f"written: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
