"""What every run carries from its configuration to its report, checked before any work."""

from __future__ import annotations

import logging
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from data.workbook import Table, read_tables
from reports.destination import check_destination
from reports.export import ReportFolder
from reports.provenance import Provenance
from reports.run_files import default_out, write_run_files
from solvers.app.config import check_settings
from solvers.runtime.ipopt import IpoptSolver, check_ipopt_available, check_ipopt_options
from solvers.runtime.progress import Progress
from solvers.runtime.run_log import run_log_lines

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    settings: Any  # the model's typed configuration (FedsllmConfig or CardConfig)
    cfg: DictConfig  # the same, as Hydra composed it (written to config.yaml)
    data_path: Path
    out: Path
    started: float
    solver: IpoptSolver
    progress: Progress
    provenance: Provenance

    def write_run_files(self, folder: ReportFolder, effective: dict[str, object]) -> None:
        """The input copy, config.yaml with the values used, and run.log, into the report being built."""
        write_run_files(folder, self.cfg, self.data_path, self.out, effective, run_log_lines())


@dataclass
class RunOutcome:
    """What a finished run hands back: the console lines, the report folder and its headline numbers."""

    lines: list[str]
    report: Path
    headline: dict[str, object] = field(default_factory=dict)
    tables: list = field(default_factory=list)  # the report's ResultTables, in sheet order (the API's DataFrames)


def command_line() -> str:
    """The command as typed: `fedsplit run ...`, `./fedsplit run ...` or `python -m solvers.run ...`."""
    program = sys.argv[0] if sys.argv else ""
    head = ["python", "-m", "solvers.run"] if program.endswith("run.py") else [Path(program).name or "fedsplit"]
    return shlex.join([*head, *sys.argv[1:]])


def prepare_context(cfg: DictConfig, default_workbook: Path) -> RunContext:
    """The typed settings, range-checked; refuse an unusable report folder and check the solver and its
    options before any work."""
    settings = OmegaConf.to_object(cfg)
    check_settings(settings)
    out = check_destination(Path(settings.out) if settings.out else default_out(settings.report_label()))
    check_ipopt_available()
    options = settings.solver.ipopt_options()
    check_ipopt_options(options)
    log.info("Ipopt options: %s", options)
    log.info("configuration:\n%s", OmegaConf.to_yaml(cfg).rstrip())
    return RunContext(settings, cfg, Path(settings.data) if settings.data else default_workbook, out,
                      time.perf_counter(), IpoptSolver(options),
                      Progress() if settings.progress else Progress.silent(), Provenance.collect(command_line()))


def read(run: RunContext) -> dict[str, Table]:
    """The pipelines' read step: every sheet of the run's workbook, as values."""
    return read_tables(run.data_path)
