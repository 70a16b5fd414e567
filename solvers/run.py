"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]` (or `fedsplit run ...`).

It reads the command line in Hydra's override syntax, checks every override
against the configuration's schema (solvers/config.py) and dispatches to the
model's pipeline (solvers/fedsllm_pipeline.py, solvers/card_pipeline.py), which
runs read -> validate -> build -> solve -> certify -> report.

Flags, as Hydra users know them:
  -h, --help               every key with its default and a one-line description
  -m, --multirun           one job per combination of swept values (eta.step=0.01,0.02),
                           each with its own report folder, plus index.csv/index.xlsx
  -c job, --cfg job        print the resolved configuration and stop
  -sc install=bash, --shell-completion install=bash
                           print a bash completion script (eval "$(fedsplit run -sc install=bash)")
`hydra.run.dir=D` is `out=D`; `hydra.sweep.dir=D` is the folder of a multirun.

Exit codes: 0 done, 2 bad input or configuration (nothing written), 3 a solve
failed (nothing written but a diagnostics file), 70 an internal error (a bug:
the traceback is saved to a file), 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import itertools
import logging
import sys
import tempfile
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from hydra import compose, initialize
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from data.issues import InputError
from reports.destination import ReportDestinationError
from reports.export import write_index
from reports.run_files import default_out, write_diagnostics
from solvers.card_pipeline import run_card
from solvers.config import (
    MODEL_CONFIGS,
    ConfigError,
    check_settings,
    key_help,
    known_keys,
    nearest_key,
    register_configs,
)
from solvers.fedsllm_pipeline import run_fedsllm
from solvers.ipopt import SolveError, SolverOptionError, SolverUnavailableError
from solvers.study import ClusterError
from solvers.run_context import RunOutcome, command_line
from solvers.run_log import capturing_run_log, run_log_lines
from solvers.stopping import StopRequested, stop_signals_handled
from solvers.terminal import guarded_console

EXIT_OK, EXIT_INPUT, EXIT_SOLVE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 2, 3, 70, 130
PIPELINES = {"fedsllm": run_fedsllm, "card": run_card}
SOLVER_OPTIONS_PREFIX = "solver.options."
HYDRA_PATH_KEYS = {"hydra.run.dir": "out", "hydra.sweep.dir": "sweep_dir"}
log = logging.getLogger("solvers.run")  # not __name__: that is "__main__" under python -m


# --- Reading the command line ----------------------------------------------------------------

@dataclass
class CommandLine:
    overrides: list[str] = field(default_factory=list)
    help: bool = False
    multirun: bool = False
    print_config: bool = False
    shell_completion: str | None = None


def parse_command_line(argv: list[str]) -> CommandLine:
    """Flags apart from overrides; an unknown flag is a ConfigError."""
    command = CommandLine()
    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help"):
            command.help = True
        elif arg in ("-m", "--multirun"):
            command.multirun = True
        elif arg in ("-c", "--cfg") or arg.startswith("--cfg="):
            what = arg.split("=", 1)[1] if "=" in arg else next(args, None)
            if what not in ("job", "all"):
                raise ConfigError(f"{arg} needs 'job': --cfg job prints the resolved configuration")
            command.print_config = True
        elif arg in ("-sc", "--shell-completion"):
            command.shell_completion = next(args, "")
        elif arg.startswith("-") and not arg.startswith("--") and "=" in arg:
            command.overrides.append(arg)  # e.g. a negative number is never a key; let the parser say
        elif arg.startswith("-"):
            raise ConfigError(f"unknown option {arg}; the options are -h/--help, -m/--multirun, --cfg job, "
                              f"--shell-completion install=bash; settings are key=value")
        else:
            command.overrides.append(arg)
    return command


@dataclass
class Overrides:
    """The checked overrides: the model, what Hydra composes, and the sweep folder of a multirun."""

    model: str
    hydra: list[Override]
    sweep_dir: str | None = None


def _parse(texts: list[str]) -> list[Override]:
    parser = OverridesParser.create()
    parsed, problems = [], []
    for text in texts:
        try:
            parsed += parser.parse_overrides([text])
        except OverrideParseException as error:
            reason = str(error).splitlines()[0]
            problems.append(f"{text}: not a key=value override ({reason})")
    if problems:
        raise ConfigError(_listed("bad override", problems))
    return parsed


