"""Ctrl-C and SIGTERM as clean stops.

Both become a `StopRequested` exception (a KeyboardInterrupt), so every report
folder being built is discarded on the way out and the command line exits 130
(Ctrl-C) or 143 (SIGTERM) with one line. Inside Ipopt the signal is only noted:
the iteration callback then asks Ipopt to stop, and the exception is raised once
Ipopt has returned, so no exception crosses cyipopt's C code (which would print
its own traceback).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


class StopRequested(KeyboardInterrupt):
    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.signum, 128 + self.signum)


_pending: int | None = None
_native_depth = 0


def _handle(signum, frame) -> None:
    global _pending
    if _native_depth:
        _pending = signum
        return
    _quiet_while_stopping()
    raise StopRequested(signum)


def _quiet_while_stopping() -> None:
    # Pyomo logs an ERROR (with the expression) for any exception raised while it evaluates one, the
    # stop included; the run is ending, so those lines would only hide the one line that matters.
    logging.disable(logging.ERROR)


def stop_requested() -> bool:
    """Whether a stop signal arrived while inside a native solve (the solver should stop)."""
    return _pending is not None


@contextmanager
def native_section() -> Iterator[None]:
    """Around a call into a native solver: a stop signal is raised only after it returns."""
    global _native_depth, _pending
    _native_depth += 1
    try:
        yield
    finally:
        _native_depth -= 1
    if _native_depth == 0 and _pending is not None:
        signum, _pending = _pending, None
        _quiet_while_stopping()
        raise StopRequested(signum)


@contextmanager
def stop_signals_handled() -> Iterator[None]:
    """Install the handlers for SIGINT and SIGTERM (main thread only; an ignored SIGINT stays ignored,
    as under nohup), and restore the previous ones on exit."""
    global _pending
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if signum == signal.SIGINT and current == signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, _handle)
    _pending = None
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        logging.disable(logging.NOTSET)
