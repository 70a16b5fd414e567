"""CARD's pipeline, one call per step (docs/engines.md):

    read -> validate -> build -> solve -> certify -> report

build: the per-cut profile (eta, eta_D(c), S(c), S~(c), A(c)); solve: Algorithm 1
and the benchmarks under each channel state (and, with server_clock=per_round,
one clock per round by SCIP); certify: the cross-checks against P3 by Ipopt, the
full enumeration and P1 by SCIP (or MindtPy) over the whole horizon; report: the
folder, committed last so that a failure writes nothing.
"""

from __future__ import annotations

import logging
import time

from data.card.inputs import CardInputs, card_inputs
from data.issues import Found, InputError, InputIssue
from data.papers import CARD_METHODS
from data.card.profile import Profile, build_profile
from data.card.ranges import empty_range_issues
from data.validation import raise_issues
from data.schema import CHANNEL_STATES
from data.workbook import Table
from reports import console
from reports.card import (
    benchmarks_table,
    crosscheck_table,
    crosscheck_verdict,
    decisions_table,
    delay_reduction,
    energy_reduction,
    fig3_statements_table,
    out_of_range_table,
    per_round_decisions_table,
    server_clocks_table,
    profile_table,
    summary_table,
)
from reports.plots import plot_fig3, plot_fig4
from reports.files.report import Report
from solvers.card.crosscheck import (
    CrossCheck, checked_pairs, crosscheck, crosscheck_estimate_seconds, per_round_crosscheck,
)
from solvers.card.state import StateResult, solve_state
from solvers.card.minlp import solve_per_round_by_scip
from solvers.app.config import CardStudy, ConfigError, ServerClock
from solvers.app.study import card_monte_carlo, card_sensitivity
from solvers.runtime.progress import LONG_RUN_SECONDS, too_long_problem
from solvers.app.context import RunContext, read


log = logging.getLogger(__name__)


def run_card(run: RunContext) -> Report:
    """The whole run of the chosen study; returns its report, in memory."""
    if run.settings.study is CardStudy.monte_carlo:
        return card_monte_carlo(run)
    if run.settings.study is CardStudy.sensitivity:
        return card_sensitivity(run)
    tables = read(run)
    inputs = validate(run, tables)
    profile = build(inputs)
    raise_issues(empty_range_issues(inputs, profile, tables))  # (12) divides by each device-round's ranges
    results = solve(run, inputs, profile)
    checks = certify(run, inputs, results)
    return report(run, inputs, profile, results, checks)


# --- The steps ----------------------------------------------------------------------------

def validate(run: RunContext, tables: dict[str, Table]) -> CardInputs:
    """The workbook against its schema, then the command line's overrides (range-checked like their cells by
    `check_settings` before any work) in place of the workbook's values."""
    inputs = card_inputs(run.data_path, tables)
    settings = run.settings
    changes = {"channel_state": settings.channel_state.value if settings.channel_state else None,
               "w": settings.w, "rounds": settings.rounds}
    inputs = inputs.with_parameters(**{name: value for name, value in changes.items() if value is not None})
    check = run.settings.crosscheck
    estimate = crosscheck_estimate_seconds(inputs, check.round_count(), check.minlp.value)
    if problem := too_long_problem(estimate, settings.solver.max_hours, f"the cross-checks of "
                                   f"{checked_pairs(inputs, check.round_count())} device-rounds by "
                                   f"{check.minlp.value}", "a smaller crosscheck.rounds or crosscheck.minlp=scip "
                                   "shortens it"):
        raise ConfigError(problem)
    if estimate > LONG_RUN_SECONDS:
        log.warning("the cross-checks solve P3 at every cut and P1 by %s over %d device-rounds: this run may take "
                    "about %.0f min (a smaller crosscheck.rounds shortens it; crosscheck.rounds=0 turns them off)",
                    check.minlp.value,
                    checked_pairs(inputs, check.round_count()), estimate / 60)
    return inputs


