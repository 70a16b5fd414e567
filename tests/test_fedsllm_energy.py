"""Problem (E), the least energy under a delay limit, against independent computations
(tests/reference_fedsllm_energy.py: a closed form for identical users, brute force over clocks and powers)."""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.util.check_units import assert_units_consistent

from data.fedsllm.inputs import load_fedsllm
from data.fedsllm.generate import fedsllm_inputs_in_memory
from models.fedsllm_energy import build_problem_e, fix_equal_split, relaxed_rounds_and_log2, set_start
from solvers.fedsllm.energy.bound import EtaBranchAndBound
from solvers.fedsllm.energy.certificate import allocation_checks
from solvers.fedsllm.energy.scenario import EnergyScenario, allocation_with_energy
from solvers.fedsllm.energy.search import EnergySearch, Strategy
from solvers.fedsllm.energy.structured import solve_energy_structured
from solvers.fedsllm.engines import Allocation
from solvers.fedsllm.search import EtaGrid
from solvers.fedsllm.structured import solve_structured
from solvers.runtime.ipopt import IpoptSolver
from tests.conftest import SPEC_PARAMETERS, users_table
from tests.reference_fedsllm_energy import brute_force_equal_split, energy_case, identical_users

IDENTICAL = users_table([-105.0] * 4, samples=[1500] * 4, cycles=[2.5e4] * 4)
MIXED = users_table([-96.0, -104.0, -113.0], samples=[900, 1300, 1100], cycles=[1.2e4, 2.9e4, 2.0e4])
PARAMETERS = {**SPEC_PARAMETERS, "bandwidth_main_hz": 10e6, "bandwidth_fed_hz": 2e6, "kappa": 2e-28}


def scenario_of(users, parameters=PARAMETERS) -> EnergyScenario:
    return EnergyScenario.from_inputs(fedsllm_inputs_in_memory(users, parameters))


def structured_at(scenario, eta, max_delay_s, equal_split=False):
    rounds, log2_inverse = relaxed_rounds_and_log2(scenario.split.a, eta, eta)
    point, _ = solve_energy_structured(scenario, rounds, log2_inverse, max_delay_s, eta, equal_split)
    assert point.status == "optimal", point.status
    return point


def ipopt_at(users, eta, max_delay_s, equal_split=False, parameters=PARAMETERS):
    """Ipopt on the Pyomo model of (E), cold from the delay optimum at max clocks (or the equal split)."""
    inputs = fedsllm_inputs_in_memory(users, parameters)
    scenario = EnergyScenario.from_inputs(inputs)
    model = build_problem_e(inputs, eta, max_delay_s)
    split = scenario.split
    if equal_split:
        fix_equal_split(model)
        main, fed = split.equal_split_times_s()
        count = split.user_count
        start = (main, fed, np.full(count, split.bandwidth_main_hz / count), np.full(count, split.bandwidth_fed_hz / count))
    else:
        delay = solve_structured(split, eta)
        start = (delay.time_main_s, delay.time_fed_s, delay.bandwidth_main_hz, delay.bandwidth_fed_hz)
    set_start(model, split.client_cpu_hz / 1e9, split.server_cpu_hz / 1e9, start[0], start[1], start[2] / 1e6,
              start[3] / 1e6)
    model.energy_scale.set_value(pyo.value(model.eqE5_total_energy))
    record = IpoptSolver({"tol": 1e-10}).solve(model)
    assert record.optimal, record.status
    model.energy_scale.set_value(pyo.value(model.eqE5_total_energy))  # Ipopt's tolerance relative to E*
    assert IpoptSolver({"tol": 1e-11}).solve(model, warm=True).optimal
    return model


# --- The model: units, documentation, names ------------------------------------------------------------

def test_units_are_consistent_in_both_forms():
    model = build_problem_e(load_fedsllm(), 0.5, 150.0)
    assert_units_consistent(model)
    fix_equal_split(model)
    assert_units_consistent(model)