def _listed(noun: str, problems: list[str]) -> str:
    return f"{len(problems)} {noun}{'s' if len(problems) != 1 else ''}:\n" + "\n".join(f"  - {p}" for p in problems)


def check_overrides(texts: list[str], multirun: bool) -> Overrides:
    """Every override against the chosen model's keys; every problem at once, with the nearest key."""
    parsed = _parse(texts)
    models = [o for o in parsed if o.key_or_group == "model"]
    model = str(models[-1].value()) if models and not models[-1].is_sweep_override() else "fedsllm"
    problems = []
    if model not in MODEL_CONFIGS:
        problems.append(f"model={model}: expected one of {', '.join(MODEL_CONFIGS)}")
        model = "fedsllm"
    known = set(known_keys(model))
    kept, sweep_dir = [], None
    for override in parsed:
        key, text = override.key_or_group, override.input_line
        if override.is_sweep_override() and not multirun:
            problems.append(f"{text}: several values; add -m (--multirun) to run one job per value")
            continue
        if key == "model":
            if override.is_sweep_override():
                problems.append(f"{text}: sweep one model at a time (its keys differ)")
            continue
        if key in HYDRA_PATH_KEYS:
            if HYDRA_PATH_KEYS[key] == "out":
                kept.append(_as_change(override, "out"))
            else:
                sweep_dir = str(override.value())
            continue
        if key.startswith("hydra."):
            problems.append(f"{text}: fedsplit uses Hydra's override syntax but not its run folders; "
                            f"use out=FOLDER (or hydra.run.dir / hydra.sweep.dir)")
            continue
        if override.type is OverrideType.DEL:
            problems.append(f"{text}: keys cannot be deleted; set a value instead")
            continue
        if key.startswith(SOLVER_OPTIONS_PREFIX) and len(key) > len(SOLVER_OPTIONS_PREFIX):
            kept.append(_as_add(override))
            continue
        if key not in known:
            guess = nearest_key(key.lstrip("+"), model)
            hint = f" (did you mean {guess}?)" if guess else ""
            problems.append(f"{text}: model={model} has no key '{key}'{hint}; --help lists the keys")
            continue
        if override.type is not OverrideType.CHANGE:
            problems.append(f"{text}: {key} exists; write {key}=VALUE")
            continue
        kept.append(override)
    if problems:
        raise ConfigError(_listed("bad override", problems))
    return Overrides(model, kept, sweep_dir)


def _as_change(override: Override, key: str) -> Override:
    return _reparsed(f"{key}={_value_text(override)}")


def _as_add(override: Override) -> Override:
    return _reparsed(f"+{override.key_or_group}={_value_text(override)}")


def _value_text(override: Override) -> str:
    return override.input_line.split("=", 1)[1]


def _reparsed(text: str) -> Override:
    return OverridesParser.create().parse_overrides([text])[0]


def job_overrides(overrides: Overrides) -> list[list[str]]:
    """One list of override texts per job: the cartesian product of the swept values, in order."""
    choices = []
    for override in overrides.hydra:
        element = override.get_key_element()
        if override.is_sweep_override():
            try:
                values = list(override.sweep_string_iterator())
            except HydraException as error:
                raise ConfigError(f"{override.input_line}: {error}") from None
            choices.append([f"{element}={value}" for value in values])
        else:
            choices.append([override.input_line])
    return [[f"model={overrides.model}", *combination] for combination in itertools.product(*choices)]


def compose_config(overrides: list[str]) -> DictConfig:
    register_configs()
    try:
        with initialize(version_base=None, config_path=None):
            return compose(config_name="config", overrides=overrides)
    except (HydraException, OmegaConfBaseException) as error:
        # Hydra wraps OmegaConf's type errors; the reason is in the chained cause.
        reason = str(error).splitlines()[0]
        if error.__cause__ is not None:
            reason = f"{reason}: {str(error.__cause__).splitlines()[0]}"
        raise ConfigError(f"bad setting: {reason}") from None


