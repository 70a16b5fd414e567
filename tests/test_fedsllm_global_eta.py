"""The branch and bound over every eta in (0, 1) (solvers/fedsllm/global_eta.py) against Ipopt and the reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from data.fedsllm.generate import fedsllm_inputs_in_memory
from solvers.fedsllm.search import Engine, EngineSettings, EtaGrid, EtaSearch
from solvers.fedsllm.engines import PersistentIpopt
from solvers.fedsllm.global_eta import certify_global_eta
from solvers.runtime.ipopt import IpoptSolver
from solvers.fedsllm.scenario import SplitScenario
from tests.conftest import SPEC_PARAMETERS, reference_scenario, users_table
from tests.reference_fedsllm import solve_reference

GRID = [index / 100 for index in range(1, 100)]


def test_an_optimum_below_the_grid_is_found_and_certified():
    """A model upload of 2 Gbit per round against 1 kbit of smashed data and light compute: each round is
    so expensive that the best eta is far below 0.01 (the rounds a/(1-eta) cannot fall below a, while the
    local work grows only like log2(1/eta)). The 0.01 grid misses it; the branch and bound finds it."""
    users = users_table([-100.0, -108.0, -115.0], samples=[300, 500, 400], cycles=[1e3, 2e3, 1.5e3])
    parameters = {"model_upload_bits": 2e9, "smashed_bits": 1e3}
    scenario = SplitScenario.from_inputs(fedsllm_inputs_in_memory(users, {**SPEC_PARAMETERS, **parameters}))
    result = certify_global_eta(scenario, GRID)
    assert result.certified and result.gap <= 1e-6
    assert result.eta < 0.01

    # Ipopt (independent of the structured engine) over log eta, and the reference at the eta found.
    inputs = fedsllm_inputs_in_memory(users, {**SPEC_PARAMETERS, **parameters})
    engine = PersistentIpopt(inputs, IpoptSolver({"tol": 1e-11}))

    def ipopt_delay(eta: float) -> float:
        solved = engine.solve(eta, None, f"eta={eta}")
        if not solved.record.optimal:
            pytest.fail(f"Ipopt at eta={eta}: {solved.record.status}")
        return solved.T

    found = minimize_scalar(lambda log_eta: ipopt_delay(float(np.exp(log_eta))), bounds=(np.log(1e-9), np.log(0.01)),
                            method="bounded", options={"xatol": 1e-4})
    assert result.T == pytest.approx(found.fun, rel=1e-6)
    assert result.lower_bound <= found.fun * (1 + 1e-9)
    assert result.T == pytest.approx(solve_reference(reference_scenario(users, parameters), result.eta).T, rel=1e-8)
    assert min(ipopt_delay(0.01), ipopt_delay(0.02)) > result.T * 1.01


@pytest.mark.parametrize("seed", [1, 2])
def test_the_lower_bound_envelope_is_below_ipopt_everywhere(seed):
    """Every interval's bound against T*(eta) by Ipopt on a dense grid (random scenarios, B_s != B_c)."""
    rng = np.random.default_rng(seed)
    count = 4
    users = users_table(rng.uniform(-125.0, -95.0, count), samples=rng.integers(500, 2500, count),
                        cycles=rng.uniform(1e4, 3e4, count))
    parameters = {**SPEC_PARAMETERS, "bandwidth_main_hz": float(rng.uniform(5e6, 30e6)),
                  "bandwidth_fed_hz": float(rng.uniform(1e6, 10e6))}
    inputs = fedsllm_inputs_in_memory(users, parameters)
    result = certify_global_eta(SplitScenario.from_inputs(inputs), GRID, tol=1e-6)
    assert result.certified

    engine = PersistentIpopt(inputs, IpoptSolver({"tol": 1e-11}))
    previous = None
    for eta in np.linspace(0.002, 0.998, 150):
        solved = engine.solve(float(eta), previous, f"eta={eta}")
        if not solved.record.optimal:
            pytest.fail(f"Ipopt at eta={eta}: {solved.record.status}")
        previous = solved.allocation
        covering = [i for i in result.envelope if i.low <= eta <= i.high]
        assert covering, f"eta={eta} is not covered by the partition"
        assert max(i.lower_bound for i in covering) <= solved.T * (1 + 1e-9)
        assert result.lower_bound <= solved.T * (1 + 1e-9)


