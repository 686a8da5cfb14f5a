"""Derive requirements-colab.txt, the replica of Colab's runtime, from Colab's published list.

Usage: python scripts/colab_replica.py [--check | --wheels FOLDER | --absent-modules]

colab/pip-freeze.txt is Colab's own list of its CPU runtime's packages (see
colab/README.md). The replica pins every package of it at Colab's version,
except the few listed in NOT_REPLICATED with the reason (a package installed
from outside a package registry, or one that cannot be built without system
libraries); the only additions are the packages the harness needs and Colab
lacks (HARNESS and what they require), resolved by uv against Colab's
versions. `make lock` writes the file (it needs the registry); `--check`,
offline, exits 1 when the file is not what the list and the recorded
additions give, naming what differs (a `make lint` hook).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CPU_LIST = REPO / "colab" / "pip-freeze.txt"
GPU_LIST = REPO / "colab" / "pip-freeze.gpu.txt"
REPLICA = REPO / "requirements-colab.txt"
UV = os.environ.get("UV", "uv")

# What the harness runs notebooks with, at the version the newest end pins (requirements.txt).
HARNESS = ["nbval"]
# Packages of Colab's list that cannot be installed here: {name: (why, the modules they provide)}.
# Those that Colab installs from outside a package registry are found by the script (their modules
# are listed here too); the modules are what tests/colab/probe watches for in `make test-colab`.
NOT_REPLICATED = {
    "python-apt": ("Ubuntu's apt bindings, part of Colab's OS (not on PyPI)", ["apt", "apt_pkg", "aptsources"]),
    "dbus-python": ("builds only against the D-Bus C library of Colab's OS", ["dbus", "_dbus_bindings"]),
    "pygobject": ("builds only against the GObject libraries of Colab's OS", ["gi", "pygtkcompat"]),
    "pycairo": ("builds only against the cairo C library of Colab's OS", ["cairo"]),
    "gdal": ("builds only against the GDAL C library of Colab's OS", ["osgeo", "osgeo_utils"]),
    "rpy2": ("builds only against the R of Colab's OS", ["rpy2"]),
    "cyipopt": ("builds only against the Ipopt library of Colab's OS", ["cyipopt", "ipopt"]),
    "dlib": ("compiles C++ from source for about 10 minutes on 2 cores", ["dlib", "_dlib_pybind11"]),
}
MODULES_OF_SOURCED = {
    "torch": ["torch", "functorch", "torchgen"], "torchaudio": ["torchaudio"], "torchcodec": ["torchcodec"],
    "torchvision": ["torchvision"], "google-colab": ["google.colab"], "jupyter-kernel-gateway": ["kernel_gateway"],
    "en-core-web-sm": ["en_core_web_sm"],
}
HEADER = """\
# Google Colab's runtime, replicated: the oldest end of the tested window.
# Written by `make lock` (scripts/colab_replica.py) from colab/pip-freeze.txt,
# Colab's published list (colab/README.md); do not edit. `make setup-colab` installs
# exactly these packages (uv pip sync), and `make test-colab` runs every page on them.
#
# Every package of Colab's list is pinned below at Colab's version, except these
# {excluded} of its {total}, which no page imports or even looks for (tests/colab/probe):
{not_replicated}#
# Colab's packages ({kept}):
"""
ADDITIONS_HEADER = """\
#
# Not on Colab: the harness's own ({harness}) and what they need, resolved by uv
# against Colab's versions:
"""


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def colab_list(path: Path | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """({name: version} of the `name==version` lines, {name: source} of the `name @ source` lines) of
    Colab's list (the CPU runtime's unless `path` names another)."""
    pinned, sourced = {}, {}
    for line in (path or CPU_LIST).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if "==" in line:
            name, version = line.split("==")
            pinned[name.strip()] = version.strip()
        else:
            name, source = line.split(" @ ")
            sourced[name.strip()] = source.strip()
    return pinned, sourced


def source_reason(source: str) -> str:
    if source.startswith("file:"):
        return f"Colab installs it from its own disk ({source}), not from a package registry"
    where = re.match(r"(git\+)?\w+://[^/]*", source)
    return f"Colab installs it from {where[0] if where else source}, not from a package registry"


def kept_pins() -> dict[str, str]:
    pinned, _ = colab_list()
    return {name: version for name, version in pinned.items() if normalise(name) not in NOT_REPLICATED}


def render(additions: dict[str, str]) -> str:
    """The text of requirements-colab.txt, given the harness's additions {name: version}."""
    pinned, sourced = colab_list()
    reasons = {name: source_reason(source) for name, source in sourced.items()}
    reasons |= {f"{name} {version}": NOT_REPLICATED[normalise(name)][0]
                for name, version in pinned.items() if normalise(name) in NOT_REPLICATED}
    kept = kept_pins()
    text = HEADER.format(excluded=len(reasons), total=len(pinned) + len(sourced), kept=len(kept),
                         not_replicated="".join(f"#   {what}: {why}\n" for what, why in sorted(reasons.items())))
    text += "".join(f"{name}=={version}\n" for name, version in kept.items())
    text += ADDITIONS_HEADER.format(harness=", ".join(HARNESS))
    return text + "".join(f"{name}=={version}\n" for name, version in sorted(additions.items()))


def recorded_additions() -> dict[str, str]:
    """The additions as requirements-colab.txt records them now (the lines after ADDITIONS_HEADER)."""
    text = REPLICA.read_text(encoding="utf-8")
    marker = ADDITIONS_HEADER.format(harness=", ".join(HARNESS))
    if marker not in text:
        return {}
    lines = [line for line in text.split(marker, 1)[1].splitlines() if "==" in line]
    return dict(line.split("==", 1) for line in lines)