def test_every_component_documents_its_unit_and_equation():
    model = build_problem_e(load_fedsllm(), 0.5, 150.0)
    for component in model.component_objects(descend_into=True):
        doc = component.doc or ""
        assert doc.rstrip().endswith(")") and "(" in doc, f"{component.name}: doc without a unit: {doc!r}"
    rows = {c.local_name for c in model.component_objects(pyo.Constraint)}
    assert rows == {"eqEa_delay", "eq16f_power_main", "eq16f_power_fed", "eq16d_budget_main", "eq16e_budget_fed"}
    for component in model.component_objects((pyo.Constraint, pyo.Expression)):
        tag = component.local_name.split("_")[0]
        if tag.startswith("eq"):
            assert f"({tag[2:]})" in component.doc, (component.local_name, component.doc)


# --- Identical users: the closed form of the reference -------------------------------------------------

@pytest.mark.parametrize("eta,factor", [(0.3, 1.1), (0.6, 1.3), (0.85, 2.0), (0.6, 6.0)])
def test_identical_users_against_the_closed_form(eta, factor):
    """By symmetry each user gets B/K; the reference solves one user's clock, power and time by 1-D roots."""
    scenario = scenario_of(IDENTICAL)
    max_delay = factor * solve_structured(scenario.split, eta).T
    reference = identical_users(energy_case(PARAMETERS, IDENTICAL), eta, max_delay)
    point = structured_at(scenario, eta, max_delay)
    assert point.lower_j <= reference["energy_j"] * (1 + 1e-12) <= point.upper_j * (1 + 1e-11)
    assert point.upper_j == pytest.approx(reference["energy_j"], rel=1e-9)
    allocation = point.allocation
    np.testing.assert_allclose(allocation.bandwidth_main_hz, PARAMETERS["bandwidth_main_hz"] / 4, rtol=1e-8)
    np.testing.assert_allclose(allocation.bandwidth_fed_hz, PARAMETERS["bandwidth_fed_hz"] / 4, rtol=1e-8)
    assert allocation.server_cpu_hz == pytest.approx(reference["server_hz"], rel=1e-6)
    np.testing.assert_allclose(allocation.client_cpu_hz, reference["client_hz"], rtol=1e-6)
    np.testing.assert_allclose(allocation.time_main_s, reference["time_main_s"], rtol=1e-6)
    model = ipopt_at(IDENTICAL, eta, max_delay)
    assert pyo.value(model.eqE5_total_energy) == pytest.approx(reference["energy_j"], rel=1e-7)
    assert pyo.value(model.eqE5_total_energy) >= point.lower_j * (1 - 1e-9)


def test_the_search_over_eta_finds_the_reference_optimum():
    """E*(eta) of the closed form minimised over eta by scipy; the grid + Brent search agrees."""
    from scipy.optimize import minimize_scalar

    scenario, case = scenario_of(IDENTICAL), energy_case(PARAMETERS, IDENTICAL)
    least = min(solve_structured(scenario.split, eta).T for eta in np.linspace(0.05, 0.95, 19))
    max_delay = 1.5 * least
    grid = EtaGrid(0.05, 0.05, 0.95)
    feasible = [eta for eta in grid.points() if solve_structured(scenario.split, eta).T <= max_delay]
    best = min(feasible, key=lambda eta: identical_users(case, eta, max_delay)["energy_j"])
    found = minimize_scalar(lambda eta: identical_users(case, eta, max_delay)["energy_j"],
                            bounds=(best - 0.05, best + 0.05), method="bounded", options={"xatol": 1e-7})
    search = EnergySearch(fedsllm_inputs_in_memory(IDENTICAL, PARAMETERS), IpoptSolver(), max_delay, Strategy("Proposed"))
    delay_optimum = optimum_allocation(scenario, best)
    result = search.run(grid, 1e-7, delay_optimum)
    assert result.best.energy_j == pytest.approx(found.fun, rel=1e-7)
    assert result.best.eta == pytest.approx(found.x, abs=1e-4)
    assert all(result.best.energy_j <= p.energy_j * (1 + 1e-12) for p in result.points if p.record.optimal)


def optimum_allocation(scenario, eta) -> Allocation:
    point = solve_structured(scenario.split, eta)
    return Allocation(eta, point.T, point.bandwidth_main_hz / 1e6, point.bandwidth_fed_hz / 1e6, point.time_main_s,
                      point.time_fed_s)


# --- Brute force over clocks and powers, K = 1-3 ---------------------------------------------------------

