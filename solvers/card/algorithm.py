"""CARD's decisions: Algorithm 1 and the benchmarks, under one channel state (docs/card.md).

- `card_algorithm1`: P3's closed form (16) f* = min(max(Q, F_min), F_max), then
  P4 (17) by enumerating every cut at f*; Q does not depend on c, so this solves
  P2 (14) exactly, O(I).
- benchmarks: server-only (c = 0) and device-only (c = I), server at F_max.
- `solve_state`: all three for every in-range device-round of one channel state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from data.card.inputs import CardInputs
from data.card.channel import Links, links
from data.card.costs import PairCosts, pair_costs
from data.card.profile import Profile

if TYPE_CHECKING:  # only an annotation: the MINLP solves import this module's decisions
    from solvers.card.minlp import MinlpSolve


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
    per_round_solves: list[MinlpSolve] | None = None  # server_clock=per_round: one SCIP solve per round

    @property
    def per_round(self) -> list[CardDecision] | None:
        """The decisions with one clock per round, in round order (None unless server_clock=per_round)."""
        if self.per_round_solves is None:
            return None
        return [d for solve in self.per_round_solves for d in solve.decisions]

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