def checked_config(overrides: list[str]) -> DictConfig:
    """The composed configuration, range-checked, with its report folder filled in."""
    cfg = compose_config(overrides)
    settings = OmegaConf.to_object(cfg)
    check_settings(settings)
    if cfg.out is None:
        cfg.out = str(default_out(settings.report_label()))
    return cfg


# --- Running ---------------------------------------------------------------------------------

@dataclass
class JobResult:
    number: int
    overrides: list[str]
    code: int
    outcome: RunOutcome | None
    message: str


def run_job(cfg: DictConfig) -> RunOutcome:
    with capturing_run_log():
        log.info("command: %s", command_line())
        try:
            return PIPELINES[cfg.model_name](cfg)
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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with guarded_console(), stop_signals_handled():
        try:
            return _main(argv)
        except StopRequested as stop:
            print(f"stopped by {stop}; nothing was written", file=sys.stderr)
            return stop.exit_code
        except KeyboardInterrupt:
            print("interrupted; nothing was written", file=sys.stderr)
            return EXIT_INTERRUPTED
        except EXPECTED_FAILURES as error:
            for line in failure_lines(error):
                print(line, file=sys.stderr)
            return failure_code(error)
        except Exception:  # a bug: one line for the user, the traceback in a file
            return report_internal_error(traceback.format_exc())


def _main(argv: list[str]) -> int:
    command = parse_command_line(argv)
    if command.shell_completion is not None:
        print(completion_script(command.shell_completion))
        return EXIT_OK
    overrides = check_overrides(command.overrides, command.multirun)
    if command.help:
        print(help_text(overrides.model if any(o.startswith("model=") for o in command.overrides) else None))
        return EXIT_OK
    if command.print_config:
        for job in job_overrides(overrides):
            print(OmegaConf.to_yaml(checked_config(job)))
        return EXIT_OK
    if command.multirun:
        return run_multirun(overrides)
    return run_single(job_overrides(overrides)[0])


def report_internal_error(trace: str) -> int:
    crash = Path(tempfile.gettempdir()) / f"fedsplit-crash-{datetime.now():%Y%m%d-%H%M%S}.txt"
    last = trace.strip().splitlines()[-1]
    try:
        crash.write_text(f"{command_line()}\n\n{trace}")
        where = f"; the details are in {crash}"
    except OSError:
        where = ""
    print(f"error: internal error ({last[:300]}). This is a bug in fedsplit; please report it{where}. "
          f"Nothing was written.", file=sys.stderr)
    return EXIT_INTERNAL


# --- Help and completion ---------------------------------------------------------------------

def help_text(model: str | None) -> str:
    lines = [__doc__.strip(), ""]
    for name in ([model] if model else MODEL_CONFIGS):
        lines.append(f"Keys of model={name}{' (the default)' if name == 'fedsllm' else ''}:")
        keys = key_help(MODEL_CONFIGS[name])
        width = max(len(k.key) for k in keys)
        for k in keys:
            lines.append(f"  {k.key:<{width}}  {k.help} [default: {_shown(k.default)}]")
        lines.append("")
    return "\n".join(lines)


def _shown(value: object) -> str:
    """A default as it is typed on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ",".join(_shown(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_shown(v)}" for k, v in value.items()) + "}"
    return str(value)


def completion_script(request: str) -> str:
    if request != "install=bash":
        raise ConfigError(f"--shell-completion {request}: only 'install=bash' is supported")
    words = {"run", "generate", "-m", "--multirun", "--help", "--cfg", "model=fedsllm", "model=card",
             "study=optimum", "study=power_sweep", "channel_state=Good", "channel_state=Normal",
             "channel_state=Poor"}
    for name in MODEL_CONFIGS:
        words |= {f"{key}=" for key in known_keys(name)}
    return ("_fedsplit_complete() {\n"
            '    COMPREPLY=( $(compgen -W "' + " ".join(sorted(words)) + '" -- "${COMP_WORDS[COMP_CWORD]}") )\n'
            "}\n"
            "complete -o nospace -F _fedsplit_complete fedsplit")


if __name__ == "__main__":
    sys.exit(main())
