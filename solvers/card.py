"""CARD solve strategies (Algorithm 1), its cross-checks and the benchmarks (docs/card.md).

- `card_algorithm1`: P3's closed form (16) f* = min(max(Q, F_min), F_max), then
  P4 (17) by enumerating every cut at f*; Q does not depend on c, so this solves
  P2 (14) exactly, O(I).
- `solve_p3_every_cut` and `least_cost`: every cut's P3 (15) solved by Ipopt,
  and the best of them (the full enumeration).
- `solve_minlp`: P1 (13) (or P2) by MindtPy outer approximation, HiGHS for the
  MILP master problems and Ipopt (cyipopt) for the NLP subproblems.
- benchmarks: server-only (c = 0) and device-only (c = I), server at F_max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.opt import check_optimal_termination

from data.card import CardInputs
from data.card_channel import Links, links
from data.card_costs import PairCosts, pair_costs
from data.card_profile import Profile
from models.card import build_p1, build_p3, set_choice
from solvers.ipopt import DEFAULT_OPTIONS, IpoptSolver, SolveError
from solvers.progress import Progress


@dataclass(frozen=True)
class CardDecision:
    device: str
    round: int
    cut: int
    clock_ghz: float
    cost: float
    delay_s: float
    energy_j: float


def decision(pair: PairCosts, cut: int, clock_ghz: float) -> CardDecision:
    return CardDecision(pair.device, pair.round, int(cut), float(clock_ghz), float(pair.cost(cut, clock_ghz)),
                        float(pair.delay(cut, clock_ghz)), float(pair.energy(cut, clock_ghz)))


def eq16_optimal_clock_ghz(pair: PairCosts) -> float:
    """(16) P3's optimum: Q = cbrt(w (E_max - E_min) / (2 xi (1 - w) (D_max - D_min))) (Hz), clamped to
    [F_min, F_max]; f = F_max at w = 1 and F_min at w = 0."""
    if pair.w >= 1.0:
        return pair.clock_max_ghz
    if pair.w <= 0.0:
        return pair.clock_min_ghz
    q_hz = ((pair.w * (pair.energy_max - pair.energy_min))
            / (2.0 * pair.xi * (1.0 - pair.w) * (pair.delay_max - pair.delay_min))) ** (1.0 / 3.0)
    return min(max(q_hz / 1e9, pair.clock_min_ghz), pair.clock_max_ghz)


def best_cut_at(pair: PairCosts, clock_ghz: float) -> int:
    """P4 (17) by enumeration: the cut of least cost at this clock (the smallest on a tie)."""
    return int(np.argmin(pair.cost(pair.cuts, clock_ghz)))


def card_algorithm1(pair: PairCosts) -> CardDecision:
    """Algorithm 1 (CARD): the clock of (16), then the best cut at that clock (P4)."""
    clock = eq16_optimal_clock_ghz(pair)
    return decision(pair, best_cut_at(pair, clock), clock)


def solve_p3(pair: PairCosts, cut: int, solver: IpoptSolver) -> CardDecision:
    """P3 (15) at one cut by Ipopt."""
    model = build_p3(pair, cut)
    record = solver.solve(model, label=f"P3 device {pair.device} round {pair.round} cut {cut}")
    if not record.optimal:
        raise SolveError([f"P3 (device {pair.device}, round {pair.round}, cut {cut}): Ipopt status "
                          f"'{record.status}' ({record.message})"])
    return decision(pair, cut, model.clock[0].value)


def solve_p3_every_cut(pair: PairCosts, solver: IpoptSolver) -> list[CardDecision]:
    """P3 (15) by Ipopt at every cut, in cut order."""
    return [solve_p3(pair, int(c), solver) for c in pair.cuts]


def least_cost(decisions: list[CardDecision]) -> CardDecision:
    """The full enumeration's answer: the decision of least cost (the first on a tie)."""
    return min(decisions, key=lambda d: d.cost)


def solve_with_mindtpy(model: pyo.ConcreteModel, nlp_options: dict | None = None, time_limit_s: float = 600):
    """MindtPy's outer approximation on a CARD model (P1, P2 or P4): HiGHS masters, cyipopt NLPs,
    `linearize_inactive` so the master sees every cut's cost at each clock. Returns Pyomo's results."""
    options = {**DEFAULT_OPTIONS, "tol": 1e-10, **(nlp_options or {})}
    return pyo.SolverFactory("mindtpy").solve(
        model, strategy="OA", mip_solver="appsi_highs", nlp_solver="cyipopt",
        nlp_solver_args={"options": options}, time_limit=time_limit_s, absolute_bound_tolerance=1e-9,
        relative_bound_tolerance=1e-9, init_strategy="initial_binary", linearize_inactive=True)


def solve_minlp(pairs: list[PairCosts], nlp_options: dict | None = None, time_limit_s: float = 600
                ) -> list[CardDecision]:
    """P1 over `pairs` (P2 when there is one) by MindtPy OA with HiGHS and cyipopt."""
    model = build_p1(pairs)
    for p, pair in enumerate(pairs):  # start from the server-only choice; OA finds the rest
        set_choice(model, p, 0, pair.clock_max_ghz)
    results = solve_with_mindtpy(model, nlp_options, time_limit_s)
    if not check_optimal_termination(results):
        raise SolveError([f"P1 by MindtPy: status '{results.solver.termination_condition}'"])
    decisions = []
    for p, pair in enumerate(pairs):
        cut = max(model.cuts, key=lambda c: model.cut_choice[p, c].value)
        decisions.append(decision(pair, cut, model.clock[p].value))
    return decisions


