"""Reading Excel sheets into plain tables that remember where each cell came from; writing rows as data,
and the generators' command line (their target checked before any work).

openpyxl is imported by the functions that read or write a workbook, so that what only needs this
module's tables, values and letters (the command line, the reports) starts without it."""

from __future__ import annotations

import math
import re
import shutil
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

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
    why the file cannot be read."""
    import openpyxl  # noqa: PLC0415

    path = Path(path)
    _check_file(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError, AttributeError, EOFError,
            OSError) as error:
        raise _file_error(path, Found(f"a file openpyxl cannot read ({type(error).__name__}: {error})"),
                          "an Excel .xlsx workbook; it may be damaged: open it in Excel or LibreOffice and "
                          "save it again") from None
    try:
        tables = {name: _read_table(workbook[name], path) for name in workbook.sheetnames}
    finally:
        workbook.close()
    with_empty_cells = [name for name, table in tables.items()
                        if any(cell.value is None for row in table.rows for cell in row.values())]
    if with_empty_cells:
        tables = _formulas_marked(path, tables, with_empty_cells)
    return tables


def _rows_or_error(worksheet, path: Path):
    """The sheet's rows as values; a cell openpyxl cannot parse (a number cell holding NaN or INF, which
    Excel never writes) becomes an InputError at its row. Reading stops there: the sheet cannot be read on."""
    rows = worksheet.iter_rows(values_only=True)
    row_number = 0
    while True:
        try:
            values = next(rows)
        except StopIteration:
            return
        except (ValueError, TypeError, KeyError) as error:
            raise InputError([InputIssue(
                str(path), worksheet.title, row_number + 1, None,
                Found(f"a cell that cannot be read as a value ({error})"),
                "numbers that are finite (Excel never writes NaN or INF; the file came from another program: "
                "retype the cell in Excel or LibreOffice)")]) from None
        row_number += 1
        yield values


def _file_error(path: Path, found: Found, expected: str) -> InputError:
    return InputError([InputIssue(str(path), None, None, None, found, expected)])


def _check_file(path: Path) -> None:
    """A clear error for a path that is not a readable .xlsx file, before openpyxl tries it."""
    if not path.exists():
        where = path.parent if str(path.parent) not in ("", ".") else Path.cwd()
        raise _file_error(path, Found(f"no such file (looked in {where.absolute()})"),
                          "an existing .xlsx workbook; paths are relative to the folder you run the command from")
    if path.is_dir():
        raise _file_error(path, Found("a folder"), "an .xlsx workbook file, not a folder")
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


def _formulas_marked(path: Path, tables: dict[str, Table], names: list[str]) -> dict[str, Table]:
    """Empty cells of the sheets `names` that hold a formula with no saved result say so (such a formula is
    never evaluated); only those sheets are read again."""
    import openpyxl  # noqa: PLC0415

    workbook = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        marked = dict(tables)
        for name in names:
            table = tables[name]
            formulas = {(row_number, letter): value
                        for row_number, values in enumerate(workbook[name].iter_rows(values_only=True), start=1)
                        for letter, value in ((column_letter(i), v) for i, v in enumerate(values, start=1))
                        if isinstance(value, str) and value.startswith("=")}
            rows = [{key: (replace(cell, value=Found(f"the formula {_cut(formulas[(cell.row, cell.letter)])} with "
                                                     f"no saved result (fedsplit never evaluates formulas: type "
                                                     f"the value, or open and save the workbook in Excel)"))
                           if cell.value is None and (cell.row, cell.letter) in formulas else cell)
                     for key, cell in row.items()} for row in table.rows]
            marked[name] = replace(table, rows=rows)
        return marked
    finally:
        workbook.close()


def _cut(text: str, longest: int = 40) -> str:
    return f"'{text[:longest]}...'" if len(text) > longest else f"'{text}'"


def _read_table(worksheet, path: Path) -> Table:
    row_iter = _rows_or_error(worksheet, path)
    header_values = next(row_iter, ())
    header: dict[str, str] = {}
    positions: list[tuple[int, str]] = []
    repeated: list[Cell] = []
    for index, name in enumerate(header_values, start=1):
        if name is None or str(name).strip() == "":
            continue
        name = str(name).strip()
        if name in header:  # reported by validation; the first column of a name is the one read
            repeated.append(Cell(1, name, column_letter(index), name))
            continue
        header[name] = column_letter(index)
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
    """`path`, checked before any work: refuse an existing file unless `overwrite`, and a folder."""
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"out={path} is a folder; give a file name ending in .xlsx")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; choose another out=... or add overwrite=true")
    if path.suffix.lower() != ".xlsx":
        raise OutputExistsError(f"out={path} must end in .xlsx")
    return path


def generator_main(argv: list[str], settings_class, write: Callable[[Any], str]) -> int:
    """A workbook generator's command line: key=value settings into `settings_class` (whose `out` and
    `overwrite` say where), the target checked, then `write(settings)`, which returns the line to print;
    a problem is one line on stderr and exit 2."""
    try:
        config = OmegaConf.merge(OmegaConf.structured(settings_class), OmegaConf.from_dotlist(argv))
        settings = settings_class(**OmegaConf.to_container(config))
        writable_target(Path(settings.out), settings.overwrite)
        done = write(settings)
    except (OmegaConfBaseException, ValueError, FedsplitError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"error: cannot write {error.filename or 'the workbook'}: {error.strerror or error}", file=sys.stderr)
        return 2
    print(done)
    return 0
