"""Result tables and the report folder they are written to.

A report is built in a hidden temporary folder beside its destination and moved
into place only when everything is written, so a failed run leaves no partial
report behind. The temporary folder's name, `.NAME.partial-PID-XXXX`, says which
process builds it: a run killed outright (SIGKILL) leaves one, and the next
report written beside it removes it once that process is gone.

Output is data, never code: text cells are stored as text in xlsx, and CSV cells
that a spreadsheet would read as a formula are neutralised (`csv_text`).
"""

from __future__ import annotations

import csv
import logging
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from data.workbook import append_as_data, plain_value
from reports.display_units import header_text as _header_for, workbook_table
from reports.files.destination import PARTIAL_MARK, ReportExistsError, partial_prefix, refuse_existing
from reports.files.provenance import Provenance


log = logging.getLogger(__name__)


# A CSV cell starting with one of these is a formula (or can start one) in Excel,
# LibreOffice and Google Sheets (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_committed: list[Path] = []  # every report folder this process committed, in order


def committed_reports() -> list[Path]:
    """The report folders this process has committed so far (a stopped run names those it finished)."""
    return list(_committed)


# How a column's numbers are shown in the xlsx report (the CSVs hold the plain values).
AUTO = "auto"  # whole numbers plain, fixed decimals, or scientific where the values span decades
PERCENT = "percent"  # a share or a reduction: 0.7991 shown as 79.91 %
ID = "id"  # an id or a count: text that is a number's own digits ("7", never "007") is written as a number


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    description: str
    format: str = AUTO


class Percent(float):
    """A summary row's fraction that the xlsx report shows as a percentage; a float everywhere else."""


@dataclass
class ResultTable:
    """One sheet of the Excel report and one CSV file."""

    name: str
    columns: list[Column]
    rows: list[list[object]] = field(default_factory=list)

    @classmethod
    def of(cls, name: str, columns: list[Column], rows) -> "ResultTable":
        """A table with these columns, filled from an iterable of rows."""
        table = cls(name, list(columns))
        for row in rows:
            table.add(*row)
        return table

    def add(self, *values: object) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"table {self.name}: {len(values)} values for {len(self.columns)} columns")
        self.rows.append(list(values))


SUMMARY_COLUMNS = [
    Column("name", "-", "quantity"),
    Column("value", "-", "its value"),
    Column("unit", "-", "unit of the value"),
    Column("description", "-", "what it is"),
]


def remove_stale_partials(parent: Path) -> list[Path]:
    """Remove the temporary folders of report writers that no longer run (killed outright); return them."""
    pattern = re.compile(r"^\..+" + re.escape(PARTIAL_MARK) + r"(\d+)-")
    removed = []
    if not parent.is_dir():
        return removed
    for entry in parent.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_dir() and not _process_alive(int(match.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            log.warning("removed %s, left by a run that was killed while writing its report", entry)
            removed.append(entry)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class ReportFolder:
    """Collects files in a temporary folder; `commit()` moves it to `destination`."""

    def __init__(self, destination: Path):
        self.destination = refuse_existing(destination)
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(self.destination.parent)
        self.path = Path(tempfile.mkdtemp(prefix=partial_prefix(self.destination.name), dir=self.destination.parent))
        # mkdtemp makes the folder private (0700); a report gets a folder's ordinary permissions.
        os.chmod(self.path, 0o777 & ~_current_umask())
        self.tables: list[ResultTable] = []

    def __enter__(self) -> "ReportFolder":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        if exc_type is not None:
            self.discard()

    def file(self, name: str) -> Path:
        """Path for a file inside the report being built."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def add_table(self, table: ResultTable) -> None:
        self.tables.append(table)
        write_csv(self.file(f"{table.name}.csv"), table)

    def copy_in(self, source: Path, name: str) -> None:
        shutil.copy2(source, self.file(name))

    def commit(self, workbook_name: str) -> Path:
        write_workbook(self.file(workbook_name), [workbook_table(table) for table in self.tables])
        write_units(self.file("units.csv"), self.tables)
        if self.destination.exists():
            raise ReportExistsError(f"the report folder {self.destination} appeared while solving; nothing moved")
        os.rename(self.path, self.destination)
        _committed.append(self.destination)
        return self.destination

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def write_index(folder: Path, rows: list[dict[str, object]]) -> Path:
    """A multirun's `index.csv` and `index.xlsx` (one row per job; columns are the union of the rows' keys),
    each written to a temporary name and renamed into place."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(key for row in rows for key in row))
    percent = {name for row in rows for name, value in row.items() if isinstance(value, Percent)}
    table = ResultTable.of("index", [Column(name, "-", name.replace("_", " "), PERCENT if name in percent else AUTO)
                                     for name in names],
                           [[row.get(name) for name in names] for row in rows])
    for suffix, writer in ((".csv", write_csv), (".xlsx", lambda path, t: write_workbook(path, [t]))):
        partial = folder / f".index{PARTIAL_MARK}{os.getpid()}{suffix}"
        writer(partial, table)
        os.replace(partial, folder / f"index{suffix}")
    return folder / "index.csv"


def summary_with_versions(rows: list[tuple], provenance: Provenance | None = None) -> ResultTable:
    """The `summary` sheet (name, value, unit, description): `rows`, then the run's provenance (date, command,
    commit, the solver stack's versions)."""
    provenance = provenance or Provenance.collect("(not run from the command line)")
    return ResultTable.of("summary", SUMMARY_COLUMNS, [*rows, *provenance.rows()])


def csv_text(value: object) -> object:
    """A value as a CSV cell: None empty, and text a spreadsheet would run as a formula prefixed with
    an apostrophe, which spreadsheets show as text (numbers are written as numbers, never prefixed; a lone
    "-" or "=" cannot compute anything and stays as it is)."""
    value = plain_value(value)
    if value is None:
        return ""
    if isinstance(value, str) and len(value) > 1 and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def write_csv(path: Path, table: ResultTable) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([csv_text(column.name) for column in table.columns])
        for row in table.rows:
            writer.writerow([csv_text(v) for v in row])


PASS_FILL = PatternFill("solid", start_color="C6EFCE", end_color="C6EFCE")
PASS_FONT = Font(color="006100")
FAIL_FILL = PatternFill("solid", start_color="FFC7CE", end_color="FFC7CE")
FAIL_FONT = Font(color="9C0006")
SCIENTIFIC, DECIMAL, WHOLE, PERCENT_FORMAT = "0.000E+00", "#,##0.000", "#,##0", "0.00%"
WIDEST_COLUMN = 60


def header_text(column: Column) -> str:
    """The visible header: the name, and the unit in brackets unless there is none or the name says it
    (`delay_s`, `T (s)`)."""
    return _header_for(column.name, column.unit)


def _numbers(values) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v))]


