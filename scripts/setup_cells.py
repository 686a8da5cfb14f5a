"""Write or check each tutorial's setup section and the README's "Versions tested" table.

Usage: python scripts/setup_cells.py [--check]

The tested window is read from the two requirement files, its only source:
the oldest end is Colab's preinstalled stack (requirements-colab.txt), the
newest end our pins (requirements.txt). Each tutorial's "## Setup" section
(one shared text and one shared cell) carries the window for the packages
that page imports, since a notebook opened in Colab cannot read this
repository. The section ends with the page's `SEED` cell (tagged
`parameters`, so that papermill and `make seeds` can run the page with
another seed). `make setup-cells` writes them (then syncs the notebooks);
`--check` exits 1 naming each page or table that differs from what this
script would write.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jupytext

REPO = Path(__file__).resolve().parent.parent
NEWEST = REPO / "requirements.txt"
OLDEST = REPO / "requirements-colab.txt"

# What a page's imports need installed, in the order the window lists them.
PACKAGES_OF_MODULE = {
    "jax": ["jax", "jaxlib"],
    "flax": ["flax"],
    "optax": ["optax"],
    "orbax": ["orbax-checkpoint"],
    "tensorflow": ["tensorflow"],
    "tensorflow_datasets": ["tensorflow-datasets", "importlib_resources"],
    "sklearn": ["scikit-learn"],
    "matplotlib": ["matplotlib"],
}
# The same package under another name in one of the requirement files.
ALIASES = {"tensorflow": ["tensorflow", "tensorflow-cpu"]}
# Needed, in any version: TFDS imports it without declaring it, and Colab's
# published list does not say which version Colab has.
ANY_VERSION = {"importlib_resources"}

# "## Setup", its text and its first code cell, and the SEED cell after it where there is one.
SETUP_SECTION = re.compile(r"^## Setup\n.*?^```\{code-cell\}[^\n]*\n.*?^```\n"
                           r"(\nEvery random choice on this page.*?^SEED = \d+\n```\n)?", re.MULTILINE | re.DOTALL)
README_TABLE = re.compile(r"(<!-- tested-versions:start.*?-->\n).*?(<!-- tested-versions:end -->)", re.DOTALL)

SETUP_TEMPLATE = '''\
## Setup

This page was tested with the versions in the next cell: the oldest are those
Colab has preinstalled, so in Colab it runs as it is. Elsewhere the cell
installs what is missing or too old, then stops: modules already imported keep
their old versions until you restart the runtime (or kernel) and run the page
again. Newer versions than tested usually work; the cell names them in case
something fails.

```{{code-cell}} ipython3
:tags: [hide-cell]

import importlib.metadata
import subprocess
import sys

from packaging.version import Version

TESTED = {{  # package: (oldest, newest) version this page was run with; "0": any version
{window}}}
JAX_FAMILY = {{"jax", "jaxlib", "flax"}}  # installed together, so that they match
CUDA_PLUGINS = ["jax-cuda12-plugin", "jax-cuda13-plugin"]  # on GPU runtimes


def installed(package: str) -> str | None:
    for name in {aliases}.get(package, [package]):
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return None


def plan(versions: dict[str, str | None]) -> tuple[list[str], list[str]]:
    """What to pip install, and what to tell the reader, given the installed versions."""
    install, notes = set(), []
    for package, (oldest, newest) in TESTED.items():
        version = versions.get(package)
        if version is None or Version(version) < Version(oldest):
            install.add(package)
            notes.append(f"{{package}} {{version}} is older than this page needs ({{oldest}})" if version
                         else f"{{package}} is missing")
        elif Version(version) > Version(newest):
            notes.append(f"{{package}} {{version}} is newer than tested; "
                         f"if this page fails: pip install {{package}}=={{newest}}")
    flax, jax = versions.get("flax"), versions.get("jax")
    flax_breaks = flax and jax and Version(flax) < Version("0.12.10") and Version(jax) >= Version("0.11")
    if flax_breaks and "flax" not in install:
        install.add("flax")
        notes.append(f"flax {{flax}} does not import with jax {{jax}}: they must be upgraded together")
    if install & JAX_FAMILY:
        install |= JAX_FAMILY & TESTED.keys()
    cuda = [plugin.split("-")[1] for plugin in CUDA_PLUGINS if versions.get(plugin)]
    extras = f"[{{','.join(cuda)}}]" if cuda else ""
    return sorted(f"{{p}}{{extras if p == 'jax' else ''}}=={{TESTED[p][1]}}" for p in install), notes


install, notes = plan({{package: installed(package) for package in [*TESTED, *CUDA_PLUGINS]}})
print("\\n".join(notes) or f"Within the tested versions: {{', '.join(f'{{p}} {{installed(p)}}' for p in TESTED)}}")
if install:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *install])
    where = "Runtime > Restart session" if "google.colab" in sys.modules else "restart the kernel"
    raise RuntimeError(f"Installed {{' '.join(install)}}. Now {{where}} and run this page again.")
```

Every random choice on this page (initial weights, the order of the training
data, dropout, any split) derives from this one seed. Change it to see how
much the results vary from run to run.

```{{code-cell}} ipython3
:tags: [parameters]

SEED = 0
```
'''


def pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of the `name==version` lines of a requirements file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            found[normalise(name)] = version
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
        window[package] = ("0" if package in ANY_VERSION else ends[0], ends[1])
    return window


def imported_modules(md: Path) -> set[str]:
    """Top-level modules imported by the page's code cells (the setup cell aside)."""
    modules = set()
    for cell in jupytext.read(md).cells:
        if cell.cell_type != "code" or "hide-cell" in cell.metadata.get("tags", []):
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return modules


def setup_section(md: Path, window: dict[str, tuple[str, str]]) -> str:
    modules = imported_modules(md)
    packages = [p for module, ps in PACKAGES_OF_MODULE.items() if module in modules for p in ps]
    lines = "".join(f'    "{p}": ("{window[p][0]}", "{window[p][1]}"),\n' for p in packages)
    return SETUP_TEMPLATE.format(window=lines, aliases=repr(ALIASES).replace("'", '"'))


def with_setup_section(md: Path, window: dict[str, tuple[str, str]]) -> str:
    text = md.read_text(encoding="utf-8")
    if not SETUP_SECTION.search(text):
        raise SystemExit(f"{md}: no '## Setup' section followed by a code cell")
    return SETUP_SECTION.sub(lambda _: setup_section(md, window), text, count=1)


def readme_table(window: dict[str, tuple[str, str]]) -> str:
    rows = "".join(f"| {package} | {'any' if oldest == '0' else oldest} | {newest} |\n"
                   for package, (oldest, newest) in window.items())
    return "| package | oldest: Colab (`make test-colab`) | newest: our pins (`make test`) |\n|---|---|---|\n" + rows


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
