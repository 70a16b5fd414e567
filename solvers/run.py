"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]` (or `fedsplit run ...`).

The first word may name another subcommand (`python -m solvers.run generate users=20`); the front end is
solvers/app/script.py, the run's command line solvers/app/cli.py; `--help` lists the flags and every key.
"""

from __future__ import annotations

import sys

from solvers.app.script import main

if __name__ == "__main__":
    sys.exit(main(default="run"))
