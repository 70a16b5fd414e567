"""CARD's one-device problems as the tests build them: P2 (14), P3 (15) at one cut and P4 (17), from the
library's P1 (13), and P3 solved by Ipopt one model per cut (the library solves every cut in one NLP)."""

from __future__ import annotations

import pyomo.environ as pyo

from data.card.costs import PairCosts
from models.card import build_p1, set_choice
from solvers.card.algorithm import CardDecision, decision
from solvers.runtime.ipopt import IpoptSolver

def build_p2(pair: PairCosts) -> pyo.ConcreteModel:
    """P2 (14): P1 for one device and round."""
    return build_p1([pair], name=f"CARD P2 (device {pair.device}, round {pair.round})")


def build_p3(pair: PairCosts, cut: int) -> pyo.ConcreteModel:
    """P3 (15): P2 with the cut fixed, a convex NLP in the clock."""
    model = build_p2(pair)
    model.name = f"CARD P3 (device {pair.device}, round {pair.round}, cut {cut})"
    for c in model.cuts:
        model.cut_choice[0, c].fix(1 if c == cut else 0)
    set_choice(model, 0, cut, pair.clock_max_ghz)
    model.cost[0].setlb(None)  # the bounds only serve the MINLP's big-M
    model.cost[0].setub(None)
    return model


def build_p4(pair: PairCosts, clock_ghz: float) -> pyo.ConcreteModel:
    """P4 (17): P2 with the clock fixed, a choice of cut."""
    model = build_p2(pair)
    model.name = f"CARD P4 (device {pair.device}, round {pair.round}, clock {clock_ghz:g} GHz)"
    model.clock[0].fix(clock_ghz)
    return model


def solve_p3(pair: PairCosts, cut: int, solver: IpoptSolver) -> CardDecision:
    """P3 (15) at one cut by Ipopt (the test fails on a non-optimal status)."""
    model = build_p3(pair, cut)
    record = solver.solve(model, label=f"P3 device {pair.device} round {pair.round} cut {cut}")
    assert record.optimal, (pair.device, pair.round, cut, record.status)
    return decision(pair, cut, model.clock[0].value)


def solve_p3_every_cut(pair: PairCosts, solver: IpoptSolver) -> list[CardDecision]:
    """P3 (15) by Ipopt at every cut, in cut order, one model per cut."""
    return [solve_p3(pair, int(c), solver) for c in pair.cuts]
