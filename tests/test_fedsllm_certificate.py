"""Issue 3: the Lemma 3/KKT certificate, Problem (16), the baselines, and T* against the reference."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.util.check_units import assert_units_consistent

from data.fedsllm.inputs import load_fedsllm
from models.fedsllm import build_problem16
from solvers.fedsllm.certificate import certify_optimum
from solvers.fedsllm.search import eta_grid_for
from tests.fedsllm_search import solve_fedsllm
from solvers.fedsllm.baselines import build_strategy_models, compare_strategies, power_sweep
from solvers.fedsllm.problem16 import best_solution, reduction_applies, reduction_holds, solve_problem16
from solvers.runtime.ipopt import IpoptSolver
from tests.conftest import reference_scenario, users_table
from tests.reference_fedsllm import solve_reference


@pytest.fixture(scope="module")
def default_optimum():
    inputs = load_fedsllm()
    result, model = solve_fedsllm(inputs, eta_grid_for(inputs), IpoptSolver())
    return inputs, result, model


def test_certificate_passes_at_the_optimum(default_optimum):
    _, _, model = default_optimum
    certificate = certify_optimum(model)
    assert certificate.passed, certificate.verdict()
    rows = {(c.check, c.scope): c for c in certificate.rows()}
    assert abs(rows["sum_lambda_minus_1", "all"].value) < 1e-6
    assert rows["min_lambda", "all"].value > 0
    assert len([c for c in certificate.rows() if c.scope == "1"]) == 7  # per-user rows
    assert certificate.count == len(certificate.rows()) == 7 * len(model.users) + len(certificate.checks)


def test_per_user_checks_equal_pyomos_own_expressions(default_optimum):
    """The certificate's per-user arrays (numpy) against the model's Expressions evaluated by Pyomo, user by
    user: Lemma 3's (19)-(21) and the slack of (17a)."""
    _, _, model = default_optimum
    checks = {c.check: c.values for c in certify_optimum(model).per_user}
    eta, T, a = pyo.value(model.eta), pyo.value(model.T), pyo.value(model.a)
    round_time, n = (1 - eta) * T / a, pyo.value(model.lemma2_local_iterations)
    for index, k in enumerate(model.users):
        t_main, t_fed = model.time_main[k].value, model.time_fed[k].value
        expected19 = abs(t_fed + n * t_main - (round_time - pyo.value(model.eq10_compute_time[k]))) / round_time
        needed = pyo.value(model.smashed_data) / t_main
        expected20 = abs(needed - pyo.value(model.eq11_rate_main[k])) / needed
        needed = pyo.value(model.model_upload) / t_fed
        expected21 = abs(needed - pyo.value(model.eq11_rate_fed[k])) / needed
        assert checks["lemma3_eq19"][index] == pytest.approx(expected19, rel=1e-6, abs=1e-14)
        assert checks["lemma3_eq20"][index] == pytest.approx(expected20, rel=1e-6, abs=1e-14)
        assert checks["lemma3_eq21"][index] == pytest.approx(expected21, rel=1e-6, abs=1e-14)
        assert checks["slack_17a"][index] == pytest.approx(T - pyo.value(model.eq15_user_delay[k]), abs=1e-12 * T)
        assert checks["lambda_17a"][index] == model.dual[model.eq17a_delay[k]]


def test_certificate_fails_on_a_perturbed_allocation_and_names_the_rows(default_optimum):
    inputs, result, _ = default_optimum
    _, model = solve_fedsllm(inputs, eta_grid_for(inputs, step=0.1), IpoptSolver(), refine_tolerance=None)
    first, second = list(model.users)[:2]
    moved = 0.02 * model.bandwidth_main[first].value
    model.bandwidth_main[first].set_value(model.bandwidth_main[first].value - moved)
    model.bandwidth_main[second].set_value(model.bandwidth_main[second].value + moved)
    certificate = certify_optimum(model)
    assert not certificate.passed
    failing = {(c.check, c.scope) for c in certificate.failing}
    assert ("lemma3_eq20", first) in failing and ("lemma3_eq20", second) in failing
    assert ("primal_infeasibility", "all") in failing  # user 1 can no longer carry s in t_s
    assert f"lemma3_eq20[{first}]" in certificate.verdict()
    assert ("lemma3_eq20", "3") not in failing