def test_the_shipped_workbook_is_certified_at_todays_optimum():
    """The whole of (0, 1) on the shipped workbook: the certified T* equals the eta search's to 1e-8."""
    from data.fedsllm.inputs import load_fedsllm

    inputs = load_fedsllm()
    search = EtaSearch(inputs, IpoptSolver(), engine=EngineSettings(Engine.ipopt))
    found = search.run(EtaGrid(0.01, 0.01, 0.99))
    result = certify_global_eta(SplitScenario.from_inputs(inputs), [*GRID, found.best.eta], tol=1e-6)
    assert result.certified and result.gap <= 1e-6
    assert result.T == pytest.approx(found.best.T, rel=1e-8)
    assert result.lower_bound <= found.best.T


def test_a_run_adopts_the_eta_the_grid_misses(make_workbook, tmp_path):
    """End to end with global_eta.enabled: the reported eta* is the branch and bound's, below the grid,
    Ipopt re-solves it for the certificate, and the summary carries the global rows."""
    import csv

    from solvers.app.jobs import EXIT_OK
    from solvers.app.cli import main

    users = users_table([-100.0, -108.0, -115.0], samples=[300, 500, 400], cycles=[1e3, 2e3, 1.5e3])
    workbook = make_workbook(users, {"model_upload_bits": 2e9, "smashed_bits": 1e3, "eta_step": 0.05})
    out = tmp_path / "report"
    assert main(["model=fedsllm", f"data={workbook}", f"out={out}", "progress=false", "problem16=false",
                 "global_eta.enabled=true"]) == EXIT_OK
    with open(out / "summary.csv", newline="") as handle:
        summary = {row["name"]: row["value"] for row in csv.DictReader(handle)}
    assert float(summary["eta"]) < 0.01 and summary["global_status"] == "certified"
    assert summary["certificate"] == "PASS"
    assert float(summary["global_lower_bound"]) <= float(summary["T"]) * (1 + 1e-9)
    assert float(summary["T"]) == pytest.approx(float(summary["global_upper_bound"]), rel=1e-8)


def mixed_clients() -> tuple[dict, dict]:
    """One client four times faster than the server with ten times the work, two slower ones: raising A
    speeds the first and slows the others, so the best A lies strictly inside [A_min, A_max]."""
    users = users_table([-100.0, -108.0, -112.0], samples=[30000, 3000, 2000], cycles=[1e5, 1e5, 1e5])
    users["cpu_max_hz"] = np.array([40e9, 1e9, 2e9])
    return users, {"server_cpu_max_hz": 10e9}


def test_problem16_with_clients_faster_than_the_server_is_certified():
    """Problem (16) with A searched at every eta, against Ipopt over (eta, A) (nested Brent, one NLP per A,
    f and p at their maxima) and the reference at the certified point."""
    users, parameters = mixed_clients()
    merged = {**SPEC_PARAMETERS, **parameters}
    inputs = fedsllm_inputs_in_memory(users, merged)
    result = certify_global_eta(SplitScenario.from_inputs(inputs), [i / 20 for i in range(1, 20)], tol=1e-3,
                                share_range=(0.1, 0.9))
    assert result.certified
    assert 0.15 < result.client_share < 0.85

    def ipopt_best_over_eta(share: float) -> float:
        engine = PersistentIpopt(fedsllm_inputs_in_memory(users, {**merged, "client_share_min": share}),
                                 IpoptSolver({"tol": 1e-11}))

        def delay(eta: float) -> float:
            solved = engine.solve(eta, None, f"eta={eta}")
            if not solved.record.optimal:
                pytest.fail(f"Ipopt at eta={eta}, A={share}: {solved.record.status}")
            return solved.T

        return minimize_scalar(delay, bounds=(0.5, 0.999), method="bounded", options={"xatol": 1e-6}).fun

    dense = minimize_scalar(ipopt_best_over_eta, bounds=(0.1, 0.9), method="bounded", options={"xatol": 1e-6})
    assert result.T == pytest.approx(dense.fun, rel=1e-6)
    assert result.lower_bound <= dense.fun * (1 + 1e-9)
    assert result.client_share == pytest.approx(dense.x, abs=2e-3)
    reference = reference_scenario(users, {**parameters, "client_share_min": result.client_share})
    assert result.T == pytest.approx(solve_reference(reference, result.eta).T, rel=1e-8)


