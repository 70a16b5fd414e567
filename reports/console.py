"""The lines a run prints when it is done, from its plain result objects (the report's folder follows them)."""

from __future__ import annotations

from data.papers import PAPER_DELAY_REDUCTION, PAPER_ENERGY_REDUCTION, PAPER_REDUCTION_VS_BA
from reports.card import crosscheck_verdict, delay_reduction, energy_reduction
from reports.study import overall_reduction
from reports.sweep_axis import POINT, SWEEP_COLUMN


def fedsllm_optimum_lines(solved, certificate) -> list[str]:
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
    return lines


def power_sweep_lines(powers: int, mean_reduction: float) -> list[str]:
    return [f"power sweep over {powers} powers: Proposed is on average {mean_reduction:.2%} below BA "
            f"(paper: {PAPER_REDUCTION_VS_BA:.2%})"]


def card_lines(chosen, results, checks, crosschecks_off: bool = False) -> list[str]:
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
    return lines


def fedsllm_study_lines(reductions, axis, drops: int, failed: int, runs: int, worst_gap: float) -> list[str]:
    """A FedsLLM Monte Carlo's headline over the whole sweep, then one line per sweep value (`reductions`:
    reports.study.fedsllm_reductions; `axis`: its SweepAxis or None)."""
    def interval(record) -> str:
        return f"{record['mean']:.2%} below BA, 95 % CI [{record['ci95_low']:.2%}, {record['ci95_high']:.2%}]"

    lines = [f"Monte Carlo over {drops} drops: Proposed is {interval(overall_reduction(reductions))}"
             + (" averaged over the sweep" if axis is not None else "")
             + f" (paper: {PAPER_REDUCTION_VS_BA:.2%}); {failed} of {runs} runs failed; worst gap {worst_gap:.1e}"]
    for record in reductions[reductions["scope"] == POINT].to_dict("records"):
        lines.append(f"  {axis.label_text(record[SWEEP_COLUMN])}: Proposed is {interval(record)}")
    return lines


def card_study_lines(reductions, axis, drops: int, failed: int, runs: int) -> list[str]:
    """A CARD Monte Carlo's reductions per sweep value (each labelled) and channel state (`reductions`:
    reports.study.card_reductions)."""
    lines = [f"Monte Carlo over {drops} drops ({failed} of {runs} runs failed):"]
    for value, part in reductions.groupby(SWEEP_COLUMN, sort=False, dropna=False):
        indent = "  "
        if axis is not None:
            lines.append(f"  {axis.label_text(value)}:")
            indent = "    "
        for record in part.itertuples():
            lines.append(f"{indent}{record.channel_state:>6}: {record.comparison} {record.mean:.1%}, 95 % CI "
                         f"[{record.ci95_low:.1%}, {record.ci95_high:.1%}] (paper: {record.paper:.1%})")
    return lines
