"""Input problems: one record per bad cell, collected and reported together."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from data.errors import FedsplitError, itemised


@dataclass(frozen=True)
class InputIssue:
    """One problem in an input workbook, located precisely enough to fix it."""

    file: str
    sheet: str | None
    row: int | None  # Excel row number (1 = header row)
    column: str | None  # header name, with its Excel letter where known
    value: object
    expected: str

    def __str__(self) -> str:
        where = [self.file]
        if self.sheet is not None:
            where.append(f"sheet '{self.sheet}'")
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: found {_show(self.value)}; expected {self.expected}"


LONGEST_SHOWN = 60  # characters of a value quoted in a message


def _show(value: object) -> str:
    """A found value as a reader wants it: text quoted and cut, dates as dates, numbers as typed."""
    if value is None:
        return "an empty cell"
    if isinstance(value, Found):
        return value.description
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        shown = value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
        return f"the date/time {shown.removesuffix(' 00:00:00')}"
    if isinstance(value, datetime.timedelta):
        return f"the duration {value}"
    if isinstance(value, str):
        if len(value) > LONGEST_SHOWN:
            return f"'{value[:LONGEST_SHOWN]}...' ({len(value):,} characters)"
        return f"'{value}'"
    if isinstance(value, float):
        return f"{value:.15g}"
    return repr(value)


@dataclass(frozen=True)
class Found:
    """What was found when it is not a cell value: "no such file", "a formula with no saved value"."""

    description: str

    def __str__(self) -> str:
        return self.description


class InputError(FedsplitError):
    """Raised when a workbook has problems; carries all of them (`issues`, each with its sheet, row and
    column; `problems`, the same as text)."""

    after = "Nothing was written. Fix the workbook and run again."

    def __init__(self, issues: list[InputIssue]):
        self.issues = list(issues)
        super().__init__(itemised("problem", "in the input", self.issues), self.issues)
