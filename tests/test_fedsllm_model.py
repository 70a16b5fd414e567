"""Problem (17) and the eta search against independent calculations."""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.util.check_units import assert_units_consistent

from data.fedsllm.inputs import load_fedsllm
from models.fedsllm import build_problem17
from solvers.fedsllm.search import EtaGrid, eta_grid_for
from tests.fedsllm_search import solve_fedsllm
from solvers.runtime.ipopt import IpoptSolver, SolveError
from tests.conftest import SPEC_PARAMETERS, reference_scenario, users_table
from tests.reference_fedsllm import solve_reference


def solve_at(inputs, eta):
    model = build_problem17(inputs, eta)
    record = IpoptSolver({"tol": 1e-10}).solve(model)
    if not record.optimal:
        pytest.fail(f"Ipopt did not reach an optimum at eta={eta}: {record.status}")
    return model


def test_units_are_consistent():
    assert_units_consistent(build_problem17(load_fedsllm(), 0.3))


def test_every_component_documents_its_unit():
    model = build_problem17(load_fedsllm(), 0.3)
    for component in model.component_objects(descend_into=True):
        doc = component.doc or ""
        assert doc.rstrip().endswith(")") and "(" in doc, f"{component.name}: doc without a unit: {doc!r}"


@pytest.mark.parametrize("users", [1, 7, 50])
def test_model_size(users, make_workbook):
    from data.fedsllm.generate import ScenarioSettings, draw_users

    inputs = load_fedsllm(make_workbook(draw_users(ScenarioSettings(users=users, seed=3))))
    model = build_problem17(inputs, 0.5)
    variables = sum(1 for _ in model.component_data_objects(pyo.Var))
    constraints = sum(1 for _ in model.component_data_objects(pyo.Constraint))
    assert variables == 4 * users + 1  # T, t_s, t_c, b_s, b_c
    assert constraints == 3 * users + 2  # (17a)-(17c) per user, two budgets


@pytest.mark.parametrize("eta", [0.05, 0.3, 0.8])
def test_identical_users_split_equally(make_workbook, eta):
    """Identical users: by symmetry and convexity each gets B/K; T in closed form."""
    count, gain_db = 4, -105.0
    users = users_table([gain_db] * count, samples=[1500] * count, cycles=[2.5e4] * count)
    parameters = {"bandwidth_main_hz": 10e6, "bandwidth_fed_hz": 2e6}
    model = solve_at(load_fedsllm(make_workbook(users, parameters)), eta)

    p = {**SPEC_PARAMETERS, **parameters}
    a = 2 * p["L"] ** 2 / (p["gamma"] ** 2 * p["xi"]) * math.log(1 / p["eps0"])
    v = 2 / ((2 - p["L"] * p["delta"]) * p["delta"] * p["gamma"])
    c = 10 ** (gain_db / 10) * 10 ** ((10 - 30) / 10) / 10 ** ((-174 - 30) / 10)  # g p / N0 (Hz)

    def rate(b):
        return b * math.log2(1 + c / b)

    tau = v * 2.5e4 * 1500 * math.log2(1 / eta) * (0.1 / 2e9 + 0.9 / 20e9)
    expected_T = a / (1 - eta) * (tau + p["model_upload_bits"] / rate(2e6 / count)
                                  + v * math.log2(1 / eta) * p["smashed_bits"] / rate(10e6 / count))
    assert pyo.value(model.T) == pytest.approx(expected_T, rel=1e-7)
    for k in model.users:
        assert model.bandwidth_main[k].value == pytest.approx(10.0 / count, rel=1e-6)
        assert model.bandwidth_fed[k].value == pytest.approx(2.0 / count, rel=1e-6)


SMALL_CASES = {
    "two users": dict(gains=[-95.0, -112.0], parameters={}),
    "three users, B_s != B_c": dict(gains=[-100.0, -108.0, -118.0],
                                   parameters={"bandwidth_main_hz": 15e6, "bandwidth_fed_hz": 3e6}),
    "weak channel": dict(gains=[-98.0, -104.0, -150.0],
                         parameters={"bandwidth_main_hz": 20e6, "bandwidth_fed_hz": 5e6}),
    "unequal powers and fast clients": dict(gains=[-90.0, -120.0], power=[(0.0, 20.0), (23.0, 5.0)],
                                            parameters={"server_cpu_max_hz": 4e9, "client_share_min": 0.3}),
}