def test_a_run_certifies_problem16_next_to_the_multistart(make_workbook, tmp_path):
    import csv

    from solvers.app.jobs import EXIT_OK
    from solvers.app.cli import main

    users, parameters = mixed_clients()
    workbook = make_workbook(users, {**parameters, "eta_step": 0.05})
    out = tmp_path / "report"
    assert main(["model=fedsllm", f"data={workbook}", f"out={out}", "progress=false",
                 "global_eta.problem16_tol=1e-2"]) == EXIT_OK
    with open(out / "summary.csv", newline="") as handle:
        summary = {row["name"]: row["value"] for row in csv.DictReader(handle)}
    assert summary["optimum_from"] == "Problem (16)" and summary["certificate"] == "PASS"
    assert 0.15 < float(summary["A_problem16_certified"]) < 0.85
    assert float(summary["lower_bound_problem16"]) <= float(summary["T_problem16"]) * (1 + 1e-9)
    with open(out / "lemma3_kkt.csv", newline="") as handle:
        checks = {row["check"]: row for row in csv.DictReader(handle)}
    assert checks["problem16_multistart_vs_global"]["verdict"] == "PASS"
    assert checks["problem16_global"]["verdict"] == "PASS"


@pytest.mark.parametrize("seed", [3, 4])
def test_eb_bounds_are_below_the_equal_split_everywhere(seed):
    """EB's branch and bound (only the users that can set T kept, a second-order bound) against the equal
    split's T(eta) evaluated directly on a dense grid and minimised by Brent over log eta."""
    rng = np.random.default_rng(seed)
    count = 40
    users = users_table(rng.uniform(-125.0, -95.0, count), samples=rng.integers(500, 2500, count),
                        cycles=rng.uniform(1e4, 3e4, count))
    scenario = SplitScenario.from_inputs(fedsllm_inputs_in_memory(users, SPEC_PARAMETERS))
    result = certify_global_eta(scenario, GRID, tol=1e-6, equal_split=True)
    assert result.certified and result.solves < 1000
    for eta in np.concatenate([np.linspace(0.001, 0.999, 400), np.geomspace(1e-8, 1e-3, 40)]):
        exact = scenario.equal_split_delay_s(float(eta))
        covering = [i for i in result.envelope if i.low <= eta <= i.high]
        assert covering and max(i.lower_bound for i in covering) <= exact * (1 + 1e-12)
    found = minimize_scalar(lambda log_eta: scenario.equal_split_delay_s(float(np.exp(log_eta))),
                            bounds=(np.log(1e-6), np.log(0.999)), method="bounded", options={"xatol": 1e-9})
    assert result.lower_bound <= found.fun * (1 + 1e-12)
    assert result.T == pytest.approx(found.fun, rel=1e-6)
    assert result.T == pytest.approx(scenario.equal_split_delay_s(result.eta), rel=1e-14)


def test_problem16_decided_by_its_certified_search_above_certify_max_users(make_workbook, tmp_path):
    """Some client faster than the server and no Ipopt at all (structured engine, certify_max_users=0, no
    starts): the certified (16) point is the reported optimum, certified by its gap and a feasibility check,
    and its T is the reference's at the certified eta and A."""
    import csv

    from solvers.app.jobs import EXIT_OK
    from solvers.app.cli import main

    users, parameters = mixed_clients()
    workbook = make_workbook(users, {**parameters, "eta_step": 0.05})
    out = tmp_path / "report"
    assert main(["model=fedsllm", f"data={workbook}", f"out={out}", "progress=false", "solver.engine=structured",
                 "solver.certify_max_users=0", "problem16_multistart_max_users=0",
                 "global_eta.problem16_tol=1e-2"]) == EXIT_OK
    with open(out / "summary.csv", newline="") as handle:
        summary = {row["name"]: row["value"] for row in csv.DictReader(handle)}
    assert summary["optimum_from"] == "Problem (16)" and summary["certificate"] == "PASS"
    assert summary["certified_by"] == "duality gap" and "decides" in summary["problem16_crosscheck"]
    T, eta, share = float(summary["T"]), float(summary["eta"]), float(summary["A_problem16_certified"])
    assert T == pytest.approx(float(summary["T_problem16_certified"]), rel=1e-12)
    reference = reference_scenario(users, {**parameters, "client_share_min": share})
    assert T == pytest.approx(solve_reference(reference, eta).T, rel=1e-8)
    with open(out / "lemma3_kkt.csv", newline="") as handle:
        checks = {row["check"]: row["verdict"] for row in csv.DictReader(handle)}
    assert checks["problem16_reported_vs_global"] == "PASS" and checks["delay_within_T"] == "PASS"
