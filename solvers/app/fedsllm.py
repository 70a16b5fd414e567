"""FedsLLM's pipeline, one call per step (docs/engines.md):

    read -> validate -> build -> solve -> certify -> report

`run_fedsllm(run)` runs the chosen study on a prepared context (settings, solver
and options checked before any work) and returns its Report in memory: the
command line writes it at once, the notebook API only when asked. Each step is
one function below.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pyomo.environ as pyo

from data.fedsllm.inputs import FedsllmInputs, fedsllm_inputs
from data.papers import FEDSLLM_STRATEGIES
from data.workbook import Table
from models.fedsllm import build_problem16
from reports import console
from reports.export import Percent
from reports.fedsllm import (
    allocation_table,
    baselines_table,
    certificate_table,
    eta_sweep_table,
    fig2_table,
    mean_reduction_vs_ba,
    optimum_summary_rows,
    power_sweep_summary_table,
    reduction_table,
    summary_table,
    sweep_curve,
)
from reports.plots import plot_eta_sweep, plot_fig2
from reports.files.report import Report
from solvers.fedsllm.certificate import (
    Certificate, certify_by_duality_gap, certify_optimum, global_checks, problem16_global_checks,
    structured_bound_checks,
)
from solvers.app.config import ConfigError, Study
from solvers.app.study import fedsllm_monte_carlo, fedsllm_sensitivity
from solvers.fedsllm.search import (
    EngineSettings, EtaGrid, EtaSearch, OptimumAllocation, eta_grid_for, optimum_from_allocation,
    search_estimate_seconds,
)
from solvers.fedsllm.baselines import (
    Comparison, StrategyResult, StrategyModels, build_strategy_models, compare_strategies, power_sweep,
)
from solvers.fedsllm.energy.scenario import optimum_energy, strategy_energies
from solvers.fedsllm.problem16 import (
    Problem16Solution, best_solution, reduction_applies, reduction_holds, solve_problem16,
)
from solvers.fedsllm.global_eta import GlobalEtaResult, GlobalSearchError, certify_global_eta
from solvers.runtime.ipopt import SolveError
from solvers.fedsllm.scenario import SplitScenario
from solvers.runtime.progress import LONG_RUN_SECONDS, too_long_problem
from solvers.app.context import RunContext, read


log = logging.getLogger(__name__)
# The global search's T must beat the search's by more than the engines' differences (Ipopt stops ~1e-10 above
# the optimum) before its eta replaces eta*.
GLOBAL_ADOPT_MARGIN = 1e-8


def engine_settings(run: RunContext) -> EngineSettings:
    return run.settings.solver.engine_settings()


def refine_tolerance(run: RunContext) -> float | None:
    """The eta refinement's tolerance, or None when `eta.refine=false`."""
    return run.settings.eta.refine_tol if run.settings.eta.refine else None


@dataclass
class FedsllmModels:
    strategies: StrategyModels  # Problem (17) with its eta search, and the equal split
    problem16: pyo.ConcreteModel | None


@dataclass
class FedsllmOptimum:
    """What the solve step found; `optimum_model` holds the reported optimum for the certificate (None
    when the structured engine's duality gap certifies it alone, above solver.certify_max_users)."""

    comparison: Comparison
    optimum: OptimumAllocation
    optimum_model: pyo.ConcreteModel | None
    source: str  # "Problem (17)" or "Problem (16)"
    problem16: list[Problem16Solution] | None
    best16: Problem16Solution | None  # the best of `problem16`
    reduction_applies: bool
    reduction_holds: bool
    global_eta: GlobalEtaResult | None = None  # the branch and bound over (0, 1), when global_eta.enabled
    global16: GlobalEtaResult | None = None  # the same for Problem (16) with A searched, when the reduction fails


def run_fedsllm(run: RunContext) -> Report:
    """The whole run of the chosen delay study; returns its report, in memory (energy: solvers.app.energy)."""
    return STUDIES[run.settings.study](run)


# --- The steps ----------------------------------------------------------------------------

def validate(run: RunContext, tables: dict[str, Table]) -> tuple[FedsllmInputs, EtaGrid]:
    """The workbook against its schema (InputError listing every problem) and the eta grid it sets."""
    inputs = fedsllm_inputs(run.data_path, tables)
    eta = run.settings.eta
    try:
        grid = eta_grid_for(inputs, eta.step, eta.low, eta.high)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    estimate = search_estimate_seconds(grid, inputs.user_count, engine_settings(run).chosen(inputs.user_count))
    if run.settings.study is Study.power_sweep:
        estimate *= len(run.settings.power_sweep.powers_dbm)
    if problem := too_long_problem(estimate, run.settings.solver.max_hours, f"{len(grid.points())} eta grid points "
                                   f"with {inputs.user_count} users", "a coarser eta.step or solver.engine=auto "
                                   "shortens it"):
        raise ConfigError(problem)
    if estimate > LONG_RUN_SECONDS:
        log.warning("%d eta grid points with %d users: this run may take about %.0f min (a coarser eta.step "
                    "shortens it; the refinement still finds eta to eta.refine_tol)", len(grid.points()),
                    inputs.user_count, estimate / 60)
    return inputs, grid


