"""Native solver calls that neither block on their own output nor ignore a stop.

- `native_output_to_file()`: file descriptors 1 and 2 point to an unnamed temporary file while C code
  (Ipopt, SCIP) runs, and back afterwards. A file never fills, so no log size can block the run; a pipe
  drained by a Python thread (Pyomo's `capture_output(capture_fd=True)`) does, once 64 KiB are waiting
  while the solver holds the GIL.
- `on_stop_signal(action)`: while C code runs without the GIL (SCIP's `optimizeNogil`), a watcher thread
  calls `action` (e.g. SCIP's `interruptSolve`) as soon as SIGINT or SIGTERM arrives. Python runs a
  signal's handler only between bytecodes of the main thread, which is then inside the solver; the
  signal's byte on the wake-up descriptor (`signal.set_wakeup_fd`) reaches the watcher at once.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

from solvers.runtime.stopping import STOP_SIGNALS

KEPT_LOG_BYTES = 1 << 20  # what a caller may read back of a solver's output: its last MiB
# Descriptors 1 and 2 belong to the whole process: one redirection at a time (a thread's solve waits for
# another's), so that each puts back what it found.
_redirecting = threading.RLock()


@contextmanager
def native_output_to_file(lines: list[str] | None = None) -> Iterator[None]:
    """What C code writes to file descriptors 1 and 2 meanwhile goes to a temporary file (not the
    console); with `lines`, the last KEPT_LOG_BYTES of it come back there, one string a line."""
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    with _redirecting, tempfile.TemporaryFile() as captured:
        saved = {fd: os.dup(fd) for fd in (1, 2)}
        try:
            for fd in saved:
                os.dup2(captured.fileno(), fd)
            yield
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
            if lines is not None:
                size = captured.seek(0, os.SEEK_END)
                captured.seek(max(0, size - KEPT_LOG_BYTES))
                lines += captured.read().decode(errors="replace").splitlines()


@contextmanager
def on_stop_signal(action: Callable[[], None]) -> Iterator[None]:
    """Call `action` from a watcher thread when SIGINT or SIGTERM arrives meanwhile (main thread only;
    elsewhere no signal can arrive, and this does nothing). The signal is still handled as usual once
    the main thread runs Python again."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with ExitStack() as stack:
        wake_read, wake_write = os.pipe()
        done_read, done_write = os.pipe()
        for fd in (wake_read, wake_write, done_read, done_write):
            stack.callback(os.close, fd)
        os.set_blocking(wake_write, False)
        previous = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        stack.callback(signal.set_wakeup_fd, previous, warn_on_full_buffer=False)
        watcher = threading.Thread(target=_watch, args=(wake_read, done_read, action), daemon=True,
                                   name="stop-signal watcher")
        watcher.start()
        stack.callback(watcher.join)
        stack.callback(os.write, done_write, b"x")
        yield


def _watch(wake_read: int, done_read: int, action: Callable[[], None]) -> None:
    while True:
        ready, _, _ = select.select([wake_read, done_read], [], [])
        if done_read in ready:
            return
        if any(signum in STOP_SIGNALS for signum in os.read(wake_read, 64)):
            action()
            return
