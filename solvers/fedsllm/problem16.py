"""Problem (16), the full non-convex problem: its cross-checks and, where it differs from (17), its optimum.

- Ipopt from several starts (`solve_problem16`): the Problem (17) optimum lifted to (16) (f = f^max,
  f_s = f_s^max, p = p^max, A = A_min) and a few spread points (other eta, clocks, powers and shares, with
  the equal bandwidth split); the model is left holding the best start's point, kept as it was found.
- On the structured engine (`structured_crosscheck`): (16) at eta* with the client share A searched over
  [A_min, A_max] (f, f_s and the powers at their maxima, optimal at every eta and A: README), at any K.
- Where some client is at least as fast as the server, the certified global search of (16)
  (solvers/fedsllm/global_eta.py) decides; `polish_certified` re-solves its point by Ipopt on the (16)
  model so that the Lemma 3/KKT certificate reads it.
The best point is compared with the reduction of Section III-E, which holds only when the server is
faster than every client (f_s^max > f_k^max for all k).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo

from data.fedsllm.inputs import FedsllmInputs
from models.fedsllm import set_equal_split_start
from models.fedsllm_values import values_of
from solvers.fedsllm.global_eta import GlobalSearchError, best_client_share
from solvers.fedsllm.scenario import SplitScenario
from solvers.fedsllm.search import Allocation
from solvers.fedsllm.structured import solve_structured
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


def _fractions(var) -> np.ndarray:
    return values_of(var) / np.array([item.ub for item in var.values()], dtype=float)


def _solution(model: pyo.ConcreteModel, name: str, record: SolveRecord) -> Problem16Solution:
    if not record.optimal:
        return Problem16Solution(name, record, *[np.nan] * 6, None)
    return Problem16Solution(
        start=name, record=record, T=pyo.value(model.T), eta=pyo.value(model.eta),
        client_share=pyo.value(model.client_share), server_cpu_fraction=model.server_cpu.value / model.server_cpu.ub,
        min_client_cpu_fraction=float(_fractions(model.client_cpu).min()),
        min_power_fraction=float(min(_fractions(model.power_main).min(), _fractions(model.power_fed).min())),
        allocation=Allocation.from_model(model),
    )


def _held_point(model: pyo.ConcreteModel) -> tuple[list, dict]:
    """Every variable's value and Ipopt's multipliers, to put back into the model later."""
    values = [(var, var.value) for var in model.component_data_objects(pyo.Var)]
    return values, {name: list(getattr(model, name).items()) for name in ("dual", "ipopt_zL_out", "ipopt_zU_out")}


def _restore(model: pyo.ConcreteModel, held: tuple[list, dict]) -> None:
    values, suffixes = held
    for var, value in values:
        var.set_value(value, skip_validation=True)
    for name, entries in suffixes.items():
        getattr(model, name).clear()
        getattr(model, name).update(entries)


def solve_problem16(model: pyo.ConcreteModel, solver: IpoptSolver, optimum17: Allocation,
                    progress: Progress | None = None) -> list[Problem16Solution]:
    """Every start's local optimum on a `build_problem16` model, which is left holding the best one: its
    values and multipliers as that solve left them (kept, not solved again)."""
    progress = progress or Progress.silent()
    solutions, held, last_is_best = [], None, False
    lifted = Start("Problem (17) optimum", optimum17.eta, 1.0, 1.0, 1.0, 0.0)
    progress.start("Problem (16) from several starts", 1 + len(SPREAD_STARTS))
    for start in (lifted, *SPREAD_STARTS):
        _set_start(model, start)
        if start is lifted:
            optimum17.load_into(model)
        model.dual.clear()
        solutions.append(_solution(model, start.name, solver.solve(model, label=f"(16) from {start.name}")))
        last_is_best = solutions[-1].record.optimal and solutions[-1] is best_solution(solutions)
        if last_is_best and start is not SPREAD_STARTS[-1]:
            held = _held_point(model)
        progress.advance(f"from {start.name}: T={solutions[-1].T:.6g} s")
    progress.finish()
    if held is not None and not last_is_best:
        _restore(model, held)
    return solutions


STRUCTURED_START = "structured engine: A searched at eta*"
CERTIFIED_START = "certified global optimum (A searched at every eta)"


def _structured_solution(name: str, eta: float, share: float, T: float, record: SolveRecord,
                         allocation: Allocation | None = None) -> Problem16Solution:
    """A (16) point of the structured engine: f, f_s and both powers at their maxima."""
    return Problem16Solution(name, record, T, eta, share, 1.0, 1.0, 1.0, allocation)


def structured_crosscheck(scenario: SplitScenario, eta: float, share_range: tuple[float, float],
                          gap: float) -> Problem16Solution:
    """Problem (16) at `eta` on the structured engine, at any K: the client share searched over
    [A_min, A_max] by cuts (global_eta.best_client_share; (16) at fixed eta is convex in A), f, f_s and the
    powers at their maxima. With every client slower than the server one solve proves A* = A_min there."""
    started = time.perf_counter()
    try:
        found, _ = best_client_share(scenario, eta, *share_range, REDUCTION_TOLERANCE / 10, gap)
    except GlobalSearchError as error:
        record = SolveRecord(False, error.status, str(error), 0, time.perf_counter() - started)
        return Problem16Solution(STRUCTURED_START, record, *[np.nan] * 6, None)
    record = SolveRecord(True, "optimal", f"T in [{found.lower_bound:.12g}, {found.T:.12g}] s over A in "
                         f"[{share_range[0]:g}, {share_range[1]:g}]", found.solves, time.perf_counter() - started)
    return _structured_solution(STRUCTURED_START, eta, found.client_share, found.T, record)


def certified_point(scenario: SplitScenario, eta: float, share: float, gap: float) -> Problem16Solution:
    """The certified global optimum's (eta, A) on the structured engine, with its allocation."""
    point = solve_structured(scenario, eta, None, gap, client_share=share)
    record = SolveRecord(point.converged, point.status, f"T in [{point.lower_bound:.12g}, {point.T:.12g}] s",
                         point.iterations, point.seconds)
    return _structured_solution(CERTIFIED_START, eta, share, point.T if point.converged else np.nan, record,
                                Allocation.from_structured(point) if point.converged else None)


def polish_certified(model: pyo.ConcreteModel, solver: IpoptSolver, certified: Problem16Solution):
    """Ipopt on a `build_problem16` model from the certified point (its allocation, f, f_s and the powers at
    their maxima), every decision free: the model then holds the reported optimum and its multipliers for
    the Lemma 3/KKT certificate. Returns the solution and the model's PyomoNLP."""
    low, high = model.client_share.lb, model.client_share.ub
    position = 0.0 if high <= low else (certified.client_share - low) / (high - low)
    _set_start(model, Start(CERTIFIED_START, certified.eta, 1.0, 1.0, 1.0, position))
    certified.allocation.load_into(model)
    model.dual.clear()
    record, nlp = solver.solve_holding_nlp(model, label=f"(16) from the {CERTIFIED_START}")
    return _solution(model, f"{CERTIFIED_START}, polished by Ipopt", record), nlp


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
