"""A certified bound on Problem (E) over every eta: branch and bound on eta intervals.

Why it holds. Problem (E) depends on eta only through theta1 = I0 L and theta2 = I0 (I0 = a/(1-eta),
L = log2(1/eta)): the energy is theta1 (computation + v main uploads) + theta2 fed uploads and the delay
rows are theta1 (compute + v t_s) + theta2 t_c <= T_max, every term positive. So E*(theta) does not
decrease in either coordinate, and on an interval [e1, e2], where theta1 >= theta1(e2) and
theta2 >= theta2(e1), E*(eta) >= E*(theta1(e2), theta2(e1)): one convex solve of the same model
(models.fedsllm_energy.set_relaxation) bounds the whole interval. An interval is infeasible when even
that relaxation's least delay, theta2(e1) times the least round time at the eta whose L is
theta1(e2)/theta2(e1), exceeds T_max: the structured engine's proven lower bound on that round time
decides it (the equal split has it in closed form).

The domain. Outside the intervals where a closed-form floor (clocks at their maxima, unlimited
bandwidth: every upload at its least time) stays below T_max, no eta is feasible; the search covers the
hull of the rest, from a partition of (0, 1) fine near both ends.

The search splits the interval with the smallest bound, prunes intervals whose bound is at least the
best energy, solves (E) at every midpoint it splits (a better eta replaces the search's optimum), and
stops when the best energy is within `tol` of the smallest open bound. The bounds are Ipopt's optima of
convex relaxations: with the structured engine (the default) each is the Lagrangian dual function at the
solve's multipliers, a proven bound (weak duality) whether or not the solve reached its gap; with Ipopt
it is Ipopt's optimum of the convex relaxation, a bound to Ipopt's tolerance.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from models.fedsllm_energy import relaxed_rounds_and_log2
from solvers.fedsllm.certificate import Check
from solvers.fedsllm.energy.engines import EnergyStructured
from solvers.fedsllm.energy.search import EnergyPoint, EnergySearch
from solvers.fedsllm.structured import solve_structured

MIN_WIDTH = 1e-9  # an interval narrower than this that is still open ends the search (not certified)


@dataclass(frozen=True)
class EtaBound:
    lower_bound_j: float  # the smallest bound over every eta in (0, 1)
    best_j: float  # the best energy found (the search's, or a better midpoint's)
    best_eta: float
    tolerance: float
    intervals: int  # intervals bounded
    solves: int  # Ipopt solves (relaxations and midpoints)
    status: str  # "certified", or why not
    domain: tuple[float, float]

    @property
    def gap(self) -> float:
        return max(0.0, (self.best_j - self.lower_bound_j) / self.best_j) if self.best_j > 0 else 0.0

    @property
    def certified(self) -> bool:
        return self.status == "certified"


def floor_partition() -> np.ndarray:
    """Edges of (0, 1): geometric towards both ends, 0.001 apart in between."""
    near = np.geomspace(1e-12, 1e-3, 28)
    return np.unique(np.concatenate(([0.0], near, np.linspace(1e-3, 1 - 1e-3, 999), 1 - near[::-1], [1.0])))


def feasible_domain(search: EnergySearch) -> tuple[float, float] | None:
    """The hull of the partition's intervals whose floor (relaxation with clocks at their maxima and every
    upload at its unlimited-bandwidth time) is within T_max; None: no eta is feasible."""
    split = search.oracle.scenario.split
    edges = floor_partition()
    per_log = split.compute_cycles * (split.client_share / split.client_cpu_hz
                                      + (1 - split.client_share) / split.server_cpu_hz)
    slope = per_log + split.v * split.min_time_main_s  # per unit of L
    open_ = []
    for low, high in zip(edges[:-1], edges[1:]):
        rounds, log2_inverse = relaxed_rounds_and_log2(split.a, low, high)
        if rounds * float(np.max(log2_inverse * slope + split.min_time_fed_s)) <= search.result.max_delay_s:
            open_.append((low, high))
    return (open_[0][0], open_[-1][1]) if open_ else None


def theta(a: float, eta: float) -> tuple[float, float]:
    """(theta1, theta2) = (I0 L, I0) at eta (theta1 -> a/ln 2 at eta = 1)."""
    rounds = a / (1.0 - eta)
    return (a / math.log(2.0) if eta == 1.0 else rounds * math.log2(1.0 / eta)), rounds


def theta_slope(eta: float) -> float:
    """d theta1 / d theta2 along the arc: log2(1/eta) - (1 - eta) / (eta ln 2)."""
    return math.log2(1.0 / eta) - (1.0 - eta) / (eta * math.log(2.0))


def arc_triangle(a: float, low: float, high: float) -> list[tuple[float, float]]:
    """A triangle holding the arc theta([low, high]): theta1 is a convex, falling function of theta2 along it
    (its second derivative is positive on (0, 1)), so the arc lies below its chord and above its end
    tangents; the vertices are the ends and the tangents' crossing."""
    if low <= 0.0 or high >= 1.0:  # the end pieces of (0, 1): the monotone bound's corner instead
        return [(theta(a, high)[0], theta(a, low)[1])]
    (t1_low, t2_low), (t1_high, t2_high) = theta(a, low), theta(a, high)
    s_low, s_high = theta_slope(low), theta_slope(high)
    if not s_low < s_high:  # too narrow to tell the tangents apart: the chord's ends alone
        return [(t1_low, t2_low), (t1_high, t2_high)]
    t2_cross = (t1_high - t1_low + s_low * t2_low - s_high * t2_high) / (s_low - s_high)
    return [(t1_low, t2_low), (t1_high, t2_high), (t1_low + s_low * (t2_cross - t2_low), t2_cross)]


