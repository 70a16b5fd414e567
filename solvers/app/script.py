"""The `fedsplit` console script of the installed package (pyproject's [project.scripts]).

    fedsplit run model=fedsllm [key=value ...]      the main job (solvers.run)
    fedsplit generate users=50 out=scenario.xlsx    draw a FedsLLM workbook (data.fedsllm.generate)
    fedsplit generate-card out=card.xlsx            write a CARD workbook (data.card.generate)

The repository's `./fedsplit` script does the same after its set-up, and adds `test` and `bench`.
Each command's module is imported once the stop handlers are installed (solvers/runtime/entry.py).
"""

from __future__ import annotations

import sys

from solvers.runtime.entry import run_entry_point

COMMANDS = {"run": "solvers.app.cli", "generate": "data.fedsllm.generate", "generate-card": "data.card.generate"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return run_entry_point(COMMANDS[argv[0]], argv[1:])


if __name__ == "__main__":
    sys.exit(main())