def number_format(values, percent: bool = False) -> str:
    """A format for these numbers: whole numbers plain, percentages, fixed decimals, or scientific when the
    magnitudes span more than four decades or leave [1e-3, 1e7)."""
    numbers = _numbers(values)
    if percent:
        return PERCENT_FORMAT
    if not numbers:
        return "General"
    if all(isinstance(v, int) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)):
        return WHOLE
    magnitudes = [abs(v) for v in numbers if v != 0]
    if not magnitudes:
        return DECIMAL
    low, high = min(magnitudes), max(magnitudes)
    if high >= 1e7 or low < 1e-3 or high / low > 1e4:
        return SCIENTIFIC
    return DECIMAL


def _shown_width(value, style: str) -> int:
    if value is None:
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if style == PERCENT_FORMAT:
            return len(f"{value:.2%}")
        if style == SCIENTIFIC:
            return 10
        if style == WHOLE:
            return len(f"{value:,.0f}")
        return len(f"{value:,.3f}")
    return len(str(value))


# An id is a number in the xlsx only when its text is a number's own digits: "7" (typed 7), never "007" or
# the fullwidth "１２", which are other ids than 7 and 12 and stay text, as the workbook holds them.
NUMBER_ID = re.compile(r"0|[1-9][0-9]{0,14}")


def _cell_value(column: Column, value):
    value = plain_value(value)
    if column.format == ID and isinstance(value, str) and NUMBER_ID.fullmatch(value):
        return int(value)
    return value


def _is_summary(table: ResultTable) -> bool:
    return [c.name for c in table.columns[:3]] == ["name", "value", "unit"]


def write_workbook(path: Path, tables: list[ResultTable]) -> None:
    """One sheet per table: headers bold and frozen with their unit in brackets and the description as a
    comment, a number format per column (percent for shares and reductions, whole numbers, fixed decimals,
    scientific where values span decades; per row in a summary), widths fitted to the content, an
    autofilter, PASS green and FAIL red, ids that are numbers written as numbers. Text is written as text."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(table.name[:31])
        append_as_data(sheet, [header_text(column) for column in table.columns])
        rows = [[_cell_value(column, v) for column, v in zip(table.columns, row)] for row in table.rows]
        for row in rows:
            append_as_data(sheet, row)
        summary = _is_summary(table)
        for index, column in enumerate(table.columns, start=1):
            cell = sheet.cell(row=1, column=index)
            cell.font = bold
            cell.comment = Comment(column.description, "fedsplit")
            values = [row[index - 1] for row in rows]
            formats = ([number_format([row[1]], isinstance(row[1], Percent)) for row in rows]
                       if summary and column.name == "value"
                       else [number_format(values, column.format == PERCENT)] * len(rows))
            for offset, (value, style) in enumerate(zip(values, formats), start=2):
                target = sheet.cell(row=offset, column=index)
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    target.number_format = style
                elif isinstance(value, str) and value.startswith(("PASS", "FAIL")):
                    target.fill, target.font = (PASS_FILL, PASS_FONT) if value.startswith("PASS") else \
                        (FAIL_FILL, FAIL_FONT)
            width = max([len(header_text(column)), *(_shown_width(v, f) for v, f in zip(values, formats))])
            sheet.column_dimensions[get_column_letter(index)].width = min(WIDEST_COLUMN, width + 2)
        sheet.freeze_panes = "A2"
        if table.columns:
            sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{max(1, len(rows) + 1)}"
    workbook.save(path)


def write_units(path: Path, tables: list[ResultTable]) -> None:
    """`units.csv`: the unit and meaning of every column of every table (the CSVs keep plain headers)."""
    table = ResultTable.of("units", [Column("table", "-", "table (CSV file)"), Column("column", "-", "column"),
                                     Column("unit", "-", "its unit (- : none)"),
                                     Column("description", "-", "what it holds")],
                           ((t.name, c.name, c.unit, c.description) for t in tables for c in t.columns))
    write_csv(path, table)