def build(inputs: CardInputs) -> Profile:
    return build_profile(inputs)


def solve(run: RunContext, inputs: CardInputs, profile: Profile) -> list[StateResult]:
    """Algorithm 1 and the benchmarks under every channel state."""
    run.progress.start("CARD channel states", len(CHANNEL_STATES), unit="states")
    results = []
    for state in CHANNEL_STATES:
        results.append(solve_state(inputs, profile, state))
        run.progress.advance(state)
    run.progress.finish()
    chosen = chosen_state(inputs, results)
    if not chosen.pairs:
        raise InputError([InputIssue(
            inputs.source, "parameters", None, "'device_tx_dbm', 'ap_tx_dbm', 'path_loss_ref_db'",
            Found(f"no device-round whose up- and down-link reach CQI 1 in the {chosen.state} channel state "
                  f"(all {len(chosen.out_of_range)} are out of range): nothing to decide"),
            "at least one device within reach of the access point: raise device_tx_dbm or ap_tx_dbm, or lower "
            "path_loss_ref_db or the devices' distance_m")])
    if run.settings.server_clock == ServerClock.per_round:
        chosen.per_round_solves = solve_per_round_by_scip(chosen.pairs, run.settings.crosscheck.time_limit,
                                                          run.progress)
    return results


def chosen_state(inputs: CardInputs, results: list[StateResult]) -> StateResult:
    return next(r for r in results if r.state == inputs.parameter("channel_state"))


def certify(run: RunContext, inputs: CardInputs, results: list[StateResult]) -> list[CrossCheck]:
    """CARD's decisions in the chosen state against P3 by Ipopt, the enumeration and P1 by SCIP (or MindtPy);
    the per-round variant, when asked for, against the independent search over each round's clock."""
    chosen = chosen_state(inputs, results)
    check = run.settings.crosscheck
    checks = crosscheck(chosen, check.round_count(), run.solver, run.progress, check.minlp.value, check.time_limit)
    if chosen.per_round is not None:
        checks.append(per_round_crosscheck(chosen))
    return checks


def report(run: RunContext, inputs: CardInputs, profile: Profile, results: list[StateResult],
           checks: list[CrossCheck]) -> Report:
    """The report's tables, figures, run files and console lines (written by whoever asked for the run)."""
    chosen = chosen_state(inputs, results)
    off = run.settings.crosscheck.round_count() == 0
    verdict = crosscheck_verdict(checks, off)
    tables = [summary_table(inputs, profile, chosen, results, verdict, time.perf_counter() - run.started,
                            run.provenance),
              decisions_table(chosen), benchmarks_table(results), profile_table(profile), out_of_range_table(results),
              crosscheck_table(checks), fig3_statements_table(inputs, chosen, results)]
    if chosen.per_round is not None:
        tables += [server_clocks_table(chosen), per_round_decisions_table(chosen)]
    weight = inputs.parameter("w")
    benchmarks = {(r.state, name): (r.mean(m, "delay_s"), r.mean(m, "energy_j"))
                  for r in results for m, name in CARD_METHODS.items()}
    platforms = dict(zip(inputs.device_ids, (str(p) for p in inputs.devices["platform"])))
    figures = {"fig3": lambda path: plot_fig3(chosen, path, weight, platforms),
               "fig4": lambda path: plot_fig4(benchmarks, path, weight)}
    headline = {"channel_state": chosen.state, "mean_delay_s": chosen.mean("card", "delay_s"),
                "mean_energy_j": chosen.mean("card", "energy_j"),
                "delay_reduction_vs_device_only": delay_reduction(chosen),
                "energy_reduction_vs_server_only": energy_reduction(chosen), "crosschecks": verdict}
    effective = {name: inputs.parameter(name) for name in ("channel_state", "w", "rounds")}
    return Report("card.xlsx", tables, console.card_lines(chosen, results, checks, off), headline, figures,
                  run_files=run.run_files(effective))