@pytest.mark.parametrize("users,equal_split,factor", [
    (users_table([-100.0], samples=[1000], cycles=[2e4]), False, 1.4),  # K = 1: the user has the whole band
    (users_table([-98.0, -112.0], samples=[800, 1400], cycles=[2.8e4, 1.1e4]), True, 1.6),
    (MIXED, True, 1.5),
])
def test_against_brute_force_over_clocks_and_powers(users, equal_split, factor):
    """The engine's optimum is no worse than the best grid point and within the grid's resolution of it;
    Ipopt on the model agrees with the engine."""
    eta = 0.6
    scenario = scenario_of(users)
    least = scenario.split.equal_split_delay_s(eta)  # K = 1: the equal split is the only split
    max_delay = factor * least
    brute = brute_force_equal_split(energy_case(PARAMETERS, users), eta, max_delay)
    point = structured_at(scenario, eta, max_delay, equal_split)
    assert point.upper_j <= brute * (1 + 1e-9)
    assert brute <= point.upper_j * (1 + 2e-3)
    model = ipopt_at(users, eta, max_delay, equal_split)
    assert pyo.value(model.eqE5_total_energy) == pytest.approx(point.upper_j, rel=1e-7)


# --- Two solvers at every grid point; the front; the bound over eta ----------------------------------------

def test_structured_and_ipopt_agree_over_the_grid():
    inputs = fedsllm_inputs_in_memory(MIXED, PARAMETERS)
    scenario = EnergyScenario.from_inputs(inputs)
    max_delay = 1.3 * min(solve_structured(scenario.split, eta).T for eta in np.linspace(0.1, 0.9, 9))
    searches = {engine: EnergySearch(inputs, IpoptSolver(), max_delay, Strategy("Proposed"), engine=engine)
                for engine in ("structured", "ipopt")}
    for eta in (0.2, 0.4, 0.6, 0.8):
        if not searches["structured"].feasible(eta):
            continue
        structured = searches["structured"].solve_at(eta, "grid")
        ipopt = searches["ipopt"].solve_at(eta, "grid")
        assert ipopt.energy_j == pytest.approx(structured.energy_j, rel=1e-7)
        assert structured.lower_bound_j <= ipopt.energy_j * (1 + 1e-9)


def test_the_least_energy_falls_as_the_delay_limit_grows_and_meets_the_delay_optimum_at_t_star():
    """E*(T_max) is non-increasing; at T_max = T* it is the delay optimum's energy, clocks and powers at
    their maxima (computed here by the spec's formulas from that allocation)."""
    inputs = fedsllm_inputs_in_memory(MIXED, PARAMETERS)
    scenario = EnergyScenario.from_inputs(inputs)
    from scipy.optimize import minimize_scalar

    grid = EtaGrid(0.05, 0.05, 0.95)
    best_eta = min(grid.points(), key=lambda eta: solve_structured(scenario.split, eta).T)
    best_eta = float(minimize_scalar(lambda eta: solve_structured(scenario.split, eta).T, method="bounded",
                                     bounds=(best_eta - 0.05, best_eta + 0.05), options={"xatol": 1e-10}).x)
    optimum = optimum_allocation(scenario, best_eta)  # T*, to the structured engine's 1e-9
    energies = []
    for factor in (1.0, 1.0 + 1e-8, 1.0 + 1e-6, 1.02, 1.2, 1.6, 2.5, 4.0):
        search = EnergySearch(inputs, IpoptSolver(), factor * optimum.T, Strategy("Proposed"))
        energies.append(search.run(grid, 1e-6, optimum).best.energy_j)
    assert all(later <= earlier * (1 + 1e-9) for earlier, later in zip(energies, energies[1:]))
    assert energies[-1] < 0.5 * energies[0]
    p, case = PARAMETERS, energy_case(PARAMETERS, MIXED)
    rounds, log2_inverse = case.a / (1 - best_eta), math.log2(1 / best_eta)
    by_hand = rounds * np.sum(case.kappa * case.share * case.cycles * log2_inverse * case.client_cpu_hz ** 2
                              + case.server_kappa * (1 - case.share) * case.cycles * log2_inverse * p["server_cpu_max_hz"] ** 2
                              + case.v * log2_inverse * case.power_main_w * optimum.time_main_s
                              + case.power_fed_w * optimum.time_fed_s)
    assert energies[0] == pytest.approx(by_hand, rel=1e-12)
    # continuous at T*, steeply: a slack eps opens an eta range ~ sqrt(eps) around eta*, and E*(eta) has a
    # slope there, so the drop shrinks about as sqrt(eps) (10x for 100x less slack)
    drops = [1 - energies[1] / energies[0], 1 - energies[2] / energies[0]]
    assert 0 <= drops[0] < drops[1] / 5


