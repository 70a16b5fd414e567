"""Problem (E) over eta: a fixed-eta engine (Ipopt on the convex log form) and the search over eta.

At a fixed eta, Problem (E) is feasible exactly when the least delay there, T*(eta), is at most T_max:
the delay optimum's allocation with clocks and powers at their maxima is then a feasible point (it starts
Ipopt), and when T*(eta) = T_max it is the only one. T*(eta) comes from the structured engine, whose
bounds are proven (solvers/structured.py); EB and BA, on the equal split, have it in closed form.

The search is the delay search's (17): the feasible points of the eta grid, then a bounded Brent search
between the best point's neighbours (clipped to where T*(eta) <= T_max, found by bisection). A strategy
fixes part of it: the equal split (EB, BA) and/or eta (FE, BA).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo

from data.fedsllm import FedsllmInputs
from models.fedsllm_energy import build_problem_e, fix_equal_split, set_eta, set_relaxation, set_start
from solvers.fedsllm.search import EtaGrid, refine_between_neighbours
from solvers.fedsllm.engines import Allocation
from solvers.fedsllm.energy.scenario import EnergyAllocation, EnergyScenario, allocation_with_energy, energy_at_maxima
from solvers.runtime.ipopt import IpoptSolver, SolveError, SolveRecord
from solvers.runtime.progress import Progress
from solvers.fedsllm.structured import DEFAULT_GAP, solve_structured

# T_max within this of T*(eta), relative: the delay optimum is the only feasible point (the feasible set
# has no interior, where Ipopt's barrier cannot work); its energy is E*(eta).
ONLY_POINT_MARGIN = 1e-9
BOUNDARY_TOLERANCE = 1e-10  # on eta, of the bisection for the end of the feasible range


@dataclass(frozen=True)
class Strategy:
    """Which part of Problem (E) a strategy fixes: the paper's Proposed, EB, FE and BA."""

    name: str
    equal_split: bool = False  # every user on B/K of both links
    fixed_eta: float | None = None  # eta not searched


def strategies(baseline_eta: float) -> tuple[Strategy, ...]:
    return (Strategy("Proposed"), Strategy("EB", equal_split=True), Strategy("FE", fixed_eta=baseline_eta),
            Strategy("BA", equal_split=True, fixed_eta=baseline_eta))


@dataclass(frozen=True)
class EnergyPoint:
    eta: float
    energy_j: float  # nan unless solved
    stage: str  # grid, refine, boundary, fixed, final, relaxation
    record: SolveRecord
    least_delay_s: float  # T*(eta) of the strategy (its feasibility: <= T_max)
    lower_bound_j: float = math.nan  # relaxation: a lower bound on E* over [eta, eta_high]
    eta_high: float = math.nan  # relaxation: the interval's upper end


class DelayOracle:
    """T*(eta) and its allocation for a strategy: the structured engine's feasible allocation (clocks and
    powers at their maxima), or the equal split in closed form."""

    def __init__(self, scenario: EnergyScenario, equal_split: bool, gap: float = DEFAULT_GAP):
        self.scenario = scenario
        self.equal_split = equal_split
        self.gap = gap
        self._cache: dict[float, tuple[float, tuple]] = {}
        self._last = None

    def at(self, eta: float) -> tuple[float, tuple]:
        """(T*(eta), (t_s, t_c, b_s, b_c) in s and Hz) of the delay optimum at eta."""
        if eta not in self._cache:
            split = self.scenario.split
            if self.equal_split:
                main, fed = split.equal_split_times_s()
                count = split.users
                times = (main, fed, np.full(count, split.bandwidth_main_hz / count),
                         np.full(count, split.bandwidth_fed_hz / count))
                self._cache[eta] = (split.equal_split_delay_s(eta), times)
            else:
                point = solve_structured(split, eta, self._last, self.gap)
                if not point.converged:
                    point = solve_structured(split, eta, None, self.gap)
                if not point.converged:
                    raise SolveError([f"eta = {eta:.9g} (least delay of Problem (E)'s feasibility): the structured "
                                      f"engine stopped with status '{point.status}'"])
                self._last = point
                self._cache[eta] = (point.T, (point.time_main_s, point.time_fed_s, point.bandwidth_main_hz,
                                              point.bandwidth_fed_hz))
        return self._cache[eta]

    def delay(self, eta: float) -> float:
        return self.at(eta)[0]


