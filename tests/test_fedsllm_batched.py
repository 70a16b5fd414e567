"""The batched structured engine: the compiled kernel against the independent reference and the numpy
engine, one scenario's failure kept to itself, the lockstep Brent against scipy's, and the batched study
against the per-task study (T and eta to 1e-9, failures included)."""

from __future__ import annotations

import csv
import dataclasses
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from data.drops import fedsllm_drop
from data.fedsllm.inputs import load_fedsllm
from data.fedsllm.generate import ScenarioSettings, draw_users, fedsllm_inputs_in_memory
from solvers.app.cli import main
from solvers.app.jobs import EXIT_OK
from solvers.fedsllm.baselines import EqualBandwidth
from solvers.fedsllm.batched import BatchState, ScenarioBatch, solve_fixed_eta, solve_structured_compiled
from solvers.fedsllm.scenario import SplitScenario
from solvers.fedsllm.search import eta_grid_for
from solvers.fedsllm.structured import solve_structured
from solvers.studies.cluster import ClusterSettings, run_tasks
from solvers.studies.fedsllm import STUDY_REFINE_TOLERANCE, FedsllmStudySpec, fedsllm_strategy_rows, run_fedsllm_task
from solvers.studies.fedsllm_batched import fedsllm_batch_rows, fedsllm_chunk_failure, run_fedsllm_chunk
from solvers.studies.fedsllm_lockstep import EqualSplitDelays, LockstepBrent, equal_bandwidth_search
from solvers.studies.tasks import StudyChunk, StudyTask, study_chunks, study_tasks
from tests.conftest import SPEC_PARAMETERS, reference_scenario
from tests.reference_fedsllm import solve_reference
from tests.test_fedsllm_engines import random_users

ROUNDING = 1e-12  # the reference is exact to about 1e-10 and the bounds to about 1e-15
NUMBERS = ("T_s", "eta", "lower_bound_s", "gap")


def scenario_of(users: dict, parameters: dict) -> SplitScenario:
    return SplitScenario.from_inputs(fedsllm_inputs_in_memory(users, {**SPEC_PARAMETERS, **parameters}))


@pytest.mark.parametrize("case", range(6))
def test_compiled_solve_matches_the_reference_and_the_numpy_engine(case):
    """Random scenarios (a -150 dB user, unequal powers or fast clients by case), cold and warm."""
    rng = np.random.default_rng(300 + case)
    count = [1, 2, 4, 7, 12, 40][case]
    users, parameters = random_users(rng, count, case)
    scenario = scenario_of(users, parameters)
    reference_data = reference_scenario(users, parameters)
    previous = None
    for eta in (0.05, 0.06, 0.5, 0.85):  # cold, then warm from the previous eta
        point = solve_structured_compiled(scenario, eta, previous)
        assert point.converged, (eta, point.status, point.gap)
        assert point.gap <= 1e-9
        if eta in (0.06, 0.85):
            reference = solve_reference(reference_data, eta)
            assert point.T == pytest.approx(reference.T, rel=1e-8)
            assert point.lower_bound <= reference.T * (1 + ROUNDING) and reference.T <= point.T * (1 + ROUNDING)
            np.testing.assert_allclose(point.bandwidth_main_hz, reference.bandwidth_main_hz, rtol=1e-6,
                                       atol=1e-9 * scenario.bandwidth_main_hz)
        assert point.bandwidth_main_hz.sum() <= scenario.bandwidth_main_hz * (1 + 1e-14)
        assert point.bandwidth_fed_hz.sum() <= scenario.bandwidth_fed_hz * (1 + 1e-14)
        numpy_point = solve_structured(scenario, eta)
        assert point.T == pytest.approx(numpy_point.T, rel=1e-9)
        assert point.share_slope == pytest.approx(numpy_point.share_slope, rel=1e-6)
        np.testing.assert_allclose(point.multipliers.nu, numpy_point.multipliers.nu, rtol=1e-6, atol=1e-12)
        previous = point


