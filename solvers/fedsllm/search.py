"""FedsLLM solve strategy: Problem (17) over a grid of eta, then eta refined.

An engine (solvers/fedsllm/engines.py) solves (17) at each eta: Ipopt on an NLP
built once (`ipopt`), or the structured solver with certified bounds
(`structured`); `auto` picks Ipopt up to `ipopt_max_users` users. Each grid point
starts from the previous point's allocation, each refinement point from the best
so far. Every solve is checked; failures are collected and raised together with
their eta and status. The final point is re-solved by Ipopt on the Pyomo model
(eta a Param) that the Lemma 3/KKT certificate reads, up to `certify_max_users`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from scipy.optimize import minimize_scalar

from data.fedsllm.inputs import FedsllmInputs
from models.fedsllm import build_problem17
from models.fedsllm_values import DelayModelValues
from solvers.fedsllm.engines import Allocation, ModelIpopt, PersistentIpopt, Structured
from solvers.runtime.ipopt import IpoptSolver, SolveError, SolveRecord
from solvers.runtime.progress import Progress
from solvers.fedsllm.settings import Engine, EngineSettings
from solvers.fedsllm.scenario import SplitScenario, rate_bps


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


# One warm solve of (17) on this 2-core machine (2026-11-23): Ipopt 0.04 s at K = 50, 0.6 s at K = 500;
# the structured engine about 3 microseconds per user (0.3 s at K = 100,000).
SECONDS_PER_SOLVE_FIXED, SECONDS_PER_SOLVE_PER_USER = 0.01, 0.0012
STRUCTURED_SECONDS_PER_USER = 3e-6


def search_estimate_seconds(grid: EtaGrid, users: int, engine: "Engine | None" = None) -> float:
    """A rough wall time of the eta search (grid plus about ten refinement solves)."""
    per_solve = (SECONDS_PER_SOLVE_FIXED + STRUCTURED_SECONDS_PER_USER * users if engine is Engine.structured
                 else SECONDS_PER_SOLVE_FIXED + SECONDS_PER_SOLVE_PER_USER * users)
    return (len(grid.points()) + 10) * per_solve


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
        """The optimum a (17) or (16) model holds, its quantities evaluated in numpy (fedsllm_values)."""
        values = DelayModelValues.read(model)
        return cls(values.users, values.T, values.eta, values.a, values.v, values.rounds, values.local_iterations,
                   values.bandwidth_main_budget_mhz, values.bandwidth_fed_budget_mhz, values.bandwidth_main_mhz,
                   values.bandwidth_fed_mhz, values.time_main_s, values.time_fed_s, values.rate_main_mbps,
                   values.rate_fed_mbps, values.compute_s, values.delays_s())


def optimum_from_allocation(inputs: FedsllmInputs, allocation: Allocation,
                            client_share: float | None = None) -> OptimumAllocation:
    """The OptimumAllocation of an allocation found without a Pyomo model (the structured engine above
    solver.certify_max_users), every quantity from the same formulas in numpy (at the client share A;
    None: A_min)."""
    scenario = SplitScenario.from_inputs(inputs, client_share)
    eta = allocation.eta
    main_mhz, fed_mhz = allocation.bandwidth_main_mhz, allocation.bandwidth_fed_mhz
    return OptimumAllocation(inputs.user_ids, allocation.T, eta, scenario.a, scenario.v, scenario.rounds(eta),
                             scenario.local_iterations(eta), scenario.bandwidth_main_hz / 1e6,
                             scenario.bandwidth_fed_hz / 1e6, main_mhz, fed_mhz, allocation.time_main_s,
                             allocation.time_fed_s, rate_bps(main_mhz, scenario.power_to_noise_main_hz / 1e6),
                             rate_bps(fed_mhz, scenario.power_to_noise_fed_hz / 1e6), scenario.compute_time_s(eta),
                             scenario.user_delays_s(eta, allocation.time_main_s, allocation.time_fed_s))


@dataclass(frozen=True)
class EtaPoint:
    eta: float
    T: float
    stage: str  # "grid", "refine", "extra" (an eta a baseline uses), "global" (an eta* the global search
    # found) or "final" (the re-solve at the optimum)
    record: SolveRecord
    lower_bound: float = math.nan  # proven lower bound on T*(eta) (structured engine); nan for Ipopt

    @property
    def gap(self) -> float:
        """(T - lower bound) / T, nan without a lower bound."""
        return max(0.0, (self.T - self.lower_bound) / self.T) if math.isfinite(self.lower_bound) else math.nan


@dataclass
class EtaSearchResult:
    points: list[EtaPoint] = field(default_factory=list)
    best: Allocation | None = None
    best_grid: EtaPoint | None = None
    seconds: float = 0.0
    engine: str = "ipopt"
    certified_by: str = "Lemma 3/KKT"  # or "duality gap" when the final Ipopt re-solve is skipped
    best_lower_bound: float = math.nan  # the structured engine's bounds on T*(eta*), nan for Ipopt
    best_upper_bound: float = math.nan
    kept: dict[float, Allocation] = field(default_factory=dict)  # the best allocation at each extra eta

    @property
    def grid_points(self) -> list[EtaPoint]:
        return [p for p in self.points if p.stage == "grid"]

    @property
    def solves(self) -> int:
        return len(self.points)

    @property
    def iterations(self) -> int:
        return sum(p.record.iterations for p in self.points)

    @property
    def best_gap(self) -> float:
        """Relative gap between T* and the structured lower bound at eta*, nan without one."""
        if not math.isfinite(self.best_lower_bound):
            return math.nan
        return max(0.0, (self.best_upper_bound - self.best_lower_bound) / self.best_upper_bound)


class EtaSearch:
    """Runs Problem (17) over eta with warm starts, on the engine `engine` chooses for the scenario."""

    def __init__(self, inputs: FedsllmInputs, solver: IpoptSolver, progress: Progress | None = None,
                 engine: EngineSettings | None = None):
        self.inputs = inputs
        self.settings = engine or EngineSettings()
        self.solver = solver
        self.progress = progress or Progress.silent()
        self._model: pyo.ConcreteModel | None = None
        self.final_nlp = None  # the PyomoNLP of the final re-solve, whose derivatives the certificate reuses
        chosen = self.settings.chosen(inputs.user_count)
        if chosen is Engine.ipopt:
            self.engine = PersistentIpopt(inputs, solver)
        elif chosen is Engine.ipopt_rewrite:
            self.engine = ModelIpopt(inputs, solver, self.model)
        else:
            self.engine = Structured(inputs, self.settings.gap)
        self.result = EtaSearchResult(engine=self.engine.name)
        self._failures: list[str] = []
        self._stopped = ""  # why the grid stopped early, if it did
        self._kept_etas: set[float] = set()  # the etas whose allocation `result.kept` holds (extra_etas)

    @property
    def model(self) -> pyo.ConcreteModel | None:
        """The Pyomo model of (17) (eta a Param) holding the final optimum for the certificate; built when
        first needed, None when the final point is certified by the duality gap alone."""
        if self._model is None and self.settings.certifies_by_kkt(self.inputs.user_count):
            self._model = build_problem17(self.inputs)
        return self._model

    def solve_at(self, eta: float, start: Allocation | None, stage: str) -> EtaPoint:
        """Solve (17) at `eta` from `start` (None: cold); record the point."""
        return self._solve(eta, start, stage)[0]

    def _solve(self, eta: float, start: Allocation | None, stage: str) -> tuple[EtaPoint, Allocation | None]:
        """`solve_at`, also returning the allocation found (None if the solve failed). The final point is
        Ipopt's on the Pyomo model the certificate reads; every other one the search engine's."""
        engine = ModelIpopt(self.inputs, self.solver, self.model) if stage == "final" else self.engine
        solved = engine.solve(eta, start, f"(17) eta={eta:.9g} {stage}")
        if stage == "final":
            self.final_nlp = engine.nlp
        point = EtaPoint(eta, solved.T, stage, solved.record, solved.lower_bound)
        self.result.points.append(point)
        if not solved.record.optimal:
            self._failures.append(
                f"eta = {eta:.6g} ({stage}): {engine.solver_name} stopped with status '{solved.record.status}' "
                f"after {solved.record.iterations} iterations ({solved.record.message})")
        elif stage != "final" and (self.result.best is None or point.T < self.result.best.T):
            self.result.best = solved.allocation
        if solved.record.optimal and eta in self._kept_etas and point.T <= self.result.kept.get(eta, point).T:
            self.result.kept[eta] = solved.allocation  # a baseline's allocation (FE's energy reads it)
        return point, solved.allocation

    def sweep(self, grid: EtaGrid) -> None:
        """Every grid point, each warm-started from the last; stops at the FAILURE_LIMIT-th failure,
        since any failure fails the run (the message names the first failures and how far it got)."""
        etas = grid.points()
        self.progress.start("eta grid", len(etas))
        previous: Allocation | None = None
        for done, eta in enumerate(etas, start=1):
            point, previous = self._solve(eta, previous, "grid")
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
        self._kept_etas = set(extra_etas)
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
        self._finish_at(self.result.best.eta)
        if self.model is None:
            self.result.certified_by = "duality gap"
        self.result.seconds = time.perf_counter() - start
        return self.result

    def adopt(self, eta: float) -> None:
        """Make `eta` (found by the global search, e.g. outside the grid's range) the optimum: solve (17)
        there and re-solve the final point as `run` does."""
        point = self.solve_at(eta, None, "global")
        if not point.record.optimal:
            raise SolveError(self._failures)
        self._finish_at(eta)

    def _finish_at(self, eta: float) -> None:
        """The optimum's bounds from the structured engine's last solve at `eta` (nan with Ipopt), then the
        final Ipopt re-solve there, which leaves the model holding the optimum itself (primal values and
        duals) for the certificate; skipped above certify_max_users."""
        bounded = next((p for p in reversed(self.result.points) if p.eta == eta and math.isfinite(p.lower_bound)),
                       None)
        self.result.best_lower_bound = bounded.lower_bound if bounded else math.nan
        self.result.best_upper_bound = bounded.T if bounded else math.nan
        if self.model is not None:
            final = self.solve_at(eta, self.result.best, "final")
            if not final.record.optimal:
                raise SolveError(self._failures)
            self.result.best = Allocation.from_model(self.model)

    def solved_delay(self, eta: float) -> float:
        """T*(eta) of a point already solved (grid, refinement or extra)."""
        return min(p.T for p in self.result.points if p.eta == eta and p.record.optimal)
