"""FedsLLM with `objective=energy`: Problem (E), one call per step (README, "Energy"):

    read -> validate -> the delay optimum T* -> the delay limit -> solve (E) over eta -> certify -> report

The delay optimum is the delay run's own eta search (and its certified global search over eta), without
Problem (16): T* is the least delay of Problem (17), the one (E) is feasible from (A = A_min). A delay
limit below it is infeasible: a clear error (exit 2), nothing written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from data.fedsllm.inputs import FedsllmInputs
from reports.export import summary_with_versions
from reports.fedsllm import certificate_table
from reports.fedsllm_energy import (
    energy_allocation_table,
    energy_baselines_table,
    energy_eta_sweep_table,
    energy_summary_table,
    front_table,
    plot_energy_over_eta,
    plot_front,
)
from solvers.fedsllm.certificate import Certificate
from solvers.app.config import ConfigError, Study
from solvers.fedsllm.search import Engine, EtaGrid
from solvers.fedsllm.baselines import build_strategy_models
from solvers.fedsllm.energy.scenario import EnergyScenario, energy_at_maxima, strategy_delay_optima, user_delays_s
from solvers.fedsllm.energy.settings import Objective
from solvers.fedsllm.energy.bound import EtaBound, EtaBranchAndBound, bound_check, bound_summary_rows
from solvers.fedsllm.energy.certificate import allocation_checks, binding_users, certify_energy
from solvers.fedsllm.energy.engines import below_least_delay
from solvers.fedsllm.energy.search import (
    EnergySearch,
    EnergySearchResult,
    Strategy,
    strategies,
)
from solvers.app.fedsllm import FedsllmOptimum, effective_eta, engine_settings, refine_tolerance, run_fedsllm, \
    solve, validate
from reports.files.report import Report
from solvers.app.context import RunContext, read
from solvers.app.study import cluster_settings
from solvers.studies.cluster import run_tasks
from solvers.studies.energy import FrontSpec, front_jobs, front_task_failure, front_tasks, run_front_task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DelayLimit:
    max_delay_s: float
    least_delay_s: float  # T*
    source: str  # how T_max was set, for the summary


@dataclass
class EnergySolved:
    delay: FedsllmOptimum
    limit: DelayLimit
    search: EnergySearchResult  # Proposed
    engine_search: EnergySearch
    baselines: list[dict]
    bound: EtaBound | None = None  # the certified bound over every eta (energy.certify_eta)


def delay_optimum(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid) -> FedsllmOptimum:
    """The delay run's eta search, baselines and global search over eta, without Problem (16) and, on the
    structured engine, without Ipopt's re-solve of eta* (T* needs its bounds, not the Lemma 3 certificate)."""
    engine = replace(engine_settings(run), certify_max_users=0)
    models = build_strategy_models(inputs, run.solver, run.progress, engine)
    return solve(run, inputs, grid, models, problem16=False)


def infeasible_message(max_delay_s: float, least_delay_s: float, source: str) -> str:
    return (f"infeasible: T_max below the least delay T* = {least_delay_s:.9g} s (T_max = {max_delay_s:.9g} s from "
            f"{source}); no allocation trains within it: set energy.max_delay_s to at least T* or "
            f"energy.max_delay_factor to at least 1")


def delay_limit(run: RunContext, delay: FedsllmOptimum) -> DelayLimit:
    """T_max from energy.max_delay_s (absolute) or energy.max_delay_factor x T*; a ConfigError (exit 2) when
    it is below T*."""
    energy = run.settings.energy
    least = float(delay.comparison.search.best.T)
    if energy.max_delay_s is not None:
        limit = DelayLimit(float(energy.max_delay_s), least, "energy.max_delay_s")
    else:
        limit = DelayLimit(energy.max_delay_factor * least, least,
                           f"energy.max_delay_factor = {energy.max_delay_factor:g} x T*")
    if below_least_delay(limit.max_delay_s, least):
        raise ConfigError(infeasible_message(limit.max_delay_s, least, limit.source))
    return limit


def strategy_at_limit(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, strategy: Strategy, optimum,
                      max_delay_s: float) -> tuple[EnergySearch | None, dict]:
    """One strategy's least energy under T_max (None where its least delay is above T_max), as a row."""
    scenario = EnergyScenario.from_inputs(inputs)
    row = {"strategy": strategy.name, "least_delay_s": optimum.T, "feasible": False, "energy": None,
           "eta": float("nan"),
           "energy_at_least_delay": energy_at_maxima(scenario, optimum.eta, optimum.time_main_s, optimum.time_fed_s)}
    if below_least_delay(max_delay_s, optimum.T):
        return None, row
    search = EnergySearch(inputs, run.solver, max_delay_s, strategy, run.progress, run.settings.solver.gap,
                          energy_engine(run))
    result = search.run(grid, refine_tolerance(run), optimum)
    row.update(feasible=True, energy=result.best.parts, eta=result.best.eta)
    return search, row