def resolve_additions() -> dict[str, str]:
    """uv resolves HARNESS (at the newest end's versions) with Colab's versions as constraints; kept are the
    packages Colab lacks that only the harness needs (Colab leaves out some of its own packages' requirements,
    jedi for IPython, say: the replica leaves them out too)."""
    newest = {normalise(name): version for name, version in pins_of(REPO / "requirements.txt").items()}
    wanted = [f"{name}=={newest[normalise(name)]}" for name in HARNESS]
    colab = {normalise(name) for listed in colab_list() for name in listed}
    with tempfile.TemporaryDirectory() as folder:
        constraints, output = Path(folder) / "colab.txt", Path(folder) / "resolved.txt"
        constraints.write_text("".join(f"{n}=={v}\n" for n, v in kept_pins().items()))
        # What Colab lacks takes the lock's version where it can (uv prefers an output file's pins),
        # so that the replica changes only when the lock or Colab's list does.
        output.write_text("".join(f"{n}=={v}\n" for n, v in newest.items() if n not in colab))
        result = subprocess.run([UV, "pip", "compile", "-", "--constraint", str(constraints), "-o", str(output),
                                 "--python-version", "3.13", "--no-header", "--annotation-style", "line"],
                                input="\n".join(wanted), capture_output=True, text=True)
        resolved_text = output.read_text()
    if result.returncode:
        raise SystemExit(f"uv could not resolve {wanted} against Colab's versions:\n{result.stderr}")
    resolved: dict[str, tuple[str, set[str]]] = {}
    for line in resolved_text.splitlines():
        match = re.match(r"([\w.\-]+)==(\S+)(?:\s+# via (.*))?", line)
        if match:
            parents = {normalise(p.strip()) for p in (match[3] or "").split(",") if not p.strip().startswith("-")}
            resolved[normalise(match[1])] = (f"{match[1]}=={match[2]}", parents)
    harness = {normalise(name) for name in HARNESS}
    needed_by_harness = set(harness)
    changed = True
    while changed:  # everything reached from the harness through packages Colab lacks
        changed = False
        for name, (_, parents) in resolved.items():
            if name not in needed_by_harness and name not in colab and parents & needed_by_harness:
                needed_by_harness.add(name)
                changed = True
    return dict(resolved[name][0].split("==") for name in sorted(needed_by_harness))


def problems() -> list[str]:
    """What differs between requirements-colab.txt and what the list and the recorded additions give."""
    if not REPLICA.is_file():
        return [f"{REPLICA.name} is missing: run `make lock`"]
    expected, actual = render(recorded_additions()).splitlines(), REPLICA.read_text(encoding="utf-8").splitlines()
    return [f"line {i + 1}: {line!r}, expected {want!r}"
            for i, (line, want) in enumerate(zip(actual, expected)) if line != want][:10] + (
        [f"{len(actual)} lines, expected {len(expected)}"] if len(actual) != len(expected) else [])


def absent_modules() -> list[str]:
    """The modules of every package of Colab's list that the replica lacks."""
    _, sourced = colab_list()
    unknown = [name for name in sourced if normalise(name) not in MODULES_OF_SOURCED]
    if unknown:
        raise SystemExit(f"Colab installs {unknown} from outside a registry: add their modules to MODULES_OF_SOURCED")
    return sorted({m for name in sourced for m in MODULES_OF_SOURCED[normalise(name)]}
                  | {m for _, modules in NOT_REPLICATED.values() for m in modules})


def pins_of(path: Path) -> dict[str, str]:
    """{name: version} of a requirements file's `name==version` lines (environment markers dropped)."""
    lines = (line.split("#")[0].split(";")[0].strip() for line in path.read_text(encoding="utf-8").splitlines())
    return dict(line.split("==", 1) for line in lines if "==" in line)


# What the pages' setup cells install on Colab's stack, for TensorFlow Datasets 4.9.10
# (tests/colab/test_replica.py checks that each is needed, both enough, and what the cells ask for).
REPAIRS = {"importlib-resources": "7.1.0", "tensorflow-metadata": "1.17.3"}


def download_wheels(folder: Path) -> None:
    """Put into `folder` the wheels of what the pages install on the replica, and those of the replica's
    own versions of the packages they replace, so that `make test-colab` runs offline: the pages install
    from there (PIP_NO_INDEX, PIP_FIND_LINKS), and uv restores the replica from there between pages."""
    wanted = [f"{name}=={version}" for name, version in REPAIRS.items()]
    wanted += [f"{name}=={version}" for name, version in pins_of(REPLICA).items() if normalise(name) in REPAIRS]
    folder.mkdir(parents=True, exist_ok=True)
    for requirement in wanted:  # one at a time: pip refuses two versions of a package in one call
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", str(folder),
                        requirement], check=True)
    print(f"{folder.relative_to(REPO)}: {', '.join(wanted)}")


def main(argv: list[str]) -> int:
    if "--absent-modules" in argv:
        print(",".join(absent_modules()))
        return 0
    if "--wheels" in argv:
        download_wheels(REPO / argv[argv.index("--wheels") + 1])
        return 0
    if "--check" in argv:
        found = problems()
        for problem in found:
            print(f"COLAB REPLICA: {REPLICA.name}: {problem}; run `make lock`", file=sys.stderr)
        return 1 if found else 0
    REPLICA.write_text(render(resolve_additions()), encoding="utf-8")
    print(f"written: {REPLICA.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
