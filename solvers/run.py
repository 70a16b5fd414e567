"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]`.

The pipeline for every model: read_input -> validate_input -> create_model ->
solve -> report. Configuration uses Hydra's override syntax; `--help` prints
the resolved configuration. Exit codes: 0 done, 2 bad input or configuration,
3 a solve failed. Nothing is written unless the whole run succeeds.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hydra import compose, initialize
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data.card import DEFAULT_CARD_WORKBOOK, CardInputs, load_card
from data.card_profile import build_profile
from data.fedsllm import DEFAULT_WORKBOOK, FedsllmInputs, load_fedsllm
from data.schema import CARD_PARAMETERS, CHANNEL_STATES
from data.issues import InputError
from reports.card import (
    METHODS,
    PAPER_DELAY_REDUCTION,
    PAPER_ENERGY_REDUCTION,
    crosscheck_table,
    decisions_table,
    delay_reduction,
    energy_reduction,
    out_of_range_table,
    profile_table,
)
from reports.card import benchmarks_table as card_benchmarks_table
from reports.card import summary_table as card_summary_table
from reports.certificate import certify_optimum
from reports.export import SUMMARY_COLUMNS, ReportExistsError, ReportFolder, ResultTable, refuse_existing
from reports.fedsllm import (
    PAPER_REDUCTION_VS_BA,
    allocation_table,
    baselines_table,
    eta_sweep_table,
    fig2_table,
    mean_reduction_vs_ba,
    reduction_table,
    summary_table,
    sweep_curve,
)
from reports.plots import plot_eta_sweep, plot_fig2, plot_fig3, plot_fig4
from solvers.card import crosscheck, solve_state
from solvers.config import CardConfig, FedsllmConfig, register_configs
from solvers.fedsllm import EtaGrid, eta_grid_for
from solvers.fedsllm_baselines import STRATEGIES, compare_strategies, power_sweep
from solvers.fedsllm_problem16 import best_solution, reduction_applies, reduction_holds, solve_problem16
from solvers.ipopt import IpoptSolver, SolveError, SolverUnavailableError, check_ipopt_available
from solvers.progress import Progress

EXIT_OK, EXIT_INPUT, EXIT_SOLVE = 0, 2, 3


class ConfigError(Exception):
    pass


def compose_config(overrides: list[str]) -> DictConfig:
    register_configs()
    try:
        with initialize(version_base=None, config_path=None):
            return compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        # Hydra wraps OmegaConf's type errors; the reason is in the chained cause.
        reasons = [str(error)]
        if error.__cause__ is not None:
            reasons.append(str(error.__cause__).splitlines()[0])
        raise ConfigError(f"bad command-line override: {': '.join(reasons)}") from None


def default_out(model_name: str) -> Path:
    return Path("results") / f"{model_name}-{datetime.now():%Y%m%d-%H%M%S}"


@dataclass
class FedsllmRun:
    """What one FedsLLM run carries from input to report."""

    settings: FedsllmConfig
    cfg: DictConfig
    data_path: Path
    out: Path
    started: float
    inputs: FedsllmInputs | None = None
    grid: EtaGrid | None = None
    solver: IpoptSolver | None = None
    progress: Progress | None = None

    @property
    def refine_tolerance(self) -> float | None:
        return self.settings.eta.refine_tol if self.settings.eta.refine else None


def prepare_fedsllm(cfg: DictConfig) -> FedsllmRun:
    """Read and validate everything before any solve; fail early and write nothing."""
    settings: FedsllmConfig = OmegaConf.to_object(cfg)
    if settings.study not in FEDSLLM_STUDIES:
        raise ConfigError(f"study={settings.study} is not one of: {', '.join(FEDSLLM_STUDIES)}")
    run = FedsllmRun(settings, cfg, Path(settings.data) if settings.data else DEFAULT_WORKBOOK,
                     Path(settings.out) if settings.out else default_out(f"fedsllm-{settings.study}"),
                     time.perf_counter())
    refuse_existing(run.out)  # before any solve, not only when the report is written
    run.inputs = load_fedsllm(run.data_path)
    try:
        run.grid = eta_grid_for(run.inputs, settings.eta.step, settings.eta.low, settings.eta.high)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    if not 0 < settings.baseline_eta < 1:
        raise ConfigError(f"baseline_eta must be in (0, 1), got {settings.baseline_eta}")
    check_ipopt_available()
    run.progress = Progress() if settings.progress else Progress.silent()
    run.solver = IpoptSolver(settings.solver.ipopt_options())
    return run


def write_run_files(report: ReportFolder, cfg: DictConfig, data_path: Path, out: Path) -> None:
    """A copy of the input workbook and the resolved configuration, beside every report."""
    report.copy_in(data_path, f"input/{data_path.name}")
    resolved = OmegaConf.merge(cfg, {"data": str(data_path.resolve()), "out": str(out.resolve())})
    report.file("config.yaml").write_text(OmegaConf.to_yaml(resolved))


