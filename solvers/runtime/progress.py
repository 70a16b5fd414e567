"""Progress of long loops: a tqdm bar (rate and ETA) on a terminal, about ten plain lines in logs; and of one
long solve against its time limit (`start_timed`, `tick`): a bar of the seconds used, or a plain line every
few seconds, with what the solver reports so far.

Every loop also leaves one line in the run log (`run.log` in the report folder).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from tqdm import tqdm

log = logging.getLogger(__name__)
LONG_RUN_SECONDS = 120.0  # a run estimated to take longer is announced with its estimate before it starts
TIMED_LINE_SECONDS = 5.0  # a timed solve's plain line (not a terminal) at most this often


def too_long_problem(estimate_s: float, max_hours: float, what: str, shorter: str) -> str | None:
    """Why a run is refused before it starts, if it is: its estimate is above solver.max_hours."""
    if estimate_s <= max_hours * 3600:
        return None
    return (f"{what}: this run would take about {estimate_s / 3600:.3g} h, more than solver.max_hours="
            f"{max_hours:g}; {shorter}, or raise solver.max_hours")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    def __init__(self, stream: TextIO | None = None, enabled: bool = True):
        self._stream = stream  # None: sys.stderr as it is when a loop starts
        self.enabled = enabled
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.unit = "solves"
        self._started = 0.0
        self._last_logged = -1
        self._bar: tqdm | None = None
        self._timed = False
        self._loop_stream: TextIO | None = None  # a timed solve's own stream, if it has one

    @classmethod
    def silent(cls) -> "Progress":
        return cls(enabled=False)

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    def start(self, label: str, total: int | None, unit: str = "solves") -> None:
        self.label, self.total, self.done, self.unit = label, total, 0, unit
        self._started = time.perf_counter()
        self._last_logged = -1
        self._bar = None
        self._timed, self._loop_stream = False, None
        if self.enabled and self.stream.isatty():
            self._bar = tqdm(total=total, desc=label, unit=f" {unit}", file=self.stream, leave=False,
                             dynamic_ncols=True, mininterval=0.2)

    def advance(self, detail: str = "", count: int = 1) -> None:
        self.done += count
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.set_postfix_str(detail, refresh=False)
            self._bar.update(count)
            return
        # In logs: about ten lines per loop, plus the last.
        tenth = int(10 * self.done / self.total) if self.total else self.done
        if tenth != self._last_logged or self.done == self.total:
            self._last_logged = tenth
            self.stream.write(self._plain_line(detail) + "\n")
            self.stream.flush()

    def _plain_line(self, detail: str) -> str:
        elapsed = time.perf_counter() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        line = f"{self.label} [{count}, {_clock(elapsed)}, {rate:.2f} {self.unit}/s"
        if self.total and rate > 0:
            line += f", ETA {_clock((self.total - self.done) / rate)}"
        return f"{line}] {detail}".rstrip()

    def start_timed(self, label: str, limit_s: float, stream: TextIO | None = None) -> None:
        """One solve against its time limit; `stream`: where to write while the solve holds stderr."""
        self.label, self.total, self.done, self.unit = label, limit_s, 0.0, "s"
        self._started = time.perf_counter()
        self._last_logged = 0
        self._bar = None
        self._timed, self._loop_stream = True, stream or self.stream  # sys.stderr may be replaced meanwhile
        if self.enabled and self._out.isatty():
            self._bar = tqdm(total=limit_s, desc=label, file=self._out, leave=False, dynamic_ncols=True,
                             mininterval=0.5, bar_format="{desc}: {bar} {n:.0f} of {total:.0f} s (time limit)"
                                                         "{postfix}")

    def tick(self, elapsed_s: float, detail: str = "") -> None:
        """A timed solve's seconds so far and what it has found."""
        self.done = elapsed_s
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.n = min(elapsed_s, self.total)
            self._bar.set_postfix_str(detail, refresh=False)
            self._bar.refresh()
        elif elapsed_s - self._last_logged >= TIMED_LINE_SECONDS:
            self._last_logged = elapsed_s
            self._out.write(f"{self.label} [{_clock(elapsed_s)} of {_clock(self.total)} time limit] {detail}"
                            .rstrip() + "\n")
            self._out.flush()

    @property
    def _out(self) -> TextIO:
        return self._loop_stream if self._loop_stream is not None else self.stream

    def finish(self) -> None:
        seconds = time.perf_counter() - self._started
        summary = (f"{self.label}: done in {seconds:.1f} s" if self._timed
                   else f"{self.label}: {self.done} {self.unit} in {seconds:.1f} s")
        log.info(summary)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.enabled:
            self.stream.write(summary + "\n")
            self.stream.flush()
