"""Run every tutorial with several seeds and record what its asserts check (`make seeds`).

Usage: python scripts/seed_sweep.py [--seeds 0,1,2,3,4] [--timeout S] [notebooks/NAME.ipynb ...]
       python scripts/seed_sweep.py --page     (only rewrite the pages from docs/seeds.json)
       python scripts/seed_sweep.py --check    (the floors and the pages agree with docs/seeds.json)

Each notebook has one `SEED = 0` cell tagged `parameters`. For each seed,
papermill's own parameterisation inserts `SEED = <seed>` after that cell (as
`papermill -p SEED <seed>` does), and nbclient executes the notebook cell by
cell. After every cell that asserts something, a probe reads the numbers the
assert names (`test_accuracy`, `apart`, `moved`, ...), also when the assert
fails, so a seed that breaks a claim is recorded with the value that broke it.

Writes docs/seeds.json (every run: seed, values, error, seconds), the "What to
expect" page docs/expected-results.md generated from it, and each tutorial's
sentence on its range over the sweep (between `<!-- seed-range -->` markers).
`--check` (a `make lint` hook) fails unless every floor a notebook asserts
(`assert NAME >= NUMBER`) is at most the sweep's minimum minus the larger of
FLOOR_MARGIN and SPREAD_MARGIN standard deviations, every notebook is in the
sweep, and the pages match the JSON.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import re
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"
RESULTS = REPO / "docs" / "seeds.json"
PAGE = REPO / "docs" / "expected-results.md"
DEFAULT_SEEDS = [0, 1, 2, 3, 4]
# A floor sits below the lowest result of the sweep by at least FLOOR_MARGIN (0.1 points) and
# at least SPREAD_MARGIN standard deviations of the results: five seeds do not show the worst seed
# a reader may pick, and a small test set (the digits' 450 images) varies more between seeds.
FLOOR_MARGIN = 0.001
SPREAD_MARGIN = 2
FLOOR = re.compile(r"^\s*assert\s+([A-Za-z_]\w*)\s*>=\s*([0-9.]+)", re.MULTILINE)
RANGE_SENTENCE = re.compile(r"<!-- seed-range -->.*?<!-- /seed-range -->", re.DOTALL)
PROBE = """import json as _json
_values = {{}}
for _name in {names!r}:
    try:
        _values[_name] = float(globals()[_name])
    except Exception:
        pass
print("SEED-SWEEP " + _json.dumps(_values))"""


def asserted_floors(book: Any) -> dict[str, float]:
    """{variable: floor} of every `assert NAME >= NUMBER` in the notebook's code cells."""
    return {name: float(floor) for cell in book.cells if cell.cell_type == "code"
            for name, floor in FLOOR.findall(cell.source)}


