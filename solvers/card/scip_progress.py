"""A SCIP solve that shows its progress: the seconds used against the time limit, then SCIP's incumbent,
dual bound and gap once it has them.

On CARD's P1 SCIP spends nearly all its time in one presolve step (its `components` presolver solves each
device-round's independent part as a SCIP of its own), where no event reaches Python; so the solve runs
with the GIL released (PySCIPOpt's `optimizeNogil`, otherwise the same call as Pyomo's `optimize`) and a
thread ticks the progress every second, while an event handler, run by SCIP itself, records each new
incumbent and bound. Pyomo captures the process's stderr while SCIP runs (to keep SCIP's log), so the
progress writes to a copy of the terminal's descriptor taken before the solve.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

from solvers.runtime.progress import Progress
from solvers.runtime.scip import StoppableScip

TICK_SECONDS = 1.0
SCIP_INFINITY = 1e20  # SCIP's "no bound yet"


class BoundsSeen(Eventhdlr):
    """What SCIP has proved so far, recorded by SCIP's own thread whenever it improves."""

    EVENTS = (SCIP_EVENTTYPE.BESTSOLFOUND, SCIP_EVENTTYPE.DUALBOUNDIMPROVED, SCIP_EVENTTYPE.NODESOLVED)

    def __init__(self):
        self.primal = math.inf
        self.dual = -math.inf
        self.nodes = 0

    def eventinit(self):
        for event in self.EVENTS:
            self.model.catchEvent(event, self)

    def eventexit(self):
        for event in self.EVENTS:
            self.model.dropEvent(event, self)

    def eventexec(self, event):
        primal, dual = self.model.getPrimalbound(), self.model.getDualbound()
        self.primal = primal if abs(primal) < SCIP_INFINITY else math.inf
        self.dual = dual if abs(dual) < SCIP_INFINITY else -math.inf
        self.nodes = self.model.getNNodes()

    def detail(self) -> str:
        if not math.isfinite(self.primal) and not math.isfinite(self.dual):
            return "presolving (each device-round's part solved on its own)"
        parts = [f"incumbent {self.primal:.8g}" if math.isfinite(self.primal) else "no incumbent yet",
                 f"bound {self.dual:.8g}" if math.isfinite(self.dual) else "no bound yet"]
        if math.isfinite(self.primal) and math.isfinite(self.dual):
            parts.append(f"gap {abs(self.primal - self.dual) / max(abs(self.primal), 1e-12):.2%}")
        return ", ".join(parts + [f"{self.nodes} nodes"])


class ScipWithProgress(StoppableScip):
    """SCIP as solvers.runtime.scip runs it (output to a file, GIL released, stops reaching it), with the
    incumbent and bound recorded for the progress."""

    def __init__(self, bounds: BoundsSeen, **kwds):
        super().__init__(**kwds)
        self._bounds = bounds

    def _create_solver_model(self, model, config):
        scip_model, loader, has_objective = super()._create_solver_model(model, config)
        scip_model.includeEventhdlr(self._bounds, "fedsplit_progress", "incumbent and bound for the progress")
        return scip_model, loader, has_objective


def _terminal_copy(stream: TextIO) -> TextIO | None:
    """A stream on a copy of `stream`'s descriptor (None when it has none, as under a test's capture)."""
    try:
        return os.fdopen(os.dup(stream.fileno()), "w", buffering=1)
    except (AttributeError, OSError, ValueError):
        return None


@contextmanager
def solve_progress(progress: Progress, label: str, time_limit_s: float) -> Iterator[ScipWithProgress]:
    """A SCIP solver whose solve `progress` shows, as one timed loop labelled `label`."""
    bounds = BoundsSeen()
    copy = _terminal_copy(progress.stream) if progress.enabled else None
    progress.start_timed(label, time_limit_s, copy)
    started = time.perf_counter()
    solving = threading.Event()

    def tick() -> None:
        while not solving.wait(TICK_SECONDS):
            progress.tick(time.perf_counter() - started, bounds.detail())

    ticker = threading.Thread(target=tick, name="scip-progress", daemon=True)
    ticker.start()
    try:
        yield ScipWithProgress(bounds)
    finally:
        solving.set()
        ticker.join()
        progress.finish()
        if copy is not None:
            copy.close()
