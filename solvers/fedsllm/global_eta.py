"""Certified global optimum of Problem (17) over every eta in (0, 1): branch and bound on eta intervals.

Why the bound holds. T*(eta) = I0(eta) R*(eta): (8) rounds I0 = a/(1 - eta), increasing in eta, times the
least round time R*, which depends on eta only through the local iterations n = v log2(1/eta) and the
compute times tau_k = E_k log2(1/eta)(...), both decreasing in eta; more work per round can only lengthen
the least round time (the feasible set of (17a) shrinks), so R* is non-increasing in eta. Hence for every
eta in [e1, e2]

    T*(eta) >= a / (1 - e1) * R*(e2) >= a / (1 - e1) * R_low(e2),

with R_low(e2) the structured engine's proven lower bound on R*(e2) (solvers/fedsllm/structured.py). The end
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
from dataclasses import dataclass, field, replace

import numpy as np

from solvers.fedsllm.settings import GLOBAL_TOLERANCE
from solvers.fedsllm.batched import solve_structured_compiled
from solvers.fedsllm.structured import DEFAULT_GAP, dual_round_bound
from solvers.fedsllm.scenario import SplitScenario

DEFAULT_TOLERANCE = GLOBAL_TOLERANCE
SOLVE_LIMIT = 50_000
WARM_STARTS_KEPT = 8  # solved points kept as warm starts of the branch and bound's solves


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
    client_share: float = math.nan  # Problem (16): the A at eta (nan for Problem (17) and EB)

    @property
    def gap(self) -> float:
        return max(0.0, (self.T - self.lower_bound) / self.T)


@dataclass(frozen=True)
class WarmStart:
    """What a compiled solve reads of its start (solvers.fedsllm.batched.solve_structured_compiled: `state`)."""

    eta: float
    state: object  # solvers.fedsllm.structured._State: every user's ln z, ln w and the round's values


class _Points:
    """Structured solves by eta: T(eta) (upper bound) and the proven lower bound on the round time R*."""

    def __init__(self, scenario: SplitScenario, gap: float):
        self.scenario = scenario
        self.gap = gap
        self.upper: dict[float, float] = {}
        self.round_lower: dict[float, float] = {}
        # The multipliers of the latest solve only (Problem (17)): they bound the intervals next to it and
        # are then dropped, so memory stays linear in K whatever the number of intervals.
        self.latest_multipliers = None
        self.last = None
        # The last few solved points: each solve starts from the nearest in eta (bisection jumps about, and a
        # neighbour's allocation is a much better start than the last one's); a few, so memory stays linear in K.
        self.recent: list = []
        # Right end: every user's fed upload needs at least s_c ln 2 / c_c even with all the bandwidth.
        self.fed_floor = float(np.max(scenario.min_time_fed_s))

    def solve(self, eta: float) -> float:
        if eta not in self.upper:
            start = min(self.recent, key=lambda p: abs(p.eta - eta), default=None)
            point = solve_structured_compiled(self.scenario, eta, start, self.gap)
            if not point.converged:
                raise GlobalSearchError(eta, point.status, point.gap)
            # A warm start reads only the point's state (16 bytes a user), not its allocation or multipliers.
            self.recent = [*self.recent[-(WARM_STARTS_KEPT - 1):], WarmStart(eta, point.state)]
            self.upper[eta] = point.T
            self.round_lower[eta] = point.lower_bound / self.scenario.rounds(eta)
            self.latest_multipliers = point.multipliers
        return self.upper[eta]

    def interval_bound(self, low: float, high: float, multipliers=None) -> float:
        """A lower bound on T*(eta) for every eta in [low, high] (low = 0 and high = 1: the end pieces):
        the monotone bound (`high` already solved), and inside (0, 1) the second-order bound from
        `multipliers` (those of a point solved in the interval), whichever is higher."""
        rounds = self.scenario.a / (1.0 - low)
        if high >= 1.0:
            return rounds * self.fed_floor
        monotone = rounds * self.round_lower[high]
        if low <= 0.0 or multipliers is None:
            return monotone
        return max(monotone, self._dual_bound(low, high, multipliers))

    def dual_value(self, multipliers, eta: float) -> float:
        """The dual function at `eta` (a lower bound on R*(eta), concave in log2(1/eta))."""
        return dual_round_bound(self.scenario, multipliers, eta)

    def _dual_bound(self, low: float, high: float, multipliers) -> float:
        """With D(L) the dual function at fixed multipliers (a lower bound on R* at every eta, concave in
        L = log2(1/eta); solvers.structured.dual_round_bound): on [low, high] R*(eta) >= D >= its chord
        between L(high) and L(low), which is >= an affine function of eta (L is convex in eta, so above
        its tangent at `high`); the rounds are >= their tangent at `low` (convex). The product of an
        increasing and a decreasing non-negative affine function is concave, so its minimum over the
        interval is at an end."""
        s = self.scenario
        at_high = self.dual_value(multipliers, high)
        at_low = self.dual_value(multipliers, low)
        if min(at_high, at_low) <= 0.0:
            return 0.0
        if at_low >= at_high:
            chord_slope = (at_low - at_high) / (math.log2(1.0 / low) - math.log2(1.0 / high))
            tangent_slope = chord_slope / (high * math.log(2))  # per unit of eta, for eta below `high`

            def round_time(eta: float) -> float:
                return at_high + tangent_slope * (high - eta)
        else:
            def round_time(eta: float) -> float:
                return at_low

        def rounds(eta: float) -> float:
            return s.a / (1.0 - low) + s.a / (1.0 - low) ** 2 * (eta - low)

        return min(rounds(low) * round_time(low), rounds(high) * round_time(high))


SHARE_ITERATION_LIMIT = 60
SHARE_FIRST_STEP = 1e-3  # of A_max - A_min: the second trial share next to a warm start


@dataclass(frozen=True)
class ShareOptimum:
    """Problem (16) at one eta: the best client share A in [A_min, A_max] and proven bounds on T."""

    T: float  # the structured engine's feasible T at `client_share`
    lower_bound: float  # on min over A of T*(eta, A)
    client_share: float
    solves: int


def best_client_share(scenario: SplitScenario, eta: float, share_min: float, share_max: float, tol: float,
                      gap: float = DEFAULT_GAP, start=None) -> tuple[ShareOptimum, object]:
    """min over A in [share_min, share_max] of T*(eta, A), by cutting planes (Kelley).

    With f, f_s and both powers at their maxima, (16) at fixed eta and A is Problem (17) with tau_k(A)
    = E_k log2(1/eta) (A/f_k + (1-A)/f_s), and T*(eta, A) is convex in A (A enters (16a) linearly, so the
    problem with A as a variable is jointly convex). Each structured solve at A_j gives a cut
    lower_j + (A - A_j) slope_j that bounds T*(eta, A) at every A (the Lagrangian bound is affine in tau,
    which is affine in A); the next A is the minimiser of the cuts' maximum. Stops when the best T is
    within `tol` of that minimum. Returns the optimum and the last structured point (a warm start)."""
    cuts: list[tuple[float, float, float]] = []
    best_T, best_share = math.inf, share_min
    # From a neighbouring eta's A* (its client_share) when there is one: A* moves little with eta.
    share = min(max(start.client_share, share_min), share_max) if start is not None else share_min
    model_min = -math.inf
    for _ in range(SHARE_ITERATION_LIMIT):
        point = solve_structured_compiled(scenario, eta, start, gap, client_share=share)
        if not point.converged:
            raise GlobalSearchError(eta, f"{point.status} at A = {share:.9g}", point.gap)
        start = point
        if point.T < best_T:
            best_T, best_share = point.T, share
        cuts.append((share, point.lower_bound, point.share_slope))
        kelley, model_min = _cut_model_minimum(cuts, share_min, share_max)
        if best_T - model_min <= tol * best_T:
            break
        if len(cuts) == 1 and share_min < share < share_max:  # a small step downhill to bracket the zero
            step = -math.copysign(SHARE_FIRST_STEP * (share_max - share_min), point.share_slope)
            share = min(max(share + step, share_min), share_max)
        else:
            share = _secant_share(cuts, share_min, share_max, kelley)
        if any(abs(share - solved) <= 1e-13 for solved, _, _ in cuts):
            share = kelley
            if any(abs(share - solved) <= 1e-13 for solved, _, _ in cuts):
                break
    return ShareOptimum(best_T, min(model_min, best_T), best_share, len(cuts)), start


def _secant_share(cuts, low: float, high: float, fallback: float) -> float:
    """Where the slope of T*(eta, A) crosses zero, by the secant through the nearest cuts on either side
    (the cuts' slopes are T's derivatives up to the solver's gap); `fallback` (Kelley's point) when the
    cuts do not bracket a zero yet or the secant leaves the bracket."""
    below = [c for c in cuts if c[2] < 0]
    above = [c for c in cuts if c[2] > 0]
    if not below or not above:
        return fallback
    left = max(below, key=lambda c: c[0])
    right = min(above, key=lambda c: c[0])
    if not left[0] < right[0]:
        return fallback
    crossing = left[0] - left[2] * (right[0] - left[0]) / (right[2] - left[2])
    margin = 1e-3 * (right[0] - left[0])
    return crossing if left[0] + margin < crossing < right[0] - margin else 0.5 * (left[0] + right[0])


def _cut_model_minimum(cuts, low: float, high: float) -> tuple[float, float]:
    """(argmin, min) over [low, high] of max_j (lower_j + (A - A_j) slope_j): at an end or a crossing."""
    def model(share: float) -> float:
        return max(lower + (share - at) * slope for at, lower, slope in cuts)

    candidates = [low, high]
    for index, (at_i, lower_i, slope_i) in enumerate(cuts):
        for at_j, lower_j, slope_j in cuts[index + 1:]:
            if slope_i != slope_j:
                crossing = ((lower_j - at_j * slope_j) - (lower_i - at_i * slope_i)) / (slope_i - slope_j)
                if low < crossing < high:
                    candidates.append(crossing)
    best = min(candidates, key=model)
    return best, model(best)


class _SharePoints(_Points):
    """Problem (16): at each eta the best client share A (best_client_share), so the bounds are on
    min over A of T*(eta, A). For every A the least round time does not increase with eta (the module
    docstring's argument: tau_k(A) >= 0 shrinks with eta), so neither does its minimum over A."""

    def __init__(self, scenario: SplitScenario, gap: float, share_range: tuple[float, float], tol: float):
        super().__init__(scenario, gap)
        self.share_range = share_range
        self.tol = tol
        self.share: dict[float, float] = {}

    def solve(self, eta: float) -> float:
        if eta not in self.upper:
            found, self.last = best_client_share(self.scenario, eta, *self.share_range, self.tol, self.gap, self.last)
            self.upper[eta] = found.T
            self.round_lower[eta] = found.lower_bound / self.scenario.rounds(eta)
            self.share[eta] = found.client_share
            # No multipliers kept, so only the monotone bound: the dual function at the best A's
            # multipliers, minimised over A (at an end, being affine in A), is valid but loose unless
            # its slope in A is zero, and the Kelley cuts' minimum over A is not known to be concave.
        return self.upper[eta]


class _EqualSplitPoints(_Points):
    """The EB baseline: every user on B/K of both links, so T(eta) is exact (its own lower bound)."""

    def __init__(self, scenario: SplitScenario):
        super().__init__(scenario, 0.0)
        time_main, time_fed = scenario.equal_split_times_s()
        self.fed_floor = float(np.max(time_fed))  # no work left: the fed upload alone
        # Each user's time per round is L c_k + d_k in L = log2(1/eta) >= 0 (d_k its fed upload): a user
        # whose c and d are both at most another's never sets the maximum, so only the others are kept
        # (a handful of ~10^4 etas' worth of users).
        per_round_at_half = scenario.user_delays_s(0.5, time_main, time_fed) / scenario.rounds(0.5)  # L = 1
        slope = per_round_at_half - time_fed
        order = np.argsort(-slope, kind="stable")
        front = order[time_fed[order] >= np.maximum.accumulate(time_fed[order])]
        self.users = replace(scenario, compute_cycles=scenario.compute_cycles[front],
                             client_cpu_hz=scenario.client_cpu_hz[front],
                             power_to_noise_main_hz=scenario.power_to_noise_main_hz[front],
                             power_to_noise_fed_hz=scenario.power_to_noise_fed_hz[front])
        self.times = time_main[front], time_fed[front]
        self.slopes = np.maximum(slope[front], 0.0)
        self.slope_at: dict[float, float] = {}  # c of the user who sets T at each solved eta

    def solve(self, eta: float) -> float:
        if eta not in self.upper:
            delays = self.users.user_delays_s(eta, *self.times)
            setter = int(np.argmax(delays))
            self.upper[eta] = float(delays[setter])
            self.round_lower[eta] = self.upper[eta] / self.scenario.rounds(eta)
            self.slope_at[eta] = float(self.slopes[setter])
        return self.upper[eta]

    def interval_bound(self, low: float, high: float, multipliers=None) -> float:
        """The monotone bound, and inside (0, 1) a second-order one: the time per round g(L) = max_k
        (L c_k + d_k) is convex in L = log2(1/eta), so above its tangent at L(high) (slope c of the user who
        sets T there); L is convex in eta, so above its tangent at `high` (and c >= 0); the rounds are above
        their tangent at `low`. The two tangents are positive on the interval, one rising and one falling,
        so their product is concave: least at an end. (1 - 1e-12): c comes from rounded delays."""
        monotone = super().interval_bound(low, high)
        if low <= 0.0 or high >= 1.0:
            return monotone
        at_high, slope, a = self.round_lower[high], self.slope_at[high], self.scenario.a

        def product(eta: float) -> float:
            rounds = a / (1.0 - low) + a / (1.0 - low) ** 2 * (eta - low)
            return rounds * (at_high + slope * (high - eta) / (high * math.log(2)))

        return max(monotone, min(product(low), product(high)) * (1 - 1e-12))


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
                       equal_split: bool = False, share_range: tuple[float, float] | None = None
                       ) -> GlobalEtaResult:
    """Branch and bound over (0, 1) from the partition at `start_etas` (e.g. the eta grid and the search's
    eta*); see the module docstring. `equal_split`: the EB baseline's T(eta) (B/K on both links) instead
    of Problem (17)'s. `share_range`: Problem (16), the client share A searched in [A_min, A_max] at every
    eta (f, f_s and the powers at their maxima, optimal for every eta and A: README)."""
    started = time.perf_counter()
    if share_range is not None:
        points: _Points = _SharePoints(scenario, gap, share_range, tol / 10)
    else:
        points = _EqualSplitPoints(scenario) if equal_split else _Points(scenario, gap)
    cuts = sorted({float(e) for e in start_etas if 0.0 < e < 1.0})
    if not cuts:
        cuts = [0.5]
    live: list[tuple[float, float, float]] = []
    examined = 0
    pruned: list[Interval] = []
    for low, high in zip([0.0, *cuts], cuts):  # each interval as soon as its right end is solved
        points.solve(high)
        heapq.heappush(live, (points.interval_bound(low, high, points.latest_multipliers), low, high))
    heapq.heappush(live, (points.interval_bound(cuts[-1], 1.0), cuts[-1], 1.0))
    best_eta = min(points.upper, key=points.upper.get)
    best = points.upper[best_eta]
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
        multipliers = points.latest_multipliers
        if value < best:
            best, best_eta = value, middle
        for piece_low, piece_high in ((low, middle), (middle, high)):
            piece_bound = points.interval_bound(piece_low, piece_high, multipliers)
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
                           envelope, getattr(points, "share", {}).get(best_eta, math.nan))
