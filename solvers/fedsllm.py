"""FedsLLM solve strategy: Problem (17) over a grid of eta, then eta refined.

One Pyomo model is built; eta is a mutable Param. Each grid point starts from
the previous point's allocation (T reset to the smallest feasible value at the
new eta), each refinement point from the best allocation so far. Every solve is
checked; failures are collected and raised together with their eta and status.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import pyomo.environ as pyo
from scipy.optimize import minimize_scalar

from data.fedsllm import FedsllmInputs
from models.fedsllm import build_problem17, set_equal_split_start, set_smallest_feasible_delay
from solvers.ipopt import IpoptSolver, SolveError, SolveRecord
from solvers.progress import Progress


FAILURE_LIMIT = 3  # grid solves that may fail before the grid stops (any failure fails the run)


@dataclass(frozen=True)
class EtaGrid:
    step: float
    low: float
    high: float

    def points(self) -> list[float]:
        """Multiples of `step` in [low, high] (ends included up to rounding)."""
        first = math.ceil(self.low / self.step - 1e-9)
        last = math.floor(self.high / self.step + 1e-9)
        return [round(index * self.step, 12) for index in range(first, last + 1)]

    def neighbours(self, centre: float) -> tuple[float, float]:
        """The interval between the grid points either side of `centre`, clipped to the grid's range."""
        return max(self.low, centre - self.step), min(self.high, centre + self.step)

    def refinable(self, centre: float, tolerance: float) -> bool:
        """Whether `centre`'s neighbour interval is wider than `tolerance` (else there is nothing to refine)."""
        low, high = self.neighbours(centre)
        return high - low > tolerance


def refine_between_neighbours(objective, grid: EtaGrid, centre: float, tolerance: float):
    """Bounded Brent search of `objective(eta)` between `centre`'s grid neighbours (scipy's result),
    or None when that interval is already narrower than `tolerance`."""
    if not grid.refinable(centre, tolerance):
        return None
    low, high = grid.neighbours(centre)
    return minimize_scalar(objective, bounds=(low, high), method="bounded", options={"xatol": tolerance})


# One warm solve of (17) on this 2-core machine (2026-11-23): 0.06 s at K = 50, 0.74 s at K = 500.
SECONDS_PER_SOLVE_FIXED, SECONDS_PER_SOLVE_PER_USER = 0.01, 0.0015


def search_estimate_seconds(grid: EtaGrid, users: int) -> float:
    """A rough wall time of the eta search (grid plus about ten refinement solves)."""
    return (len(grid.points()) + 10) * (SECONDS_PER_SOLVE_FIXED + SECONDS_PER_SOLVE_PER_USER * users)


def eta_grid_for(inputs: FedsllmInputs, step: float | None = None, low: float | None = None,
                 high: float | None = None) -> EtaGrid:
    """The paper's grid (step .. 1 - step); unset values come from the workbook's eta_step."""
    step = inputs.parameter("eta_step") if step is None else step
    grid = EtaGrid(step, step if low is None else low, 1.0 - step if high is None else high)
    if not (0 < grid.step < 1 and 0 < grid.low <= grid.high < 1):
        raise ValueError(f"the eta grid needs 0 < eta.step < 1 and 0 < eta.low <= eta.high < 1; got "
                         f"step={grid.step:g}, low={grid.low:g}, high={grid.high:g}")
    return grid


@dataclass(frozen=True)
class Allocation:
    """Problem (17)'s solution at one eta, in model units (MHz, s)."""

    eta: float
    T: float
    bandwidth_main_mhz: np.ndarray
    bandwidth_fed_mhz: np.ndarray
    time_main_s: np.ndarray
    time_fed_s: np.ndarray

    @classmethod
    def from_model(cls, model: pyo.ConcreteModel) -> "Allocation":
        def values(var) -> np.ndarray:
            return np.array([var[k].value for k in model.users])

        return cls(pyo.value(model.eta), pyo.value(model.T), values(model.bandwidth_main),
                   values(model.bandwidth_fed), values(model.time_main), values(model.time_fed))

    def load_into(self, model: pyo.ConcreteModel) -> None:
        """Use this allocation as the starting point (T is recomputed for the model's eta)."""
        for index, k in enumerate(model.users):
            model.bandwidth_main[k].set_value(self.bandwidth_main_mhz[index])
            model.bandwidth_fed[k].set_value(self.bandwidth_fed_mhz[index])
            model.time_main[k].set_value(self.time_main_s[index])
            model.time_fed[k].set_value(self.time_fed_s[index])
        set_smallest_feasible_delay(model)


