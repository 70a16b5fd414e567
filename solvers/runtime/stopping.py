"""Ctrl-C and SIGTERM as clean stops.

Both become a `StopRequested` exception (a KeyboardInterrupt), so every report
folder being built is discarded on the way out and the command line exits 130
(Ctrl-C) or 143 (SIGTERM) with one line. Inside Ipopt the signal is only noted:
the iteration callback then asks Ipopt to stop, and the exception is raised once
Ipopt has returned, so no exception crosses cyipopt's C code (which would print
its own traceback); SCIP is interrupted by a watcher thread (solvers.runtime.scip).

A stop is raised once: a second signal while the first unwinds (removing the
report being built, closing a cluster) is not raised again, so the clean-up is
not cut short. A stop raised where Python cannot pass it on (a `__del__`, a
weakref callback: "Exception ignored in ...") is delivered again at once from
where the run is, instead of being printed and lost.
"""

from __future__ import annotations

import _thread
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}
STOP_SIGNALS = tuple(EXIT_CODES)
REDELIVERY_DELAY_S = 0.01  # a swallowed stop comes again this much later: the finalizer has returned by then


class StopRequested(KeyboardInterrupt):
    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 128 + self.signum)

    def line(self, what_was_written: str = "nothing was written") -> str:
        """The one line a stopped run prints."""
        return f"stopped by {self}; {what_was_written}"


_pending: int | None = None
_native_depth = 0
_unwinding = False  # a StopRequested is on its way out
_installed = False
_previous_unraisablehook = sys.__unraisablehook__


def _handle(signum, frame) -> None:
    global _pending, _unwinding
    if _unwinding:
        return
    if _native_depth:
        _pending = signum
        return
    _unwinding = True
    _quiet_while_stopping()
    raise StopRequested(signum)


def _deliver_again(unraisable) -> None:
    """sys.unraisablehook: a StopRequested that a finalizer swallowed is signalled again, from a helper
    thread, so that its handler runs once the main thread is back in the run's code (signalled from here,
    it would run here, in the hook, and be swallowed again)."""
    global _unwinding
    if isinstance(unraisable.exc_value, StopRequested):
        _unwinding = False
        again = threading.Timer(REDELIVERY_DELAY_S, _thread.interrupt_main, args=(unraisable.exc_value.signum,))
        again.daemon = True
        again.start()
        return
    _previous_unraisablehook(unraisable)


def _quiet_while_stopping() -> None:
    # Pyomo logs an ERROR (with the expression) for any exception raised while it evaluates one, the
    # stop included; the run is ending, so those lines would only hide the one line that matters.
    logging.disable(logging.ERROR)


def stop_requested() -> bool:
    """Whether a stop signal arrived while inside a native solve (the solver should stop)."""
    return _pending is not None


@contextmanager
def stops_deferred() -> Iterator[None]:
    """Around a call into a native solver, or a short step that cut half-way could not be undone (a Dask
    scheduler starting): a stop signal meanwhile is raised when it ends."""
    global _native_depth, _pending
    _native_depth += 1
    try:
        yield
    finally:
        _native_depth -= 1
    if _native_depth == 0 and _pending is not None:
        signum, _pending = _pending, None
        _handle(signum, None)


native_section = stops_deferred  # the solvers' name: Ipopt's callback asks stop_requested() meanwhile


@contextmanager
def stop_signals_handled() -> Iterator[None]:
    """Install the handlers for SIGINT and SIGTERM (main thread only; an ignored SIGINT stays ignored,
    as under nohup), and restore the previous ones on exit. Nested uses keep the outer one's."""
    global _pending, _unwinding, _installed, _previous_unraisablehook
    if threading.current_thread() is not threading.main_thread() or _installed:
        yield
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if signum == signal.SIGINT and current == signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, _handle)
    _previous_unraisablehook, sys.unraisablehook = sys.unraisablehook, _deliver_again
    _pending, _unwinding, _installed = None, False, True
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = _previous_unraisablehook
        _pending, _unwinding, _installed = None, False, False
        logging.disable(logging.NOTSET)


def stops_end_the_process() -> None:
    """For the entry points, once the run is over and the interpreter exits: a stop signal then takes its
    default action (the process ends at once: nothing is left to clean, no traceback); an ignored one
    stays ignored."""
    for signum in STOP_SIGNALS:
        if signal.getsignal(signum) != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
