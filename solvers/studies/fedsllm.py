"""A FedsLLM study task: the four strategies of Fig. 2 on one drop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from enum import Enum

from data.drops import fedsllm_drop
from data.papers import FEDSLLM_STRATEGIES
from solvers.studies.tasks import StudyTask, worker_name, task_row


DEFAULT_STUDY_TOLERANCE = 1e-4  # relative gap of each drop's certified optimum over eta (eta_search=certified)
STUDY_GRID_STEP = 0.1  # eta_search=search: the coarse grid before Brent (18 structured solves per drop at K=50)
STUDY_REFINE_TOLERANCE = 1e-5  # on eta


class StudyEngine(Enum):
    batched = "batched"  # chunks of tasks solved together (solvers/studies/fedsllm_batched.py)
    per_task = "per_task"  # one Dask task per drop and sweep point, run_fedsllm_task (the reference)


@dataclass(frozen=True)
class FedsllmStudySpec:
    """What every FedsLLM task needs: the base case's parameters, K, the sweep's name and the settings."""

    parameters: dict
    users: int
    sweep_name: str | None
    baseline_eta: float
    tolerance: float
    gap: float
    solve_limit: int
    eta_search: str = "search"  # "search": grid + Brent, each point's duality gap; "certified": branch and bound


def failed_row(task: StudyTask, strategy: str, message: str, seconds: float, worker: str) -> dict:
    return task_row(task, strategy, T_s=math.nan, eta=math.nan, lower_bound_s=math.nan, gap=math.nan,
                    status="failed", message=message, seconds=seconds, worker=worker)


def run_fedsllm_task(spec: FedsllmStudySpec, task: StudyTask) -> list[dict]:
    """Proposed (Problem (17) over eta: the eta search, or with eta_search=certified the optimum certified over
    (0, 1) by branch and bound), EB (equal bandwidth, eta searched on the grid and refined), FE (Problem
    (17) at the fixed eta, structured engine, its duality gap) and BA (equal bandwidth at the fixed eta,
    closed form) on one drop."""
    worker = worker_name()
    started = time.perf_counter()
    try:
        inputs, scenario = drop_scenario(spec, task)
    except (ValueError, ArithmeticError) as error:
        return undrawn_rows(task, error, time.perf_counter() - started, worker)
    return fedsllm_strategy_rows(spec, task, inputs, scenario, worker)


def drop_scenario(spec: FedsllmStudySpec, task: StudyTask, draws: dict | None = None):
    """The task's drop as its inputs and SplitScenario; ValueError or ArithmeticError when it cannot be
    drawn. `draws`: data.drops.fedsllm_drop's memory of drawn users (one draw per seed)."""
    from solvers.fedsllm.scenario import SplitScenario  # noqa: PLC0415 (workers import what they run)

    inputs = fedsllm_drop(spec.parameters, spec.users, task.seed, spec.sweep_name, task.sweep_value, draws)
    return inputs, SplitScenario.from_inputs(inputs)


def undrawn_rows(task: StudyTask, error: Exception, seconds: float, worker: str) -> list[dict]:
    return [failed_row(task, s, f"the drop could not be drawn: {error}", seconds, worker) for s in FEDSLLM_STRATEGIES]


def fedsllm_strategy_rows(spec: FedsllmStudySpec, task: StudyTask, inputs, scenario, worker: str) -> list[dict]:
    """The four strategies' rows on one scenario (a drop, or a sensitivity study's sample point)."""
    from solvers.fedsllm.search import eta_grid_for  # noqa: PLC0415 (workers import what they run)
    from solvers.fedsllm.baselines import EqualBandwidth  # noqa: PLC0415

    rows = []
    fixed = spec.baseline_eta
    # BA and EB: equal split, numpy only
    clock = time.perf_counter()
    ba_delay = scenario.equal_split_delay_s(fixed)
    rows.append(task_row(task, "BA", T_s=ba_delay, eta=fixed, lower_bound_s=ba_delay, gap=0.0, status="ok",
                         message="", seconds=time.perf_counter() - clock, worker=worker))
    clock = time.perf_counter()
    eb = EqualBandwidth(scenario).best(eta_grid_for(inputs), fixed, 1e-6)
    rows.append(task_row(task, "EB", T_s=eb.T, eta=eb.eta, lower_bound_s=math.nan, gap=math.nan, status="ok",
                         message="", seconds=time.perf_counter() - clock, worker=worker))
    if spec.eta_search == "certified":
        rows += _fe_and_global_proposed(spec, task, scenario, eb.eta, worker)
    else:
        rows += _fe_and_searched_proposed(spec, task, inputs, eb.eta, worker)
    order = {s: i for i, s in enumerate(FEDSLLM_STRATEGIES)}
    return sorted(rows, key=lambda row: order[row["strategy"]])


