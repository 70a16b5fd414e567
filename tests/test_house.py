"""The house rules the code is read by: equations are named components, and imports run down."""

from __future__ import annotations

import ast
from pathlib import Path

import pyomo.environ as pyo
import pytest

from data.card.inputs import load_card
from data.card.profile import build_profile
from data.fedsllm.inputs import load_fedsllm
from models.card import build_p1
from models.fedsllm import build_problem16, build_problem17
from solvers.card.state import solve_state

ROOT = Path(__file__).resolve().parents[1]


PRODUCTION = ("data", "models", "solvers", "reports")
# Each layer may import only layers of a lower rank: the application above the studies, the studies above
# the two models' solve strategies (siblings: neither imports the other), those above the runtime every
# solve runs on; solvers above models above data; reports read data and result objects, never solvers.
LAYER_RANKS = {
    "solvers.api": 6, "solvers.run": 6,
    "solvers.app": 5,
    "solvers.studies": 4,
    "solvers.fedsllm": 3, "solvers.card": 3,
    "solvers.runtime": 2,
    "models": 1, "reports": 1,
    "data": 0,
}
MATHS = ("solvers.fedsllm", "solvers.card", "solvers.runtime", "solvers.studies", "models")
FRONT_END = ("hydra", "omegaconf", "solvers.app", "solvers.api", "solvers.run")
MAX_FILE_LINES, MAX_FOLDER_FILES, MAX_FOLDER_SHARE = 400, 12, 0.35


def production_files() -> list[Path]:
    return sorted(path for folder in PRODUCTION for path in (ROOT / folder).rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str | None:
    """The longest LAYER_RANKS entry that `module` is or lies under (None: not ours)."""
    matches = [name for name in LAYER_RANKS if module == name or module.startswith(name + ".")]
    return max(matches, key=len, default=None)


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from data.card import generate`
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_imports_run_down():
    wrong = []
    for path in production_files():
        own = layer(module_name(path))
        for module in imports(path):
            theirs = layer(module)
            if theirs is None or theirs == own or module in ("solvers", "data"):
                continue
            if LAYER_RANKS[theirs] >= LAYER_RANKS[own]:
                wrong.append(f"{path.relative_to(ROOT)} ({own}) imports {module} ({theirs})")
    assert not wrong, "\n".join(wrong)


def test_no_two_modules_import_each_other_in_a_circle():
    modules = {module_name(path): path for path in production_files()}
    graph = {name: {m for m in imports(path) if m in modules and m != name} for name, path in modules.items()}
    state: dict[str, str] = {}

    def circle_from(name: str, trail: list[str]) -> list[str] | None:
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                return [*trail, name, other]
            if other not in state and (found := circle_from(other, [*trail, name])):
                return found
        state[name] = "done"
        return None

    circles = [found for name in sorted(graph) if name not in state and (found := circle_from(name, []))]
    assert not circles, circles


def test_maths_packages_import_no_front_end():
    wrong = [f"{path.relative_to(ROOT)} imports {module}" for path in production_files()
             if layer(module_name(path)) in MATHS for module in imports(path)
             if any(module == f or module.startswith(f + ".") for f in FRONT_END)]
    assert not wrong, "\n".join(wrong)


def test_file_and_folder_limits():
    lines = {path: len(path.read_text().splitlines()) for path in production_files()}
    total = sum(lines.values())
    too_long = [f"{p.relative_to(ROOT)}: {n} lines" for p, n in lines.items() if n > MAX_FILE_LINES]
    folders: dict[Path, list[Path]] = {}
    for path in lines:
        folders.setdefault(path.parent, []).append(path)
    crowded = [f"{folder.relative_to(ROOT)}: {len(files)} files" for folder, files in folders.items()
               if len(files) > MAX_FOLDER_FILES]
    heavy = [f"{folder.relative_to(ROOT)}: {sum(lines[f] for f in files) / total:.0%} of the lines"
             for folder, files in folders.items() if sum(lines[f] for f in files) > MAX_FOLDER_SHARE * total]
    assert not (too_long or crowded or heavy), "\n".join(too_long + crowded + heavy)


def test_every_folder_of_code_is_a_package():
    folders = {path.parent for path in production_files()}
    assert all((folder / "__init__.py").exists() for folder in folders)


@pytest.mark.parametrize("build", [lambda i: build_problem17(i, 0.5), build_problem16], ids=["17", "16"])
def test_fedsllm_rows_and_quantities_are_named_by_their_equation(build):
    model = build(load_fedsllm())
    rows = {c.local_name for c in model.component_objects(pyo.Constraint)}
    assert rows == {"eq17a_delay", "eq17b_rate_main", "eq17c_rate_fed", "eq17d_budget_main", "eq17e_budget_fed"}
    quantities = {c.local_name for c in model.component_objects(pyo.Expression)} - {"power_to_noise_main",
                                                                                     "power_to_noise_fed"}
    assert quantities == {"eq8_rounds", "lemma2_local_iterations", "eq10_compute_time", "eq11_rate_main",
                          "eq11_rate_fed", "eq15_user_delay"}
    for component in model.component_objects((pyo.Constraint, pyo.Expression)):
        if component.local_name in quantities | rows:
            tag = component.local_name.split("_")[0]  # eq17b, eq8, lemma2
            expected = f"({tag[2:]})" if tag.startswith("eq") else f"Lemma {tag[5:]}"
            assert expected in component.doc, (component.local_name, component.doc)


def test_card_rows_and_quantities_are_named_by_their_equation():
    inputs = load_card()
    model = build_p1(solve_state(inputs, build_profile(inputs), "Normal").pairs[:2])
    assert {c.local_name for c in model.component_objects(pyo.Constraint)} == {"p1_one_cut", "p1_cost_epigraph"}
    assert {c.local_name for c in model.component_objects(pyo.Expression)} == {
        "eq8_server_compute", "eq10_delay", "eq11_energy", "eq12_cost_if_cut"}
    for component in model.component_objects((pyo.Constraint, pyo.Expression, pyo.Objective)):
        assert "(1" in component.doc or "(8)" in component.doc, component.local_name


@pytest.mark.parametrize("arguments", [["--help"], ["--cfg", "job"], ["eta.stp=0.1"]], ids=["help", "cfg", "refused"])
def test_answers_that_solve_nothing_import_no_numerical_library(arguments):
    """--help, --cfg job and a refused override load neither Pyomo, pandas, matplotlib, Dask nor SciPy; the
    first two answer from the configuration alone, without numpy, openpyxl or pint either, while a refused
    override also names the workbook's problems, so it reads the workbook (`./fedsplit bench startup`
    times them)."""
    import subprocess
    import sys

    probe = ("import runpy, sys\n"
             f"sys.argv = ['solvers.run', *{arguments!r}]\n"
             "try:\n    runpy.run_module('solvers.run', run_name='__main__', alter_sys=True)\n"
             "except SystemExit as stop:\n    code = stop.code\n"
             "print('loaded:', *sorted({m.split('.')[0] for m in sys.modules}), file=sys.__stderr__)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120)
    loaded = set(next(line for line in done.stderr.splitlines() if line.startswith("loaded:")).split()[1:])
    heavy = {"pyomo", "pandas", "matplotlib", "dask", "distributed", "scipy", "cyipopt"}
    if arguments != ["eta.stp=0.1"]:
        heavy |= {"numpy", "openpyxl", "pint"}
    assert not loaded & heavy, sorted(loaded & heavy)
