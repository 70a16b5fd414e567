"""A FedsLLM study task: the four strategies of Fig. 2 on one drop.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from data.drops import fedsllm_drop
from solvers.studies.tasks import StudyTask, worker_name, task_row


STRATEGIES = ("Proposed", "EB", "FE", "BA")
STUDY_GRID_STEP = 0.1  # eta_search=search: the coarse grid before Brent (18 structured solves per drop at K=50)
STUDY_REFINE_TOLERANCE = 1e-5  # on eta


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


def _failed(task: StudyTask, strategy: str, message: str, seconds: float, worker: str) -> dict:
    return task_row(task, strategy, T_s=math.nan, eta=math.nan, lower_bound_s=math.nan, gap=math.nan,
                status="failed", message=message, seconds=seconds, worker=worker)


def run_fedsllm_task(spec: FedsllmStudySpec, task: StudyTask) -> list[dict]:
    """Proposed (Problem (17) over eta: the eta search, or with eta_search=certified the optimum certified over
    (0, 1) by branch and bound), EB (equal bandwidth, eta searched on the grid and refined), FE (Problem
    (17) at the fixed eta, structured engine, its duality gap) and BA (equal bandwidth at the fixed eta,
    closed form) on one drop."""
    from solvers.fedsllm.search import eta_grid_for  # noqa: PLC0415 (workers import what they run)
    from solvers.fedsllm.baselines import EqualBandwidth  # noqa: PLC0415
    from solvers.fedsllm.scenario import SplitScenario  # noqa: PLC0415

    worker = worker_name()
    started = time.perf_counter()
    try:
        inputs = fedsllm_drop(spec.parameters, spec.users, task.seed, spec.sweep_name, task.sweep_value)
        scenario = SplitScenario.from_inputs(inputs)
    except (ValueError, ArithmeticError) as error:
        message = f"the drop could not be drawn: {error}"
        return [_failed(task, s, message, time.perf_counter() - started, worker) for s in STRATEGIES]
    rows = []
    fixed = spec.baseline_eta
    # BA and EB: equal split, numpy only
    clock = time.perf_counter()
    ba_delay = scenario.equal_split_delay_s(fixed)
    rows.append(task_row(task, "BA", T_s=ba_delay, eta=fixed, lower_bound_s=ba_delay, gap=0.0, status="ok", message="",
                     seconds=time.perf_counter() - clock, worker=worker))
    clock = time.perf_counter()
    eb = EqualBandwidth(scenario).best(eta_grid_for(inputs), fixed, 1e-6)
    rows.append(task_row(task, "EB", T_s=eb.T, eta=eb.eta, lower_bound_s=math.nan, gap=math.nan, status="ok",
                     message="", seconds=time.perf_counter() - clock, worker=worker))
    if spec.eta_search == "certified":
        rows += _fe_and_global_proposed(spec, task, scenario, eb.eta, worker)
    else:
        rows += _fe_and_searched_proposed(spec, task, scenario, eb.eta, worker)
    order = {s: i for i, s in enumerate(STRATEGIES)}
    return sorted(rows, key=lambda row: order[row["strategy"]])


def _fe_row(spec: FedsllmStudySpec, task: StudyTask, point, seconds: float, worker: str) -> dict:
    """FE: Problem (17) at the fixed eta by the structured engine, with its duality gap."""
    fixed = spec.baseline_eta
    return task_row(task, "FE", T_s=point.T if point.converged else math.nan, eta=fixed, lower_bound_s=point.lower_bound,
                gap=point.gap, status="ok" if point.converged else "failed",
                message="" if point.converged else f"structured solve at eta={fixed:g}: {point.status}",
                seconds=seconds, worker=worker)


def _fe_and_searched_proposed(spec: FedsllmStudySpec, task: StudyTask, scenario, eb_eta: float,
                              worker: str) -> list[dict]:
    """Proposed as the paper's eta search: a coarse grid (with the fixed and EB's eta), then Brent between
    the best point's neighbours; every point by the structured engine, warm-started from the last, so its
    duality gap proves T*(eta) there. FE is the grid's solve at the fixed eta."""
    from solvers.fedsllm.search import EtaGrid, refine_between_neighbours  # noqa: PLC0415
    from solvers.fedsllm.structured import solve_structured  # noqa: PLC0415

    started = time.perf_counter()
    points, last = {}, [None]

    def delay(eta: float) -> float:
        eta = float(eta)
        if eta not in points:
            point = solve_structured(scenario, eta, last[0], spec.gap)
            if not point.converged:
                point = solve_structured(scenario, eta, None, spec.gap)
            points[eta] = last[0] = point
        point = points[eta]
        return point.T if point.converged else math.inf

    grid = EtaGrid(STUDY_GRID_STEP, STUDY_GRID_STEP, 1.0 - STUDY_GRID_STEP)
    delay(spec.baseline_eta)  # FE's point first
    fe_seconds = time.perf_counter() - started
    for eta in sorted({*grid.points(), eb_eta}):
        delay(eta)
        if len(points) > spec.solve_limit:
            break
    best = min(points, key=lambda e: delay(e))
    if math.isfinite(delay(best)):
        refine_between_neighbours(delay, grid, best, STUDY_REFINE_TOLERANCE)
    best = min(points, key=lambda e: delay(e))
    point = points[best]
    proposed = task_row(task, "Proposed", T_s=point.T, eta=best, lower_bound_s=point.lower_bound, gap=point.gap,
                    status="ok", message="", seconds=time.perf_counter() - started, worker=worker)
    if not point.converged or len(points) > spec.solve_limit:
        reason = (f"{len(points)} structured solves, more than monte_carlo.solve_limit={spec.solve_limit}"
                  if len(points) > spec.solve_limit else f"structured solve at eta={best:g}: {point.status}")
        proposed = _failed(task, "Proposed", reason, time.perf_counter() - started, worker)
    return [_fe_row(spec, task, points[spec.baseline_eta], fe_seconds, worker), proposed]