def build(run: RunContext, inputs: FedsllmInputs) -> FedsllmModels:
    """The strategies' engine, and Problem (16) for its multistart: skipped (with a note in the log) above
    solver.certify_max_users users unless the reduction to (17) does not apply, where (16) is the answer."""
    engine = engine_settings(run)
    problem16 = run.settings.problem16
    if problem16 and reduction_applies(inputs) and not engine.certifies_by_kkt(inputs.user_count):
        log.info("Problem (16)'s multistart is skipped: %d users is above solver.certify_max_users=%d",
                 inputs.user_count, engine.certify_max_users)
        problem16 = False
    return FedsllmModels(build_strategy_models(inputs, run.solver, run.progress, engine),
                         build_problem16(inputs) if problem16 else None)


def solve(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, models: FedsllmModels) -> FedsllmOptimum:
    """The four strategies (Proposed is the eta search over (17)), then (16) from several starts."""
    comparison = compare_strategies(models.strategies, grid, run.settings.baseline_eta, refine_tolerance(run))
    global_result = None
    if run.settings.global_eta.enabled:
        global_result = certify_globally(run, inputs, grid, models.strategies.search)
        # Proposed is the search's optimum, which the global search may have moved
        best = models.strategies.search.result.best
        comparison.results["Proposed"] = StrategyResult("Proposed", best.T, best.eta)
        certify_eb_globally(run, inputs, grid, comparison)
    optimum_model, source = models.strategies.search.model, "Problem (17)"
    applies, holds, solutions, best16 = reduction_applies(inputs), False, None, None
    if models.problem16 is not None:
        solutions = solve_problem16(models.problem16, run.solver, comparison.search.best, run.progress)
        best16 = best_solution(solutions)
        if not applies:
            if best16 is None:
                raise SolveError([f"Problem (16) from {s.start}: status '{s.record.status}'" for s in solutions])
            optimum_model, source = models.problem16, "Problem (16)"
        holds = best16 is not None and reduction_holds(best16, comparison.search.best.T, inputs)
    global16 = None
    if run.settings.global_eta.enabled and solutions is not None and not applies:
        global16 = certify_problem16_globally(run, inputs, grid)
    optimum = (OptimumAllocation.from_model(optimum_model) if optimum_model is not None
               else optimum_from_allocation(inputs, comparison.search.best))
    return FedsllmOptimum(comparison, optimum, optimum_model, source, solutions, best16, applies, holds,
                          global_result, global16)


def global_search(run: RunContext, inputs: FedsllmInputs, start_etas: list[float], tol: float,
                  **options) -> GlobalEtaResult:
    """solvers.global_eta.certify_global_eta on the run's scenario (`options`: equal_split, share_range);
    a structured solve that fails there is a SolveError naming its eta and status."""
    try:
        return certify_global_eta(SplitScenario.from_inputs(inputs), start_etas, tol, run.settings.solver.gap,
                                  **options)
    except GlobalSearchError as error:
        raise SolveError([str(error)]) from None


def certify_problem16_globally(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid) -> GlobalEtaResult:
    """Some client at least as fast as the server: Problem (16)'s certified global optimum, the client
    share A searched in [A_min, A_max] at every eta (f, f_s and the powers at their maxima; README). When
    the reduction applies it is not needed: every tau_k grows with A, so A* = A_min and (16)'s optimum
    is (17)'s."""
    share_range = (inputs.parameter("client_share_min"), inputs.parameter("client_share_max"))
    result = global_search(run, inputs, grid.points(), run.settings.global_eta.problem16_tol, share_range=share_range)
    log.info("global search of Problem (16): T = %.12g s at eta = %.9g, A = %.9g, lower bound %.12g, %s",
             result.T, result.eta, result.client_share, result.lower_bound, result.status)
    return result


def certify_globally(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, search: EtaSearch) -> GlobalEtaResult:
    """Branch and bound over (0, 1) from the grid and eta*; an eta better than the search's (e.g. outside
    the grid's range) becomes the optimum (solved and re-solved like eta*)."""
    result = global_search(run, inputs, [*grid.points(), search.result.best.eta], run.settings.global_eta.tol)
    log.info("global search over (0, 1): T = %.12g s at eta = %.9g, lower bound %.12g, %d solves, %s",
             result.T, result.eta, result.lower_bound, result.solves, result.status)
    if result.T < search.result.best.T * (1 - GLOBAL_ADOPT_MARGIN):
        search.adopt(result.eta)
    return result