def test_an_interval_relaxation_bounds_every_eta_in_it():
    """The monotone relaxation on [e1, e2] lies below E*(eta) at every eta of a dense grid inside it."""
    inputs = fedsllm_inputs_in_memory(MIXED, PARAMETERS)
    scenario = EnergyScenario.from_inputs(inputs)
    max_delay = 1.4 * min(solve_structured(scenario.split, eta).T for eta in np.linspace(0.1, 0.9, 17))
    search = EnergySearch(inputs, IpoptSolver(), max_delay, Strategy("Proposed"))
    rng = np.random.default_rng(4)
    for _ in range(4):
        low = float(rng.uniform(0.3, 0.8))
        high = low + float(rng.uniform(0.005, 0.1))
        etas = [eta for eta in np.linspace(low, high, 12) if search.feasible(eta)]
        if not etas:
            continue
        _, bound = search.engine.solve_relaxed(low, high, "test")
        least = min(structured_at(scenario, eta, max_delay).lower_j for eta in etas)
        assert bound <= least * (1 + 1e-9)


def test_the_arc_of_theta_lies_in_its_triangle():
    """The second-order bound's premise: theta(eta) for eta in [e1, e2] lies inside the triangle of the ends
    and the end tangents (checked on a dense sample of eta, barycentric coordinates >= 0)."""
    from solvers.fedsllm.energy.bound import arc_triangle, theta

    for low, high in ((0.01, 0.2), (0.3, 0.31), (0.5, 0.9), (0.9, 0.999)):
        (x1, y1), (x2, y2), (x3, y3) = [(t2, t1) for t1, t2 in arc_triangle(160.0, low, high)]
        for eta in np.linspace(low, high, 200)[1:-1]:
            t1, t2 = theta(160.0, float(eta))
            det = (y2 - y3) * (x1 - x3) + (x3 - x2) * (y1 - y3)
            first = ((y2 - y3) * (t2 - x3) + (x3 - x2) * (t1 - y3)) / det
            second = ((y3 - y1) * (t2 - x3) + (x1 - x3) * (t1 - y3)) / det
            assert min(first, second, 1 - first - second) >= -1e-9, (low, high, eta)


def test_the_branch_and_bound_certifies_the_search_optimum_over_every_eta():
    inputs = fedsllm_inputs_in_memory(MIXED, PARAMETERS)
    scenario = EnergyScenario.from_inputs(inputs)
    grid = EtaGrid(0.05, 0.05, 0.95)
    best_eta = min(grid.points(), key=lambda eta: solve_structured(scenario.split, eta).T)
    search = EnergySearch(inputs, IpoptSolver(), 1.3 * solve_structured(scenario.split, best_eta).T,
                          Strategy("Proposed"))
    search.run(grid, 1e-6, optimum_allocation(scenario, best_eta))
    bound = EtaBranchAndBound(search, 1e-6).run()
    assert bound.certified and bound.gap <= 1e-6
    dense = [eta for eta in np.linspace(bound.domain[0], bound.domain[1], 120) if search.feasible(eta)]
    assert min(structured_at(scenario, eta, search.result.max_delay_s).upper_j for eta in dense) \
        >= bound.lower_bound_j * (1 - 1e-12)


def test_the_numpy_checks_catch_an_allocation_over_its_budget():
    scenario = scenario_of(MIXED)
    max_delay = 1.3 * solve_structured(scenario.split, 0.6).T
    allocation = structured_at(scenario, 0.6, max_delay).allocation
    assert all(check.passed for check in allocation_checks(scenario, allocation))
    moved = allocation.bandwidth_main_hz.copy()
    moved[0] *= 1.02
    broken = allocation_with_energy(scenario, 0.6, max_delay, allocation.client_cpu_hz, allocation.server_cpu_hz,
                                    allocation.time_main_s, allocation.time_fed_s, moved, allocation.bandwidth_fed_hz)
    failing = {check.check for check in allocation_checks(scenario, broken) if not check.passed}
    assert "budget_main" in failing
