"""The house rules the code is read by: equations are named components, and imports run down."""

from __future__ import annotations

import ast
from pathlib import Path

import pyomo.environ as pyo
import pytest

from data.card import load_card
from data.card_profile import build_profile
from data.fedsllm import load_fedsllm
from models.card import build_p1
from models.fedsllm import build_problem16, build_problem17
from solvers.card import solve_state

ROOT = Path(__file__).resolve().parents[1]


def imported_packages(folder: str) -> set[str]:
    found = set()
    for path in (ROOT / folder).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
    return found


@pytest.mark.parametrize("folder,forbidden", [
    ("reports", {"solvers"}), ("models", {"solvers", "reports"}), ("data", {"solvers", "models", "reports"}),
])
def test_imports_run_down(folder, forbidden):
    assert not imported_packages(folder) & forbidden


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
