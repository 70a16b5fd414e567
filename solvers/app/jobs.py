"""Running jobs: one job through its model's pipeline, or a multirun (one job per combination of swept
values, each with its own report folder, then the index); what a failed job prints and exits with.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from omegaconf import DictConfig

from data.issues import InputError
from reports.export import ReportDestinationError, write_index
from reports.run_files import default_out, write_diagnostics
from solvers.app.overrides import Overrides, job_overrides, checked_config
from solvers.app.config import ConfigError
from solvers.runtime.ipopt import SolveError, SolverOptionError, SolverUnavailableError
from solvers.app.context import RunOutcome, command_line
from solvers.runtime.run_log import capturing_run_log, run_log_lines
from solvers.studies.cluster import ClusterError


EXIT_OK, EXIT_INPUT, EXIT_SOLVE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 2, 3, 70, 130
log = logging.getLogger("solvers.run")  # not __name__: that is "__main__" under python -m


@dataclass
class JobResult:
    number: int
    overrides: list[str]
    code: int
    outcome: RunOutcome | None
    message: str


def pipeline(model: str):
    """The model's pipeline, imported when a job runs: it loads Pyomo, matplotlib and pandas, which --help,
    --cfg job and the checks of the command line do not need."""
    if model == "card":
        from solvers.app.card import run_card  # noqa: PLC0415

        return run_card
    from solvers.app.fedsllm import run_fedsllm  # noqa: PLC0415

    return run_fedsllm


def run_job(cfg: DictConfig) -> RunOutcome:
    with capturing_run_log():
        log.info("command: %s", command_line())
        try:
            return pipeline(cfg.model_name)(cfg)
        except SolveError as error:
            error.diagnostics = write_diagnostics(Path(cfg.out), str(error), run_log_lines())
            raise


def failure_code(error: BaseException) -> int:
    if isinstance(error, SolveError):
        return EXIT_SOLVE
    return EXIT_INPUT


EXPECTED_FAILURES = (InputError, ConfigError, ReportDestinationError, SolverUnavailableError, SolverOptionError,
                     SolveError, ClusterError)


def failure_lines(error: BaseException) -> list[str]:
    lines = [f"error: {error}"]
    if isinstance(error, InputError):
        lines.append("Nothing was written. Fix the workbook and run again.")
    elif isinstance(error, SolveError):
        diagnostics = getattr(error, "diagnostics", None)
        lines.append(f"No report was written; the solves so far are in {diagnostics}." if diagnostics
                     else "Nothing was written.")
    return lines


def run_single(overrides: list[str]) -> int:
    cfg = checked_config(overrides)
    outcome = run_job(cfg)
    for line in outcome.lines:
        print(line)
    return EXIT_OK


def run_multirun(overrides: Overrides) -> int:
    """Every job in order; a failed job is recorded and the next one runs; then the index."""
    outs = [o for o in overrides.hydra if o.key_or_group == "out" and not o.is_sweep_override()]
    sweep_dir = Path(str(outs[-1].value()) if outs else overrides.sweep_dir or default_out("multirun"))
    jobs = job_overrides(replace(overrides, hydra=[o for o in overrides.hydra if o not in outs]))
    if sweep_dir.exists():
        raise ReportDestinationError(f"the multirun folder {sweep_dir} already exists; choose another out=...")
    configs = [checked_config([*job, f"out={sweep_dir / str(number)}"]) for number, job in enumerate(jobs)]
    print(f"multirun: {len(jobs)} jobs into {sweep_dir}", file=sys.stderr)
    results = []
    for number, (job, cfg) in enumerate(zip(jobs, configs)):
        print(f"[job {number}] {' '.join(job)}", file=sys.stderr)
        try:
            outcome = run_job(cfg)
            results.append(JobResult(number, job, EXIT_OK, outcome, ""))
            for line in outcome.lines:
                print(f"[job {number}] {line}")
        except EXPECTED_FAILURES as error:
            for line in failure_lines(error):
                print(f"[job {number}] {line}", file=sys.stderr)
            results.append(JobResult(number, job, failure_code(error), None, str(error).splitlines()[0]))
    index = write_index(sweep_dir, [_index_row(r) for r in results])
    failed = [r for r in results if r.code != EXIT_OK]
    print(f"multirun: {len(results) - len(failed)} of {len(results)} jobs done; index: {index}")
    return max((r.code for r in failed), default=EXIT_OK)


def _index_row(result: JobResult) -> dict[str, object]:
    row = {"job": result.number, "overrides": " ".join(result.overrides[1:]), "exit_code": result.code,
           "report": str(result.outcome.report) if result.outcome else "", "error": result.message}
    if result.outcome:
        row.update(result.outcome.headline)
    return row