@dataclass
class StateResult:
    """Everything CARD decides under one channel state."""

    state: str
    links: Links
    pairs: list[PairCosts]
    card: list[CardDecision]
    server_only: list[CardDecision]
    device_only: list[CardDecision]
    out_of_range: list[tuple[str, int, float, float]]  # device, round, SNR up, SNR down (dB)

    def mean(self, method: str, attribute: str) -> float:
        return float(np.mean([getattr(d, attribute) for d in getattr(self, method)])) if self.card else math.nan


def solve_state(inputs: CardInputs, profile: Profile, state: str) -> StateResult:
    state_links = links(inputs, state)
    pairs, out_of_range = [], []
    for m in range(len(inputs.device_ids)):
        for n in range(inputs.parameter("rounds")):
            if state_links.in_range[m, n]:
                pairs.append(pair_costs(inputs, profile, state_links, m, n))
            else:
                out_of_range.append((inputs.device_ids[m], n + 1, float(state_links.snr_up_db[m, n]),
                                     float(state_links.snr_down_db[m, n])))
    return StateResult(
        state, state_links, pairs,
        card=[card_algorithm1(pair) for pair in pairs],
        server_only=[decision(pair, 0, pair.clock_max_ghz) for pair in pairs],
        device_only=[decision(pair, pair.last_cut, pair.clock_max_ghz) for pair in pairs],
        out_of_range=out_of_range,
    )


CROSSCHECK_TOLERANCE = 1e-6  # on the normalised cost U
# Measured on this 2-core machine (2026-11-23): one P3 solve by Ipopt takes about 0.08 s.
SECONDS_PER_P3_SOLVE = 0.08


def crosscheck_estimate_seconds(inputs: CardInputs, rounds: int) -> float:
    """A rough wall time of the P3 cross-check: one Ipopt solve per cut of every checked device-round."""
    cuts = int(inputs.llm["layers"]) + 2 if inputs.layers is None else len(inputs.layers["layer"])
    pairs = len(inputs.device_ids) * min(rounds, int(inputs.parameter("rounds")))
    return pairs * cuts * SECONDS_PER_P3_SOLVE


@dataclass(frozen=True)
class CrossCheck:
    check: str
    pairs: int
    max_cost_difference: float
    cut_differences: int
    max_clock_difference_hz: float

    tolerance: float = CROSSCHECK_TOLERANCE

    @property
    def passed(self) -> bool:
        return self.max_cost_difference <= self.tolerance


def _compare(check: str, ours: list[CardDecision], theirs: list[CardDecision]) -> CrossCheck:
    return CrossCheck(check, len(ours), max(abs(a.cost - b.cost) for a, b in zip(ours, theirs)),
                      sum(a.cut != b.cut for a, b in zip(ours, theirs)),
                      max(abs(a.clock_ghz - b.clock_ghz) for a, b in zip(ours, theirs)) * 1e9)


def crosscheck(result: StateResult, rounds: int, solver: IpoptSolver,
               progress: Progress | None = None) -> list[CrossCheck]:
    """CARD against P3 by Ipopt (every cut), enumeration over those, and P1 by MindtPy, on the
    in-range pairs of the first `rounds` rounds (at least one round); none when all of them are out of range."""
    if rounds < 1:
        raise ValueError(f"the cross-checks need at least one round, got {rounds}")
    progress = progress or Progress.silent()
    chosen = [i for i, pair in enumerate(result.pairs) if pair.round <= rounds]
    if not chosen:
        return []  # every device-round of those rounds is out of range: nothing to check (the report says so)
    pairs = [result.pairs[i] for i in chosen]
    ours = [result.card[i] for i in chosen]
    progress.start("cross-check: P3 by Ipopt at every cut", len(pairs), unit="device-rounds")
    by_cut = []
    for pair in pairs:
        by_cut.append(solve_p3_every_cut(pair, solver))
        progress.advance(f"device {pair.device} round {pair.round}")
    progress.finish()
    closed = [[decision(pair, int(c), eq16_optimal_clock_ghz(pair)) for c in pair.cuts] for pair in pairs]
    flat_ipopt = [d for row in by_cut for d in row]
    flat_closed = [d for row in closed for d in row]
    enumerated = [least_cost(row) for row in by_cut]
    progress.start("cross-check: P1 by MindtPy", 1, unit="MINLPs")
    minlp = solve_minlp(pairs)
    progress.advance(f"{len(pairs)} device-rounds")
    progress.finish()
    return [
        _compare("P3 by Ipopt against the closed form, every cut", flat_closed, flat_ipopt),
        _compare("enumeration of P3 by Ipopt (full enumeration)", ours, enumerated),
        _compare("P1 by MindtPy (OA: HiGHS MILP, Ipopt NLP)", ours, minlp),
    ]
