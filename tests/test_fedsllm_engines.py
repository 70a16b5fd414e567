"""The engines of the eta search: the structured solver against the independent reference, Ipopt and
closed forms; the persistent Ipopt path against the NL-file-per-solve path; failures and the engine choice."""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.util.check_units import assert_units_consistent

from data.fedsllm.inputs import load_fedsllm
from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory
from models.fedsllm import build_problem17
from solvers.fedsllm.search import Engine, EngineSettings, eta_grid_for
from tests.fedsllm_search import solve_fedsllm
from solvers.runtime.ipopt import IpoptSolver, SolveError
from solvers.fedsllm.scenario import SplitScenario
from solvers.fedsllm.structured import solve_structured
from tests.conftest import SPEC_PARAMETERS, reference_scenario, users_table
from tests.reference_fedsllm import solve_reference

ROUNDING = 1e-12  # the reference is exact to about 1e-10 and the bounds to about 1e-15


def random_users(rng: np.random.Generator, count: int, case: int) -> tuple[dict, dict]:
    """A drawn scenario with the features the structured engine must handle, by `case`."""
    users = draw_users(ScenarioSettings(users=count, seed=int(rng.integers(1_000_000))))
    parameters = {"bandwidth_main_hz": float(10 ** rng.uniform(6, 8)), "bandwidth_fed_hz": float(10 ** rng.uniform(5, 8))}
    if case % 3 == 0:  # a user near the edge of the link budget
        users["gain_main_db"][0], users["gain_fed_db"][0] = -150.0, -152.0
    if case % 3 == 1:  # unequal powers per user and link
        users["power_main_max_dbm"] = rng.uniform(-10, 30, count)
        users["power_fed_max_dbm"] = rng.uniform(-10, 30, count)
    if case % 4 == 0:  # clients faster than the server: only the compute times change
        parameters["server_cpu_max_hz"] = 1e9
    return users, parameters


@pytest.mark.parametrize("case", range(6))
def test_structured_matches_the_independent_reference(case):
    """Random scenarios (B_s != B_c; a -150 dB user, unequal powers or fast clients by case)."""
    rng = np.random.default_rng(100 + case)
    count = [1, 2, 3, 5, 8, 12][case]
    users, parameters = random_users(rng, count, case)
    scenario = SplitScenario.from_inputs(fedsllm_inputs_in_memory(users, {**SPEC_PARAMETERS, **parameters}))
    reference_data = reference_scenario(users, parameters)
    for eta in (0.05, 0.85):
        point = solve_structured(scenario, eta)
        if not point.converged:
            pytest.fail(f"structured engine at eta={eta}: {point.status}, gap {point.gap:.2e}")
        reference = solve_reference(reference_data, eta)
        assert point.T == pytest.approx(reference.T, rel=1e-8)
        assert point.lower_bound <= reference.T * (1 + ROUNDING)
        assert reference.T <= point.T * (1 + ROUNDING)
        assert point.gap <= 1e-9
        np.testing.assert_allclose(point.bandwidth_main_hz, reference.bandwidth_main_hz,
                                   rtol=1e-6, atol=1e-9 * scenario.bandwidth_main_hz)


def test_structured_feasible_point_respects_every_constraint():
    """The upper bound is a real allocation: budgets, rates (11) and user delays (15) within T, in plain numpy."""
    rng = np.random.default_rng(7)
    users, parameters = random_users(rng, 30, 0)
    merged = {**SPEC_PARAMETERS, **parameters}
    scenario = SplitScenario.from_inputs(fedsllm_inputs_in_memory(users, merged))
    point = solve_structured(scenario, 0.6)
    noise = 10 ** ((merged["noise_psd_dbm_per_hz"] - 30) / 10)
    c_main = 10 ** (users["gain_main_db"] / 10) * 10 ** ((users["power_main_max_dbm"] - 30) / 10) / noise
    c_fed = 10 ** (users["gain_fed_db"] / 10) * 10 ** ((users["power_fed_max_dbm"] - 30) / 10) / noise
    assert point.bandwidth_main_hz.sum() <= merged["bandwidth_main_hz"] * (1 + 1e-14)
    assert point.bandwidth_fed_hz.sum() <= merged["bandwidth_fed_hz"] * (1 + 1e-14)
    rate_main = point.bandwidth_main_hz * np.log2(1 + c_main / point.bandwidth_main_hz)
    rate_fed = point.bandwidth_fed_hz * np.log2(1 + c_fed / point.bandwidth_fed_hz)
    assert np.all(merged["smashed_bits"] / point.time_main_s <= rate_main * (1 + 1e-12))
    assert np.all(merged["model_upload_bits"] / point.time_fed_s <= rate_fed * (1 + 1e-12))
    a = 2 * merged["L"] ** 2 / (merged["gamma"] ** 2 * merged["xi"]) * math.log(1 / merged["eps0"])
    v = 2 / ((2 - merged["L"] * merged["delta"]) * merged["delta"] * merged["gamma"])
    eta, share = 0.6, merged["client_share_min"]
    tau = v * users["cycles_per_sample"] * users["samples"] * math.log2(1 / eta) * (
        share / users["cpu_max_hz"] + (1 - share) / merged["server_cpu_max_hz"])
    delays = a / (1 - eta) * (tau + point.time_fed_s + v * math.log2(1 / eta) * point.time_main_s)
    assert np.max(delays) <= point.T * (1 + 1e-14)