def test_budget_multiplier_is_the_sensitivity_of_T(make_workbook):
    """Dual spot-check: Ipopt's multiplier of (17d) equals -dT*/dB_s, by central differences of the reference."""
    users = users_table([-97.0, -106.0, -115.0], samples=[900, 1400, 1100], cycles=[1.5e4, 2.5e4, 2e4])
    parameters = {"bandwidth_main_hz": 12e6, "bandwidth_fed_hz": 3e6}
    inputs = load_fedsllm(make_workbook(users, parameters))
    eta = 0.7
    _, model = solve_fedsllm(inputs, eta_grid_for(inputs, step=0.1, low=eta, high=eta), IpoptSolver(),
                             refine_tolerance=None)
    step_hz = 1e3
    plus = solve_reference(reference_scenario(users, {**parameters, "bandwidth_main_hz": 12e6 + step_hz}), eta).T
    minus = solve_reference(reference_scenario(users, {**parameters, "bandwidth_main_hz": 12e6 - step_hz}), eta).T
    sensitivity_s_per_mhz = -(plus - minus) / (2 * step_hz) * 1e6
    assert model.dual[model.eq17d_budget_main] == pytest.approx(sensitivity_s_per_mhz, rel=1e-4)


def test_problem16_units_and_agreement_with_problem17(default_optimum):
    inputs, result, _ = default_optimum
    assert_units_consistent(build_problem16(inputs))
    model = build_problem16(inputs)
    solutions = solve_problem16(model, IpoptSolver(), result.best)
    assert all(s.record.optimal for s in solutions)
    best = best_solution(solutions)
    assert reduction_applies(inputs)
    assert reduction_holds(best, result.best.T, inputs)
    assert best.T == pytest.approx(result.best.T, rel=1e-6)
    assert pyo.value(model.T) == pytest.approx(best.T, rel=1e-9)
    # the model holds the best start's point as its solve left it, multipliers included (none solved again)
    assert best is not solutions[-1] and certify_optimum(model).passed


def test_reduction_does_not_apply_with_a_client_faster_than_the_server(make_workbook, tmp_path, capsys):
    """A client at 30 GHz against a 20 GHz server: A = A_min is no longer optimal, (16) beats (17)."""
    from solvers.app.cli import main

    users = users_table([-95.0, -100.0, -105.0], samples=[3000, 3000, 3000], cycles=[3e4, 3e4, 3e4])
    users["cpu_max_hz"][0] = 30e9
    workbook = make_workbook(users, {"eta_step": 0.05})
    inputs = load_fedsllm(workbook)
    assert not reduction_applies(inputs)
    out = tmp_path / "out"
    assert main(["model=fedsllm", f"data={workbook}", f"out={out}", "progress=false"]) == 0
    printed = capsys.readouterr().out
    assert "the reduction to (17) does not hold" in printed
    import csv
    summary = {row["name"]: row["value"] for row in csv.DictReader(open(out / "summary.csv"))}
    assert summary["optimum_from"] == "Problem (16)" and summary["reduction_applies"] == "no"
    assert float(summary["T"]) <= float(summary["T_grid"])
    assert summary["certificate"] == "PASS"


def test_orderings_hold_at_every_power(make_workbook):
    users = users_table([-96.0, -108.0, -119.0, -126.0], samples=[800, 1500, 1200, 1000],
                        cycles=[1.1e4, 2.7e4, 1.9e4, 2.2e4])
    inputs = load_fedsllm(make_workbook(users, {"eta_step": 0.05, "bandwidth_fed_hz": 5e6}))
    sweep = power_sweep(inputs, [0.0, 10.0, 20.0], eta_grid_for(inputs), IpoptSolver())
    for power, comparison in sweep:
        T = {name: r.T for name, r in comparison.results.items()}
        assert T["Proposed"] <= T["EB"] <= T["BA"], power
        assert T["Proposed"] <= T["FE"] <= T["BA"], power
    # more power, less delay, for every strategy
    for strategy in ("Proposed", "EB", "FE", "BA"):
        delays = [c.results[strategy].T for _, c in sweep]
        assert delays == sorted(delays, reverse=True)


def test_baselines_against_hand_calculation(make_workbook):
    """BA: equal split at eta = 0.1, T = max_k a/(1-eta)(tau_k + s_c/r_c + n s/r_s), by hand."""
    users = users_table([-100.0, -112.0], samples=[1000, 2000], cycles=[1e4, 3e4])
    inputs = load_fedsllm(make_workbook(users, {"eta_step": 0.05}))
    comparison = compare_strategies(build_strategy_models(inputs, IpoptSolver()), eta_grid_for(inputs))
    scenario = reference_scenario(users)
    eta = 0.1
    rate_main = 10e6 * np.log2(1 + scenario.power_to_noise_main_hz / 10e6)
    rate_fed = 10e6 * np.log2(1 + scenario.power_to_noise_fed_hz / 10e6)
    by_hand = np.max(scenario.a / (1 - eta) * (scenario.compute_time_s(eta) + 28.1e3 / rate_fed
                                               + scenario.local_iterations(eta) * 281e3 / rate_main))
    assert comparison.results["BA"].T == pytest.approx(by_hand, rel=1e-12)
    assert comparison.results["FE"].T == pytest.approx(solve_reference(scenario, eta).T, rel=1e-6)