class EtaBranchAndBound:
    """The branch and bound of the module docstring around one EnergySearch (its engine and oracle)."""

    def __init__(self, search: EnergySearch, tol: float, solve_limit: int = 2000):
        self.search = search
        self.tol = tol
        self.solve_limit = solve_limit
        self.solves = 0
        self.intervals = 0

    def relaxation_infeasible(self, low: float, high: float) -> bool:
        """Proven: the relaxation's least delay exceeds T_max (module docstring)."""
        split = self.search.oracle.scenario.split
        rounds, log2_inverse = relaxed_rounds_and_log2(split.a, low, high)
        equivalent_eta = 2.0 ** (-log2_inverse)
        if not 0 < equivalent_eta < 1:
            return False
        if self.search.oracle.equal_split:
            round_time = split.equal_split_delay_s(equivalent_eta) / split.rounds(equivalent_eta)
        else:
            point = solve_structured(split, equivalent_eta, None, self.search.oracle.gap)
            round_time = point.lower_bound / split.rounds(equivalent_eta)
        return rounds * round_time > self.search.result.max_delay_s

    def bound(self, low: float, high: float) -> float:
        """A lower bound on E* over [low, high]: inf when proven infeasible, -inf when Ipopt did not solve
        the relaxation (the interval is split further)."""
        self.intervals += 1
        if self.relaxation_infeasible(low, high):
            return math.inf
        record, value = self.search.engine.solve_relaxed(low, high, f"(E) relaxation on [{low:.9g}, {high:.9g}]")
        self.solves += 1
        self.search.result.points.append(EnergyPoint(low, math.nan, "relaxation", record, math.nan,
                                                     value if math.isfinite(value) else math.nan, high))
        return value

    def dual_bound(self, low: float, high: float) -> float:
        """The second-order bound of the module docstring (structured engine): solve (E) at the interval's
        midpoint, hold its multipliers, and take the dual function's least value over the triangle that holds
        the arc theta([low, high]). Falls back to `bound` where the midpoint is infeasible."""
        middle = 0.5 * (low + high)
        if not self.search.feasible(middle):
            return self.bound(low, high)
        self.intervals += 1
        point = self.search.solve_at(middle, "bound")
        self.solves += 1
        if not point.record.optimal:
            return self.bound(low, high)
        a = self.search.oracle.scenario.split.a
        value = min(self.search.engine.dual_bound(*vertex) for vertex in arc_triangle(a, low, high))
        self.search.result.points.append(EnergyPoint(low, math.nan, "relaxation", point.record, math.nan, value, high))
        return value

    def midpoint(self, eta: float) -> None:
        """(E) at a split point, where feasible: a better eta becomes the search's optimum."""
        if self.search.feasible(eta):
            self.search.solve_at(eta, "bound")
            self.solves += 1

    def run(self) -> EtaBound:
        search = self.search
        domain = feasible_domain(search)
        best = search.result.best
        if domain is None:  # cannot happen with T_max >= T* (the search found a point); kept for clarity
            return EtaBound(math.inf, best.energy_j, best.eta, self.tol, 0, 0, "no feasible eta", (math.nan, math.nan))
        second_order = isinstance(search.engine, EnergyStructured)
        bound = self.dual_bound if second_order else self.bound
        heap = [(bound(*domain), *domain)]
        status = "certified"
        search.progress.start("(E) bound over every eta", None)
        while heap:
            best = search.result.best
            value, low, high = heap[0]
            if best.energy_j - value <= self.tol * best.energy_j:
                break
            if self.solves >= self.solve_limit or high - low < MIN_WIDTH:
                status = (f"not certified: {self.solves} solves, the limit" if self.solves >= self.solve_limit
                          else f"not certified: the interval [{low:.12g}, {high:.12g}] cannot be narrowed")
                break
            heapq.heappop(heap)
            middle = 0.5 * (low + high)
            if not second_order:  # the dual bound solves its midpoints itself
                self.midpoint(middle)
            for piece in ((low, middle), (middle, high)):
                piece_bound = bound(*piece)
                if piece_bound < search.result.best.energy_j:
                    heapq.heappush(heap, (piece_bound, *piece))
            gap = (search.result.best.energy_j - heap[0][0]) / search.result.best.energy_j if heap else 0.0
            search.progress.advance(f"{self.solves} solves, gap {gap:.1e}")
        search.progress.finish()
        best = search.result.best
        lowest = min(heap[0][0] if heap else best.energy_j, best.energy_j)
        return EtaBound(lowest, best.energy_j, best.eta, self.tol, self.intervals, self.solves, status, domain)


def bound_check(bound: EtaBound) -> Check:
    """The branch and bound as a certificate row."""
    return Check("certified_over_eta", "all", bound.gap, "-", f"<= {bound.tolerance:g}", bound.certified,
                 f"(best E - smallest lower bound) / best E over every eta in (0, 1): {bound.intervals} intervals, "
                 f"{bound.solves} solves, eta searched in [{bound.domain[0]:.6g}, {bound.domain[1]:.6g}], "
                 f"{bound.status}")


def bound_summary_rows(bound: EtaBound | None) -> list[tuple]:
    if bound is None:
        return [("eta_bound", "not computed (energy.certify_eta=false)", "-", "the bound over every eta")]
    return [("eta_lower_bound", bound.lower_bound_j, "J", "proven lower bound on E* over every eta in (0, 1)"),
            ("eta_gap", bound.gap, "-", f"(E - lower bound) / E; certified when <= {bound.tolerance:g}"),
            ("eta_bound_intervals", bound.intervals, "-", "eta intervals bounded by the branch and bound"),
            ("eta_bound_solves", bound.solves, "-", "its solves (relaxations and midpoints)"),
            ("eta_bound_status", bound.status, "-", "certified, or why not")]
