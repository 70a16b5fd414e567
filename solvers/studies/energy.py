"""The delay-energy front on Dask: one task per delay limit and strategy, data only.

The spec carries the validated scenario (plain arrays), the eta grid and the settings; each job a delay
limit, a strategy (Proposed, EB, FE, BA with its own fixed part) and that strategy's delay optimum, where
its front starts. A task builds its own search (structured engine) and answers with one row: the least
energy and its parts, the eta and server clock, the proven lower bound (the structured engine's at eta*
and, for a strategy that searches eta, the branch and bound's over every eta), or why it failed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from data.fedsllm.inputs import FedsllmInputs
from solvers.fedsllm.energy.bound import EtaBranchAndBound
from solvers.fedsllm.energy.engines import below_least_delay
from solvers.fedsllm.energy.search import EnergySearch, Strategy
from solvers.fedsllm.engines import Allocation
from solvers.fedsllm.search import EtaGrid
from solvers.runtime.ipopt import IpoptSolver, SolveError
from solvers.studies.tasks import StudyTask, worker_name


@dataclass(frozen=True)
class FrontJob:
    max_delay_s: float
    factor: float  # max_delay_s / T*
    strategy: Strategy
    delay_optimum: Allocation  # the strategy's least delay and its allocation (MHz, s)


@dataclass(frozen=True)
class FrontSpec:
    inputs: FedsllmInputs
    grid: EtaGrid
    refine_tolerance: float | None
    gap: float
    certify_eta: bool
    eta_tol: float
    jobs: tuple[FrontJob, ...]


def front_jobs(least_delay_s: float, max_factor: float, points: int, strategies, optima: dict) -> tuple[FrontJob, ...]:
    """`points` delay limits from T* to max_factor T* for every strategy, and each strategy's own least delay
    (where its front starts) when it lies in that range."""
    factors = np.linspace(1.0, max_factor, points)
    jobs = []
    for strategy in strategies:
        optimum = optima[strategy.name]
        limits = {float(f * least_delay_s) for f in factors}
        if least_delay_s <= optimum.T <= max_factor * least_delay_s:
            limits.add(float(optimum.T))
        jobs += [FrontJob(limit, limit / least_delay_s, strategy, optimum) for limit in sorted(limits)]
    return tuple(jobs)


def _row(job: FrontJob, **values) -> dict:
    row = {"max_delay_s": job.max_delay_s, "factor": job.factor, "strategy": job.strategy.name, "feasible": False,
           "eta": math.nan, "energies": None, "server_clock_hz": math.nan, "lower_bound_j": math.nan,
           "gap": math.nan, "status": "infeasible", "message": "", "seconds": 0.0, "worker": ""}
    row.update(values)
    return row


def run_front_task(spec: FrontSpec, task: StudyTask) -> list[dict]:
    """One job of the front (module docstring)."""
    job = spec.jobs[task.index]
    started, worker = time.perf_counter(), worker_name()
    if below_least_delay(job.max_delay_s, job.delay_optimum.T):
        return [_row(job, message=f"least delay {job.delay_optimum.T:.6g} s above T_max", worker=worker)]
    try:
        search = EnergySearch(spec.inputs, IpoptSolver(), job.max_delay_s, job.strategy, gap=spec.gap)
        result = search.run(spec.grid, spec.refine_tolerance, job.delay_optimum)
        lower = result.best.energy_j  # T_max = T*: the only feasible point
        if not result.only_point and spec.certify_eta and job.strategy.fixed_eta is None:
            lower = EtaBranchAndBound(search, spec.eta_tol).run().lower_bound_j
        elif not result.only_point:  # the structured engine's bound where the best point was solved
            lower = min(p.lower_bound_j for p in result.points if p.eta == result.best.eta and p.record.optimal)
    except SolveError as error:
        return [_row(job, status="failed", message=str(error).splitlines()[0],
                     seconds=time.perf_counter() - started, worker=worker)]
    best = result.best
    parts = best.parts
    energies = [parts.part_total_j("client"), parts.part_total_j("server"), parts.part_total_j("main"),
                parts.part_total_j("fed"), parts.total_j]
    return [_row(job, feasible=True, eta=best.eta, energies=energies, server_clock_hz=best.server_cpu_hz,
                 lower_bound_j=lower, gap=max(0.0, (best.energy_j - lower) / best.energy_j), status="ok",
                 seconds=time.perf_counter() - started, worker=worker)]


def front_task_failure(spec: FrontSpec):
    """The failure rows of run_tasks: the job named with the worker's error."""
    def failure(task: StudyTask, message: str) -> list[dict]:
        return [_row(spec.jobs[task.index], status="failed", message=message)]
    return failure


def front_tasks(spec: FrontSpec) -> list[StudyTask]:
    return [StudyTask(index, 0, 0, job.factor) for index, job in enumerate(spec.jobs)]
