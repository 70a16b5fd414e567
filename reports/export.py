"""Result tables and the report folder they are written to.

A report is built in a hidden temporary folder beside its destination and moved
into place only when everything is written, so a failed run leaves no partial
report behind.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import cyipopt
import openpyxl
import pyomo
from openpyxl.comments import Comment
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from data.workbook import plain_value


@dataclass(frozen=True)
class Column:
    name: str
    unit: str
    description: str


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


class ReportExistsError(Exception):
    pass


def refuse_existing(destination: Path) -> Path:
    """The destination, if no file or folder is there yet; a report never overwrites one."""
    destination = Path(destination)
    if destination.exists():
        raise ReportExistsError(f"the report folder {destination} already exists; choose another out=... or remove it")
    return destination


class ReportFolder:
    """Collects files in a temporary folder; `commit()` moves it to `destination`."""

    def __init__(self, destination: Path):
        self.destination = refuse_existing(destination)
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.destination.name}.", dir=self.destination.parent))
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
        write_workbook(self.file(workbook_name), self.tables)
        if self.destination.exists():
            raise ReportExistsError(f"the report folder {self.destination} appeared while solving; nothing moved")
        os.rename(self.path, self.destination)
        return self.destination

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def summary_with_versions(rows: list[tuple]) -> ResultTable:
    """The `summary` sheet (name, value, unit, description): `rows`, then the solver stack's versions."""
    version_rows = [(name, value, "-", name.replace("_", " ")) for name, value in versions().items()]
    return ResultTable.of("summary", SUMMARY_COLUMNS, [*rows, *version_rows])


def versions() -> dict[str, str]:
    """The solver stack's versions, for every report's summary."""
    return {
        "ipopt_version": ".".join(map(str, cyipopt.IPOPT_VERSION)),
        "cyipopt_version": cyipopt.__version__,
        "pyomo_version": pyomo.version.version,
    }


def write_csv(path: Path, table: ResultTable) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([column.name for column in table.columns])
        for row in table.rows:
            writer.writerow(["" if plain_value(v) is None else plain_value(v) for v in row])


def write_workbook(path: Path, tables: list[ResultTable]) -> None:
    """One sheet per table; each header cell carries its unit and meaning as a comment."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    bold = Font(bold=True)
    for table in tables:
        sheet = workbook.create_sheet(table.name[:31])
        sheet.append([column.name for column in table.columns])
        for index, column in enumerate(table.columns, start=1):
            cell = sheet.cell(row=1, column=index)
            cell.font = bold
            cell.comment = Comment(f"{column.description} ({column.unit})", "fedsplit")
            sheet.column_dimensions[get_column_letter(index)].width = max(12, len(column.name) + 2)
        for row in table.rows:
            sheet.append([plain_value(v) for v in row])
        sheet.freeze_panes = "A2"
    workbook.save(path)
