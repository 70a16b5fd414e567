"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]` (or `fedsplit run ...`).

The first word may name another subcommand (`python -m solvers.run generate users=20`); the front end is
solvers/app/script.py, the run's command line solvers/app/cli.py; `--help` lists the flags and every key.
Both are imported once the stop handlers are in (solvers/runtime/entry.py), so a stop during the imports
is one line too.
"""

from __future__ import annotations

import sys

from solvers.runtime.entry import run_entry_point


def main(argv: list[str] | None = None) -> int:
    """The installed `fedsplit` console script: `fedsplit COMMAND ...`."""
    return run_entry_point("solvers.app.script", argv)


if __name__ == "__main__":
    sys.exit(run_entry_point("solvers.app.script", None, default="run"))