def small_case_users(case):
    count = len(case["gains"])
    rng = np.random.default_rng(count)
    users = users_table(case["gains"], samples=rng.integers(500, 2000, count), cycles=rng.uniform(1e4, 3e4, count))
    for index, (main_dbm, fed_dbm) in enumerate(case.get("power", [])):
        users["power_main_max_dbm"][index], users["power_fed_max_dbm"][index] = main_dbm, fed_dbm
    return users


@pytest.mark.parametrize("name", list(SMALL_CASES))
@pytest.mark.parametrize("eta", [0.2, 0.85])
def test_small_cases_match_the_independent_solution(make_workbook, name, eta):
    case = SMALL_CASES[name]
    users = small_case_users(case)
    model = solve_at(load_fedsllm(make_workbook(users, case["parameters"])), eta)
    reference = solve_reference(reference_scenario(users, case["parameters"]), eta)
    assert pyo.value(model.T) == pytest.approx(reference.T, rel=1e-6)
    budget_main = {**SPEC_PARAMETERS, **case["parameters"]}["bandwidth_main_hz"]
    budget_fed = {**SPEC_PARAMETERS, **case["parameters"]}["bandwidth_fed_hz"]
    for index, k in enumerate(model.users):
        assert model.bandwidth_main[k].value * 1e6 == pytest.approx(reference.bandwidth_main_hz[index],
                                                                    abs=1e-5 * budget_main)
        assert model.bandwidth_fed[k].value * 1e6 == pytest.approx(reference.bandwidth_fed_hz[index],
                                                                   abs=1e-5 * budget_fed)
        assert model.time_main[k].value == pytest.approx(reference.time_main_s[index], rel=1e-4)


def test_default_workbook_matches_the_independent_solution():
    inputs = load_fedsllm()
    model = solve_at(inputs, 0.6)
    users = {name: inputs.column(name) for name in inputs.users}
    reference = solve_reference(reference_scenario(users), 0.6)
    assert pyo.value(model.T) == pytest.approx(reference.T, rel=1e-6)


def test_eta_search_finds_the_brute_force_optimum(make_workbook):
    """Grid + refinement against a dense sweep of fresh, cold solves."""
    users = small_case_users(SMALL_CASES["three users, B_s != B_c"])
    parameters = {**SMALL_CASES["three users, B_s != B_c"]["parameters"], "eta_step": 0.05}
    inputs = load_fedsllm(make_workbook(users, parameters))
    result, _ = solve_fedsllm(inputs, eta_grid_for(inputs), IpoptSolver())

    brute_etas = np.arange(0.002, 0.999, 0.002)
    brute_T = np.array([pyo.value(solve_at(inputs, float(eta)).T) for eta in brute_etas])
    best = int(np.argmin(brute_T))
    assert result.best.T <= brute_T[best] * (1 + 1e-9)
    assert result.best.T >= brute_T[best] * (1 - 1e-5)
    assert abs(result.best.eta - brute_etas[best]) <= 0.002
    # and the optimum itself against the independent solution at that eta
    reference = solve_reference(reference_scenario(users, parameters), result.best.eta)
    assert result.best.T == pytest.approx(reference.T, rel=1e-6)


def test_eta_grid_points():
    assert EtaGrid(0.01, 0.01, 0.99).points() == [round(k / 100, 12) for k in range(1, 100)]
    assert EtaGrid(0.25, 0.25, 0.75).points() == [0.25, 0.5, 0.75]


def test_iteration_limit_gives_a_clear_solver_error(make_workbook):
    inputs = load_fedsllm(make_workbook(users_table([-100.0, -110.0]), {"eta_step": 0.25}))
    with pytest.raises(SolveError) as caught:
        solve_fedsllm(inputs, eta_grid_for(inputs), IpoptSolver({"max_iter": 1}))
    message = str(caught.value)
    assert len(caught.value.failures) == 3
    for eta in ("0.25", "0.5", "0.75"):
        assert f"eta = {eta} (grid): Ipopt stopped with status 'maxIterations'" in message
    assert "raise solver.max_iter" in message