@pytest.mark.parametrize("count", [1, 6])
def test_structured_identical_users_and_one_user_in_closed_form(count):
    """Identical users (or one user): each gets B/K of both links; T in closed form."""
    users = users_table([-104.0] * count, samples=[1500] * count, cycles=[2.5e4] * count)
    parameters = {"bandwidth_main_hz": 12e6, "bandwidth_fed_hz": 3e6}
    p = {**SPEC_PARAMETERS, **parameters}
    scenario = SplitScenario.from_inputs(fedsllm_inputs_in_memory(users, p))
    a = 2 * p["L"] ** 2 / (p["gamma"] ** 2 * p["xi"]) * math.log(1 / p["eps0"])
    v = 2 / ((2 - p["L"] * p["delta"]) * p["delta"] * p["gamma"])
    c = 10 ** (-104.0 / 10) * 10 ** ((10 - 30) / 10) / 10 ** ((-174 - 30) / 10)
    for eta in (0.1, 0.7):
        tau = v * 2.5e4 * 1500 * math.log2(1 / eta) * (0.1 / 2e9 + 0.9 / 20e9)
        rate_main = 12e6 / count * math.log2(1 + c / (12e6 / count))
        rate_fed = 3e6 / count * math.log2(1 + c / (3e6 / count))
        expected = a / (1 - eta) * (tau + p["model_upload_bits"] / rate_fed
                                    + v * math.log2(1 / eta) * p["smashed_bits"] / rate_main)
        point = solve_structured(scenario, eta)
        assert point.converged
        assert point.T == pytest.approx(expected, rel=1e-12)
        np.testing.assert_allclose(point.bandwidth_main_hz, 12e6 / count, rtol=1e-10)


@pytest.mark.parametrize("eta", [0.05, 0.5, 0.95])
def test_structured_matches_ipopt_on_the_shipped_workbook(eta):
    inputs = load_fedsllm()
    model = build_problem17(inputs, eta)
    record = IpoptSolver({"tol": 1e-11}).solve(model)
    if not record.optimal:
        pytest.fail(f"Ipopt at eta={eta}: {record.status}")
    point = solve_structured(SplitScenario.from_inputs(inputs), eta)
    assert point.converged
    assert point.T == pytest.approx(pyo.value(model.T), rel=1e-8)
    assert point.lower_bound <= pyo.value(model.T) * (1 + ROUNDING)


def test_persistent_ipopt_equals_the_nl_file_per_solve_path():
    """Same grid and refinement: the persistent NLP gives the same T at every eta and the same T*."""
    inputs = load_fedsllm()
    grid = eta_grid_for(inputs, step=0.05)
    persistent, _ = solve_fedsllm(inputs, grid, IpoptSolver(), engine=EngineSettings(Engine.ipopt))
    rewrite, _ = solve_fedsllm(inputs, grid, IpoptSolver(), engine=EngineSettings(Engine.ipopt_rewrite))
    assert persistent.engine == "ipopt" and rewrite.engine.startswith("ipopt (NL")
    assert persistent.best.T == pytest.approx(rewrite.best.T, rel=1e-9)
    assert persistent.best.eta == pytest.approx(rewrite.best.eta, abs=1e-5)
    by_eta = {p.eta: p.T for p in rewrite.grid_points}
    for point in persistent.grid_points:
        assert point.T == pytest.approx(by_eta[point.eta], rel=1e-9)


def test_structured_search_equals_ipopt_search_on_the_shipped_workbook():
    """The whole search with the structured engine: the same T* as Ipopt's (and the final Ipopt re-solve
    lies within the structured bounds)."""
    inputs = load_fedsllm()
    grid = eta_grid_for(inputs, step=0.05)
    ipopt, _ = solve_fedsllm(inputs, grid, IpoptSolver(), engine=EngineSettings(Engine.ipopt))
    structured, model = solve_fedsllm(inputs, grid, IpoptSolver(), engine=EngineSettings(Engine.structured))
    assert structured.engine == "structured" and model is not None
    assert structured.best.T == pytest.approx(ipopt.best.T, rel=1e-9)
    assert structured.best_gap <= 1e-9
    assert structured.best_lower_bound <= structured.best.T * (1 + ROUNDING)


