"""What every run carries from its settings to its report, checked before any work."""

from __future__ import annotations

import logging
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from data.workbook import Table
from reports.files.provenance import Provenance
from reports.files.run_files import RunFiles
from solvers.app.config import check_settings
from solvers.runtime.ipopt import IpoptSolver, check_ipopt_available, check_ipopt_options
from solvers.runtime.progress import Progress

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    settings: Any  # the model's typed configuration (FedsllmConfig or CardConfig)
    source: Any  # the input: a data.workbook.WorkbookFile, or the notebook's data.scenario.Scenario
    started: float
    solver: IpoptSolver
    progress: Progress
    provenance: Provenance

    @property
    def data_path(self) -> str:
        """How messages and the report name the input (the workbook's path)."""
        return self.source.label

    def run_files(self, effective: dict[str, object]) -> RunFiles:
        """The input copy, config.yaml with the values used and run.log, for the report being built."""
        return RunFiles(self.settings, self.source.name, self.source.copy_to, self.source.resolved(), effective)


@dataclass
class RunOutcome:
    """What a finished command-line run hands back: the console lines, the report folder and its headline
    numbers."""

    lines: list[str]
    report: Path
    headline: dict[str, object] = field(default_factory=dict)
    tables: list = field(default_factory=list)  # the report's ResultTables, in sheet order


PROGRAM_VARIABLE = "FEDSPLIT_PROGRAM"  # set by the repository's ./fedsplit script to how it was called


def command_line() -> str:
    """The command as typed: `./fedsplit run ...` (the repository's script names itself in FEDSPLIT_PROGRAM,
    as the user called it), `fedsplit run ...` (the installed script) or `python -m solvers.run ...`."""
    program = sys.argv[0] if sys.argv else ""
    if program.endswith("run.py"):
        script = os.environ.get(PROGRAM_VARIABLE)
        head = [script] if script else ["python", "-m", "solvers.run"]  # the script passes its command word on
    else:
        head = [Path(program).name or "fedsplit"]
    return shlex.join([*head, *sys.argv[1:]])


def prepare_context(settings, source, command: str) -> RunContext:
    """The typed settings, range-checked; the solver and its options checked before any work."""
    check_settings(settings)
    check_ipopt_available()
    options = settings.solver.ipopt_options()
    check_ipopt_options(options)
    log.info("Ipopt options: %s", options)
    log.info("configuration:\n%s", OmegaConf.to_yaml(OmegaConf.structured(settings)).rstrip())
    return RunContext(settings, source, time.perf_counter(), IpoptSolver(options),
                      Progress() if settings.progress else Progress.silent(), Provenance.collect(command))


def read(run: RunContext) -> dict[str, Table]:
    """The pipelines' read step: every sheet of the run's input, as values."""
    return run.source.read()
