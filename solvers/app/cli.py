"""The command line: flags, then the overrides, then one job or a multirun; every failure as exit code.

Exit codes: 0 done, 2 bad input or configuration (nothing written), 3 a solve
failed (nothing written but a diagnostics file), 70 an internal error (a bug:
the traceback is saved to a file), 130 Ctrl-C, 143 SIGTERM.
"""

from __future__ import annotations

import sys
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from data.errors import FedsplitError
from solvers.app.config import MODEL_CONFIGS, ConfigError
from solvers.app.context import command_line
from reports.export import committed_reports
from solvers.app.help import GENERATOR_SETTINGS, completion_script, configuration_yaml, help_text
from solvers.app.jobs import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, run_multirun, run_single
from solvers.app.overrides import WORKBOOKS, check_run
from solvers.runtime.stopping import StopRequested, stop_signals_handled
from solvers.runtime.terminal import guarded_console


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


def stop_line(stop: StopRequested, reports_before: int = 0) -> str:
    """The stopped run's line: nothing was written, or which report folders were complete before the stop."""
    finished = committed_reports()[reports_before:]
    if not finished:
        return stop.line()
    return stop.line(f"finished before the stop (complete): {', '.join(str(path) for path in finished)}; "
                     f"nothing else was written")


def main(argv: list[str] | None = None) -> int:
    """`fedsplit run ...`: its exit code."""
    return guarded(_main, sys.argv[1:] if argv is None else argv)


def guarded(command: Callable[[list[str]], int], argv: list[str]) -> int:
    """A subcommand's body, with every failure turned into its line(s) and exit code."""
    reports_before = len(committed_reports())
    with guarded_console(), stop_signals_handled():
        try:
            return command(argv)
        except StopRequested as stop:
            print(stop_line(stop, reports_before), file=sys.stderr)
            return stop.exit_code
        except KeyboardInterrupt:
            print("interrupted; nothing was written", file=sys.stderr)
            return EXIT_INTERRUPTED
        except FedsplitError as error:
            for line in error.lines():
                print(line, file=sys.stderr)
            return error.exit_code
        except Exception:  # a bug: one line for the user, the traceback in a file
            return report_internal_error(traceback.format_exc())


def _main(argv: list[str]) -> int:
    command = parse_command_line(argv)
    if command.shell_completion is not None:
        print(completion_script(command.shell_completion, GENERATOR_SETTINGS))
        return EXIT_OK
    if command.help:  # whatever else the line holds: a user asking for help is not told off first
        models = [text.split("=", 1)[1] for text in command.overrides if text.startswith("model=")]
        print(help_text(models[-1] if models and models[-1] in MODEL_CONFIGS else None))
        return EXIT_OK
    checked = check_run(command.overrides, command.multirun)
    if command.print_config:
        for number, (job, cfg) in enumerate(zip(checked.jobs, checked.configs)):
            if len(checked.jobs) > 1:
                print(f"# job {number}: {' '.join(job)}")
            print(configuration_yaml(cfg, WORKBOOKS[cfg.model][0]))
        return EXIT_OK
    if command.multirun:
        return run_multirun(checked)
    return run_single(checked)


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
