"""P3 (15) by Ipopt, for the cross-checks: every cut's P3 in one NLP, and the best of them (the full
enumeration).
"""

from __future__ import annotations

from data.card.costs import PairCosts
from models.card import build_p3_every_cut
from solvers.card.algorithm import CardDecision, decision
from solvers.runtime.ipopt import IpoptSolver, SolveError


def solve_p3_every_cut_at_once(pairs: list[PairCosts], solver: IpoptSolver) -> list[list[CardDecision]]:
    """P3 (15) at every cut of every pair, by Ipopt on one block-separable NLP (each block is one P3, so its
    optimum is every P3's optimum); per pair, the decisions in cut order."""
    model = build_p3_every_cut(pairs)
    record = solver.solve(model, label=f"P3 at every cut of {len(pairs)} device-rounds")
    if not record.optimal:
        raise SolveError([f"P3 at every cut of {len(pairs)} device-rounds: Ipopt status '{record.status}' "
                          f"({record.message}); try solver.max_iter or a smaller crosscheck.rounds"])
    return [[decision(pair, int(c), model.clock[p, int(c)].value) for c in pair.cuts] for p, pair in enumerate(pairs)]


def least_cost(decisions: list[CardDecision]) -> CardDecision:
    """The full enumeration's answer: the decision of least cost (the first on a tie)."""
    return min(decisions, key=lambda d: d.cost)
