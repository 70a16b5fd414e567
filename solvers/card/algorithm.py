"""CARD's decisions (docs/card.md): Algorithm 1 on one device-round.

`card_algorithm1`: P3's closed form (16) f* = min(max(Q, F_min), F_max), then P4 (17) by enumerating every
cut at f*; Q does not depend on c, so this solves P2 (14) exactly, O(I).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data.card.costs import PairCosts


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
