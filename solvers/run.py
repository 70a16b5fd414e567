"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]`.

The pipeline for every model: read_input -> validate_input -> create_model ->
solve -> report. Configuration uses Hydra's override syntax; `--help` prints
the resolved configuration. Exit codes: 0 done, 2 bad input or configuration,
3 a solve failed. Nothing is written unless the whole run succeeds.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

from hydra import compose, initialize
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data.fedsllm import DEFAULT_WORKBOOK, load_fedsllm
from data.issues import InputError
from reports.export import ReportExistsError, ReportFolder
from reports.fedsllm import allocation_table, eta_sweep_table, summary_table, sweep_curve
from reports.plots import plot_eta_sweep
from solvers.config import FedsllmConfig, register_configs
from solvers.fedsllm import eta_grid_for, solve_fedsllm
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


def run_fedsllm(cfg: DictConfig) -> int:
    settings: FedsllmConfig = OmegaConf.to_object(cfg)
    started = time.perf_counter()
    data_path = Path(settings.data) if settings.data else DEFAULT_WORKBOOK
    out = Path(settings.out) if settings.out else default_out("fedsllm")
    if out.exists():
        raise ReportExistsError(f"the report folder {out} already exists; choose another out=... or remove it")
    inputs = load_fedsllm(data_path)
    try:
        grid = eta_grid_for(inputs, settings.eta.step, settings.eta.low, settings.eta.high)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    check_ipopt_available()
    progress = Progress() if settings.progress else Progress.silent()
    solver = IpoptSolver(settings.solver.ipopt_options())
    result, model = solve_fedsllm(inputs, grid, solver, settings.eta.refine_tol if settings.eta.refine else None,
                                  progress)
    with ReportFolder(out) as report:
        report.add_table(summary_table(inputs, result, grid, time.perf_counter() - started))
        report.add_table(allocation_table(inputs, model))
        report.add_table(eta_sweep_table(result))
        etas, delays = sweep_curve(result)
        plot_eta_sweep(etas, delays, result.best.eta, result.best.T, report.file("eta_sweep.png"))
        report.copy_in(data_path, f"input/{data_path.name}")
        resolved = OmegaConf.merge(cfg, {"data": str(data_path.resolve()), "out": str(out.resolve())})
        report.file("config.yaml").write_text(OmegaConf.to_yaml(resolved))
        final = report.commit("fedsllm.xlsx")
    print(f"FedsLLM optimum: T* = {result.best.T:.6f} s at eta* = {result.best.eta:.6f} "
          f"(grid best {result.best_grid.T:.6f} s at eta = {result.best_grid.eta:.4f}); "
          f"{result.solves} solves, all optimal")
    print(f"report: {final}")
    return EXIT_OK


RUNNERS = {"fedsllm": run_fedsllm}


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
