"""Reading a workbook that may be damaged or hostile: every fault becomes a located InputIssue, never a crash.

Before openpyxl sees the file:
- the path must name a regular file: a FIFO would block the open forever and a device never ends;
- every part of the zip container is read once, so a part that is cut short, whose compressed data are
  damaged or whose checksum fails (a flipped bit) is named; the parts together may unpack to at most
  MAX_UNPACKED_BYTES; an XML part that declares a DTD or entities is refused (entity expansion can blow a
  few bytes up to gigabytes, and no spreadsheet program writes one).
Then each sheet is read with openpyxl's own cell parser, bounded by the cells the sheet holds (a sheet that
declares `A1:XFD1048576` as its dimension costs nothing more), and a cell that cannot be read (NaN, INF, a
number of hundreds of digits, a shared text that does not exist, a date off the calendar, a formula with
no saved result) becomes a `Found` at its own cell: validation then reports it with its column, along with
every other problem of every sheet.
"""

from __future__ import annotations

import lzma
import math
import os
import stat
import struct
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree

import openpyxl
from openpyxl.utils import coordinate_to_tuple
from openpyxl.worksheet._read_only import ReadOnlyWorksheet
from openpyxl.worksheet._reader import DATA_TAG, FORMULA_TAG, ROW_TAG, VALUE_TAG, WorkSheetParser, _cast_number

from data.issues import Found, InputError, InputIssue

MAX_UNPACKED_BYTES = 1 << 30  # 1 GiB: a workbook of a million users unpacks to about 500 MB
CHUNK_BYTES = 1 << 20
XML_SUFFIXES = (".xml", ".rels", ".vml")
# Declarations in UTF-8 and in both UTF-16 byte orders (XML allows either encoding).
DECLARATIONS = tuple(text.encode(codec) for text in ("<!DOCTYPE", "<!ENTITY") for codec in
                     ("utf-8", "utf-16-le", "utf-16-be"))
LARGEST_NUMBER = 1.7976931348623157e308  # a cell beyond a double cannot be typed in any spreadsheet
RESAVE = ("an .xlsx workbook as Excel or LibreOffice save it: the file was damaged or changed on the way; "
          "open it in Excel or LibreOffice and save it again, or take a fresh copy")
RETYPE = "(the file came from another program: retype the cell in Excel or LibreOffice)"

# What reading a damaged zip part can raise: a bad checksum or header, a truncated or corrupt deflate
# stream, a compression method or encryption flag that a flipped bit made up.
ZIP_FAULTS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError,
              RuntimeError, ValueError, struct.error, OverflowError)
# What openpyxl raises on a workbook whose parts are well packed but whose XML is not what it expects.
XML_FAULTS = (ElementTree.ParseError, SyntaxError, LookupError, ValueError, TypeError, AttributeError,
              ArithmeticError, EOFError, OSError, AssertionError, RecursionError, zipfile.BadZipFile, zlib.error)
CELL_FAULTS = (ValueError, LookupError, TypeError, ArithmeticError, AttributeError)


def _file_issue(path: Path, found: str, expected: str, sheet: str | None = None, row: int | None = None
                ) -> InputIssue:
    return InputIssue(str(path), sheet, row, None, Found(found), expected)


# --- The path ----------------------------------------------------------------------------------

