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
from dataclasses import dataclass
from pathlib import Path

from data.workbook import plain_value
from reports.display_units import header_text as _header_for, workbook_table
from reports.files.destination import PARTIAL_MARK, ReportExistsError, partial_prefix, refuse_existing
from reports.files.provenance import Provenance
from reports.xlsx import DECIMAL, GENERAL, PERCENT as PERCENT_FORMAT, SCIENTIFIC, WHOLE, Sheet, SheetColumn, write_sheets


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


class ResultTable:
    """One sheet of the Excel report and one CSV file, held by column: `add` appends a row, and
    `from_columns` takes whole columns (numpy arrays too), so a per-user table costs no Python object
    per row until it is written."""

    def __init__(self, name: str, columns: list[Column]):
        self.name = name
        self.columns = list(columns)
        self._data: list = [[] for _ in self.columns]

    @classmethod
    def of(cls, name: str, columns: list[Column], rows) -> "ResultTable":
        """A table with these columns, filled from an iterable of rows."""
        table = cls(name, list(columns))
        for row in rows:
            table.add(*row)
        return table

    @classmethod
    def from_columns(cls, name: str, columns: list[Column], values: list) -> "ResultTable":
        """A table from one entry per column: a sequence (list, tuple, numpy array) of the table's length,
        or a single value (a str, a number) repeated on every row."""
        table = cls(name, list(columns))
        if len(values) != len(table.columns):
            raise ValueError(f"table {name}: {len(values)} columns of values for {len(table.columns)} columns")
        lengths = {len(v) for v in values if not _is_single(v)}
        if len(lengths) > 1:
            raise ValueError(f"table {name}: columns of different lengths {sorted(lengths)}")
        count = lengths.pop() if lengths else 1
        table._data = [[v] * count if _is_single(v) else v for v in values]
        return table

    def add(self, *values: object) -> None:
        if len(values) != len(self.columns):
            raise ValueError(f"table {self.name}: {len(values)} values for {len(self.columns)} columns")
        if not all(isinstance(column, list) for column in self._data):
            self._data = [list(column) for column in self._data]
        for column, value in zip(self._data, values):
            column.append(value)

    def __len__(self) -> int:
        return len(self._data[0]) if self._data else 0

    @property
    def rows(self) -> list[list[object]]:
        return [list(row) for row in zip(*self._data)]

    def column_values(self, index: int) -> list:
        """Column `index` as plain Python values (numpy unwrapped, NaN as None: an empty cell)."""
        import numpy as np  # noqa: PLC0415 (the command line's checks import this module and need no numpy)

        values = self._data[index]
        if isinstance(values, np.ndarray):
            plain = values.tolist()
            if values.dtype.kind == "f" and np.isnan(values).any():
                plain = [None if v != v else v for v in plain]
            return plain
        if all(type(v) is str for v in values):
            return list(values)
        return [plain_value(v) for v in values]


def _is_single(value) -> bool:
    import numpy as np  # noqa: PLC0415

    return isinstance(value, (str, bytes, int, float, bool, type(None))) or np.ndim(value) == 0


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


def _csv_column(values: list) -> list:
    """csv_text of every cell of a column of plain values: numbers pass as they are, and the csv module
    writes None as an empty cell, so a column without text is taken whole."""
    if not any(type(v) is str for v in values):
        return values
    return ["" if v is None else "'" + v if type(v) is str and len(v) > 1 and v.startswith(FORMULA_TRIGGERS) else v
            for v in values]


def write_csv(path: Path, table: ResultTable) -> None:
    columns = [_csv_column(table.column_values(index)) for index in range(len(table.columns))]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([csv_text(column.name) for column in table.columns])
        writer.writerows(zip(*columns))


def header_text(column: Column) -> str:
    """The visible header: the name, and the unit in brackets unless there is none or the name says it
    (`delay_s`, `T (s)`)."""
    return _header_for(column.name, column.unit)


def number_format(values, percent: bool = False) -> str:
    """A format for these numbers: whole numbers plain, percentages, fixed decimals, or scientific when the
    magnitudes span more than four decades or leave [1e-3, 1e7)."""
    if percent:
        return PERCENT_FORMAT
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    finite = [abs(float(v)) for v in numbers if math.isfinite(v)]
    if not finite:
        return GENERAL
    if all(isinstance(v, int) for v in numbers):
        return WHOLE
    magnitudes = [v for v in finite if v != 0]
    if not magnitudes:
        return DECIMAL
    low, high = min(magnitudes), max(magnitudes)
    if high >= 1e7 or low < 1e-3 or high / low > 1e4:
        return SCIENTIFIC
    return DECIMAL


# An id is a number in the xlsx only when its text is a number's own digits: "7" (typed 7), never "007" or
# the fullwidth "１２", which are other ids than 7 and 12 and stay text, as the workbook holds them.
NUMBER_ID = re.compile(r"0|[1-9][0-9]{0,14}")


def _excel_values(column: Column, values: list) -> list:
    """An id column's text that is a number's own digits as that number, so Excel shows no "number stored
    as text"."""
    if column.format != ID:
        return values
    return [int(v) if isinstance(v, str) and NUMBER_ID.fullmatch(v) else v for v in values]


def _is_summary(table: ResultTable) -> bool:
    return [c.name for c in table.columns[:3]] == ["name", "value", "unit"]


def sheet_of(table: ResultTable) -> Sheet:
    """The table as the report's sheet: each column's header (unit in brackets), comment, values and
    number format (percent for shares and reductions, whole numbers, fixed decimals, scientific where
    values span decades; per row in a summary, a Percent row as a percentage)."""
    values = [_excel_values(column, table.column_values(i)) for i, column in enumerate(table.columns)]
    columns = []
    for index, column in enumerate(table.columns):
        if _is_summary(table) and column.name == "value":
            formats = [number_format([value], isinstance(value, Percent)) for value in values[1]]
        else:
            formats = number_format(values[index], column.format == PERCENT)
        columns.append(SheetColumn(header_text(column), column.description, values[index], formats))
    return Sheet(table.name[:31], columns)


def write_workbook(path: Path, tables: list[ResultTable]) -> None:
    """One sheet per table (reports/xlsx.py): headers bold and frozen with their unit in brackets and the
    description as a comment, a number format per column, widths fitted to the content, an autofilter,
    PASS green and FAIL red, ids that are numbers written as numbers. Text is written as text."""
    write_sheets(path, [sheet_of(table) for table in tables])


def write_units(path: Path, tables: list[ResultTable]) -> None:
    """`units.csv`: the unit and meaning of every column of every table (the CSVs keep plain headers)."""
    table = ResultTable.of("units", [Column("table", "-", "table (CSV file)"), Column("column", "-", "column"),
                                     Column("unit", "-", "its unit (- : none)"),
                                     Column("description", "-", "what it holds")],
                           ((t.name, c.name, c.unit, c.description) for t in tables for c in t.columns))
    write_csv(path, table)