@dataclass(frozen=True)
class OptimumAllocation:
    """An optimum of (17) or (16) as plain numbers, per user in the model's order (what reports read)."""

    user_ids: tuple[str, ...]
    T: float
    eta: float
    a: float
    v: float
    rounds: float  # (8) I0 = a/(1-eta)
    local_iterations: float  # Lemma 2: v log2(1/eta)
    bandwidth_main_budget_mhz: float
    bandwidth_fed_budget_mhz: float
    bandwidth_main_mhz: np.ndarray
    bandwidth_fed_mhz: np.ndarray
    time_main_s: np.ndarray
    time_fed_s: np.ndarray
    rate_main_mbps: np.ndarray  # (11)
    rate_fed_mbps: np.ndarray  # (11)
    compute_s: np.ndarray  # (10) tau_k
    delay_s: np.ndarray  # (15) T_k

    @classmethod
    def from_model(cls, model: pyo.ConcreteModel) -> "OptimumAllocation":
        def values(component) -> np.ndarray:
            return np.array([pyo.value(component[k]) for k in model.users])

        return cls(tuple(str(k) for k in model.users), pyo.value(model.T), pyo.value(model.eta),
                   pyo.value(model.a), pyo.value(model.v), pyo.value(model.eq8_rounds),
                   pyo.value(model.lemma2_local_iterations), pyo.value(model.bandwidth_main_budget),
                   pyo.value(model.bandwidth_fed_budget), values(model.bandwidth_main), values(model.bandwidth_fed),
                   values(model.time_main), values(model.time_fed), values(model.eq11_rate_main),
                   values(model.eq11_rate_fed), values(model.eq10_compute_time), values(model.eq15_user_delay))


@dataclass(frozen=True)
class EtaPoint:
    eta: float
    T: float
    stage: str  # "grid", "refine", "extra" (an eta a baseline uses) or "final" (the re-solve at the optimum)
    record: SolveRecord


@dataclass
class EtaSearchResult:
    points: list[EtaPoint] = field(default_factory=list)
    best: Allocation | None = None
    best_grid: EtaPoint | None = None
    seconds: float = 0.0

    @property
    def grid_points(self) -> list[EtaPoint]:
        return [p for p in self.points if p.stage == "grid"]

    @property
    def solves(self) -> int:
        return len(self.points)

    @property
    def iterations(self) -> int:
        return sum(p.record.iterations for p in self.points)