def certify_eb_globally(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, comparison: Comparison) -> None:
    """EB (equal split, eta optimised) over every eta in (0, 1) too; a better eta than the grid's replaces
    EB's result."""
    eb = comparison.results["EB"]
    result = global_search(run, inputs, [*grid.points(), eb.eta], run.settings.global_eta.tol, equal_split=True)
    log.info("global search of EB over (0, 1): T = %.12g s at eta = %.9g, %s", result.T, result.eta, result.status)
    if result.T < eb.T:
        comparison.results["EB"] = StrategyResult("EB", result.T, result.eta)


def certify(run: RunContext, inputs: FedsllmInputs, solved: FedsllmOptimum) -> Certificate:
    """Lemma 3 and the KKT conditions at the reported optimum, plus the structured engine's bounds when
    it ran; the duality gap and numpy feasibility checks alone when no Ipopt model holds the optimum."""
    search, gap = solved.comparison.search, run.settings.solver.gap
    if solved.optimum_model is None:
        certificate = certify_by_duality_gap(inputs, search.best, search, gap)
    else:
        certificate = certify_optimum(solved.optimum_model)
        if solved.source == "Problem (17)":
            certificate.checks += structured_bound_checks(search, gap)
    certificate.checks += global_checks(solved.global_eta, search.best.T)
    certificate.checks += problem16_global_checks(solved.global16, solved.best16)
    return certificate


def effective_eta(grid: EtaGrid) -> dict[str, object]:
    """The grid the run used, for config.yaml (eta.step null means the workbook's)."""
    return {"eta.step": grid.step, "eta.low": grid.low, "eta.high": grid.high}


def report(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, solved: FedsllmOptimum,
           certificate: Certificate) -> Report:
    """The report's tables, figure, run files and console lines (written by whoever asked for the run)."""
    search = solved.comparison.search
    tables = [summary_table(inputs, search, solved.optimum, grid, time.perf_counter() - run.started,
                            optimum_summary_rows(solved, certificate), run.provenance),
              allocation_table(inputs, solved.optimum, optimum_energy(inputs, solved.optimum, solved.optimum_model)),
              eta_sweep_table(search), certificate_table(certificate),
              baselines_table(solved.comparison, strategy_energies(inputs, solved.comparison))]
    if solved.problem16 is not None:
        tables.append(reduction_table(solved.problem16, search.best.T, search.best.eta,
                                      inputs.parameter("client_share_min")))
    etas, delays = sweep_curve(search)
    envelope = solved.global_eta.envelope if solved.global_eta is not None else ()
    best_eta, best_delay, users = search.best.eta, search.best.T, inputs.user_count
    figures = {"eta_sweep": lambda path: plot_eta_sweep(etas, delays, best_eta, best_delay, path, envelope,
                                                        users=users)}
    headline = {"T_star_s": solved.optimum.T, "eta_star": solved.optimum.eta, "source": solved.source,
                "reduction_vs_BA": solved.comparison.reduction_vs_ba("Proposed"), "certificate": certificate.verdict()}
    return Report("fedsllm.xlsx", tables, console.fedsllm_optimum_lines(solved, certificate), headline, figures,
                  run_files=run.run_files(effective_eta(grid)))


# --- The studies ----------------------------------------------------------------------------

def optimum_study(run: RunContext) -> Report:
    """The optimum with its certificate, Problem (16) and the baselines."""
    tables = read(run)
    inputs, grid = validate(run, tables)
    models = build(run, inputs)
    solved = solve(run, inputs, grid, models)
    certificate = certify(run, inputs, solved)
    return report(run, inputs, grid, solved, certificate)


def power_sweep_study(run: RunContext) -> Report:
    """Fig. 2: the four strategies at every power (each power builds and solves its own models;
    the certificate is the optimum study's)."""
    tables = read(run)
    inputs, grid = validate(run, tables)
    powers = list(run.settings.power_sweep.powers_dbm)
    sweep = power_sweep(inputs, powers, grid, run.solver, run.settings.baseline_eta, refine_tolerance(run),
                        run.progress, engine_settings(run))
    return report_power_sweep(run, inputs, grid, powers, sweep)


def report_power_sweep(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, powers: list[float],
                       sweep) -> Report:
    mean_reduction = mean_reduction_vs_ba(sweep)
    tables = [power_sweep_summary_table(inputs, mean_reduction, len(powers), run.settings.baseline_eta,
                                        time.perf_counter() - run.started, run.provenance), fig2_table(sweep)]
    delays = {s: [c.results[s].T for _, c in sweep] for s in FEDSLLM_STRATEGIES}
    figures = {"fig2": lambda path: plot_fig2(powers, delays, path, users=inputs.user_count,
                                                fixed_eta=run.settings.baseline_eta)}
    return Report("fedsllm.xlsx", tables, console.power_sweep_lines(len(powers), mean_reduction),
                  {"mean_reduction_vs_BA": Percent(mean_reduction), "powers": len(powers)}, figures,
                  run_files=run.run_files(effective_eta(grid)))


STUDIES = {Study.optimum: optimum_study, Study.power_sweep: power_sweep_study, Study.monte_carlo: fedsllm_monte_carlo,
           Study.sensitivity: fedsllm_sensitivity}