SPECIAL_FILES = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                 (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def check_regular_file(path: Path) -> None:
    """An InputError unless `path` is an existing regular file (after symbolic links); never opens it."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        where = path.parent if str(path.parent) not in ("", ".") else Path.cwd()
        raise InputError([_file_issue(path, f"no such file (looked in {where.absolute()})",
                                      "an existing .xlsx workbook; paths are relative to the folder you run "
                                      "the command from")]) from None
    except (OSError, ValueError) as error:  # a name too long, a loop of links, an embedded NUL
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise InputError([_file_issue(path, f"a path that cannot be looked up ({reason})",
                                      "the path of an existing .xlsx workbook")]) from None
    if stat.S_ISDIR(mode):
        raise InputError([_file_issue(path, "a folder", "an .xlsx workbook file, not a folder")])
    kind = next((name for test, name in SPECIAL_FILES if test(mode)), None)
    if kind is not None or not stat.S_ISREG(mode):
        raise InputError([_file_issue(path, kind or "not a regular file",
                                      "an .xlsx workbook saved as an ordinary file (fedsplit never reads "
                                      "from a pipe or a device: it would wait forever)")])


# --- The zip container -------------------------------------------------------------------------

def check_archive(path: Path) -> None:
    """An InputError naming every damaged, oversized or entity-declaring part of the zip container."""
    try:
        archive = zipfile.ZipFile(path)
    except ZIP_FAULTS as error:
        raise InputError([_file_issue(path, f"a damaged zip container ({_reason(error)})", RESAVE)]) from None
    with archive:
        parts = archive.infolist()
        unpacked = sum(part.file_size for part in parts)
        if unpacked > MAX_UNPACKED_BYTES:
            raise InputError([_file_issue(
                path, f"a workbook whose parts unpack to {unpacked / 1e9:.3g} GB",
                f"a workbook that unpacks to at most {MAX_UNPACKED_BYTES / 1e9:.3g} GB (a million users take "
                f"about 0.5 GB)")])
        problems = [(part.filename, problem) for part in parts if (problem := _part_problem(archive, part))]
        if not problems:
            return
        sheets = _sheet_titles(archive)
    raise InputError([_file_issue(path, f"{problem} in its part {name}", expected, sheets.get(name))
                      for name, (problem, expected) in problems])


def _part_problem(archive: zipfile.ZipFile, part: zipfile.ZipInfo) -> tuple[str, str] | None:
    """(what is wrong, what was expected) for one part, read once to its end (which checks its CRC)."""
    scan = part.filename.lower().endswith(XML_SUFFIXES)
    tail = b""
    try:
        with archive.open(part) as stream:
            while chunk := stream.read(CHUNK_BYTES):
                if scan:
                    window = tail + chunk
                    if any(declaration in window for declaration in DECLARATIONS):
                        return ("a document type or entity declaration (<!DOCTYPE or <!ENTITY)",
                                "XML without declarations, as Excel and LibreOffice write it (declared "
                                "entities can expand a few bytes into gigabytes; fedsplit refuses them)")
                    tail = window[-32:]
    except ZIP_FAULTS as error:
        return f"damaged data ({_reason(error)})", RESAVE
    return None


def _sheet_titles(archive: zipfile.ZipFile) -> dict[str, str]:
    """Part name -> sheet title, from xl/workbook.xml and its relationships; {} when they cannot be read."""
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    relationship = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    try:
        relationships, workbook = archive.read("xl/_rels/workbook.xml.rels"), archive.read("xl/workbook.xml")
        if any(declaration in part for declaration in DECLARATIONS for part in (relationships, workbook)):
            return {}  # never expanded, not even for a message
        targets = {item.get("Id"): item.get("Target", "") for item in ElementTree.fromstring(relationships)}
        sheets = ElementTree.fromstring(workbook).iter(f"{main}sheet")
        return {_part_name(targets.get(sheet.get(relationship), "")): sheet.get("name", "") for sheet in sheets}
    except (*ZIP_FAULTS, *XML_FAULTS):
        return {}


def _part_name(target: str) -> str:
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _reason(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text[:120]}" if text else type(error).__name__


# --- The workbook and its sheets -------------------------------------------------------------------

@contextmanager
def open_workbook(path: Path) -> Iterator[openpyxl.Workbook]:
    """openpyxl's read-only workbook (values, never formulas), its faults an InputError; closed at the end.
    openpyxl's warnings (about styles and extensions fedsplit does not read) are not shown."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except XML_FAULTS as error:
        raise InputError(_malformed_parts(path) or [
            _file_issue(path, f"a workbook openpyxl cannot read ({_reason(error)})", RESAVE)]) from None
    try:
        yield workbook
    finally:
        workbook.close()


def _malformed_parts(path: Path) -> list[InputIssue]:
    """The XML parts that are not well-formed, each with the parser's reason (after openpyxl failed)."""
    issues = []
    with zipfile.ZipFile(path) as archive:
        sheets = _sheet_titles(archive)
        for part in archive.infolist():
            if not part.filename.lower().endswith(XML_SUFFIXES):
                continue
            try:
                with archive.open(part) as stream:
                    for _ in ElementTree.iterparse(stream):
                        pass
            except XML_FAULTS as error:
                issues.append(_file_issue(path, f"XML that cannot be read in its part {part.filename} "
                                                f"({_reason(error)})", RESAVE, sheets.get(part.filename)))
    return issues


def sheet_rows(worksheet, path: Path) -> Iterator[tuple[int, dict[int, object]]]:
    """(Excel row number, {column number: value}) for every row the sheet holds, in file order; a cell that
    cannot be read is a Found. XML that cannot be parsed is an InputError at the sheet and row reached."""
    if not isinstance(worksheet, ReadOnlyWorksheet):  # a chart sheet holds no cells
        return
    row_number = 0
    try:
        with worksheet._get_source() as source:
            parser = _CellParser(source, worksheet._shared_strings, data_only=True, epoch=worksheet.parent.epoch,
                                 date_formats=worksheet.parent._date_formats,
                                 timedelta_formats=worksheet.parent._timedelta_formats)
            for row_number, cells in parser.rows():
                yield row_number, {cell["column"]: cell["value"] for cell in cells}
    except (*XML_FAULTS, *ZIP_FAULTS) as error:
        after = f" after row {row_number}" if row_number else ""
        raise InputError([_file_issue(path, f"a sheet whose XML cannot be read{after} ({_reason(error)})",
                                      RESAVE, worksheet.title, row_number + 1)]) from None


class _CellParser(WorkSheetParser):
    """openpyxl's sheet parser (pinned 3.1.5), reading rows only; a cell it cannot read becomes a Found at its
    row and column instead of stopping the sheet."""

    def rows(self) -> Iterator[tuple[int, list[dict]]]:
        in_row, sheet_data = False, None
        for event, element in ElementTree.iterparse(self.source, events=("start", "end")):
            if element.tag == ROW_TAG:
                in_row = event == "start"
                if event == "end":
                    yield self.parse_row(element)
                    if sheet_data is not None:
                        sheet_data.clear()  # the row read, nothing of it is kept
            elif element.tag == DATA_TAG and event == "start":
                sheet_data = element
            elif event == "end" and not in_row:
                element.clear()  # sheet settings, validations, views: not read, not kept

    def parse_cell(self, element) -> dict:
        plain = self._plain_number(element)
        if plain is not None:
            return plain
        formula_text = self._formula_text(element) if element.find(FORMULA_TAG) is not None else None
        text = element.findtext(VALUE_TAG, None)
        column_before = self.col_counter
        try:
            problem = self._shared_text_problem(element, text)
            cell = super().parse_cell(element) if problem is None else None
        except CELL_FAULTS as error:
            problem, cell = self._value_problem(element, text, error), None
        if cell is None:
            self.col_counter = column_before
            return self._found_at(element, problem)
        value = cell["value"]
        if cell["data_type"] == "e" and element.get("t", "n") == "n":  # openpyxl's stand-in for a bad date
            cell["value"] = Found(f"a cell that cannot be read as a value: the date serial number {_cut(text)}, "
                                  f"off the calendar Excel shows {RETYPE}")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not _finite(value):
            cell["value"] = Found(f"a cell that cannot be read as a value: {_number(text)}, beyond "
                                  f"{LARGEST_NUMBER:.2g} {RETYPE}")
        elif value is None and formula_text is not None:
            cell["value"] = Found(f"the formula {_cut(formula_text)} with no saved result (fedsplit never "
                                  f"evaluates formulas: type the value, or open and save the workbook in Excel)")
        return cell

    def _plain_number(self, element) -> dict | None:
        """The most common cell, a finite number with no formula and no date style (`<c r="B2"><v>1.5</v></c>`),
        read as openpyxl reads it (its _cast_number and coordinate_to_tuple) without its general path (half
        the time of a large workbook); None for any other cell, which parse_cell's full path then reads."""
        if len(element) != 1 or element[0].tag != VALUE_TAG or element.get("t", "n") != "n":
            return None
        text, coordinate, style = element[0].text, element.get("r"), element.get("s")
        if not text or not coordinate:
            return None
        try:
            style_id = int(style) if style else 0
            if style_id in self.date_formats:
                return None
            value = _cast_number(text)
            row, column = coordinate_to_tuple(coordinate)
        except (ValueError, TypeError, IndexError, KeyError, OverflowError):
            return None
        if not _finite(value):
            return None
        self.col_counter = column
        return {"row": row, "column": column, "value": value, "data_type": "n", "style_id": style_id}

    def _formula_text(self, element) -> str:
        try:
            formula = self.parse_formula(element)  # also records shared formulas for the cells that reuse them
        except CELL_FAULTS:
            return "=?"
        return str(getattr(formula, "text", formula))

    def _shared_text_problem(self, element, text: str | None) -> str | None:
        """A text cell must point at one of the workbook's shared texts (a negative index would silently
        read another cell's text)."""
        if element.get("t") != "s" or text is None:
            return None
        count = len(self.shared_strings)
        if text.strip().isdigit() and text.strip().isascii() and int(text) < count:
            return None
        return (f"a cell that cannot be read as a value: it points at shared text {_cut(text)}, and the workbook "
                f"has {count} (numbered from 0) {RETYPE}")

    @staticmethod
    def _value_problem(element, text: str | None, error: Exception) -> str:
        kind = element.get("t", "n")
        try:
            _coordinate(element.get("r"))
        except CELL_FAULTS:
            return (f"a cell whose reference {_cut(element.get('r'))} is no cell of Excel's grid (columns A to "
                    f"XFD, rows 1 to 1048576) {RETYPE}")
        if kind == "n":
            return (f"a cell that cannot be read as a value: {_number(text)} (Excel never writes NaN or INF, nor "
                    f"numbers beyond {LARGEST_NUMBER:.2g}) {RETYPE}")
        if kind == "d":
            return f"a cell that cannot be read as a value: the date {_cut(text)} {RETYPE}"
        return f"a cell that cannot be read as a value ({_reason(error)}) {RETYPE}"

    def _found_at(self, element, problem: str) -> dict:
        """The cell as openpyxl would place it, holding what was found; a reference that cannot be read
        takes the next column."""
        try:
            row, column = _coordinate(element.get("r"))
        except CELL_FAULTS:
            row, column = self.row_counter, self.col_counter + 1
        if row is None:
            row, column = self.row_counter, self.col_counter + 1
        self.col_counter = column
        return {"row": row, "column": column, "value": Found(problem), "data_type": "n", "style_id": 0}


def _coordinate(reference: str | None) -> tuple[int | None, int | None]:
    return coordinate_to_tuple(reference) if reference else (None, None)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(float(value)) and abs(float(value)) <= LARGEST_NUMBER
    except OverflowError:  # an int beyond any double
        return False


def _number(text: str | None) -> str:
    """A number cell's text as a message shows it: cut, with its count of digits when it is long."""
    digits = sum(character.isdigit() for character in text or "")
    return f"the number {_cut(text)}" + (f" ({digits:,} digits)" if digits > 40 else "")


def _cut(text: str | None, longest: int = 40) -> str:
    text = "" if text is None else text
    return f"'{text[:longest]}...'" if len(text) > longest else f"'{text}'"
