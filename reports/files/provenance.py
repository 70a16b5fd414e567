"""Where a report came from: when, by which command, from which code and solver stack.
"""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Provenance:
    """Where a report came from: when, by which command, from which code and solver stack."""

    date: str
    command: str
    git_commit: str

    @classmethod
    def collect(cls, command: str) -> "Provenance":
        return cls(datetime.now().astimezone().isoformat(timespec="seconds"), command, git_commit())

    def rows(self) -> list[tuple]:
        rows = [("run_date", self.date, "-", "when the run started (local time, ISO 8601)"),
                ("command", self.command, "-", "the command line"),
                ("git_commit", self.git_commit, "-", "the fedsplit checkout's commit (+dirty: with uncommitted changes)")]
        return rows + [(name, value, "-", name.replace("_", " ")) for name, value in versions().items()]


def git_commit() -> str:
    """The checkout's commit, with +dirty when files differ from it; "not a git checkout" otherwise."""
    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        return "not a git checkout"
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git failed)"
    return f"{commit}+dirty" if dirty else commit


def versions() -> dict[str, str]:
    """The solver stack's versions, for every report's summary (imported here: a command that writes no
    report does not load them)."""
    import cyipopt  # noqa: PLC0415
    import numpy  # noqa: PLC0415
    import openpyxl  # noqa: PLC0415
    import pyomo  # noqa: PLC0415
    import scipy  # noqa: PLC0415

    return {
        "python_version": platform.python_version(),
        "numpy_version": numpy.__version__,
        "scipy_version": scipy.__version__,
        "pyomo_version": pyomo.version.version,
        "ipopt_version": ".".join(map(str, cyipopt.IPOPT_VERSION)),
        "cyipopt_version": cyipopt.__version__,
        "highs_version": _package_version("highspy"),
        "openpyxl_version": openpyxl.__version__,
    }


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
