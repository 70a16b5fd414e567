"""Running jobs: one job through its model's pipeline, or a multirun (one job per combination of swept
values, each with its own report folder, then the index); what a failed job prints and exits with.
"""

from __future__ import annotations

import logging
import sys
from enum import Enum
from dataclasses import dataclass, field, replace
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from data.card.inputs import DEFAULT_CARD_WORKBOOK
from data.errors import FedsplitError
from data.fedsllm.inputs import DEFAULT_WORKBOOK
from data.workbook import WorkbookFile
from reports.export import write_index
from reports.files.destination import ReportDestinationError, check_destination
from reports.files.report import Report
from reports.files.run_files import default_out, write_diagnostics
from solvers.app.overrides import CheckedRun
from solvers.app.card import run_card
from solvers.app.context import RunOutcome, command_line, prepare_context
from solvers.app.energy import run_fedsllm_model
from solvers.runtime.ipopt import SolveError
from solvers.runtime.run_log import capturing_run_log, run_log_lines

EXIT_OK, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 70, 130  # and each FedsplitError's exit_code (2 input, 3 solve)
PIPELINES = {"fedsllm": (run_fedsllm_model, DEFAULT_WORKBOOK), "card": (run_card, DEFAULT_CARD_WORKBOOK)}
log = logging.getLogger("solvers.run")  # not __name__: that is "__main__" under python -m


@dataclass
class JobResult:
    number: int
    overrides: list[str]
    code: int
    outcome: RunOutcome | None
    message: str
    settings: dict[str, object] = field(default_factory=dict)  # each override's key -> the value the job ran with


def run_pipeline(settings, source=None, command: str | None = None) -> Report:
    """The model's pipeline on typed settings, the one the command line and the notebook API run: `source` is
    the input (default: the workbook `settings.data` names, or the model's shipped one). Call it inside
    `capturing_run_log()`: the report's run.log is what was logged until it returned."""
    pipeline, default_workbook = PIPELINES[settings.model]
    source = source or WorkbookFile(Path(settings.data) if settings.data else default_workbook)
    report = pipeline(prepare_context(settings, source, command or command_line()))
    report.run_files.log_lines = run_log_lines()
    return report


def run_job(cfg: DictConfig) -> RunOutcome:
    """One command-line job: its report folder refused before any work if unusable, then written whole."""
    settings = OmegaConf.to_object(cfg)
    out = check_destination(Path(settings.out) if settings.out else default_out(settings.report_label()))
    with capturing_run_log():
        log.info("command: %s", command_line())
        try:
            report = run_pipeline(settings)
        except SolveError as error:
            error.diagnostics = write_diagnostics(out, str(error), run_log_lines())
            raise
        final, tables = report.write(out)
    return RunOutcome([*report.lines, f"report: {final}"], final, report.headline, tables)


def run_single(checked: CheckedRun) -> int:
    outcome = run_job(checked.configs[0])
    for line in outcome.lines:
        print(line)
    return EXIT_OK


def run_multirun(checked: CheckedRun) -> int:
    """Every job in order; a failed job is recorded and the next one runs; then the index."""
    overrides = checked.overrides
    outs = [o for o in overrides.hydra if o.key_or_group == "out" and not o.is_sweep_override()]
    sweep_dir = Path(str(outs[-1].value()) if outs else overrides.sweep_dir or default_out("multirun"))
    if sweep_dir.exists():
        raise ReportDestinationError(f"the multirun folder {sweep_dir} already exists; choose another out=...")
    jobs = [[text for text in job if not text.startswith("out=")] for job in checked.jobs]
    configs = checked.configs
    for number, cfg in enumerate(configs):
        cfg.out = str(sweep_dir / str(number))
    print(f"multirun: {len(jobs)} jobs into {sweep_dir}", file=sys.stderr)
    results = []
    for number, (job, cfg) in enumerate(zip(jobs, configs)):
        print(f"[job {number}] {' '.join(job)}", file=sys.stderr)
        settings = override_values(job, cfg)
        try:
            outcome = run_job(cfg)
            results.append(JobResult(number, job, EXIT_OK, outcome, "", settings))
            for line in outcome.lines:
                print(f"[job {number}] {line}")
        except FedsplitError as error:
            for line in error.lines():
                print(f"[job {number}] {line}", file=sys.stderr)
            results.append(JobResult(number, job, error.exit_code, None, str(error).splitlines()[0], settings))
    index = write_index(sweep_dir, [_index_row(r) for r in results])
    failed = [r for r in results if r.code != EXIT_OK]
    print(f"multirun: {len(results) - len(failed)} of {len(results)} jobs done; index: {index}")
    return max((r.code for r in failed), default=EXIT_OK)


def override_values(job: list[str], cfg: DictConfig) -> dict[str, object]:
    """Each override of a job (but `model`) as its key and the typed value the job ran with (a choice as its
    name, a list or mapping as its text), so that the multirun index has one column per override."""
    values = {}
    for text in job:
        key, _, typed = text.partition("=")
        key = key.lstrip("+~")
        if key == "model":
            continue
        value = OmegaConf.select(cfg, key, default=typed)
        if OmegaConf.is_config(value):
            value = str(OmegaConf.to_container(value))
        values[key] = value.value if isinstance(value, Enum) else value
    return values


def _index_row(result: JobResult) -> dict[str, object]:
    """The job, one column per override, then its exit code, report, error and headline numbers."""
    row = {"job": result.number, **result.settings, "exit_code": result.code,
           "report": str(result.outcome.report) if result.outcome else "", "error": result.message}
    if result.outcome:
        row.update(result.outcome.headline)
    return row