def energy_engine(run: RunContext) -> str:
    """Problem (E)'s engine: structured (with proven bounds) unless solver.engine=ipopt."""
    return "ipopt" if run.settings.solver.engine is Engine.ipopt else "structured"


def solve_energy(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, delay: FedsllmOptimum,
                 limit: DelayLimit) -> EnergySolved:
    """Problem (E) for Proposed (then re-solved at eta* for the certificate), and EB, FE and BA at T_max."""
    optima = strategy_delay_optima(inputs, delay.comparison)
    searches, rows = {}, []
    for strategy in strategies(run.settings.baseline_eta):
        searches[strategy.name], row = strategy_at_limit(run, inputs, grid, strategy, optima[strategy.name],
                                                         limit.max_delay_s)
        rows.append(row)
    proposed = searches["Proposed"]
    bound, started = None, time.perf_counter()
    if not proposed.result.only_point:
        if run.settings.energy.certify_eta:
            bound = EtaBranchAndBound(proposed, run.settings.energy.eta_tol).run()
            log.info("(E) over every eta: %s, lower bound %.12g J, best %.12g J at eta = %.9g, %d solves",
                     bound.status, bound.lower_bound_j, bound.best_j, bound.best_eta, bound.solves)
            rows[0].update(energy=proposed.result.best.parts, eta=proposed.result.best.eta)
        proposed.finish(run.settings.solver.engine_settings().certifies_by_kkt(inputs.user_count))
    proposed.result.seconds += time.perf_counter() - started  # the bound over eta and the final re-solve too
    return EnergySolved(delay, limit, proposed.result, proposed, rows, bound)


def certify(run: RunContext, inputs: FedsllmInputs, solved: EnergySolved) -> Certificate:
    """The numpy checks of the reported allocation, the structured engine's gap at eta*, the KKT checks of
    Ipopt's re-solve there (up to solver.certify_max_users users) and the bound over eta; at T_max = T*
    (the only feasible point) the numpy checks alone."""
    scenario = EnergyScenario.from_inputs(inputs)
    search = solved.engine_search
    if solved.search.only_point:
        return Certificate(allocation_checks(scenario, solved.search.best), kind="the only feasible point (T_max = T*)")
    model = search.kkt_engine.model if search.kkt_engine is not None else None
    certificate = certify_energy(scenario, solved.search.best, search.final, model, search.kkt_allocation,
                                 run.settings.solver.gap)
    if solved.bound is not None:
        certificate.checks.append(bound_check(solved.bound))
    return certificate


def report(run: RunContext, inputs: FedsllmInputs, grid: EtaGrid, solved: EnergySolved,
           certificate: Certificate) -> Report:
    scenario = EnergyScenario.from_inputs(inputs)
    best, limit = solved.search.best, solved.limit
    delays = user_delays_s(scenario, best)
    only = solved.search.only_point
    kkt = solved.engine_search.kkt_engine
    binding = (delays >= limit.max_delay_s * (1 - 1e-9)) if only or kkt is None else binding_users(kkt.model)
    at_least = solved.baselines[0]["energy_at_least_delay"].total_j
    facts = {"T_s": float(delays.max()), "T_max_from": limit.source, "T_star_s": limit.least_delay_s,
             "eta_star": solved.delay.comparison.search.best.eta, "E_at_T_star_j": at_least,
             "rounds": scenario.split.rounds(best.eta), "binding_users": int(binding.sum()),
             "bound_rows": [("engine", solved.engine_search.engine.name, "-", "what solved (E) at each eta"),
                            ("lower_bound", solved.engine_search.final.lower_bound_j if solved.engine_search.final
                             else float("nan"), "J", "structured engine: proven lower bound on E*(eta*)"),
                            *bound_summary_rows(solved.bound)]}
    checks = certificate_table(certificate)
    checks.name = "energy_kkt"
    tables = [energy_summary_table(inputs, facts, best, solved.search, certificate,
                                   time.perf_counter() - run.started, run.provenance),
              energy_allocation_table(inputs.user_ids, best, delays, binding),
              energy_eta_sweep_table(solved.search), checks, energy_baselines_table(solved.baselines)]
    users = inputs.user_count
    figures = {"energy_eta": lambda path: plot_energy_over_eta(solved.search, path, users)}
    run_files = run.run_files({**effective_eta(grid), "energy.max_delay_s": float(limit.max_delay_s)})
    lines = [f"FedsLLM least energy (Problem (E)): E* = {best.energy_j:.6g} J at eta* = {best.eta:.6f}, server clock "
             f"{best.server_cpu_hz / 1e9:.4g} GHz, under T_max = {limit.max_delay_s:.6g} s ({limit.source}; T* = "
             f"{limit.least_delay_s:.6g} s); {1 - best.energy_j / at_least:.2%} below the delay optimum's "
             f"{at_least:.6g} J",
             "baselines at T_max: " + ", ".join(
                 f"{row['strategy']} " + (f"E = {row['energy'].total_j:.4g} J" if row["feasible"]
                                          else f"infeasible (least delay {row['least_delay_s']:.4g} s)")
                 for row in solved.baselines),
             f"certificate: {certificate.verdict()} [{certificate.kind}]"]
    headline = {"E_star_j": best.energy_j, "eta_star": best.eta, "T_max_s": limit.max_delay_s,
                "certificate": certificate.verdict()}
    return Report("fedsllm.xlsx", tables, lines, headline, figures, run_files=run_files)


