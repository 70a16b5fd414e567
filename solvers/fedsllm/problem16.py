"""Problem (16), the full non-convex problem, solved by Ipopt from several starts.

Starts: the Problem (17) optimum lifted to (16) (f = f^max, f_s = f_s^max,
p = p^max, A = A_min) and a few spread points (other eta, clocks, powers and
shares, with the equal bandwidth split). The best local optimum is compared with
the reduction of Section III-E, which holds only when the server is faster than
every client (f_s^max > f_k^max for all k).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from data.fedsllm.inputs import FedsllmInputs
from models.fedsllm import set_equal_split_start
from solvers.fedsllm.search import Allocation
from solvers.runtime.ipopt import IpoptSolver, SolveRecord
from solvers.runtime.progress import Progress

REDUCTION_TOLERANCE = 1e-6  # relative, on T and on each decision at its bound


@dataclass(frozen=True)
class Start:
    name: str
    eta: float
    cpu_fraction: float  # f_k / f_k^max
    server_fraction: float  # f_s / f_s^max
    power_fraction: float  # p / p^max on both links
    share_position: float  # A = A_min + position (A_max - A_min)


SPREAD_STARTS = (
    Start("spread eta=0.3", 0.3, 0.5, 0.5, 0.5, 1.0),
    Start("spread eta=0.6", 0.6, 0.25, 0.75, 0.25, 0.5),
    Start("spread eta=0.9", 0.9, 1.0, 0.25, 1.0, 0.0),
)


@dataclass(frozen=True)
class Problem16Solution:
    start: str
    record: SolveRecord
    T: float
    eta: float
    client_share: float
    server_cpu_fraction: float  # f_s / f_s^max
    min_client_cpu_fraction: float  # min_k f_k / f_k^max
    min_power_fraction: float  # min over users and links of p / p^max
    allocation: Allocation | None


def reduction_applies(inputs: FedsllmInputs) -> bool:
    """Section III-E's A* = A_min needs a server strictly faster than every client."""
    return bool(np.all(inputs.column("cpu_max_hz") < inputs.parameter("server_cpu_max_hz")))


def _set_start(model: pyo.ConcreteModel, start: Start) -> None:
    model.eta.set_value(start.eta)
    model.client_share.set_value(model.client_share.lb + start.share_position * (model.client_share.ub - model.client_share.lb))
    model.server_cpu.set_value(start.server_fraction * model.server_cpu.ub)
    for k in model.users:
        model.client_cpu[k].set_value(start.cpu_fraction * model.client_cpu[k].ub)
        model.power_main[k].set_value(start.power_fraction * model.power_main[k].ub)
        model.power_fed[k].set_value(start.power_fraction * model.power_fed[k].ub)
    set_equal_split_start(model)


def _fraction(var) -> float:
    return var.value / var.ub


def _solution(model: pyo.ConcreteModel, name: str, record: SolveRecord) -> Problem16Solution:
    optimal = record.optimal
    return Problem16Solution(
        start=name, record=record,
        T=pyo.value(model.T) if optimal else np.nan,
        eta=pyo.value(model.eta) if optimal else np.nan,
        client_share=pyo.value(model.client_share) if optimal else np.nan,
        server_cpu_fraction=_fraction(model.server_cpu) if optimal else np.nan,
        min_client_cpu_fraction=min(_fraction(model.client_cpu[k]) for k in model.users) if optimal else np.nan,
        min_power_fraction=min(min(_fraction(model.power_main[k]), _fraction(model.power_fed[k]))
                               for k in model.users) if optimal else np.nan,
        allocation=Allocation.from_model(model) if optimal else None,
    )


def solve_problem16(model: pyo.ConcreteModel, solver: IpoptSolver, optimum17: Allocation,
                    progress: Progress | None = None) -> list[Problem16Solution]:
    """Every start's local optimum on a `build_problem16` model, which is left holding the best one."""
    progress = progress or Progress.silent()
    solutions = []
    lifted = Start("Problem (17) optimum", optimum17.eta, 1.0, 1.0, 1.0, 0.0)
    progress.start("Problem (16) from several starts", 1 + len(SPREAD_STARTS))
    for start in (lifted, *SPREAD_STARTS):
        _set_start(model, start)
        if start is lifted:
            optimum17.load_into(model)
        model.dual.clear()
        solutions.append(_solution(model, start.name, solver.solve(model, label=f"(16) from {start.name}")))
        progress.advance(f"from {start.name}: T={solutions[-1].T:.6g} s")
    progress.finish()
    best = best_solution(solutions)
    if best is not None:
        # Re-solve from the best start so the model holds it (values and multipliers).
        index = solutions.index(best)
        start = (lifted, *SPREAD_STARTS)[index]
        _set_start(model, start)
        if start is lifted:
            optimum17.load_into(model)
        model.dual.clear()
        solver.solve(model, label=f"(16) from {start.name}, again to hold the best")
    return solutions


def best_solution(solutions: list[Problem16Solution]) -> Problem16Solution | None:
    optimal = [s for s in solutions if s.record.optimal]
    return min(optimal, key=lambda s: s.T) if optimal else None


def reduction_holds(best: Problem16Solution, T17: float, inputs: FedsllmInputs) -> bool:
    """(16)'s best agrees with (17): same T, and f, f_s, p at their maxima, A at A_min."""
    tol = REDUCTION_TOLERANCE
    return (abs(best.T - T17) <= tol * T17
            and best.min_client_cpu_fraction >= 1 - tol and best.server_cpu_fraction >= 1 - tol
            and best.min_power_fraction >= 1 - tol
            and best.client_share <= inputs.parameter("client_share_min") + tol)
