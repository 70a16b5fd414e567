"""CARD's cross-checks: Algorithm 1 against P3 by Ipopt at every cut, the full enumeration, and P1 by
SCIP (or MindtPy); the per-round variant against its independent reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from data.card.inputs import CardInputs
from solvers.card.algorithm import CardDecision, decision, eq16_optimal_clock_ghz
from solvers.card.state import StateResult
from solvers.card.minlp import SCIP_TIME_LIMIT_S, MinlpSolve, solve_p1_by_scip, pairs_by_round, solve_p1_by_mindtpy
from solvers.card.p3 import solve_p3_every_cut_at_once, least_cost
from solvers.card.reference import per_round_optimum
from solvers.runtime.ipopt import IpoptSolver
from solvers.runtime.progress import Progress


CROSSCHECK_TOLERANCE = 1e-6  # on the normalised cost U


# Measured on this 2-core machine (2026-11-23), per cross-checked device-round: P3 at every cut by Ipopt in one
# NLP about 0.04 s; P1 by SCIP about 0.2 s (19 s for 100); by MindtPy about 8 s (331 s for 40).
SECONDS_PER_PAIR = {"p3": 0.04, "scip": 0.2, "mindtpy": 8.0}
MINLP_ENGINES = ("scip", "mindtpy")


def checked_pairs(inputs: CardInputs, rounds: int | None) -> int:
    """Device-rounds of the first `rounds` rounds (None: all), in range or not."""
    total = int(inputs.parameter("rounds"))
    return len(inputs.device_ids) * (total if rounds is None else min(rounds, total))


def crosscheck_estimate_seconds(inputs: CardInputs, rounds: int | None, minlp: str = "scip") -> float:
    """A rough wall time of the cross-checks (P3 at every cut, then P1 by the MINLP solver)."""
    return checked_pairs(inputs, rounds) * (SECONDS_PER_PAIR["p3"] + SECONDS_PER_PAIR[minlp])


@dataclass(frozen=True)
class CrossCheck:
    check: str
    pairs: int
    max_cost_difference: float
    cut_differences: int
    max_clock_difference_hz: float
    minlp: MinlpSolve | None = None  # the solver's bounds, when the check is a MINLP solve
    card_total_cost: float = math.nan  # sum of CARD's U over the same pairs

    tolerance: float = CROSSCHECK_TOLERANCE

    @property
    def proven_gap(self) -> float:
        """CARD's total cost above the MINLP's dual bound (<= 0 up to tolerances: CARD is optimal)."""
        return self.card_total_cost - self.minlp.dual_bound if self.minlp else math.nan

    @property
    def passed(self) -> bool:
        within = self.max_cost_difference <= self.tolerance
        if self.minlp is None:
            return within
        return within and self.minlp.optimal and self.proven_gap <= self.tolerance


def _compare(check: str, ours: list[CardDecision], theirs: list[CardDecision], minlp: MinlpSolve | None = None
             ) -> CrossCheck:
    return CrossCheck(check, len(ours), max(abs(a.cost - b.cost) for a, b in zip(ours, theirs)),
                      sum(a.cut != b.cut for a, b in zip(ours, theirs)),
                      max(abs(a.clock_ghz - b.clock_ghz) for a, b in zip(ours, theirs)) * 1e9, minlp,
                      float(sum(d.cost for d in ours)))


def crosscheck(result: StateResult, rounds: int | None, solver: IpoptSolver, progress: Progress | None = None,
               minlp: str = "scip", time_limit_s: float = SCIP_TIME_LIMIT_S) -> list[CrossCheck]:
    """CARD against P3 by Ipopt (every cut), the enumeration over those, and P1 by SCIP (or MindtPy), on the
    in-range pairs of the first `rounds` rounds (None: the whole horizon; 0: none, the cross-checks are off);
    none when all are out of range."""
    if rounds is not None and rounds < 0:
        raise ValueError(f"the cross-checks need a number of rounds >= 0, got {rounds}")
    if minlp not in MINLP_ENGINES:
        raise ValueError(f"minlp={minlp!r}: expected one of {MINLP_ENGINES}")
    progress = progress or Progress.silent()
    chosen = [i for i, pair in enumerate(result.pairs) if rounds is None or pair.round <= rounds]
    if not chosen:
        return []  # every device-round of those rounds is out of range: nothing to check (the report says so)
    pairs = [result.pairs[i] for i in chosen]
    ours = [result.card[i] for i in chosen]
    progress.start("cross-check: P3 by Ipopt at every cut", 1, unit="NLPs")
    by_cut = solve_p3_every_cut_at_once(pairs, solver)
    progress.advance(f"{len(pairs)} device-rounds x {len(pairs[0].cuts)} cuts")
    progress.finish()
    closed = [[decision(pair, int(c), eq16_optimal_clock_ghz(pair)) for c in pair.cuts] for pair in pairs]
    flat_ipopt = [d for row in by_cut for d in row]
    flat_closed = [d for row in closed for d in row]
    enumerated = [least_cost(row) for row in by_cut]
    if minlp == "scip":
        solved = solve_p1_by_scip(pairs, time_limit_s=time_limit_s, label="cross-check: P1", progress=progress)
        label = f"P1 by {solved.solver}, {len(pairs)} device-rounds at once"
    else:
        progress.start("cross-check: P1 by MindtPy", 1, unit="MINLPs")
        solved = solve_p1_by_mindtpy(pairs, time_limit_s)
        label = "P1 by MindtPy (OA: HiGHS MILP, Ipopt NLP)"
        progress.advance(f"{len(pairs)} device-rounds")
        progress.finish()
    return [
        _compare("P3 by Ipopt against the closed form, every cut", flat_closed, flat_ipopt),
        _compare("enumeration of P3 by Ipopt (full enumeration)", ours, enumerated),
        _compare(label, ours, solved.decisions, solved),
    ]


def per_round_crosscheck(result: StateResult) -> CrossCheck:
    """The per-round variant by SCIP against the independent global search over each round's clock."""
    theirs = []
    for pairs in pairs_by_round(result.pairs).values():
        clock, _, cuts = per_round_optimum(pairs)
        theirs += [decision(pair, cut, clock) for pair, cut in zip(pairs, cuts)]
    return _compare("per-round clock: SCIP against the global search over each round's clock", result.per_round,
                    theirs)
