"""The run log: what a run did, for `run.log` in its report folder.

fedsplit's modules log through stdlib `logging` (loggers named after the module).
While a run lasts, `capturing_run_log()` keeps their INFO records in memory, so
the report folder, written last and atomically, can hold them; warnings also go
to stderr.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

PACKAGES = ("data", "models", "solvers", "reports")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RunLogHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.setFormatter(logging.Formatter(FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class _StderrHandler(logging.StreamHandler):
    """Warnings on stderr as the run's other messages are: `warning: ...`, resolving sys.stderr at each
    record (it may be the guarded console)."""

    def __init__(self):
        super().__init__()
        self.setLevel(logging.WARNING)

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


_current: RunLogHandler | None = None


def run_log_lines() -> list[str]:
    """The lines logged so far by the run in progress (empty outside a run)."""
    return list(_current.lines) if _current is not None else []


@contextmanager
def capturing_run_log() -> Iterator[RunLogHandler]:
    global _current
    handler, stderr = RunLogHandler(), _StderrHandler()
    loggers = [logging.getLogger(name) for name in PACKAGES]
    saved = [(lg, lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.INFO)
        lg.propagate = False
        lg.addHandler(handler)
        lg.addHandler(stderr)
    previous, _current = _current, handler
    try:
        yield handler
    finally:
        _current = previous
        for lg, level, propagate in saved:
            lg.removeHandler(handler)
            lg.removeHandler(stderr)
            lg.setLevel(level)
            lg.propagate = propagate
