"""The console as a place that may go away: a closed pipe must not lose the work.

`./fedsplit run ... | head -3` closes standard output after three lines. Python
then raises BrokenPipeError at the next write; unguarded, that ends the run
before its report is written. `guarded_console()` wraps stdout and stderr so that
once the reader is gone, further output is dropped (and the descriptor pointed at
/dev/null, so nothing fails at interpreter exit) while the run goes on.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


class GuardedStream:
    """A text stream whose writes stop, silently, once its reader has gone."""

    def __init__(self, stream):
        self._stream = stream
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        if self.closed_by_reader:
            return len(text)
        try:
            return self._stream.write(text)
        except (BrokenPipeError, ValueError):  # ValueError: the stream object itself was closed
            self._reader_gone()
            return len(text)
        except OSError as error:
            if error.errno != errno.EPIPE:
                raise
            self._reader_gone()
            return len(text)

    def flush(self) -> None:
        if self.closed_by_reader:
            return
        try:
            self._stream.flush()
        except (BrokenPipeError, ValueError):
            self._reader_gone()

    def _reader_gone(self) -> None:
        self.closed_by_reader = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            return  # not a real descriptor (a test's capture): dropping the writes is enough

    def isatty(self) -> bool:
        return not self.closed_by_reader and self._stream.isatty()

    def __getattr__(self, name):
        return getattr(self._stream, name)


@contextmanager
def guarded_console() -> Iterator[None]:
    """stdout and stderr guarded against a closed pipe for the duration."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = GuardedStream(sys.stdout), GuardedStream(sys.stderr)
    try:
        yield
    finally:
        for guarded in (sys.stdout, sys.stderr):
            guarded.flush()
        sys.stdout, sys.stderr = saved