def run_fedsllm_optimum(run: FedsllmRun) -> int:
    inputs = run.inputs
    comparison = compare_strategies(inputs, run.grid, run.solver, run.settings.baseline_eta, run.refine_tolerance,
                                    run.progress)
    result, optimum_model = comparison.search, comparison.model
    headline, source = (result.best.T, result.best.eta), "Problem (17)"
    extra_rows = []
    solutions = None
    if run.settings.problem16:
        solutions, model16 = solve_problem16(inputs, run.solver, result.best)
        best16 = best_solution(solutions)
        applies = reduction_applies(inputs)
        if not applies:
            if best16 is None:
                raise SolveError([f"Problem (16) from {s.start}: status '{s.record.status}'" for s in solutions])
            headline, source, optimum_model = (best16.T, best16.eta), "Problem (16)", model16
        holds = "yes" if best16 and reduction_holds(best16, result.best.T, inputs) else "no"
        extra_rows += [
            ("T_problem16", best16.T if best16 else float("nan"), "s", "best local optimum of Problem (16)"),
            ("reduction_applies", "yes" if applies else "no", "-",
             "f_s^max > f_k^max for every client (Section III-E's A* = A_min needs it)"),
            ("reduction_holds", holds, "-", "Problem (16)'s best agrees with (17): same T, f, f_s, p at max, A = A_min"),
        ]
    extra_rows.append(("optimum_from", source, "-", "which problem the reported optimum comes from"))
    certificate = certify_optimum(optimum_model)
    extra_rows += [
        ("certificate", "PASS" if certificate.passed else "FAIL", "-", f"Lemma 3 / KKT checks: {certificate.verdict()}"),
        ("reduction_vs_BA", comparison.reduction_vs_ba("Proposed"), "-",
         f"1 - T_Proposed / T_BA (the paper reports {PAPER_REDUCTION_VS_BA:.2%})"),
    ]
    with ReportFolder(run.out) as report:
        report.add_table(summary_table(inputs, result, run.grid, time.perf_counter() - run.started, headline,
                                       extra_rows))
        report.add_table(allocation_table(inputs, optimum_model))
        report.add_table(eta_sweep_table(result))
        report.add_table(certificate.table())
        report.add_table(baselines_table(comparison))
        if solutions is not None:
            report.add_table(reduction_table(solutions, result.best.T, result.best.eta,
                                             inputs.parameter("client_share_min")))
        etas, delays = sweep_curve(result)
        plot_eta_sweep(etas, delays, result.best.eta, result.best.T, report.file("eta_sweep.png"))
        write_run_files(report, run.cfg, run.data_path, run.out)
        final = report.commit("fedsllm.xlsx")
    print(f"FedsLLM optimum ({source}): T* = {headline[0]:.6f} s at eta* = {headline[1]:.6f} "
          f"(grid best {result.best_grid.T:.6f} s at eta = {result.best_grid.eta:.4f}); "
          f"{result.solves} solves of (17), all optimal")
    if solutions is not None and not reduction_applies(inputs):
        print("note: some client is at least as fast as the server, so the reduction to (17) does not hold; "
              "the optimum reported is Problem (16)'s")
    print("baselines: " + ", ".join(f"{name} T = {r.T:.4f} s" for name, r in comparison.results.items())
          + f"; Proposed is {comparison.reduction_vs_ba('Proposed'):.2%} below BA (paper: {PAPER_REDUCTION_VS_BA:.2%})")
    print(f"certificate: {certificate.verdict()}")
    print(f"report: {final}")
    return EXIT_OK


def run_fedsllm_power_sweep(run: FedsllmRun) -> int:
    powers = list(run.settings.power_sweep.powers_dbm)
    if not powers:
        raise ConfigError("power_sweep.powers_dbm is empty")
    sweep = power_sweep(run.inputs, powers, run.grid, run.solver, run.settings.baseline_eta, run.refine_tolerance,
                        run.progress)
    mean_reduction = mean_reduction_vs_ba(sweep)
    with ReportFolder(run.out) as report:
        summary = ResultTable("summary", SUMMARY_COLUMNS)
        summary.add("mean_reduction_vs_BA", mean_reduction, "-",
                    f"mean over the powers of 1 - T_Proposed / T_BA (the paper reports {PAPER_REDUCTION_VS_BA:.2%})")
        summary.add("powers", len(powers), "-", "transmit powers swept")
        summary.add("baseline_eta", run.settings.baseline_eta, "-", "eta of FE and BA")
        summary.add("wall_time", time.perf_counter() - run.started, "s", "wall time of the whole run")
        summary.add("input", run.inputs.source, "-", "input workbook")
        report.add_table(summary)
        report.add_table(fig2_table(sweep))
        delays = {s: [c.results[s].T for _, c in sweep] for s in STRATEGIES}
        plot_fig2(powers, delays, report.file("fig2.png"))
        write_run_files(report, run.cfg, run.data_path, run.out)
        final = report.commit("fedsllm.xlsx")
    print(f"power sweep over {len(powers)} powers: Proposed is on average {mean_reduction:.2%} below BA "
          f"(paper: {PAPER_REDUCTION_VS_BA:.2%})")
    print(f"report: {final}")
    return EXIT_OK


