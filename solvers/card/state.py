"""Everything CARD decides under one channel state: Algorithm 1 and the benchmarks (server-only, c = 0, and
device-only, c = I, both with the server at F_max) for every in-range device-round, and the device-rounds
out of range."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from data.card.channel import Links, links
from data.card.costs import PairCosts, pair_costs
from data.card.inputs import CardInputs
from data.card.profile import Profile
from solvers.card.algorithm import CardDecision, card_algorithm1, decision
from solvers.card.minlp import MinlpSolve


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
