"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]` (or `fedsplit run ...`).

The command line itself lives in solvers/app/cli.py; `--help` lists the flags and every key. It is
imported once the stop handlers are in (solvers/runtime/entry.py).
"""

from __future__ import annotations

import sys

from solvers.runtime.entry import run_entry_point

if __name__ == "__main__":
    sys.exit(run_entry_point("solvers.app.cli"))