def reference_grid(scenario) -> dict[float, float]:
    """T*(eta) by the reference alone on the coarse grid 0.1, 0.2, ..., 0.9."""
    return {float(eta): solve_reference(scenario, float(eta)).T for eta in np.arange(0.1, 1.0, 0.1)}


# How far either side of the found eta the reference must not find a lower T: the eta tolerance the test
# held before (a Brent search of the reference to 1e-4, compared to 2e-3), at three reference solves instead
# of about fifteen (each takes seconds for a very weak user).
ETA_NEIGHBOURHOOD = 2e-3


RANDOM_SCENARIOS = {
    "random, B_s = B_c": dict(seed=11, count=4, weak=False, parameters={}),
    "random, B_s != B_c": dict(seed=12, count=5, weak=False,
                               parameters={"bandwidth_main_hz": 25e6, "bandwidth_fed_hz": 2e6}),
    "random, very weak user": dict(seed=13, count=3, weak=True, parameters={"bandwidth_fed_hz": 8e6}),
}


@pytest.mark.parametrize("name", list(RANDOM_SCENARIOS))
def test_optimum_over_eta_matches_the_reference(make_workbook, name):
    case = RANDOM_SCENARIOS[name]
    rng = np.random.default_rng(case["seed"])
    gains = rng.uniform(-125.0, -90.0, case["count"])
    if case["weak"]:
        gains[-1] = -150.0
    users = users_table(gains, samples=rng.integers(500, 2500, case["count"]),
                        cycles=rng.uniform(1e4, 3e4, case["count"]))
    inputs = load_fedsllm(make_workbook(users, {**case["parameters"], "eta_step": 0.05}))
    result, _ = solve_fedsllm(inputs, eta_grid_for(inputs), IpoptSolver())
    scenario = reference_scenario(users, case["parameters"])
    found_eta, found_T = result.best.eta, result.best.T
    # the reference at the eta found gives the same T ...
    assert found_T == pytest.approx(solve_reference(scenario, found_eta).T, rel=1e-6)
    # ... no point of the reference's own coarse grid is lower (not for the very weak user, whose reference
    # solves take about 10 s each; the global search's tests prove optimality over every eta) ...
    if not case["weak"]:
        assert min(reference_grid(scenario).values()) >= found_T * (1 - 1e-6)
    # ... and the reference is not lower next to it: T is at a minimum over eta there
    for eta in (found_eta - ETA_NEIGHBOURHOOD, found_eta + ETA_NEIGHBOURHOOD):
        assert solve_reference(scenario, eta).T >= found_T * (1 - 1e-8)


def test_problem16_cross_checked_on_the_structured_engine_at_scale(make_workbook, tmp_path):
    """Every client slower than the server: (16) at eta* with A searched by the structured engine gives
    A = A_min and the reference's T*(eta*) (independent of the engine); end to end with Ipopt's starts
    skipped by the user count, the summary says so and the reduction still holds."""
    import csv

    from data.fedsllm.generate import fedsllm_inputs_in_memory
    from solvers.app.cli import main
    from solvers.fedsllm.problem16 import structured_crosscheck
    from solvers.fedsllm.scenario import SplitScenario
    from tests.conftest import SPEC_PARAMETERS

    users = users_table([-98.0, -107.0, -116.0, -121.0], samples=[900, 1400, 1100, 700],
                        cycles=[1.5e4, 2.5e4, 2e4, 1.2e4])
    scenario = SplitScenario.from_inputs(fedsllm_inputs_in_memory(users, SPEC_PARAMETERS))
    eta = 0.8
    found = structured_crosscheck(scenario, eta, (0.1, 0.9), 1e-12)
    assert found.record.optimal and found.client_share == 0.1
    assert found.T == pytest.approx(solve_reference(reference_scenario(users), eta).T, rel=1e-8)

    out = tmp_path / "out"
    workbook = make_workbook(users, {"eta_step": 0.05})
    assert main(["model=fedsllm", f"data={workbook}", f"out={out}", "progress=false",
                 "problem16_multistart_max_users=2"]) == 0
    summary = {row["name"]: row["value"] for row in csv.DictReader(open(out / "summary.csv"))}
    assert summary["reduction_holds"] == "yes" and summary["optimum_from"] == "Problem (17)"
    assert "skipped: 4 users > problem16_multistart_max_users=2" in summary["problem16_crosscheck"]
    rows = list(csv.DictReader(open(out / "reduction.csv")))
    assert [r["start"] for r in rows] == ["structured engine: A searched at eta*", "reduction: Problem (17) optimum"]
    assert abs(float(rows[0]["T_vs_problem17"])) <= 1e-8
