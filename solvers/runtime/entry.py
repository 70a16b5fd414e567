"""The entry points' outer shell: the stop handlers before anything heavy is imported, and a stopped run's
process ended at once.

`python -m solvers.run` and the `fedsplit` console script import their command's module only once the
handlers are in: the imports take seconds on a busy machine, and a Ctrl-C or SIGTERM meanwhile is one
line and exit 130 or 143 like any other stop. A stopped run then ends here: what it started is killed,
the report being built is already gone, and Dask's and the interpreter's exit work (seconds after a
large run) is skipped. After a finished run, a signal during the interpreter's exit takes its default
action. What remains uncovered: a signal in the interpreter's own start-up (tens of milliseconds, before
any of this code runs) gets Python's default behaviour.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

from solvers.runtime.stopping import EXIT_CODES, StopRequested, stop_signals_handled, stops_end_the_process


def run_entry_point(command: str, argv: list[str] | None = None, **options) -> int:
    """`command`'s main(argv, **options) (a module name: imported here, under the handlers); its exit code."""
    with stop_signals_handled():
        try:
            code = importlib.import_module(command).main(argv, **options)
        except StopRequested as stop:  # while importing (main prints its own stops)
            print(stop.line(), file=sys.stderr)
            code = stop.exit_code
        if code in EXIT_CODES.values():
            _end_stopped_process(code)
    stops_end_the_process()
    return code


def _end_stopped_process(code: int) -> None:
    from solvers.runtime.processes import descendants, kill_at_once  # noqa: PLC0415

    kill_at_once(descendants())
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a console already gone has nothing to flush
            stream.flush()
    os._exit(code)
