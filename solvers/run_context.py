"""What every run carries from its configuration to its report, checked before any work."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from data.workbook import Table, read_tables
from reports.export import refuse_existing
from reports.run_files import default_out
from solvers.ipopt import IpoptSolver, check_ipopt_available
from solvers.progress import Progress


@dataclass
class RunContext:
    settings: Any  # the model's typed configuration (FedsllmConfig or CardConfig)
    cfg: DictConfig  # the same, as Hydra composed it (written to config.yaml)
    data_path: Path
    out: Path
    started: float
    solver: IpoptSolver
    progress: Progress


def prepare_context(cfg: DictConfig, settings, default_workbook: Path, out_label: str) -> RunContext:
    """Refuse an existing report folder and check the solver before any work; make the one solver."""
    out = Path(settings.out) if settings.out else default_out(out_label)
    refuse_existing(out)  # before any solve, not only when the report is written
    check_ipopt_available()
    return RunContext(settings, cfg, Path(settings.data) if settings.data else default_workbook, out,
                      time.perf_counter(), IpoptSolver(settings.solver.ipopt_options()),
                      Progress() if settings.progress else Progress.silent())


def read(run: RunContext) -> dict[str, Table]:
    """The pipelines' read step: every sheet of the run's workbook, as values."""
    return read_tables(run.data_path)