def weak_user_inputs(seed: int, count: int) -> list:
    """Drawn scenarios' inputs, the first with a -150 dB user, the second with unequal powers."""
    inputs = []
    for index in range(count):
        users = draw_users(ScenarioSettings(users=6 + index, seed=seed + index))
        if index == 0:
            users["gain_main_db"][2], users["gain_fed_db"][2] = -150.0, -151.0
        if index == 1:
            users["power_main_max_dbm"] = np.linspace(-5, 25, len(users["user"]))
        inputs.append(fedsllm_inputs_in_memory(users, {**SPEC_PARAMETERS, "bandwidth_fed_hz": 5e6 * (1 + index)}))
    return inputs


def weak_user_scenarios(seed: int, count: int) -> list[SplitScenario]:
    return [SplitScenario.from_inputs(inputs) for inputs in weak_user_inputs(seed, count)]


def test_a_failing_scenario_leaves_the_others_of_its_batch_as_they_were():
    good = weak_user_scenarios(11, 3)
    broken = dataclasses.replace(good[1], power_to_noise_fed_hz=np.where(np.arange(good[1].user_count) == 2, np.nan,
                                                                          good[1].power_to_noise_fed_hz))
    batch = ScenarioBatch.of([good[0], broken, good[1], good[2]])
    state = BatchState(batch)
    for eta in (0.3, 0.31, 0.7):
        together = solve_fixed_eta(batch, state, eta)
        assert list(together.converged) == [True, False, True, True]
        assert together.status[1] != 0 and math.isnan(together.T[1])
        assert not solve_structured(broken, eta).converged  # the numpy engine fails it too
        for position, scenario in zip((0, 2, 3), good):
            alone = solve_structured(scenario, eta)  # the numpy engine, one scenario at a time
            assert together.T[position] == pytest.approx(alone.T, rel=1e-9)
            assert together.lower_bound[position] <= alone.T * (1 + ROUNDING)
        # the broken scenario retries cold at every eta and still fails; the others stay warm
        assert state.solved.all()


def test_lockstep_brent_visits_the_points_scipy_visits():
    rng = np.random.default_rng(5)
    count = 300
    centres, widths, kinds = rng.uniform(0.1, 0.9, count), rng.uniform(0.01, 0.3, count), rng.integers(0, 5, count)

    def value(s: int, x: float) -> float:
        c = centres[s]
        return [(x - c) ** 2, abs(x - c) + 0.1 * math.sin(20 * x), math.inf if x > c + 0.05 else (x - c) ** 4 - x,
                1.0, math.cos(7 * x) * (1 + x)][kinds[s]]

    low, high = np.maximum(0.01, centres - widths), np.minimum(0.99, centres + widths)
    visited = [[] for _ in range(count)]

    def objective(x, running):
        out = np.full(count, np.nan)
        for s in np.flatnonzero(running):
            visited[s].append(float(x[s]))
            out[s] = value(s, x[s])
        return out

    running = rng.random(count) < 0.9
    brent = LockstepBrent(low, high, 1e-5, running).minimise(objective)
    for s in range(count):
        if not running[s]:
            assert not visited[s]
            continue
        seen = []
        result = minimize_scalar(lambda x: (seen.append(float(x)), value(s, x))[1], bounds=(low[s], high[s]),
                                 method="bounded", options={"xatol": 1e-5})
        assert seen == visited[s] and result.x == brent.xf[s] and result.fun == brent.fx[s], s


def test_equal_split_of_a_batch_is_each_scenarios_own():
    scenarios = weak_user_scenarios(21, 4)
    delays = EqualSplitDelays.of(scenarios)
    grid = eta_grid_for(fedsllm_inputs_in_memory(draw_users(ScenarioSettings(users=3)), SPEC_PARAMETERS))
    for eta in (0.01, 0.1, 0.537, 0.99):
        assert list(delays.delays(eta)) == [s.equal_split_delay_s(eta) for s in scenarios]
    T, etas = equal_bandwidth_search(delays, grid, 0.1, 1e-6)
    for s, scenario in enumerate(scenarios):
        eb = EqualBandwidth(scenario).best(grid, 0.1, 1e-6)
        assert (T[s], etas[s]) == (eb.T, eb.eta)


