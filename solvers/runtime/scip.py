"""SCIP through Pyomo's `scip_direct` (PySCIPOpt), with its output in a file and a stop that reaches it.

Pyomo's `ScipDirect.solve` runs `Model.optimize()`, which holds the GIL, inside a pipe drained by a Python
thread: a log past 64 KiB (a device as fast as the server prints about 105 KB) blocks the run forever in
write(1). SCIP also replaces the SIGINT handler while it solves and can drop the Ctrl-C (its sub-SCIPs
reset the flag). `StoppableScip` solves the same model the same way, except that:

- SCIP's output goes to a temporary file (solvers.runtime.native), never a pipe;
- `optimizeNogil()` releases the GIL and SCIP does not catch Ctrl-C (`misc/catchctrlc` off), so the
  project's handlers stay in place; a watcher thread calls SCIP's `interruptSolve()` when SIGINT or
  SIGTERM arrives, SCIP stops at its next check (its status is then 'userinterrupt'), and the stop is
  raised once SCIP has returned (solvers.runtime.stopping.native_section).
"""

from __future__ import annotations

import datetime
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from pyomo.common.timing import HierarchicalTimer
from pyomo.contrib.solver.common.results import Results
from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect
from pyomo.core.staleflag import StaleFlagManager

from solvers.runtime.native import native_output_to_file, on_stop_signal
from solvers.runtime.stopping import STOP_SIGNALS, native_section


class StoppableScip(ScipDirect):
    """`scip_direct` (Pyomo 6.10's ScipDirect.solve, step for step) with the output and stop above."""

    def solve(self, model, **kwds) -> Results:
        started = datetime.datetime.now(datetime.timezone.utc)
        config = self.config(value=kwds, preserve_implicit=True)
        StaleFlagManager.mark_all_as_stale()
        config.timer = config.timer or HierarchicalTimer()
        scip_model, solution_loader, has_obj = self._create_solver_model(model, config)
        scip_model.hideOutput(quiet=False)
        limits = {"lp/threads": config.threads, "limits/time": config.time_limit, "limits/gap": config.rel_gap,
                  "limits/absgap": config.abs_gap}
        for name, value in limits.items():
            if value is not None:
                scip_model.setParam(name, value)
        if config.warmstart_discrete_vars:
            self._mipstart()
        for name, value in {**config.solver_options, "misc/catchctrlc": False}.items():
            scip_model.setParam(name, value)
        log: list[str] = []
        config.timer.start("optimize")
        with _handlers_restored(), native_section(), native_output_to_file(log), \
                on_stop_signal(scip_model.interruptSolve):
            scip_model.optimizeNogil()
        config.timer.stop("optimize")
        results = self._populate_results(scip_model, solution_loader, has_obj, config)
        results.solver_log = "\n".join(log)
        results.timing_info.start_timestamp = started
        results.timing_info.wall_time = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
        results.timing_info.timer = config.timer
        return results


@contextmanager
def _handlers_restored() -> Iterator[None]:
    """The stop signals' handlers as they were, whatever the native code did to them meanwhile."""
    saved = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        if threading.current_thread() is threading.main_thread():
            for signum, handler in saved.items():
                if handler is not None and signal.getsignal(signum) is not handler:
                    signal.signal(signum, handler)
