"""The lines a run prints when it is done, from its plain result objects."""

from __future__ import annotations

from pathlib import Path

from reports.card import (
    PAPER_DELAY_REDUCTION,
    PAPER_ENERGY_REDUCTION,
    crosscheck_verdict,
    delay_reduction,
    energy_reduction,
)
from reports.fedsllm import PAPER_REDUCTION_VS_BA


def fedsllm_optimum_lines(solved, certificate, report: Path) -> list[str]:
    """`solved`: the FedsLLM pipeline's FedsllmOptimum; `certificate`: its Certificate."""
    search, comparison, optimum = solved.comparison.search, solved.comparison, solved.optimum
    lines = [f"FedsLLM optimum ({solved.source}): T* = {optimum.T:.6f} s at eta* = {optimum.eta:.6f} "
             f"(grid best {search.best_grid.T:.6f} s at eta = {search.best_grid.eta:.4f}); "
             f"{search.solves} solves of (17) by the {search.engine} engine, all optimal"]
    if search.best_gap == search.best_gap:  # not nan: the structured engine ran
        lines.append(f"structured bounds at eta*: {search.best_lower_bound:.9f} <= T*(eta*) <= "
                     f"{search.best_upper_bound:.9f} s (relative gap {search.best_gap:.1e})")
    if solved.global_eta is not None:
        found = solved.global_eta
        lines.append(f"global over eta in (0, 1): {found.status}; lower bound {found.lower_bound:.9f} s, gap "
                     f"{found.gap:.1e} (tolerance {found.tolerance:g}), {found.solves} structured solves")
    if solved.problem16 is not None and not solved.reduction_applies:
        lines.append("note: some client is at least as fast as the server, so the reduction to (17) does not hold; "
                     "the optimum reported is Problem (16)'s")
    lines.append("baselines: " + ", ".join(f"{name} T = {r.T:.4f} s" for name, r in comparison.results.items())
                 + f"; Proposed is {comparison.reduction_vs_ba('Proposed'):.2%} below BA "
                   f"(paper: {PAPER_REDUCTION_VS_BA:.2%})")
    lines.append(f"certificate: {certificate.verdict()} [{certificate.kind}]")
    lines.append(f"report: {report}")
    return lines


def power_sweep_lines(powers: int, mean_reduction: float, report: Path) -> list[str]:
    return [f"power sweep over {powers} powers: Proposed is on average {mean_reduction:.2%} below BA "
            f"(paper: {PAPER_REDUCTION_VS_BA:.2%})", f"report: {report}"]


def card_lines(chosen, results, checks, report: Path, crosschecks_off: bool = False) -> list[str]:
    """`chosen`, `results`: StateResults (the chosen channel state and all three); `checks`: CrossChecks
    (none, with `crosschecks_off`, when crosscheck.rounds=0 turned them off)."""
    lines = [f"CARD, {chosen.state} channel: mean delay {chosen.mean('card', 'delay_s'):.3f} s and server energy "
             f"{chosen.mean('card', 'energy_j'):.3f} J per round; {len(chosen.out_of_range)} device-rounds out of range"]
    for result in results:
        lines.append(f"  {result.state:>6}: delay {delay_reduction(result):.1%} below device-only (paper: "
                     f"{PAPER_DELAY_REDUCTION:.1%}), server energy {energy_reduction(result):.1%} below server-only "
                     f"(paper: {PAPER_ENERGY_REDUCTION:.1%})")
    lines.append((f"cross-checks: {crosscheck_verdict(checks, crosschecks_off)} " + "; ".join(
        f"{c.check}: max |dU| = {c.max_cost_difference:.1e}" for c in checks)).rstrip())
    lines.append(f"report: {report}")
    return lines