def spec_for(users: int, sweep: str | None, solve_limit: int = 5000) -> FedsllmStudySpec:
    return FedsllmStudySpec(dict(load_fedsllm().parameters), users, sweep, 0.1, 1e-4, 1e-9, solve_limit)


# Brent's last steps are a few 1e-6 in eta, where T differs by about 1e-10 between its points: a difference of
# 1e-13 in T (the engines' rounding) moves its parabolic step, and so eta, by about 3e-8 (over 220 runs at
# K = 50: 95 % within 1e-9, all within 2.1e-8; T within 1.6e-13).
ETA_RELATIVE = 1e-7


def assert_rows_agree(per_task: list[dict], batched: list[dict], eta_abs: float = 0.0) -> None:
    """Same runs in the same order, the same statuses and messages, T to 1e-9 and eta to ETA_RELATIVE
    (or within `eta_abs`)."""
    assert [(r["index"], r["strategy"]) for r in per_task] == [(r["index"], r["strategy"]) for r in batched]
    for a, b in zip(per_task, batched):
        assert (a["status"], a["message"]) == (b["status"], b["message"]), (a, b)
        for key, relative, absolute in (("T_s", 1e-9, 0.0), ("eta", ETA_RELATIVE, eta_abs)):
            assert (math.isnan(a[key]) and math.isnan(b[key])) or \
                b[key] == pytest.approx(a[key], rel=relative, abs=absolute), (key, a, b)
        if a["status"] == "ok" and a["strategy"] in ("Proposed", "FE"):
            assert b["gap"] <= 1e-9 and b["lower_bound_s"] <= a["T_s"] * (1 + ROUNDING)


@pytest.mark.parametrize("seed, solve_limit", [(3, 5000), (8, 12)])
def test_batched_study_rows_equal_the_per_task_rows(seed, solve_limit):
    """Drops x powers; with solve_limit=12 the drops whose search needs more solves fail Proposed in both."""
    spec = spec_for(8, "power_dbm", solve_limit)
    tasks = study_tasks(3, seed, [0.0, 9.0, 20.0])
    per_task = [row for task in tasks for row in run_fedsllm_task(spec, task)]
    batched = run_fedsllm_chunk(spec, StudyChunk(tuple(tasks)))
    assert_rows_agree(per_task, batched)
    failed = sum(r["status"] != "ok" for r in batched)
    assert (failed > 0) == (solve_limit < 20) and failed < len(batched)


def test_batched_rows_with_a_weak_user_and_a_drop_that_cannot_be_drawn():
    """With a -150 dB user the round time sits within rounding of that user's floor, so either engine's
    T*(eta) is exact only to about 1e-11 (its gap, <= 1e-9, is what is proven) and Brent's last steps
    follow that rounding: the per-task path's own eta moves by up to 5e-6 when its warm starts are
    replaced by cold ones. There eta agrees to Brent's tolerance (STUDY_REFINE_TOLERANCE), T to 1e-9."""
    spec = spec_for(6, None)
    inputs = weak_user_inputs(31, 3)
    scenarios = [SplitScenario.from_inputs(i) for i in inputs]
    tasks = [StudyTask(i, i, 31 + i, None) for i in range(3)]
    grid = eta_grid_for(inputs[0])
    per_task = [row for task, i, s in zip(tasks, inputs, scenarios)
                for row in fedsllm_strategy_rows(spec, task, i, s, "here")]
    batched = [row for rows in fedsllm_batch_rows(spec, tasks, scenarios, grid, "here") for row in rows]
    assert_rows_agree(per_task, batched, eta_abs=STUDY_REFINE_TOLERANCE)
    # users = 0 cannot be drawn: that task's four rows fail, its neighbours' do not
    users_spec = spec_for(6, "users")
    sweep = study_tasks(2, 4, [0.0, 5.0])
    per_task = [row for task in sweep for row in run_fedsllm_task(users_spec, task)]
    batched = run_fedsllm_chunk(users_spec, StudyChunk(tuple(sweep)))
    assert_rows_agree(per_task, batched)
    assert [r["status"] for r in batched[:4]] == ["failed"] * 4 and "could not be drawn" in batched[0]["message"]
    assert all(r["status"] == "ok" for r in batched[4:8])


