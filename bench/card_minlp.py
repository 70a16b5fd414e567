"""Benchmark: CARD's P1 by SCIP over the whole horizon against MindtPy, in one run.

    ./fedsplit bench card_minlp [scip=20,40,100] [mindtpy=5,20] [per_round=1]

On the default workbook (Normal channel, 5 devices x 20 rounds): P1 over the first N device-rounds by
  - SCIP 10 on the per-cut big-M form (what the run uses),
  - SCIP on the perspective form (what the per-round variant uses),
  - MindtPy's OA (HiGHS, Ipopt) on the two-sided big-M form (the reference run: what the report used before),
and the per-round variant (one clock per round) by SCIP for `per_round` rounds. Prints wall times, the
status, SCIP's gap, how far each total cost lies from CARD's, and ratios against MindtPy at the same size
(or, beyond MindtPy's sizes, the seconds per device-round against MindtPy's). Aim: the 100 device-rounds
of the default run proven optimal in at most 30 s.
"""

from __future__ import annotations

import sys
import time


def _sizes(arguments: dict, key: str, default: str) -> list[int]:
    return [int(v) for v in arguments.get(key, default).split(",") if v]


def main(argv: list[str]) -> None:
    from data.card.inputs import load_card
    from data.card.profile import build_profile
    from solvers.card.minlp import solve_p1_by_mindtpy, solve_p1_by_scip, solve_per_round_by_scip
    from solvers.card.state import solve_state

    arguments = dict(a.split("=", 1) for a in argv)
    inputs = load_card()
    state = solve_state(inputs, build_profile(inputs), inputs.parameter("channel_state"))
    card_cost = {id(p): d.cost for p, d in zip(state.pairs, state.card)}

    def card_total(pairs):
        return sum(card_cost[id(p)] for p in pairs)

    mindtpy_seconds = {}
    print(f"{'solver':<34}{'pairs':>6}{'seconds':>10}{'s/pair':>8}{'gap':>10}{'total - CARD':>14}  ratio")
    for n in _sizes(arguments, "mindtpy", "5,20"):
        pairs = state.pairs[:n]
        started = time.perf_counter()
        decisions = solve_p1_by_mindtpy(pairs, 600).decisions
        seconds = time.perf_counter() - started
        mindtpy_seconds[n] = seconds
        print(f"{'MindtPy OA (reference)':<34}{n:>6}{seconds:>10.2f}{seconds / n:>8.3f}{'-':>10}"
              f"{sum(d.cost for d in decisions) - card_total(pairs):>14.2e}  1.00")
    per_pair_reference = max(mindtpy_seconds.items())[1] / max(mindtpy_seconds) if mindtpy_seconds else None
    for form in ("big_m", "perspective"):
        for n in _sizes(arguments, "scip", "20,40,100"):
            pairs = state.pairs[:n]
            solved = solve_p1_by_scip(pairs, form=form)
            if n in mindtpy_seconds:
                ratio = f"{mindtpy_seconds[n] / solved.seconds:.1f}x faster than MindtPy at {n}"
            elif per_pair_reference:
                ratio = f"{per_pair_reference / (solved.seconds / n):.1f}x faster per device-round"
            else:
                ratio = "-"
            print(f"{'SCIP, ' + form:<34}{n:>6}{solved.seconds:>10.2f}{solved.seconds / n:>8.3f}{solved.gap:>10.1e}"
                  f"{solved.total_cost - card_total(pairs):>14.2e}  {ratio}")
    rounds = int(arguments.get("per_round", "1"))
    if rounds:
        pairs = [p for p in state.pairs if p.round <= rounds]
        started = time.perf_counter()
        solves = solve_per_round_by_scip(pairs)
        seconds = time.perf_counter() - started
        total = sum(s.total_cost for s in solves)
        print(f"{'SCIP, one clock per round':<34}{len(pairs):>6}{seconds:>10.2f}{seconds / len(pairs):>8.3f}"
              f"{max(s.gap for s in solves):>10.1e}{total - card_total(pairs):>14.2e}  (a restriction: >= 0)")


if __name__ == "__main__":
    main(sys.argv[1:])