class EnergyIpopt:
    """Problem (E) at one eta by Ipopt on the Pyomo model (log form), warm-started from the last optimum
    with its multipliers; a warm solve that fails is retried cold from the delay optimum at that eta."""

    solver_name = "Ipopt"

    def __init__(self, inputs: FedsllmInputs, solver: IpoptSolver, max_delay_s: float, oracle: DelayOracle):
        self.scenario = EnergyScenario.from_inputs(inputs)
        self.solver = solver
        self.max_delay_s = max_delay_s
        self.oracle = oracle
        self.model = build_problem_e(inputs, 0.5, max_delay_s)
        if oracle.equal_split:
            fix_equal_split(self.model)
        self._warm = False

    def only_point(self, eta: float) -> EnergyAllocation:
        """The delay optimum at eta with clocks and powers at their maxima (T_max = T*(eta))."""
        split = self.scenario.split
        main, fed, b_main, b_fed = self.oracle.at(eta)[1]
        return allocation_with_energy(self.scenario, eta, self.max_delay_s, split.client_cpu_hz, split.server_cpu_hz,
                                      main, fed, b_main, b_fed)

    def _cold_start(self, eta: float) -> None:
        split = self.scenario.split
        main, fed, b_main, b_fed = self.oracle.at(eta)[1]
        set_start(self.model, split.client_cpu_hz / 1e9, split.server_cpu_hz / 1e9, main, fed, b_main / 1e6,
                  b_fed / 1e6)
        self.model.dual.clear()
        self.model.energy_scale.set_value(energy_at_maxima(self.scenario, eta, main, fed).total_j)

    def solve_relaxed(self, low: float, high: float, label: str) -> SolveRecord:
        """Ipopt on the model with I0 at `low` and L at `high` (models.fedsllm_energy.set_relaxation)."""
        set_relaxation(self.model, low, high)
        record = self.solver.solve(self.model, warm=True, label=label) if self._warm else None
        if record is None or not record.optimal:
            self._cold_start(high)
            set_relaxation(self.model, low, high)
            record = self.solver.solve(self.model, warm=False, label=f"{label}, cold")
        self._warm = record.optimal
        return record

    def solve(self, eta: float, label: str) -> tuple[SolveRecord, EnergyAllocation | None]:
        """(E) at eta: the only feasible point when T_max is T*(eta) (to ONLY_POINT_MARGIN), else Ipopt."""
        least = self.oracle.delay(eta)
        if self.max_delay_s <= least * (1 + ONLY_POINT_MARGIN):
            return SolveRecord(True, "optimal", "T_max = T*(eta): the delay optimum is the only feasible point",
                               0, 0.0), self.only_point(eta)
        set_eta(self.model, eta)
        record = self.solve_relaxed(eta, eta, label)
        return record, (self.allocation(eta) if record.optimal else None)

    def allocation(self, eta: float) -> EnergyAllocation:
        """The model's current point, in SI units, its energy recomputed in numpy."""
        m = self.model

        def values(component, scale: float) -> np.ndarray:
            return np.array([pyo.value(component[k]) * scale for k in m.users])

        return allocation_with_energy(self.scenario, eta, self.max_delay_s, values(m.client_cpu, 1e9),
                                      pyo.value(m.server_cpu) * 1e9, values(m.time_main, 1.0),
                                      values(m.time_fed, 1.0), values(m.bandwidth_main, 1e6),
                                      values(m.bandwidth_fed, 1e6))


@dataclass
class EnergySearchResult:
    strategy: Strategy
    max_delay_s: float
    points: list[EnergyPoint] = field(default_factory=list)
    best: EnergyAllocation | None = None
    seconds: float = 0.0
    feasible_low: float = math.nan  # the ends of the searched, feasible eta range
    feasible_high: float = math.nan
    only_point: bool = False  # T_max = T*: the delay optimum, the only feasible point, is the answer

    @property
    def solves(self) -> int:
        return sum(1 for p in self.points if p.stage != "relaxation" and p.record.iterations > 0)

    @property
    def iterations(self) -> int:
        return sum(p.record.iterations for p in self.points)


