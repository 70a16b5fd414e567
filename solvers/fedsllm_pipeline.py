"""FedsLLM's pipeline, one call per step (README, "How it solves"):

    read -> validate -> build -> solve -> certify -> report

`run_fedsllm(cfg)` checks the configuration and the output folder before any
work, then runs the chosen study. Each step is one function below; nothing is
written unless every step succeeds (the report folder is committed last).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyomo.environ as pyo
from omegaconf import DictConfig, OmegaConf

from data.fedsllm import DEFAULT_WORKBOOK, FedsllmInputs, fedsllm_inputs
from data.workbook import Table
from models.fedsllm import build_problem16
from reports import console
from reports.export import ReportFolder
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
from reports.run_files import write_run_files
from solvers.certificate import Certificate, certify_optimum
from solvers.config import ConfigError, FedsllmConfig
from solvers.fedsllm import EtaGrid, OptimumAllocation, eta_grid_for
from solvers.fedsllm_baselines import (
    STRATEGIES,
    Comparison,
    StrategyModels,
    build_strategy_models,
    compare_strategies,
    power_sweep,
)
from solvers.fedsllm_problem16 import (
    Problem16Solution,
    best_solution,
    reduction_applies,
    reduction_holds,
    solve_problem16,
)
from solvers.ipopt import SolveError
from solvers.run_context import RunContext, prepare_context, read


def refine_tolerance(run: RunContext) -> float | None:
    """The eta refinement's tolerance, or None when `eta.refine=false`."""
    return run.settings.eta.refine_tol if run.settings.eta.refine else None


@dataclass
class FedsllmModels:
    strategies: StrategyModels  # Problem (17) with its eta search, and the equal split
    problem16: pyo.ConcreteModel | None


@dataclass
class FedsllmOptimum:
    """What the solve step found; `optimum_model` holds the reported optimum for the certificate."""

    comparison: Comparison
    optimum: OptimumAllocation
    optimum_model: pyo.ConcreteModel
    source: str  # "Problem (17)" or "Problem (16)"
    problem16: list[Problem16Solution] | None
    best16: Problem16Solution | None  # the best of `problem16`
    reduction_applies: bool
    reduction_holds: bool


def prepare_run(cfg: DictConfig) -> RunContext:
    """Check the settings, the output folder and the solver before any work."""
    settings: FedsllmConfig = OmegaConf.to_object(cfg)
    if settings.study not in STUDIES:
        raise ConfigError(f"study={settings.study} is not one of: {', '.join(STUDIES)}")
    if not 0 < settings.baseline_eta < 1:
        raise ConfigError(f"baseline_eta must be in (0, 1), got {settings.baseline_eta}")
    return prepare_context(cfg, settings, DEFAULT_WORKBOOK, f"fedsllm-{settings.study}")


def run_fedsllm(cfg: DictConfig) -> list[str]:
    """The whole run; returns the lines to print."""
    run = prepare_run(cfg)
    return STUDIES[run.settings.study](run)


# --- The steps ----------------------------------------------------------------------------

def validate(run: RunContext, tables: dict[str, Table]) -> tuple[FedsllmInputs, EtaGrid]:
    """The workbook against its schema (InputError listing every problem) and the eta grid it sets."""
    inputs = fedsllm_inputs(run.data_path, tables)
    eta = run.settings.eta
    try:
        return inputs, eta_grid_for(inputs, eta.step, eta.low, eta.high)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def build(run: RunContext, inputs: FedsllmInputs) -> FedsllmModels:
    return FedsllmModels(build_strategy_models(inputs, run.solver, run.progress),
                         build_problem16(inputs) if run.settings.problem16 else None)