FEDSLLM_STUDIES = {"optimum": run_fedsllm_optimum, "power_sweep": run_fedsllm_power_sweep}


def run_fedsllm(cfg: DictConfig) -> int:
    run = prepare_fedsllm(cfg)
    return FEDSLLM_STUDIES[run.settings.study](run)


def card_inputs(settings: CardConfig, path: Path) -> CardInputs:
    """The workbook with the command line's overrides, each checked against the schema."""
    inputs = load_card(path)
    fields = {f.name: f for f in CARD_PARAMETERS}
    changes = {}
    for name in ("channel_state", "w", "rounds"):
        value = getattr(settings, name)
        if value is None:
            continue
        problem = fields[name].problem(value)
        if problem:
            raise ConfigError(f"{name}={value}: expected {problem}")
        changes[name] = fields[name].convert(value)
    return inputs.with_parameters(**changes)


def run_card(cfg: DictConfig) -> int:
    settings: CardConfig = OmegaConf.to_object(cfg)
    started = time.perf_counter()
    data_path = Path(settings.data) if settings.data else DEFAULT_CARD_WORKBOOK
    out = Path(settings.out) if settings.out else default_out("card")
    refuse_existing(out)  # before any solve, not only when the report is written
    inputs = card_inputs(settings, data_path)
    check_ipopt_available()
    progress = Progress() if settings.progress else Progress.silent()
    profile = build_profile(inputs)
    progress.start("CARD channel states", len(CHANNEL_STATES), unit="states")
    results = []
    for state in CHANNEL_STATES:
        results.append(solve_state(inputs, profile, state))
        progress.advance(state)
    progress.finish()
    chosen = next(r for r in results if r.state == inputs.parameter("channel_state"))
    progress.start("cross-checks", 3, unit="checks")
    checks = crosscheck(chosen, settings.crosscheck.rounds, IpoptSolver(settings.solver.ipopt_options()))
    for check in checks:
        progress.advance(check.check)
    progress.finish()
    passed = all(check.passed for check in checks)
    with ReportFolder(out) as report:
        report.add_table(card_summary_table(inputs, profile, chosen, results, passed, time.perf_counter() - started))
        report.add_table(decisions_table(chosen))
        report.add_table(card_benchmarks_table(results))
        report.add_table(profile_table(profile))
        report.add_table(out_of_range_table(results))
        report.add_table(crosscheck_table([check.row() for check in checks]))
        plot_fig3(chosen, report.file("fig3.png"))
        benchmarks = {(r.state, METHODS[m]): (r.mean(m, "delay_s"), r.mean(m, "energy_j")) for r in results for m in METHODS}
        plot_fig4(benchmarks, report.file("fig4.png"))
        write_run_files(report, cfg, data_path, out)
        final = report.commit("card.xlsx")
    print(f"CARD, {chosen.state} channel: mean delay {chosen.mean('card', 'delay_s'):.3f} s and server energy "
          f"{chosen.mean('card', 'energy_j'):.3f} J per round; {len(chosen.out_of_range)} device-rounds out of range")
    for result in results:
        print(f"  {result.state:>6}: delay {delay_reduction(result):.1%} below device-only (paper: "
              f"{PAPER_DELAY_REDUCTION:.1%}), server energy {energy_reduction(result):.1%} below server-only "
              f"(paper: {PAPER_ENERGY_REDUCTION:.1%})")
    print(f"cross-checks: {'PASS' if passed else 'FAIL'} " + "; ".join(
        f"{c.check}: max |dU| = {c.max_cost_difference:.1e}" for c in checks))
    print(f"report: {final}")
    return EXIT_OK


RUNNERS = {"fedsllm": run_fedsllm, "card": run_card}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    show_help = "--help" in argv or "-h" in argv
    argv = [a for a in argv if a not in ("--help", "-h")]
    try:
        cfg = compose_config(argv)
        if show_help:
            print(__doc__)
            print(f"Models: {', '.join(RUNNERS)}. Resolved configuration:\n")
            print(OmegaConf.to_yaml(cfg))
            return EXIT_OK
        return RUNNERS[cfg.model_name](cfg)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        print("Nothing was written. Fix the workbook and run again.", file=sys.stderr)
        return EXIT_INPUT
    except (ConfigError, ReportExistsError, SolverUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INPUT
    except SolveError as error:
        print(f"error: {error}", file=sys.stderr)
        print("Nothing was written.", file=sys.stderr)
        return EXIT_SOLVE


if __name__ == "__main__":
    sys.exit(main())