def energy_optimum_study(run: RunContext) -> Report:
    tables = read(run)
    inputs, grid = validate(run, tables)
    delay = delay_optimum(run, inputs, grid)
    limit = delay_limit(run, delay)
    solved = solve_energy(run, inputs, grid, delay, limit)
    certificate = certify(run, inputs, solved)
    return report(run, inputs, grid, solved, certificate)


def pareto_study(run: RunContext) -> Report:
    """The delay-energy front: E*(T_max) of the four strategies from T* to pareto.max_factor x T*, on Dask."""
    tables = read(run)
    inputs, grid = validate(run, tables)
    delay = delay_optimum(run, inputs, grid)
    least = float(delay.comparison.search.best.T)
    optima = strategy_delay_optima(inputs, delay.comparison)
    settings = run.settings
    spec = FrontSpec(inputs, grid, refine_tolerance(run), settings.solver.gap, settings.energy.certify_eta,
                     settings.energy.eta_tol, front_jobs(least, settings.pareto.max_factor, settings.pareto.points,
                                                         strategies(settings.baseline_eta), optima))
    rows, where = run_tasks(run_front_task, spec, front_tasks(spec), front_task_failure(spec), cluster_settings(run),
                            run.progress)
    failed = [row for row in rows if row["status"] == "failed"]
    worst = max((row["gap"] for row in rows if row["status"] == "ok"), default=float("nan"))
    facts = [("study", "pareto", "-", "the delay-energy front E*(T_max) of Proposed, EB, FE and BA"),
             ("T_star", least, "s", "least delay T* of Problem (17) (Proposed's front starts there)"),
             *((f"least_delay_{name}", optimum.T, "s", f"{name}'s least delay, where its front starts")
               for name, optimum in optima.items()),
             ("max_factor", settings.pareto.max_factor, "-", "the front runs from T* to this x T*"),
             ("points", settings.pareto.points, "-", "delay limits per strategy (and each strategy's least delay)"),
             ("runs", len(rows), "-", "delay limit x strategy"),
             ("runs_failed", len(failed), "-", "runs that failed (status failed in 'front')"),
             ("worst_gap", worst, "-", "largest relative gap between a point's energy and its proven lower bound"),
             ("dask_workers", where["workers"], "-", "workers the study ran on"),
             ("dask_scheduler", settings.dask.scheduler or "local cluster", "-", "where the study ran"),
             ("wall_time", time.perf_counter() - run.started, "s", "wall time of the whole study"),
             ("input", inputs.source, "-", "input workbook")]
    tables = [summary_with_versions(facts, run.provenance), front_table(rows)]
    users = inputs.user_count
    figures = {"pareto": lambda path: plot_front(rows, path, users, least)}
    ok = [row for row in rows if row["status"] == "ok" and row["strategy"] == "Proposed"]
    lines = [f"delay-energy front over {settings.pareto.points} delay limits from T* = {least:.6g} s to "
             f"{settings.pareto.max_factor:g} x T*: Proposed E* from {ok[0]['energies'][-1]:.6g} J to "
             f"{ok[-1]['energies'][-1]:.6g} J; {len(failed)} of {len(rows)} runs failed; worst gap {worst:.1e}"]
    return Report("fedsllm.xlsx", tables, lines, {"runs": len(rows), "runs_failed": len(failed)}, figures,
                  run_files=run.run_files(effective_eta(grid)))


def energy_study(settings):
    """The energy pipeline's study for these settings (objective=energy, or study=pareto), else None."""
    if settings.study is Study.pareto:
        return pareto_study
    if settings.objective is Objective.energy and settings.study is Study.optimum:
        return energy_optimum_study
    return None


def run_fedsllm_model(run: RunContext) -> Report:
    """FedsLLM's pipeline: the energy studies (objective=energy, study=pareto) here, the rest by delay."""
    return (energy_study(run.settings) or run_fedsllm)(run)