def test_chunks_cover_the_tasks_in_order():
    tasks = study_tasks(7, 1, [1.0, 2.0, 3.0])
    for workers in (1, 2, 5, 40):
        chunks = study_chunks(tasks, workers)
        assert [t for c in chunks for t in c.tasks] == tasks
        assert len(chunks) == min(len(tasks), 4 * workers)
        assert max(c.size for c in chunks) - min(c.size for c in chunks) <= 1
    assert len(study_chunks(study_tasks(2000, 1, None), 1)) == 4  # at most 500 tasks per chunk
    failure = fedsllm_chunk_failure(study_chunks(tasks, 1)[1], "lost")
    assert len(failure) == 4 * study_chunks(tasks, 1)[1].size and {r["status"] for r in failure} == {"failed"}


def test_batched_study_on_dask_gives_the_numbers_of_one_chunk():
    """Chunks on two workers, against all tasks as one chunk in this process: each scenario's numbers do
    not depend on the scenarios it is batched with, nor on the worker."""
    spec = spec_for(5, "power_dbm")
    tasks = study_tasks(3, 2, [4.0, 14.0])
    rows, where = run_tasks(run_fedsllm_chunk, spec, tasks, fedsllm_chunk_failure, ClusterSettings(workers=2),
                            group=study_chunks)
    assert where["workers"] == 2 and len({r["worker"] for r in rows}) == 2
    alone = run_fedsllm_chunk(spec, StudyChunk(tuple(tasks)))
    assert [(r["index"], r["strategy"]) for r in rows] == [(r["index"], r["strategy"]) for r in alone]
    for a, b in zip(rows, alone):
        assert all(a[k] == b[k] or (math.isnan(a[k]) and math.isnan(b[k])) for k in NUMBERS), (a, b)


def test_drops_drawn_once_per_seed_are_the_drops_drawn_each_time():
    draws = {}
    for power in (0.0, 7.0):
        remembered = fedsllm_drop(dict(SPEC_PARAMETERS), 5, 9, "power_dbm", power, draws)
        fresh = fedsllm_drop(dict(SPEC_PARAMETERS), 5, 9, "power_dbm", power)
        for name, column in fresh.users.items():
            np.testing.assert_array_equal(remembered.users[name], column)
    assert list(draws) == [(5, 9)]


def test_the_study_engine_is_a_key_and_the_report_says_which_ran(tmp_path):
    runs = {}
    for engine, search in (("batched", "search"), ("per_task", "search"), ("batched", "certified")):
        out = tmp_path / f"{engine}-{search}"
        assert main(["study=monte_carlo", "drops=2", "users=4", "sweep.name=power_dbm", "sweep.values=[0,10]",
                     "dask.workers=1", "progress=false", f"monte_carlo.engine={engine}",
                     f"monte_carlo.eta_search={search}", f"out={out}"]) == EXIT_OK
        summary = {r["name"]: r["value"] for r in csv.DictReader(open(out / "summary.csv"))}
        assert summary["study_engine"] == ("batched" if (engine, search) == ("batched", "search") else "per_task")
        runs[engine, search] = list(csv.DictReader(open(out / "runs.csv")))
    for a, b in zip(runs["per_task", "search"], runs["batched", "search"]):
        assert (a["strategy"], a["status"]) == (b["strategy"], b["status"])
        assert float(b["T_s"]) == pytest.approx(float(a["T_s"]), rel=1e-9)