def solve(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, models: FedsllmModels) -> FedsllmOptimum:
    """The four strategies (Proposed is the eta search over (17)), then (16) from several starts."""
    comparison = compare_strategies(models.strategies, grid, run.settings.baseline_eta, refine_tolerance(run))
    optimum_model, source = models.strategies.search.model, "Problem (17)"
    applies, holds, solutions, best16 = reduction_applies(inputs), False, None, None
    if models.problem16 is not None:
        solutions = solve_problem16(models.problem16, run.solver, comparison.search.best)
        best16 = best_solution(solutions)
        if not applies:
            if best16 is None:
                raise SolveError([f"Problem (16) from {s.start}: status '{s.record.status}'" for s in solutions])
            optimum_model, source = models.problem16, "Problem (16)"
        holds = best16 is not None and reduction_holds(best16, comparison.search.best.T, inputs)
    return FedsllmOptimum(comparison, OptimumAllocation.from_model(optimum_model), optimum_model, source,
                          solutions, best16, applies, holds)


def certify(solved: FedsllmOptimum) -> Certificate:
    """Lemma 3 and the KKT conditions at the reported optimum."""
    return certify_optimum(solved.optimum_model)


def report(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, solved: FedsllmOptimum,
           certificate: Certificate) -> list[str]:
    """Write the report folder (atomically) and return the console lines."""
    search = solved.comparison.search
    with ReportFolder(run.out) as folder:
        folder.add_table(summary_table(inputs, search, solved.optimum, grid, time.perf_counter() - run.started,
                                       optimum_summary_rows(solved, certificate)))
        folder.add_table(allocation_table(inputs, solved.optimum))
        folder.add_table(eta_sweep_table(search))
        folder.add_table(certificate_table(certificate))
        folder.add_table(baselines_table(solved.comparison))
        if solved.problem16 is not None:
            folder.add_table(reduction_table(solved.problem16, search.best.T, search.best.eta,
                                             inputs.parameter("client_share_min")))
        etas, delays = sweep_curve(search)
        plot_eta_sweep(etas, delays, search.best.eta, search.best.T, folder.file("eta_sweep.png"))
        write_run_files(folder, run.cfg, run.data_path, run.out)
        final = folder.commit("fedsllm.xlsx")
    return console.fedsllm_optimum_lines(solved, certificate, final)


# --- The studies ----------------------------------------------------------------------------

def optimum_study(run: RunContext) -> list[str]:
    """The optimum with its certificate, Problem (16) and the baselines."""
    tables = read(run)
    inputs, grid = validate(run, tables)
    models = build(run, inputs)
    solved = solve(run, inputs, grid, models)
    certificate = certify(solved)
    return report(run, inputs, grid, solved, certificate)


def power_sweep_study(run: RunContext) -> list[str]:
    """Fig. 2: the four strategies at every power (each power builds and solves its own models;
    the certificate is the optimum study's)."""
    tables = read(run)
    inputs, grid = validate(run, tables)
    powers = list(run.settings.power_sweep.powers_dbm)
    if not powers:
        raise ConfigError("power_sweep.powers_dbm is empty")
    sweep = power_sweep(inputs, powers, grid, run.solver, run.settings.baseline_eta, refine_tolerance(run),
                        run.progress)
    return report_power_sweep(run, inputs, powers, sweep)


def report_power_sweep(run: RunContext, inputs: FedsllmInputs, powers: list[float], sweep) -> list[str]:
    mean_reduction = mean_reduction_vs_ba(sweep)
    with ReportFolder(run.out) as folder:
        folder.add_table(power_sweep_summary_table(inputs, mean_reduction, len(powers), run.settings.baseline_eta,
                                                   time.perf_counter() - run.started))
        folder.add_table(fig2_table(sweep))
        delays = {s: [c.results[s].T for _, c in sweep] for s in STRATEGIES}
        plot_fig2(powers, delays, folder.file("fig2.png"))
        write_run_files(folder, run.cfg, run.data_path, run.out)
        final = folder.commit("fedsllm.xlsx")
    return console.power_sweep_lines(len(powers), mean_reduction, final)


STUDIES = {"optimum": optimum_study, "power_sweep": power_sweep_study}
