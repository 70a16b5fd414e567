"""Progress lines for long loops: one updating line on a terminal, a few lines in logs."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, stream: TextIO | None = sys.stderr):
        self.stream = stream
        self.label = ""
        self.total: int | None = None
        self.done = 0
        self.unit = "solves"
        self._started = 0.0
        self._last_logged = -1

    @classmethod
    def silent(cls) -> "Progress":
        return cls(stream=None)

    @property
    def _interactive(self) -> bool:
        return bool(self.stream) and self.stream.isatty()

    def start(self, label: str, total: int | None, unit: str = "solves") -> None:
        self.label, self.total, self.done, self.unit = label, total, 0, unit
        self._started = time.perf_counter()
        self._last_logged = -1

    def advance(self, detail: str = "") -> None:
        self.done += 1
        if self.stream is None:
            return
        count = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        line = f"{self.label} [{count}] {detail}"
        if self._interactive:
            self.stream.write("\r\033[K" + line)
            self.stream.flush()
            return
        # In logs: about ten lines per loop, plus the last.
        tenth = int(10 * self.done / self.total) if self.total else self.done
        if tenth != self._last_logged or self.done == self.total:
            self._last_logged = tenth
            self.stream.write(line + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.stream is None:
            return
        seconds = time.perf_counter() - self._started
        prefix = "\r\033[K" if self._interactive else ""
        self.stream.write(f"{prefix}{self.label}: {self.done} {self.unit} in {seconds:.1f} s\n")
        self.stream.flush()
