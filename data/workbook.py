"""Reading Excel sheets into plain tables that remember where each cell came from; writing rows as data,
and the generators' command line (their target checked before any work).

openpyxl (and data/safe_read.py, which reads through it) is imported by the functions that read or
write a workbook, so that what only needs this module's tables, values and letters (the command line's
checks, the reports) starts without it."""

from __future__ import annotations

import itertools
import math
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from data.errors import FedsplitError
from data.issues import Found, InputError, InputIssue


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
    unreadable_headers: tuple[Cell, ...] = ()  # header cells that could not be read (their value a Found)

    def column_label(self, name: str) -> str:
        letter = self.header.get(name)
        return f"'{name}' ({letter})" if letter else f"'{name}'"


@dataclass(frozen=True)
class WorkbookFile:
    """An input workbook on disk, as a run reads it (data/scenario.py's Scenario is the same from memory)."""

    path: Path

    @property
    def label(self) -> str:
        """How messages and reports name the input."""
        return str(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def read(self) -> dict[str, "Table"]:
        return read_tables(self.path)

    def resolved(self) -> str:
        return str(self.path.resolve())

    def copy_to(self, target: Path) -> None:
        shutil.copy2(self.path, target)


EXCEL_SUFFIXES = (".xlsx", ".xlsm")
OLE_SIGNATURE = bytes.fromhex("d0cf11e0a1b11ae1")  # encrypted .xlsx and old .xls files are OLE containers


def read_tables(path: Path) -> dict[str, Table]:
    """All sheets of a workbook as tables (values only, never evaluated), or an InputError that says
    why the file cannot be read: every damaged part and sheet at once (data/safe_read.py)."""
    from data.safe_read import check_archive, open_workbook  # noqa: PLC0415 (openpyxl)

    path = Path(path)
    _check_file(path)
    check_archive(path)
    tables, issues = {}, []
    with open_workbook(path) as workbook:
        for name in workbook.sheetnames:
            try:
                tables[name] = _read_table(workbook[name], path)
            except InputError as error:
                issues += error.issues
    if issues:
        raise InputError(issues)
    return tables


def _file_error(path: Path, found: Found, expected: str) -> InputError:
    return InputError([InputIssue(str(path), None, None, None, found, expected)])


def _check_file(path: Path) -> None:
    """A clear error for a path that is not a readable .xlsx file, before openpyxl tries it."""
    from data.safe_read import check_regular_file  # noqa: PLC0415

    check_regular_file(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as error:
        raise _file_error(path, Found(f"a file that cannot be read ({error.strerror})"),
                          "a readable .xlsx workbook") from None
    if head == OLE_SIGNATURE:
        raise _file_error(path, Found("a password-protected (encrypted) workbook or an old binary .xls file"),
                          "an .xlsx workbook without a password: remove the password, or save it as .xlsx")
    suffix = path.suffix.lower()
    if suffix not in EXCEL_SUFFIXES:
        advice = {".xls": "the old .xls format: open it in Excel or LibreOffice and save it as .xlsx",
                  ".csv": "a CSV file: fedsplit reads one .xlsx workbook with all its sheets; start from "
                          "data/fedsllm.xlsx or data/card.xlsx",
                  ".ods": "an OpenDocument sheet: save it as .xlsx"}.get(suffix, "save it as .xlsx")
        raise _file_error(path, Found(f"a '{path.suffix or 'extension-less'}' file"), f"an .xlsx workbook ({advice})")
    if head[:2] != b"PK":
        raise _file_error(path, Found("a file that is not an .xlsx workbook (it is not a zip container)"),
                          "an .xlsx workbook saved by Excel, LibreOffice or openpyxl")


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _read_table(worksheet, path: Path) -> Table:
    """Row 1 is the header; the rows below keep their Excel numbers (blank rows are skipped)."""
    from data.safe_read import sheet_rows  # noqa: PLC0415

    rows_read = sheet_rows(worksheet, path)
    first = next(rows_read, None)
    header_cells = first[1] if first is not None and first[0] == 1 else {}
    header: dict[str, str] = {}
    positions: list[tuple[int, str]] = []
    repeated: list[Cell] = []
    unreadable: list[Cell] = []
    for index, name in sorted(header_cells.items()):
        if isinstance(name, Found):
            unreadable.append(Cell(1, column_letter(index), column_letter(index), name))
            continue
        if _is_blank(name):
            continue
        name = str(name).strip()
        if name in header:  # reported by validation; the first column of a name is the one read
            repeated.append(Cell(1, name, column_letter(index), name))
            continue
        header[name] = column_letter(index)
        positions.append((index, name))
    body = rows_read if first is None or first[0] == 1 else itertools.chain([first], rows_read)
    rows = []
    for row_number, values in body:
        if all(_is_blank(v) for v in values.values()):
            continue  # blank lines between blocks are allowed
        row = {}
        for index, name in positions:
            value = values.get(index)
            if isinstance(value, str):
                value = value.strip() or None
            row[name] = Cell(row_number, name, header[name], value)
        rows.append(row)
    return Table(worksheet.title, header, rows, tuple(repeated), tuple(unreadable))


def new_workbook_with_parameters(fields, values: dict[str, object]):
    """An openpyxl workbook whose first sheet is `parameters` (name, value, unit, description), one row per
    field."""
    import openpyxl  # noqa: PLC0415

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "parameters"
    append_as_data(sheet, ["name", "value", "unit", "description"])
    for field in fields:
        append_as_data(sheet, [field.name, values.get(field.name, field.default), field.unit, field.description])
    sheet.column_dimensions["D"].width = 60
    return workbook


def append_as_data(sheet, values) -> None:
    """Append a row to an openpyxl sheet with every text cell stored as text.

    openpyxl turns any string that starts with '=' into a live formula; text read
    from a user's workbook (an id, a name) must never run in a reader's Excel.
    Characters XML cannot hold (control characters) are shown as \\xNN instead of
    making the whole save fail."""
    sheet.append([_text_cell(sheet, value) if isinstance(value, str) else value for value in values])


def _text_cell(sheet, text: str):
    # Typed before it is appended: asking the sheet for its last row (max_row) scans every cell,
    # which made writing a sheet quadratic in its rows.
    from openpyxl.cell.cell import Cell as WorkbookCell  # noqa: PLC0415

    cell = WorkbookCell(sheet, value=xml_safe(text))
    cell.data_type = "s"
    return cell


# The control characters XML 1.0 cannot hold (openpyxl's ILLEGAL_CHARACTERS_RE).
ILLEGAL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


@lru_cache(maxsize=None)
def column_letter(index: int) -> str:
    """Excel's letters of the 1-based column `index` (1 -> A, 27 -> AA)."""
    letters = ""
    while index > 0:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def xml_safe(text: str) -> str:
    """`text` with the characters XML cannot hold shown as \\xNN (a save would fail on them)."""
    return ILLEGAL_CHARACTERS.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


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


class OutputExistsError(FedsplitError):
    """The workbook to write exists, is a folder or is no .xlsx."""


def writable_target(path: Path, overwrite: bool) -> Path:
    """`path`, checked before any work: refuse an existing file unless `overwrite`, a folder, and a file
    whose folder does not exist (a mistyped folder is not created)."""
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"out={path} is a folder; give a file name ending in .xlsx")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"out={path} already exists; choose another out=... or add overwrite=true")
    if path.suffix.lower() != ".xlsx":
        raise OutputExistsError(f"out={path} must end in .xlsx")
    if not path.parent.is_dir():
        raise OutputExistsError(f"out={path}: the folder {path.parent} does not exist; create it first or "
                                f"choose another out=...")
    return path