def _fe_and_global_proposed(spec: FedsllmStudySpec, task: StudyTask, scenario, eb_eta: float,
                            worker: str) -> list[dict]:
    """Proposed as the certified optimum over (0, 1) (branch and bound to `tolerance`), started at EB's and
    the fixed eta so that Proposed <= both; FE one structured solve."""
    from solvers.fedsllm.global_eta import GlobalSearchError, certify_global_eta  # noqa: PLC0415
    from solvers.fedsllm.structured import solve_structured  # noqa: PLC0415

    fixed = spec.baseline_eta
    clock = time.perf_counter()
    rows = [_fe_row(spec, task, solve_structured(scenario, fixed, gap=spec.gap), time.perf_counter() - clock, worker)]
    clock = time.perf_counter()
    try:
        best = certify_global_eta(scenario, [fixed, eb_eta, 0.5], tol=spec.tolerance, gap=spec.gap,
                                  solve_limit=spec.solve_limit)
        if best.certified:
            rows.append(task_row(task, "Proposed", T_s=best.T, eta=best.eta, lower_bound_s=best.lower_bound,
                             gap=best.gap, status="ok", message="", seconds=time.perf_counter() - clock,
                             worker=worker))
        else:
            rows.append(_failed(task, "Proposed", f"global search over eta: {best.status} after {best.solves} "
                                                  "solves (raise monte_carlo.solve_limit)",
                                time.perf_counter() - clock, worker))
    except GlobalSearchError as error:
        rows.append(_failed(task, "Proposed", f"global search over eta: {error}", time.perf_counter() - clock,
                            worker))
    return rows


def fedsllm_task_failure(task: StudyTask, message: str) -> list[dict]:
    return [_failed(task, s, message, math.nan, "") for s in STRATEGIES]
