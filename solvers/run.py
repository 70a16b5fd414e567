"""Command-line entry point: `python -m solvers.run model=fedsllm [key=value ...]` (or `fedsplit run ...`).

The command line itself lives in solvers/app/cli.py; `--help` lists the flags and every key.
"""

from __future__ import annotations

import sys

from solvers.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