def test_structured_search_without_ipopt_above_certify_max_users():
    inputs = load_fedsllm()
    settings = EngineSettings(Engine.structured, certify_max_users=10)
    result, model = solve_fedsllm(inputs, eta_grid_for(inputs, step=0.1), IpoptSolver(), engine=settings)
    assert model is None and result.certified_by == "duality gap"
    reference = solve_reference(reference_scenario({name: inputs.column(name) for name in inputs.users}),
                                result.best.eta)
    assert result.best.T == pytest.approx(reference.T, rel=1e-8)


def test_auto_engine_follows_the_user_count():
    settings = EngineSettings()
    assert settings.chosen(settings.ipopt_max_users) is Engine.ipopt
    assert settings.chosen(settings.ipopt_max_users + 1) is Engine.structured
    assert settings.certifies_by_kkt(settings.certify_max_users)
    assert not settings.certifies_by_kkt(settings.certify_max_users + 1)


def test_persistent_ipopt_iteration_limit_names_eta_and_status():
    inputs = load_fedsllm()
    with pytest.raises(SolveError) as error:
        solve_fedsllm(inputs, eta_grid_for(inputs, step=0.2), IpoptSolver({"max_iter": 1}),
                      engine=EngineSettings(Engine.ipopt))
    message = str(error.value)
    assert "eta = 0.2 (grid)" in message and "maxIterations" in message


def test_structured_unreachable_gap_names_eta_and_status():
    """A gap below floating-point rounding cannot be proven: the solve fails, named, never hidden."""
    inputs = load_fedsllm()
    with pytest.raises(SolveError) as error:
        solve_fedsllm(inputs, eta_grid_for(inputs, step=0.2), IpoptSolver(),
                      engine=EngineSettings(Engine.structured, gap=1e-18))
    message = str(error.value)
    assert "eta = 0.2 (grid): the structured engine stopped with status 'gap not reached'" in message


def test_model_with_eta_as_a_variable_has_consistent_units_and_docs():
    model = build_problem17(load_fedsllm(), 0.3, eta_as_variable=True)
    assert_units_consistent(model)
    assert model.eta.lb == model.eta.ub == 0.3
    assert "(-)" in model.eta.doc


def test_structured_scales_linearly_in_memory():
    """K = 20,000 in memory: converges with its gap; arrays are the only per-user storage."""
    inputs = fedsllm_inputs_in_memory(draw_users(ScenarioSettings(users=20_000, seed=2)))
    point = solve_structured(SplitScenario.from_inputs(inputs), 0.8)
    assert point.converged and point.gap <= 1e-9
    assert point.bandwidth_main_hz.sum() <= inputs.parameter("bandwidth_main_hz") * (1 + 1e-14)


def test_run_with_the_structured_engine_reports_bounds_and_the_duality_gap_certificate(tmp_path):
    """End to end above certify_max_users: no Ipopt model, the summary holds the bounds, the certificate
    is the duality gap, and T* agrees with the independent reference at eta*."""
    import csv

    from solvers.app.jobs import EXIT_OK
    from solvers.app.cli import main

    out = tmp_path / "report"
    code = main(["model=fedsllm", f"out={out}", "progress=false", "eta.step=0.1", "solver.engine=structured",
                 "solver.certify_max_users=10"])
    assert code == EXIT_OK
    with open(out / "summary.csv", newline="") as handle:
        summary = {row["name"]: row["value"] for row in csv.DictReader(handle)}
    assert summary["engine"] == "structured" and summary["certified_by"] == "duality gap"
    assert summary["certificate"] == "PASS"
    lower, upper, T = float(summary["lower_bound"]), float(summary["upper_bound"]), float(summary["T"])
    assert lower <= T <= upper and (upper - lower) / upper <= 1e-9
    inputs = load_fedsllm()
    reference = solve_reference(reference_scenario({name: inputs.column(name) for name in inputs.users}),
                                float(summary["eta"]))
    assert T == pytest.approx(reference.T, rel=1e-8)


def test_unknown_engine_is_refused_with_the_choices(tmp_path, capsys):
    from data.errors import EXIT_INPUT
    from solvers.app.cli import main

    assert main(["model=fedsllm", f"out={tmp_path / 'out'}", "solver.engine=fast"]) == EXIT_INPUT
    error = capsys.readouterr().err
    assert "solver.engine" in error and "structured" in error
    assert not (tmp_path / "out").exists()
