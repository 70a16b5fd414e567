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

from data.fedsllm.inputs import FedsllmInputs
from solvers.fedsllm.energy.engines import ONLY_POINT_MARGIN, EnergyIpopt, EnergyStructured
from solvers.fedsllm.energy.scenario import EnergyAllocation, EnergyScenario, allocation_with_energy
from solvers.fedsllm.engines import Allocation
from solvers.fedsllm.search import EtaGrid, refine_between_neighbours
from solvers.fedsllm.structured import DEFAULT_GAP, solve_structured
from solvers.runtime.ipopt import IpoptSolver, SolveError, SolveRecord
from solvers.runtime.progress import Progress

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
                count = split.user_count
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
        return sum(1 for p in self.points if p.record.iterations > 0)

    @property
    def iterations(self) -> int:
        return sum(p.record.iterations for p in self.points)


class EnergySearch:
    """Problem (E) for one strategy and one T_max, over eta (module docstring)."""

    def __init__(self, inputs: FedsllmInputs, solver: IpoptSolver, max_delay_s: float, strategy: Strategy,
                 progress: Progress | None = None, gap: float = DEFAULT_GAP, engine: str = "structured"):
        self.oracle = DelayOracle(EnergyScenario.from_inputs(inputs), strategy.equal_split, gap)
        self.engine = (EnergyStructured(inputs, max_delay_s, self.oracle, gap) if engine == "structured"
                       else EnergyIpopt(inputs, max_delay_s, self.oracle, solver))
        self.inputs, self.solver = inputs, solver
        self.final: EnergyPoint | None = None  # the engine's solve at the optimum (finish)
        self.kkt_engine: EnergyIpopt | None = None  # the Ipopt model holding the optimum (finish)
        self.kkt_allocation: EnergyAllocation | None = None
        self.progress = progress or Progress.silent()
        self.result = EnergySearchResult(strategy, max_delay_s)
        self._failures: list[str] = []

    def solve_at(self, eta: float, stage: str) -> EnergyPoint:
        eta = float(eta)
        answer = self.engine.solve(eta, f"(E) eta={eta:.9g} {stage}")
        record, allocation = answer.record, answer.allocation
        point = EnergyPoint(eta, allocation.energy_j if allocation else math.nan, stage, record,
                            self.oracle.delay(eta), answer.lower_bound_j)
        self.result.points.append(point)
        if not record.optimal:
            self._failures.append(f"eta = {eta:.6g} ({stage}, {self.result.strategy.name}, T_max = "
                                  f"{self.result.max_delay_s:.6g} s): {self.engine.solver_name} stopped with status "
                                  f"'{record.status}' after {record.iterations} iterations ({record.message})")
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

    def finish(self, certify_by_kkt: bool = True) -> EnergyPoint:
        """The final point: the engine's solve at the best eta (its bounds), then, with the structured engine
        and `certify_by_kkt`, Ipopt's re-solve there from that allocation: `kkt_engine.model` holds the
        optimum and its multipliers for the KKT certificate."""
        best = self.result.best
        point = self.solve_at(best.eta, "final")
        self._raise_if_failed(point)
        self.final = point
        if isinstance(self.engine, EnergyIpopt):
            self.kkt_engine, self.kkt_allocation = self.engine, self.engine.allocation(best.eta)
            return point
        if not certify_by_kkt:
            return point
        self.kkt_engine = EnergyIpopt(self.inputs, self.result.max_delay_s, self.oracle, self.solver)
        self.kkt_engine.start_from(best)
        answer = self.kkt_engine.solve_at(best.eta, f"(E) eta={best.eta:.9g} final, Ipopt", from_start=True)
        kkt_point = EnergyPoint(best.eta, answer.allocation.energy_j if answer.allocation else math.nan,
                                "final ipopt", answer.record, point.least_delay_s)
        self.result.points.append(kkt_point)
        if not answer.record.optimal:
            self._failures.append(f"eta = {best.eta:.6g} (final Ipopt re-solve for the KKT certificate): Ipopt "
                                  f"stopped with status '{answer.record.status}' ({answer.record.message})")
            self._raise_if_failed(kkt_point)
        self.kkt_allocation = answer.allocation
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
