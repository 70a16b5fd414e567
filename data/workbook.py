"""Reading Excel sheets into plain tables that remember where each cell came from."""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

from data.issues import InputError, InputIssue


@dataclass(frozen=True)
class Cell:
    row: int  # Excel row number
    column: str  # header name
    letter: str  # Excel column letter
    value: object

    @property
    def column_label(self) -> str:
        return f"'{self.column}' ({self.letter})"


@dataclass(frozen=True)
class Table:
    """A sheet whose first row is a header; rows keep their Excel row numbers."""

    sheet: str
    header: dict[str, str]  # header name -> Excel column letter (the first column of that name)
    rows: list[dict[str, Cell]]
    repeated_headers: tuple[Cell, ...] = ()  # header cells whose name an earlier column already has

    def column_label(self, name: str) -> str:
        letter = self.header.get(name)
        return f"'{name}' ({letter})" if letter else f"'{name}'"


def read_tables(path: Path) -> dict[str, Table]:
    """All sheets of a workbook as tables, or an InputError if it cannot be opened."""
    path = Path(path)
    if not path.is_file():
        raise InputError([InputIssue(str(path), None, None, None, None, "an existing .xlsx file")])
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as error:
        raise InputError(
            [InputIssue(str(path), None, None, None, f"{type(error).__name__}: {error}", "an Excel .xlsx workbook")]
        ) from None
    try:
        return {name: _read_table(workbook[name]) for name in workbook.sheetnames}
    finally:
        workbook.close()


def _read_table(worksheet) -> Table:
    row_iter = worksheet.iter_rows(values_only=True)
    header_values = next(row_iter, ())
    header: dict[str, str] = {}
    positions: list[tuple[int, str]] = []
    repeated: list[Cell] = []
    for index, name in enumerate(header_values, start=1):
        if name is None or str(name).strip() == "":
            continue
        name = str(name).strip()
        if name in header:  # reported by validation; the first column of a name is the one read
            repeated.append(Cell(1, name, get_column_letter(index), name))
            continue
        header[name] = get_column_letter(index)
        positions.append((index - 1, name))
    rows = []
    for row_number, values in enumerate(row_iter, start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue  # blank lines between blocks are allowed
        row = {}
        for index, name in positions:
            value = values[index] if index < len(values) else None
            if isinstance(value, str):
                value = value.strip()
                value = value if value else None
            row[name] = Cell(row_number, name, header[name], value)
        rows.append(row)
    return Table(worksheet.title, header, rows, tuple(repeated))


def new_workbook_with_parameters(fields, values: dict[str, object]) -> openpyxl.Workbook:
    """A workbook whose first sheet is `parameters` (name, value, unit, description), one row per field."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "parameters"
    sheet.append(["name", "value", "unit", "description"])
    for field in fields:
        sheet.append([field.name, values.get(field.name, field.default), field.unit, field.description])
    sheet.column_dimensions["D"].width = 60
    return workbook


def plain_value(value: object, whole_numbers_as_int: bool = False) -> object:
    """A cell value as plain Python: numpy scalars unwrapped, NaN as an empty cell (None), and with
    `whole_numbers_as_int` whole floats as int (so a sheet shows 1115, not 1115.0)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if whole_numbers_as_int and value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value
