"""The FedsLLM Monte Carlo study on the batched engine: many tasks (drops x sweep points) per Dask task.

`run_fedsllm_chunk` computes, for every task of a chunk, the rows `solvers.studies.fedsllm.run_fedsllm_task`
computes for one (Proposed, EB, FE, BA with eta_search=search): the drops are drawn as usual, their
users concatenated into one `ScenarioBatch`, and every step of the per-task path runs for all of them
at once: BA and EB's grid and Brent on the equal split in numpy, FE and Proposed's grid and Brent on the
compiled structured kernel, each scenario warm-started from its own last solve. Each scenario keeps its
own convergence test, duality gap and status; a drop that cannot be drawn or a solve that fails gives
that task's failed rows and leaves the others as they are.

A row's `seconds` is the chunk's time for that strategy divided by its tasks (the tasks are solved
together, so no single one has a time of its own); FE's is the search's, whose solve at the fixed eta it is.
"""

from __future__ import annotations

import math
import time

import numpy as np

from solvers.fedsllm.batched import ScenarioBatch
from solvers.fedsllm.scenario import SplitScenario
from solvers.fedsllm.search import EtaGrid, eta_grid_for
from solvers.studies.fedsllm import (
    STUDY_GRID_STEP,
    STUDY_REFINE_TOLERANCE,
    FedsllmStudySpec,
    drop_scenario,
    failed_row,
    fedsllm_task_failure,
    undrawn_rows,
)
from solvers.studies.fedsllm_lockstep import (
    EqualSplitDelays,
    SolvedPoints,
    StudySearch,
    equal_bandwidth_search,
    searched_proposed,
)
from solvers.studies.tasks import StudyChunk, StudyTask, task_row, worker_name

EB_REFINE_TOLERANCE = 1e-6  # on eta, as the per-task path's EqualBandwidth.best


def _draw(spec: FedsllmStudySpec, tasks: list[StudyTask], started: float, worker: str):
    """Each task's scenario and EB grid, or its failed rows when its drop cannot be drawn."""
    drawn, failed, draws = [], {}, {}
    for task in tasks:
        try:
            inputs, scenario = drop_scenario(spec, task, draws)
            drawn.append((task, scenario, eta_grid_for(inputs)))
        except (ValueError, ArithmeticError) as error:
            failed[task.index] = undrawn_rows(task, error, time.perf_counter() - started, worker)
    return drawn, failed


def run_fedsllm_chunk(spec: FedsllmStudySpec, chunk: StudyChunk) -> list[dict]:
    """The rows of every task of `chunk`, in its order, strategies in FEDSLLM_STRATEGIES order."""
    tasks = list(chunk.tasks)
    worker = worker_name()
    started = time.perf_counter()
    drawn, failed = _draw(spec, tasks, started, worker)
    rows_of = dict(failed)
    grids = {grid for _, _, grid in drawn}
    if len(grids) > 1:  # eta_step is a base-case parameter, never swept (data.drops.fedsllm_sweep_names)
        raise ValueError(f"the tasks of a chunk need one eta grid, got {len(grids)}")
    if drawn:
        solved = [task for task, _, _ in drawn]
        for task, rows in zip(solved, fedsllm_batch_rows(spec, solved, [s for _, s, _ in drawn], grids.pop(),
                                                         worker)):
            rows_of[task.index] = rows
    return [row for task in tasks for row in rows_of[task.index]]


def fedsllm_batch_rows(spec: FedsllmStudySpec, tasks: list[StudyTask], scenarios: list[SplitScenario],
                       eb_grid: EtaGrid, worker: str) -> list[list[dict]]:
    """Proposed, EB, FE and BA of every (task, scenario), all scenarios together; `eb_grid` is EB's eta
    grid (the workbook's eta_step)."""
    count = len(tasks)
    fixed = spec.baseline_eta
    clock = time.perf_counter()
    equal = EqualSplitDelays.of(scenarios)
    ba = equal.delays(fixed)
    ba_seconds = (time.perf_counter() - clock) / count
    clock = time.perf_counter()
    eb_T, eb_eta = equal_bandwidth_search(equal, eb_grid, fixed, EB_REFINE_TOLERANCE)
    eb_seconds = (time.perf_counter() - clock) / count
    clock = time.perf_counter()
    points = SolvedPoints(ScenarioBatch.of(scenarios), spec.gap)
    search = StudySearch(EtaGrid(STUDY_GRID_STEP, STUDY_GRID_STEP, 1.0 - STUDY_GRID_STEP), fixed,
                         STUDY_REFINE_TOLERANCE, spec.solve_limit)
    best = searched_proposed(points, search, eb_eta)
    proposed_seconds = (time.perf_counter() - clock) / count
    rows = []
    for s, task in enumerate(tasks):
        if points.alive[s]:
            proposed = task_row(task, "Proposed", **_proposed_values(points, s, best[s], spec.solve_limit),
                                seconds=proposed_seconds, worker=worker)
            fe = task_row(task, "FE", **_fe_values(points, s, fixed), seconds=proposed_seconds, worker=worker)
        else:  # a failed solve fails the search, so FE and Proposed, with its message (as the per-task path)
            proposed, fe = (failed_row(task, name, points.failure[s], proposed_seconds, worker)
                            for name in ("Proposed", "FE"))
        rows.append([
            proposed,
            task_row(task, "EB", T_s=float(eb_T[s]), eta=float(eb_eta[s]), lower_bound_s=math.nan, gap=math.nan,
                     status="ok", message="", seconds=eb_seconds, worker=worker),
            fe,
            task_row(task, "BA", T_s=float(ba[s]), eta=fixed, lower_bound_s=float(ba[s]), gap=0.0, status="ok",
                     message="", seconds=ba_seconds, worker=worker),
        ])
    return rows


def _point(points: SolvedPoints, s: int, column: int) -> tuple[float, float, float, int]:
    T, lower = float(points.T[s, column]), float(points.lower_bound[s, column])
    return T, lower, max(0.0, (T - lower) / T), int(points.status[s, column])


def _fe_values(points: SolvedPoints, s: int, fixed: float) -> dict:
    """FE: Problem (17) at the fixed eta (the scenario's first solve there), with its duality gap."""
    T, lower, gap, _ = _point(points, s, int(np.argmax(points.etas[s] == fixed)))
    return dict(T_s=T, eta=fixed, lower_bound_s=lower, gap=gap, status="ok", message="")


def _proposed_values(points: SolvedPoints, s: int, column: int, solve_limit: int) -> dict:
    """Proposed: the best solved eta of a search without failures, failed when it took more solves than
    the limit."""
    T, lower, gap, _ = _point(points, s, column)
    solves = int(points.count[s])
    if solves <= solve_limit:
        return dict(T_s=T, eta=float(points.etas[s, column]), lower_bound_s=lower, gap=gap, status="ok", message="")
    return dict(T_s=math.nan, eta=math.nan, lower_bound_s=math.nan, gap=math.nan, status="failed",
                message=f"{solves} structured solves, more than monte_carlo.solve_limit={solve_limit}")


def fedsllm_chunk_failure(chunk: StudyChunk, message: str) -> list[dict]:
    """Failed rows for every task of a chunk that crashed on its worker."""
    return [row for task in chunk.tasks for row in fedsllm_task_failure(task, message)]
