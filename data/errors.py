"""The one base of every error a user can cause or meet, and the one way problems are listed.

Every subsystem raises a subclass of `FedsplitError` (bad workbook, bad setting, unusable report folder,
missing or refusing solver, unreachable cluster, failed solve). Each subclass carries the exit code the
command line returns and the line it prints after the message, so the command line and the notebook API
catch this one type and nothing else. `problems` holds the listed items themselves (never parsed back
from the text).
"""

from __future__ import annotations

EXIT_INPUT = 2  # bad input or configuration: nothing was written
EXIT_SOLVE = 3  # a solve failed: nothing was written but a diagnostics file


def itemised(noun: str, context: str, items: list, closing: str | None = None) -> str:
    """'N nouns context:' and one '  - item' line each, then `closing` if given."""
    count = len(items)
    head = f"{count} {noun}{'s' if count != 1 else ''}"
    lines = [f"{head} {context}:" if context else f"{head}:"]
    lines += [f"  - {item}" for item in items]
    if closing:
        lines.append(closing)
    return "\n".join(lines)


class FedsplitError(Exception):
    """What went wrong, said so that it can be fixed; `problems` lists each problem (one when the message is
    a single sentence)."""

    exit_code = EXIT_INPUT
    after = ""  # the line the command line prints after the message, if any

    def __init__(self, message: str, problems: list | None = None):
        super().__init__(message)
        self.problems = [str(p) for p in problems] if problems is not None else [message]

    @classmethod
    def listing(cls, noun: str, problems: list, context: str = "", closing: str | None = None):
        """The error with every problem at once: 'N nouns context:' and one line each."""
        return cls(itemised(noun, context, problems, closing), problems)

    def lines(self) -> list[str]:
        """What the command line prints: the message, then what was (not) written."""
        return [f"error: {self}", *([self.after] if self.after else [])]