class EtaSearch:
    """Runs Problem (17) over eta on one model with warm starts."""

    def __init__(self, inputs: FedsllmInputs, solver: IpoptSolver, progress: Progress | None = None):
        self.model = build_problem17(inputs)
        self.solver = solver
        self.progress = progress or Progress.silent()
        self.result = EtaSearchResult()
        self._failures: list[str] = []
        self._stopped = ""  # why the grid stopped early, if it did

    def solve_at(self, eta: float, start: Allocation | None, stage: str) -> EtaPoint:
        """Solve (17) at `eta` from `start` (None: equal split, cold); record the point.

        A warm start that fails is retried once from the equal split, cold."""
        self.model.eta.set_value(eta)
        record = None
        if start is not None:
            start.load_into(self.model)
            record = self.solver.solve(self.model, warm=True, label=f"(17) eta={eta:.9g} {stage}")
        if record is None or not record.optimal:
            earlier_iterations = record.iterations if record else 0
            set_equal_split_start(self.model)
            self.model.dual.clear()
            record = self.solver.solve(self.model, warm=False, label=f"(17) eta={eta:.9g} {stage}, cold")
            record = replace(record, iterations=record.iterations + earlier_iterations)
        point = EtaPoint(eta, pyo.value(self.model.T) if record.optimal else math.nan, stage, record)
        self.result.points.append(point)
        if not record.optimal:
            self._failures.append(
                f"eta = {eta:.6g} ({stage}): Ipopt stopped with status '{record.status}' "
                f"after {record.iterations} iterations ({record.message})")
        elif stage != "final" and (self.result.best is None or point.T < self.result.best.T):
            self.result.best = Allocation.from_model(self.model)
        return point

    def sweep(self, grid: EtaGrid) -> None:
        """Every grid point, each warm-started from the last; stops at the FAILURE_LIMIT-th failure,
        since any failure fails the run (the message names the first failures and how far it got)."""
        etas = grid.points()
        self.progress.start("eta grid", len(etas))
        previous: Allocation | None = None
        for done, eta in enumerate(etas, start=1):
            point = self.solve_at(eta, previous, "grid")
            previous = Allocation.from_model(self.model) if point.record.optimal else None
            self.progress.advance(f"eta={eta:.4f} T={point.T:.6g} s")
            if len(self._failures) >= FAILURE_LIMIT and done < len(etas):
                self._stopped = f"The grid stopped after its first {FAILURE_LIMIT} failures, at {done} of {len(etas)} points."
                break
        self.progress.finish()
        optimal = [p for p in self.result.grid_points if p.record.optimal]
        if optimal:
            self.result.best_grid = min(optimal, key=lambda p: p.T)

    def refine(self, grid: EtaGrid, tolerance: float) -> None:
        """Bounded Brent search for eta between the best grid point's neighbours."""
        if not grid.refinable(self.result.best_grid.eta, tolerance):
            return
        self.progress.start("eta refinement", None)

        def solve_refinement_point(eta: float) -> float:
            point = self.solve_at(float(eta), self.result.best, "refine")
            self.progress.advance(f"eta={eta:.7f} T={point.T:.9g} s")
            if not point.record.optimal:
                raise SolveError(self._failures)
            return point.T

        refine_between_neighbours(solve_refinement_point, grid, self.result.best_grid.eta, tolerance)
        self.progress.finish()

    def run(self, grid: EtaGrid, refine_tolerance: float | None = 1e-6,
            extra_etas: tuple[float, ...] = ()) -> EtaSearchResult:
        """Grid, refinement, then `extra_etas` (points other strategies use, so that
        the optimum is never worse than (17) at those etas), then the final re-solve."""
        start = time.perf_counter()
        self.sweep(grid)
        if self._failures:
            raise SolveError(self._failures, self._stopped)
        if refine_tolerance:
            self.refine(grid, refine_tolerance)
        solved = {p.eta for p in self.result.points}
        for eta in extra_etas:
            if eta not in solved:
                self.solve_at(eta, self.result.best, "extra")
        if self._failures:
            raise SolveError(self._failures)
        # Leave the model holding the optimum itself (primal values and duals).
        final = self.solve_at(self.result.best.eta, self.result.best, "final")
        if not final.record.optimal:
            raise SolveError(self._failures)
        self.result.best = Allocation.from_model(self.model)
        self.result.seconds = time.perf_counter() - start
        return self.result

    def solved_delay(self, eta: float) -> float:
        """T*(eta) of a point already solved (grid, refinement or extra)."""
        return min(p.T for p in self.result.points if p.eta == eta and p.record.optimal)


def solve_fedsllm(inputs: FedsllmInputs, grid: EtaGrid, solver: IpoptSolver, refine_tolerance: float | None = 1e-6,
                  progress: Progress | None = None, extra_etas: tuple[float, ...] = ()
                  ) -> tuple[EtaSearchResult, pyo.ConcreteModel]:
    """The eta search on a fresh model; returns the result and the model holding the optimum."""
    search = EtaSearch(inputs, solver, progress)
    return search.run(grid, refine_tolerance, extra_etas), search.model