class EnergySearch:
    """Problem (E) for one strategy and one T_max, over eta (module docstring)."""

    def __init__(self, inputs: FedsllmInputs, solver: IpoptSolver, max_delay_s: float, strategy: Strategy,
                 progress: Progress | None = None, gap: float = DEFAULT_GAP):
        self.oracle = DelayOracle(EnergyScenario.from_inputs(inputs), strategy.equal_split, gap)
        self.engine = EnergyIpopt(inputs, solver, max_delay_s, self.oracle)
        self.progress = progress or Progress.silent()
        self.result = EnergySearchResult(strategy, max_delay_s)
        self._failures: list[str] = []

    def solve_at(self, eta: float, stage: str) -> EnergyPoint:
        eta = float(eta)
        record, allocation = self.engine.solve(eta, f"(E) eta={eta:.9g} {stage}")
        point = EnergyPoint(eta, allocation.energy_j if allocation else math.nan, stage, record,
                            self.oracle.delay(eta))
        self.result.points.append(point)
        if not record.optimal:
            self._failures.append(f"eta = {eta:.6g} ({stage}, {self.result.strategy.name}, T_max = "
                                  f"{self.result.max_delay_s:.6g} s): Ipopt stopped with status '{record.status}' "
                                  f"after {record.iterations} iterations ({record.message})")
        elif stage != "final" and (self.result.best is None or point.energy_j < self.result.best.energy_j):
            self.result.best = allocation
        return point

    def feasible(self, eta: float) -> bool:
        return self.oracle.delay(eta) <= self.result.max_delay_s

    def feasible_end(self, inside: float, outside: float) -> float:
        """The feasible eta nearest `outside`, between a feasible `inside` and an infeasible `outside`
        (bisection on T*(eta) - T_max, which changes sign once there)."""
        while abs(outside - inside) > BOUNDARY_TOLERANCE:
            middle = 0.5 * (inside + outside)
            inside, outside = (middle, outside) if self.feasible(middle) else (inside, middle)
        return inside

    def run(self, grid: EtaGrid, refine_tolerance: float | None, delay_optimum: Allocation) -> EnergySearchResult:
        """T_max = T* (to ONLY_POINT_MARGIN): the strategy's delay optimum (an Allocation, MHz and s) with
        clocks and powers at their maxima, the only feasible point. Fixed eta: one solve. Otherwise the
        feasible grid points and the delay optimum's eta, then Brent between the best one's feasible
        neighbours."""
        started = time.perf_counter()
        fixed = self.result.strategy.fixed_eta
        if self.result.max_delay_s <= delay_optimum.T * (1 + ONLY_POINT_MARGIN):
            self._only_point(delay_optimum)
        elif fixed is not None:
            self._raise_if_failed(self.solve_at(fixed, "fixed"))
            self.result.feasible_low = self.result.feasible_high = fixed
        else:
            self._sweep(grid, delay_optimum.eta)
            if refine_tolerance:
                self._refine(grid, refine_tolerance)
            self.result.feasible_low, self.result.feasible_high = self._feasible_range(grid)
        self.result.seconds = time.perf_counter() - started
        return self.result

    def _only_point(self, optimum: Allocation) -> None:
        scenario, eta = self.engine.scenario, optimum.eta
        split = scenario.split
        self.result.best = allocation_with_energy(scenario, eta, self.result.max_delay_s, split.client_cpu_hz,
                                                  split.server_cpu_hz, optimum.time_main_s, optimum.time_fed_s,
                                                  optimum.bandwidth_main_mhz * 1e6, optimum.bandwidth_fed_mhz * 1e6)
        record = SolveRecord(True, "optimal", "T_max = T*: the delay optimum is the only feasible point", 0, 0.0)
        self.result.points.append(EnergyPoint(eta, self.result.best.energy_j, "only point", record, optimum.T))
        self.result.feasible_low = self.result.feasible_high = eta
        self.result.only_point = True

    def finish(self) -> EnergyPoint:
        """Re-solve the best eta, so that the engine's model holds the optimum and its multipliers."""
        point = self.solve_at(self.result.best.eta, "final")
        self._raise_if_failed(point)
        return point

    def _raise_if_failed(self, point: EnergyPoint) -> None:
        if not point.record.optimal:
            raise SolveError(self._failures)

    def _sweep(self, grid: EtaGrid, delay_optimum_eta: float) -> None:
        etas = sorted({*[e for e in grid.points() if self.feasible(e)], delay_optimum_eta})
        self.progress.start(f"(E) eta grid, {self.result.strategy.name}", len(etas))
        for eta in etas:
            point = self.solve_at(eta, "grid")
            self.progress.advance(f"eta={eta:.4f} E={point.energy_j:.6g} J")
            if len(self._failures) >= 3:
                break
        self.progress.finish()
        if self._failures:
            raise SolveError(self._failures)

    def _feasible_neighbours(self, grid: EtaGrid, centre: float) -> tuple[float, float]:
        low, high = grid.neighbours(centre)
        low = low if self.feasible(low) else self.feasible_end(centre, low)
        high = high if self.feasible(high) else self.feasible_end(centre, high)
        return low, high

    def _refine(self, grid: EtaGrid, tolerance: float) -> None:
        centre = self.result.best.eta
        low, high = self._feasible_neighbours(grid, centre)
        if high - low <= tolerance:
            return
        local = EtaGrid(grid.step, low, high)

        def energy(eta: float) -> float:
            point = self.solve_at(float(eta), "refine")
            self._raise_if_failed(point)
            return point.energy_j

        self.progress.start(f"(E) eta refinement, {self.result.strategy.name}", None)
        for end in (low, high):  # the ends of a clipped range are the feasibility boundary: solve them too
            if end not in grid.points():
                self._raise_if_failed(self.solve_at(end, "boundary"))
        refine_between_neighbours(energy, local, centre, tolerance)
        self.progress.finish()

    def _feasible_range(self, grid: EtaGrid) -> tuple[float, float]:
        feasible = [p.eta for p in self.result.points if p.record.optimal]
        return min(feasible), max(feasible)
