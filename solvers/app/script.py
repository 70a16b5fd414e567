"""The `fedsplit` console script of the installed package (pyproject's [project.scripts]).

    fedsplit run model=fedsllm [key=value ...]      the main job (solvers.run)
    fedsplit generate users=50 out=scenario.xlsx    draw a FedsLLM workbook (data.fedsllm.generate)
    fedsplit generate-card out=card.xlsx            write a CARD workbook (data.card.generate)

The repository's `./fedsplit` script does the same after its set-up, and adds `test` and `bench`.
"""

from __future__ import annotations

import sys

from data.card import generate as generate_card
from data.fedsllm import generate
from solvers.app import cli

COMMANDS = {"run": cli.main, "generate": generate.main, "generate-card": generate_card.main}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    return COMMANDS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