def _fe_row(task: StudyTask, fixed: float, T: float, lower_bound: float, gap: float, failure: str, seconds: float,
            worker: str) -> dict:
    """FE: Problem (17) at the fixed eta by the structured engine, with its duality gap."""
    if failure:
        return failed_row(task, "FE", f"structured solve at eta={fixed:g}: {failure}", seconds, worker)
    return task_row(task, "FE", T_s=T, eta=fixed, lower_bound_s=lower_bound, gap=gap, status="ok", message="",
                    seconds=seconds, worker=worker)


def _fe_and_searched_proposed(spec: FedsllmStudySpec, task: StudyTask, inputs, eb_eta: float,
                              worker: str) -> list[dict]:
    """Proposed by the eta search of the main job (solvers/fedsllm/search.py) on the structured engine: a
    coarse grid, Brent between the best point's neighbours, then the fixed and EB's eta; every point
    warm-started, so its duality gap proves T*(eta) there (no Ipopt re-solve). FE is the search's solve
    at the fixed eta."""
    from solvers.fedsllm.search import Engine, EngineSettings, EtaGrid, EtaSearch  # noqa: PLC0415
    from solvers.runtime.ipopt import IpoptSolver, SolveError  # noqa: PLC0415

    started = time.perf_counter()
    fixed = spec.baseline_eta
    search = EtaSearch(inputs, IpoptSolver(), engine=EngineSettings(Engine.structured, spec.gap, certify_max_users=0))
    try:
        result = search.run(EtaGrid(STUDY_GRID_STEP, STUDY_GRID_STEP, 1.0 - STUDY_GRID_STEP), STUDY_REFINE_TOLERANCE,
                            extra_etas=(fixed, eb_eta))
    except SolveError as error:
        failure = error.failures[0]
        return [failed_row(task, s, failure, time.perf_counter() - started, worker) for s in ("FE", "Proposed")]
    seconds = time.perf_counter() - started
    at_fixed = next(p for p in result.points if p.eta == fixed)
    fe = _fe_row(task, fixed, at_fixed.T, at_fixed.lower_bound, at_fixed.gap, "", at_fixed.record.seconds, worker)
    if result.solves > spec.solve_limit:
        return [fe, failed_row(task, "Proposed", f"{result.solves} structured solves, more than "
                                              f"monte_carlo.solve_limit={spec.solve_limit}", seconds, worker)]
    best = result.best
    return [fe, task_row(task, "Proposed", T_s=best.T, eta=best.eta, lower_bound_s=result.best_lower_bound,
                         gap=result.best_gap, status="ok", message="", seconds=seconds, worker=worker)]


def _fe_and_global_proposed(spec: FedsllmStudySpec, task: StudyTask, scenario, eb_eta: float,
                            worker: str) -> list[dict]:
    """Proposed as the certified optimum over (0, 1) (branch and bound to `tolerance`), started at EB's and
    the fixed eta so that Proposed <= both; FE one structured solve."""
    from solvers.fedsllm.global_eta import GlobalSearchError, certify_global_eta  # noqa: PLC0415
    from solvers.fedsllm.structured import solve_structured  # noqa: PLC0415

    fixed = spec.baseline_eta
    clock = time.perf_counter()
    point = solve_structured(scenario, fixed, gap=spec.gap)
    rows = [_fe_row(task, fixed, point.T, point.lower_bound, point.gap, "" if point.converged else point.status,
                    time.perf_counter() - clock, worker)]
    clock = time.perf_counter()
    try:
        best = certify_global_eta(scenario, [fixed, eb_eta, 0.5], tol=spec.tolerance, gap=spec.gap,
                                  solve_limit=spec.solve_limit)
        if best.certified:
            rows.append(task_row(task, "Proposed", T_s=best.T, eta=best.eta, lower_bound_s=best.lower_bound,
                                 gap=best.gap, status="ok", message="", seconds=time.perf_counter() - clock,
                                 worker=worker))
        else:
            rows.append(failed_row(task, "Proposed", f"global search over eta: {best.status} after {best.solves} "
                                                  "solves (raise monte_carlo.solve_limit)",
                                time.perf_counter() - clock, worker))
    except GlobalSearchError as error:
        rows.append(failed_row(task, "Proposed", f"global search over eta: {error}", time.perf_counter() - clock,
                            worker))
    return rows


def fedsllm_task_failure(task: StudyTask, message: str) -> list[dict]:
    return [failed_row(task, s, message, math.nan, "") for s in FEDSLLM_STRATEGIES]