def asserted_names(source: str) -> list[str]:
    """The variable names in the tests of a cell's assert statements."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return sorted({node.id for statement in ast.walk(tree) if isinstance(statement, ast.Assert)
                   for node in ast.walk(statement.test) if isinstance(node, ast.Name)})


def run_with_seed(path: Path, seed: int, timeout: int) -> dict[str, Any]:
    """Execute the notebook with SEED = seed; the asserted values, the first error and the wall time."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    book = parameterize_notebook(load_notebook_node(str(path)), {"SEED": seed})
    client = NotebookClient(book, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    values: dict[str, float] = {}
    error = None
    start = time.perf_counter()
    with client.setup_kernel():
        for index, cell in enumerate(book.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellExecutionError as failure:
                error = f"code cell {index}: {failure.ename}: {failure.evalue}"
            names = asserted_names(cell.source)
            if names:
                probe = nbformat.v4.new_code_cell(PROBE.format(names=names))
                book.cells.append(probe)  # nbclient writes an executed cell back at its index
                client.execute_cell(probe, len(book.cells) - 1)
                book.cells.pop()
                printed = "".join(o.get("text", "") for o in probe.outputs if o.get("name") == "stdout")
                values |= json.loads(printed.split("SEED-SWEEP ", 1)[1])
            if error:
                break
    return {"seed": seed, "values": values, "error": error, "seconds": round(time.perf_counter() - start, 1)}


def sweep(seeds: list[int], names: list[str], timeout: int) -> dict[str, Any]:
    """Run each notebook with each seed; after each notebook, its runs are written into RESULTS (read
    again just before, so that sweeps of other notebooks running meanwhile keep theirs)."""
    import nbformat

    start = time.perf_counter()
    for name in names:
        path = NOTEBOOKS / f"{name}.ipynb"
        floors = asserted_floors(nbformat.read(path, as_version=4))
        runs = []
        for seed in seeds:
            run = run_with_seed(path, seed, timeout)
            print(f"{name} seed {seed}: {run['values']} {run['error'] or 'ok'} ({run['seconds']} s)", flush=True)
            runs.append(run)
        results = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {"notebooks": {}}
        results["notebooks"][name] = {"floors": floors, "runs": runs}
        results |= {
            "seeds": seeds, "sweep_wall_seconds": round(time.perf_counter() - start),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "versions": {p: version(p) for p in ("jax", "jaxlib", "flax", "optax", "tensorflow-datasets")}
            | {"python": platform.python_version()},
        }
        RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    return results


def current_floors() -> dict[str, dict[str, float]]:
    """{notebook: {variable: floor}} as the notebooks assert them now."""
    import nbformat

    return {path.stem: asserted_floors(nbformat.read(path, as_version=4))
            for path in sorted(NOTEBOOKS.glob("*.ipynb"))}


def summary(entry: dict[str, Any], floors: dict[str, float]) -> dict[str, dict[str, float]]:
    """{floor variable: {min, median, max, stdev, highest_floor}} over the runs."""
    found = {}
    for name in floors:
        values = [run["values"][name] for run in entry["runs"] if name in run["values"]]
        if values:
            stdev = statistics.stdev(values) if len(values) > 1 else 0.0
            found[name] = {"min": min(values), "median": statistics.median(values), "max": max(values),
                           "stdev": stdev, "highest_floor": min(values) - max(FLOOR_MARGIN, SPREAD_MARGIN * stdev)}
    return found


def percent(value: float) -> str:
    return f"{value:.2%}"


def range_sentence(name: str, results: dict[str, Any], floors: dict[str, float]) -> str:
    entry = results["notebooks"][name]
    parts = [f"{percent(s['min'])}–{percent(s['max'])} (median {percent(s['median'])})"
             for s in summary(entry, floors).values()]
    return (f"<!-- seed-range -->With {len(entry['runs'])} different seeds this page reached "
            f"{', '.join(parts)}: see [What to expect](../docs/expected-results.md).<!-- /seed-range -->")


def expected_results_page(results: dict[str, Any], floors: dict[str, dict[str, float]]) -> str:
    rows = []
    for name, entry in sorted(results["notebooks"].items()):
        seconds = statistics.median(run["seconds"] for run in entry["runs"])
        failures = [f"seed {run['seed']}: {run['error']}" for run in entry["runs"] if run["error"]]
        for variable, stats in summary(entry, floors.get(name, {})).items():
            rows.append(f"| [{name}](../notebooks/{name}.ipynb) | `{variable} >= {floors[name][variable]}` | "
                        f"{percent(stats['min'])} | {percent(stats['median'])} | {percent(stats['max'])} | "
                        f"{stats['stdev'] * 100:.2f} points | {seconds:.0f} s | {'; '.join(failures) or 'none'} |")
    versions = ", ".join(f"{p} {v}" for p, v in results["versions"].items())
    every_run = [run for record in results["notebooks"].values() for run in record["runs"]]
    runs, minutes = len(every_run), sum(run["seconds"] for run in every_run) / 60  # over partial re-sweeps too
    return f"""# What to expect

Each tutorial asserts the result its text claims. A claim that holds only for
one seed would break for a reader who changes it, so `make seeds` runs every
tutorial with the seeds {', '.join(map(str, results['seeds']))} (its `SEED` cell, tagged
`parameters`) and records what each assert checks; this page is generated
from that record, `docs/seeds.json`. Every asserted floor sits below the
lowest result over the seeds by at least {FLOOR_MARGIN * 100:.1f} points and at least {SPREAD_MARGIN}
standard deviations of the results (a repository test checks it): five seeds
do not show the worst seed a reader may pick.

Measured on this project's test machine ({results['machine']}, no GPU) with
{versions}. Its {runs} runs took {minutes:.0f} minutes in all.

| tutorial | asserted | min | median | max | std. dev. | run time (median) | failed runs |
|---|---|---:|---:|---:|---:|---:|---|
{chr(10).join(rows)}

Other numbers the tutorials assert (for example that a resumed run is bit
for bit the uninterrupted one) are recorded per seed in `docs/seeds.json`
too; a run in which any assert failed is listed above.
"""


def page_texts(results: dict[str, Any]) -> dict[Path, str]:
    """{file: its text as generated from the results and today's floors} for every file the sweep writes."""
    floors = current_floors()
    texts = {PAGE: expected_results_page(results, floors)}
    for name in results["notebooks"]:
        md = REPO / "md" / f"{name}.md"
        text = md.read_text(encoding="utf-8")
        if RANGE_SENTENCE.search(text):
            texts[md] = RANGE_SENTENCE.sub(lambda _, n=name: range_sentence(n, results, floors[n]), text)
    return texts


def floor_problems(results: dict[str, Any], floors_now: dict[str, dict[str, float]]) -> list[str]:
    """What is wrong between the notebooks' floors ({notebook: {variable: floor}}) and the sweep."""
    problems = []
    for name, floors in sorted(floors_now.items()):
        entry = results["notebooks"].get(name)
        if entry is None:
            problems.append(f"{name}: not in {RESULTS.name}; run `make seeds NB=notebooks/{name}.ipynb`")
            continue
        stats = summary(entry, floors)
        for variable, floor in floors.items():
            if variable not in stats:
                problems.append(f"{name}: the sweep recorded no {variable}; run `make seeds NB=notebooks/{name}.ipynb`")
            elif floor > stats[variable]["highest_floor"] + 1e-9:
                problems.append(f"{name}: asserts {variable} >= {floor}, but the sweep's lowest is "
                                f"{stats[variable]['min']:.4f} (standard deviation {stats[variable]['stdev']:.4f}); "
                                f"the floor must be at most {stats[variable]['highest_floor']:.4f} "
                                "(or improve the recipe)")
        failed = [run["seed"] for run in entry["runs"] if run["error"]]
        if failed:
            problems.append(f"{name}: the sweep failed for seeds {failed}")
    return problems


def check() -> list[str]:
    """What is wrong between the notebooks, the pages and docs/seeds.json."""
    if not RESULTS.is_file():
        return [f"{RESULTS.name} is missing: run `make seeds`"]
    results = json.loads(RESULTS.read_text())
    floors = current_floors()
    problems = [f"{name}: asserts no floor (`assert NAME >= NUMBER`)" for name, found in floors.items() if not found]
    problems += floor_problems(results, floors)
    problems += [f"{path.relative_to(REPO)} is not what {RESULTS.name} gives: run "
                 "`.venv/bin/python scripts/seed_sweep.py --page` (then `make lint`)"
                 for path, text in page_texts(results).items() if path.read_text(encoding="utf-8") != text]
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks/NAME.ipynb (default: all)")
    parser.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)),
                        help="comma-separated seeds (default: %(default)s)")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds a cell may run (default: %(default)s)")
    parser.add_argument("--page", action="store_true", help="only rewrite the pages from docs/seeds.json")
    parser.add_argument("--check", action="store_true", help="only check the floors and pages against the record")
    args = parser.parse_args(argv)
    if args.check:
        found = check()
        for problem in found:
            print(f"SEED SWEEP: {problem}", file=sys.stderr)
        return 1 if found else 0
    if not args.page:
        names = [path.stem for path in args.notebooks] or sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
        results = sweep([int(s) for s in args.seeds.split(",")], names, args.timeout)
        print(f"written: {RESULTS.relative_to(REPO)} ({results['sweep_wall_seconds']} s)")
    for path, text in page_texts(json.loads(RESULTS.read_text())).items():
        path.write_text(text, encoding="utf-8")
        print(f"written: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
