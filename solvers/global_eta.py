"""Certified global optimum of Problem (17) over every eta in (0, 1): branch and bound on eta intervals.

Why the bound holds. T*(eta) = I0(eta) R*(eta): (8) rounds I0 = a/(1 - eta), increasing in eta, times the
least round time R*, which depends on eta only through the local iterations n = v log2(1/eta) and the
compute times tau_k = E_k log2(1/eta)(...), both decreasing in eta; more work per round can only lengthen
the least round time (the feasible set of (17a) shrinks), so R* is non-increasing in eta. Hence for every
eta in [e1, e2]

    T*(eta) >= a / (1 - e1) * R*(e2) >= a / (1 - e1) * R_low(e2),

with R_low(e2) the structured engine's proven lower bound on R*(e2) (solvers/structured.py). The end
pieces use the same argument: on (0, e] the rounds are at least a (eta -> 0); on [e, 1) the work per round
is at least zero, and each user still needs t_c >= s_c ln 2 / c_c (its fed upload at unlimited bandwidth),
so T*(eta) >= a / (1 - e) * max_k s_c ln 2 / c_c,k. Both bounds grow without limit as the piece shrinks
(log2(1/e) -> infinity, 1/(1-e) -> infinity), so the ends are always pruned after finitely many halvings.

The search. Every solved eta gives an upper bound (the structured engine's feasible T) and R_low. The
interval with the smallest lower bound is split at its middle (the end pieces are halved towards 0 or 1);
an interval whose lower bound is at least the best upper bound is pruned. The search stops when the best
upper bound is within `tol` (relative) of the smallest live lower bound: that is the certificate.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np

from solvers.structured import DEFAULT_GAP, SplitScenario, solve_structured

DEFAULT_TOLERANCE = 1e-6
SOLVE_LIMIT = 50_000


@dataclass(frozen=True)
class Interval:
    low: float  # 0 for the left end piece
    high: float  # 1 for the right end piece
    lower_bound: float  # on T*(eta) for every eta in the interval


@dataclass
class GlobalEtaResult:
    """The certified optimum over (0, 1) and how it was proven."""

    T: float  # best upper bound: the structured engine's feasible T at eta
    eta: float
    lower_bound: float  # smallest lower bound over the intervals still open (T if none)
    tolerance: float
    solves: int
    intervals: int  # intervals examined (split or pruned)
    seconds: float
    certified: bool
    status: str
    envelope: list[Interval] = field(default_factory=list)  # the final partition of (0, 1) with its bounds

    @property
    def gap(self) -> float:
        return max(0.0, (self.T - self.lower_bound) / self.T)


class _Points:
    """Structured solves by eta: T(eta) (upper bound) and the proven lower bound on the round time R*."""

    def __init__(self, scenario: SplitScenario, gap: float):
        self.scenario = scenario
        self.gap = gap
        self.upper: dict[float, float] = {}
        self.round_lower: dict[float, float] = {}
        self.last = None
        # Right end: every user's fed upload needs at least s_c ln 2 / c_c even with all the bandwidth.
        self.fed_floor = float(np.max(scenario.upload_bits * math.log(2) / scenario.power_to_noise_fed_hz))

    def solve(self, eta: float) -> float:
        if eta not in self.upper:
            point = solve_structured(self.scenario, eta, self.last, self.gap)
            if not point.converged:
                point = solve_structured(self.scenario, eta, None, self.gap)
            if not point.converged:
                raise GlobalSearchError(eta, point.status, point.gap)
            self.last = point
            self.upper[eta] = point.T
            self.round_lower[eta] = point.lower_bound / self.scenario.rounds(eta)
        return self.upper[eta]

    def interval_bound(self, low: float, high: float) -> float:
        """A lower bound on T*(eta) for every eta in [low, high] (low = 0 and high = 1: the end pieces)."""
        rounds = self.scenario.a / (1.0 - low)
        if high >= 1.0:
            return rounds * self.fed_floor
        self.solve(high)
        return rounds * self.round_lower[high]


class _EqualSplitPoints(_Points):
    """The EB baseline: every user on B/K of both links, so T(eta) is exact (its own lower bound)."""

    def __init__(self, scenario: SplitScenario):
        super().__init__(scenario, 0.0)
        count = scenario.users
        fed_hz = scenario.bandwidth_fed_hz / count
        fed_rate = fed_hz * np.log1p(scenario.power_to_noise_fed_hz / fed_hz) / math.log(2)
        self.fed_floor = float(np.max(scenario.upload_bits / fed_rate))  # no work left: the fed upload alone

    def solve(self, eta: float) -> float:
        if eta not in self.upper:
            self.upper[eta] = self.scenario.equal_split_delay_s(eta)
            self.round_lower[eta] = self.upper[eta] / self.scenario.rounds(eta)
        return self.upper[eta]


class GlobalSearchError(Exception):
    def __init__(self, eta: float, status: str, gap: float):
        self.eta, self.status = eta, status
        super().__init__(f"eta = {eta:.9g} (global search): the structured engine stopped with status "
                         f"'{status}' (gap {gap:.1e})")


def _split_point(interval: Interval) -> float:
    if interval.low <= 0.0:
        return interval.high / 2.0
    if interval.high >= 1.0:
        return (interval.low + 1.0) / 2.0
    return (interval.low + interval.high) / 2.0


def certify_global_eta(scenario: SplitScenario, start_etas: list[float], tol: float = DEFAULT_TOLERANCE,
                       gap: float = DEFAULT_GAP, solve_limit: int = SOLVE_LIMIT,
                       equal_split: bool = False) -> GlobalEtaResult:
    """Branch and bound over (0, 1) from the partition at `start_etas` (e.g. the eta grid and the search's
    eta*); see the module docstring. `equal_split`: the EB baseline's T(eta) (B/K on both links) instead
    of Problem (17)'s."""
    started = time.perf_counter()
    points = _EqualSplitPoints(scenario) if equal_split else _Points(scenario, gap)
    cuts = sorted({float(e) for e in start_etas if 0.0 < e < 1.0})
    if not cuts:
        cuts = [0.5]
    for eta in cuts:
        points.solve(eta)
    best_eta = min(points.upper, key=points.upper.get)
    best = points.upper[best_eta]
    edges = [0.0, *cuts, 1.0]
    live: list[tuple[float, float, float]] = []
    examined = 0
    pruned: list[Interval] = []
    for low, high in zip(edges[:-1], edges[1:]):
        bound = points.interval_bound(low, high)
        heapq.heappush(live, (bound, low, high))
    status = "certified"
    while live:
        bound, low, high = live[0]
        if bound >= best * (1.0 - tol):
            break
        if len(points.upper) >= solve_limit:
            status = f"solve limit {solve_limit} reached"
            break
        heapq.heappop(live)
        examined += 1
        middle = _split_point(Interval(low, high, bound))
        if not low < middle < high:  # the interval cannot be split in floating point
            pruned.append(Interval(low, high, bound))
            status = "interval too narrow to split"
            break
        value = points.solve(middle)
        if value < best:
            best, best_eta = value, middle
        for piece_low, piece_high in ((low, middle), (middle, high)):
            piece_bound = points.interval_bound(piece_low, piece_high)
            if piece_bound < best:
                heapq.heappush(live, (piece_bound, piece_low, piece_high))
            else:
                examined += 1
                pruned.append(Interval(piece_low, piece_high, piece_bound))
    lower = min([best] + [entry[0] for entry in live] + [p.lower_bound for p in pruned if p.lower_bound < best])
    envelope = sorted([Interval(low, high, b) for b, low, high in live] + pruned, key=lambda i: i.low)
    relative = max(0.0, (best - lower) / best)
    certified = status == "certified" and relative <= tol
    return GlobalEtaResult(best, best_eta, lower, tol, len(points.upper), examined, time.perf_counter() - started,
                           certified, status if certified or status != "certified" else "gap above tolerance",
                           envelope)
