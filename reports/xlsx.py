"""The Excel report writer: SpreadsheetML written directly, column by column, in one pass.

Why not openpyxl or xlsxwriter. A report at K = 20,000 users holds about 1.4 million cells (the
allocation and 140,013 Lemma 3/KKT rows). openpyxl kept every cell as an object and the old writer
asked it for the sheet's last row at every append (quadratic: 50 s for 20,000 rows); xlsxwriter,
even in constant-memory mode, spends about 5 us of Python per cell (7 s for that report on its own).
Here each column becomes its cells' XML in one comprehension (about 0.6 us per cell, zip included),
and rows are streamed into the zip in blocks, so memory stays at one block of rows.

What a reader gets (README, "The report"): every header bold and frozen with its unit in brackets and
its description as a comment; a number format per column (per row in a summary); widths fitted to the
longest entry; an autofilter; PASS green and FAIL red; every text cell a shared string, so text is
always text and never a formula; characters XML cannot hold shown as \\xNN.
"""

from __future__ import annotations

import logging
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

from data.workbook import column_letter, xml_safe

log = logging.getLogger(__name__)

SCIENTIFIC, DECIMAL, WHOLE, PERCENT, GENERAL = "0.000E+00", "#,##0.000", "#,##0", "0.00%", "General"
# Excel's built-in number formats keep their ids; the others are declared from 164 on.
BUILTIN_FORMAT_IDS = {GENERAL: 0, WHOLE: 3, PERCENT: 10}
CUSTOM_FORMATS = (SCIENTIFIC, DECIMAL)
WIDEST_COLUMN = 60
SHEET_ROW_LIMIT = 1_048_576  # Excel's rows per sheet, the header's included
ROWS_PER_BLOCK = 20_000
COMPRESSION_LEVEL = 1  # deflate level: 6 makes the file 15 % smaller and the writing 3x slower
PASS_COLOURS = ("FF006100", "FFC6EFCE")  # font, fill
FAIL_COLOURS = ("FF9C0006", "FFFFC7CE")
HEADER_STYLE, PASS_STYLE, FAIL_STYLE = 1, 2, 3
NUMBER_STYLES = {fmt: 4 + index for index, fmt in enumerate((GENERAL, WHOLE, PERCENT, *CUSTOM_FORMATS))}


@dataclass(frozen=True)
class SheetColumn:
    """One column of a sheet: its header, the header's comment, its cells' plain values (str, int, float,
    bool or None) and their number format (one for the column, or one per cell)."""

    header: str
    comment: str
    values: list
    formats: str | list[str]


@dataclass(frozen=True)
class Sheet:
    name: str
    columns: list[SheetColumn]

    @property
    def rows(self) -> int:
        return len(self.columns[0].values) if self.columns else 0


def shown_width(value, style: str) -> int:
    """How many characters a value takes in its number format."""
    if value is None:
        return 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if style == PERCENT:
            return len(f"{value:.2%}")
        if style == SCIENTIFIC:
            return 10
        if style == WHOLE:
            return len(f"{value:,.0f}")
        return len(f"{value:,.3f}")
    return len(str(value))


def column_width(column: SheetColumn) -> float:
    """The longest entry (numbers as shown in their format) or the header, plus a margin, at most 60.
    A column's numbers are shown widest at its largest and its smallest value (formatting is monotone
    in the magnitude on either side of zero), so only those two are formatted."""
    widest = len(column.header)
    if isinstance(column.formats, str) and set(map(type, column.values)) <= {float, int}:
        numbers = [v for v in column.values if math.isfinite(v)]
        if numbers:
            widest = max(widest, shown_width(max(numbers), column.formats), shown_width(min(numbers), column.formats))
    elif isinstance(column.formats, str):
        numbers = [v for v in column.values if _is_number(v) and math.isfinite(v)]
        if numbers:
            widest = max(widest, shown_width(max(numbers), column.formats), shown_width(min(numbers), column.formats))
        widest = max([widest, *(len(_text(v)) for v in set(column.values) if not _is_number(v) and v is not None)])
    else:
        widest = max([widest, *(shown_width(v, f) for v, f in zip(column.values, column.formats))])
    return min(WIDEST_COLUMN, widest + 2)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _text(value) -> str:
    """A text cell's text, with characters XML cannot hold shown as \\xNN."""
    return xml_safe(str(value))


class _SharedStrings:
    """Every distinct text once (xl/sharedStrings.xml); cells refer to it by index."""

    def __init__(self):
        self.index: dict[str, int] = {}
        self.count = 0

    def add(self, text: str) -> int:
        self.count += 1
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = len(self.index)
        return found

    def xml(self) -> str:
        items = "".join(f'<si><t xml:space="preserve">{escape(_text(text))}</t></si>' for text in self.index)
        return (f'{XML_HEAD}<sst xmlns="{MAIN_NS}" count="{self.count}" uniqueCount="{len(self.index)}">'
                f'{items}</sst>')


def _cell_xml(ref: str, value, style: int, strings: _SharedStrings) -> str:
    """One cell; `ref` is its reference (B7). Text is a shared string; PASS/FAIL text gets its colours;
    NaN or None is no cell; infinities are written as the text inf / -inf (a sheet has no infinity)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int):
        return f'<c r="{ref}" s="{style}"><v>{value}</v></c>'
    if isinstance(value, float):
        if math.isfinite(value):
            return f'<c r="{ref}" s="{style}"><v>{value!r}</v></c>'
        if math.isnan(value):
            return ""
        value = "inf" if value > 0 else "-inf"
    return f'<c r="{ref}"{_text_cell_tail(value if isinstance(value, str) else str(value), strings)}'


def _text_cell_tail(text: str, strings: _SharedStrings) -> str:
    """What follows a text cell's reference: its colour (PASS green, FAIL red) and its shared string."""
    colour = PASS_STYLE if text.startswith("PASS") else FAIL_STYLE if text.startswith("FAIL") else 0
    return f' s="{colour}" t="s"><v>{strings.add(text)}</v></c>'


def _column_cells(letter: str, column: SheetColumn, first_row: int, count: int, strings: _SharedStrings) -> list[str]:
    """The XML of `count` cells of a column from data row `first_row` (0-based) on; a column of one kind
    (floats, whole numbers, text: every per-user column) in one comprehension without per-cell tests."""
    values = column.values[first_row:first_row + count]
    rows = range(first_row + 2, first_row + 2 + count)
    if not isinstance(column.formats, str):
        formats = column.formats[first_row:first_row + count]
        return [_cell_xml(f"{letter}{r}", v, NUMBER_STYLES[f], strings) for r, v, f in zip(rows, values, formats)]
    style = NUMBER_STYLES[column.formats]
    kinds = set(map(type, values))
    if kinds == {float} and all(map(math.isfinite, values)):
        return [f'<c r="{letter}{r}" s="{style}"><v>{v!r}</v></c>' for r, v in zip(rows, values)]
    if kinds == {int}:
        return [f'<c r="{letter}{r}" s="{style}"><v>{v}</v></c>' for r, v in zip(rows, values)]
    if kinds == {str}:
        tails = {text: _text_cell_tail(text, strings) for text in set(values)}
        strings.count += len(values) - len(tails)  # each distinct text was counted once above
        return [f'<c r="{letter}{r}"{tails[v]}' for r, v in zip(rows, values)]
    return [_cell_xml(f"{letter}{r}", v, style, strings) for r, v in zip(rows, values)]


def _sheet_rows(sheet: Sheet, strings: _SharedStrings, kept_rows: int):
    """The sheet's <row> elements in blocks: the header, then ROWS_PER_BLOCK data rows at a time."""
    letters = [column_letter(index) for index in range(1, len(sheet.columns) + 1)]
    header = "".join(f'<c r="{letter}1" s="{HEADER_STYLE}" t="s"><v>{strings.add(column.header)}</v></c>'
                     for letter, column in zip(letters, sheet.columns))
    yield f'<row r="1">{header}</row>'
    for first in range(0, kept_rows, ROWS_PER_BLOCK):
        count = min(ROWS_PER_BLOCK, kept_rows - first)
        cells = [_column_cells(letter, column, first, count, strings) for letter, column in zip(letters, sheet.columns)]
        yield "".join(f'<row r="{r}">{"".join(row)}</row>' for r, *row in zip(range(first + 2, first + 2 + count), *cells))


def _sheet_xml_parts(sheet: Sheet, strings: _SharedStrings, kept_rows: int):
    last = f"{column_letter(max(1, len(sheet.columns)))}{kept_rows + 1}"
    widths = "".join(f'<col min="{i}" max="{i}" width="{column_width(c)}" customWidth="1"/>'
                     for i, c in enumerate(sheet.columns, start=1))
    yield (f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><dimension ref="A1:{last}"/>'
           '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
           'state="frozen"/><selection pane="bottomLeft"/></sheetView></sheetViews>'
           f'<sheetFormatPr defaultRowHeight="15"/>{f"<cols>{widths}</cols>" if widths else ""}<sheetData>')
    yield from _sheet_rows(sheet, strings, kept_rows)
    filter_ref = f'<autoFilter ref="A1:{last}"/>' if sheet.columns else ""
    comments = '<legacyDrawing r:id="rId1"/>' if sheet.columns else ""
    yield (f'</sheetData>{filter_ref}<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
           f'footer="0.3"/>{comments}</worksheet>')


def write_sheets(path: Path, sheets: list[Sheet]) -> None:
    """The workbook of `sheets`, each with its header row, formats, widths, filter and comments."""
    strings = _SharedStrings()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESSION_LEVEL) as archive:
        for number, sheet in enumerate(sheets, start=1):
            kept = min(sheet.rows, SHEET_ROW_LIMIT - 1)
            if kept < sheet.rows:
                log.warning("sheet %s: %d rows, Excel holds %d; the sheet has the first %d, its CSV all of them",
                            sheet.name, sheet.rows, SHEET_ROW_LIMIT - 1, kept)
            with archive.open(f"xl/worksheets/sheet{number}.xml", "w") as stream:
                for part in _sheet_xml_parts(sheet, strings, kept):
                    stream.write(part.encode("utf-8"))
            if sheet.columns:
                archive.writestr(f"xl/worksheets/_rels/sheet{number}.xml.rels", _sheet_rels(number))
                archive.writestr(f"xl/comments{number}.xml", _comments_xml(sheet))
                archive.writestr(f"xl/drawings/vmlDrawing{number}.vml", _vml_xml(sheet, number))
        archive.writestr("xl/sharedStrings.xml", strings.xml())
        archive.writestr("xl/styles.xml", STYLES_XML)
        archive.writestr("xl/workbook.xml", _workbook_xml(sheets))
        archive.writestr("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        archive.writestr("[Content_Types].xml", _content_types(sheets))
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("docProps/app.xml", APP_XML)
        archive.writestr("docProps/core.xml", CORE_XML)


# --- The package's fixed parts (as Excel writes them) -------------------------------------------

XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
SPREADSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _font(colour: str | None = None, bold: bool = False) -> str:
    weight = "<b/>" if bold else ""
    colour = f'<color rgb="{colour}"/>' if colour else ""
    return f'<font>{weight}<sz val="11"/>{colour}<name val="Calibri"/><family val="2"/></font>'


def _fill(colour: str) -> str:
    return f'<fill><patternFill patternType="solid"><fgColor rgb="{colour}"/><bgColor indexed="64"/></patternFill></fill>'


def _styles_xml() -> str:
    """Fonts 0 plain, 1 bold, 2 PASS, 3 FAIL; fills 2 PASS, 3 FAIL; the cell styles of the module's
    constants: 0 plain, 1 header, 2 PASS, 3 FAIL, then one per number format."""
    custom = "".join(f'<numFmt numFmtId="{164 + i}" formatCode="{escape(f)}"/>' for i, f in enumerate(CUSTOM_FORMATS))
    format_ids = {**BUILTIN_FORMAT_IDS, **{f: 164 + i for i, f in enumerate(CUSTOM_FORMATS)}}
    fonts = _font() + _font(bold=True) + _font(PASS_COLOURS[0]) + _font(FAIL_COLOURS[0])
    fills = ('<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
             + _fill(PASS_COLOURS[1]) + _fill(FAIL_COLOURS[1]))
    xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>',
           '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>',
           '<xf numFmtId="0" fontId="2" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>',
           '<xf numFmtId="0" fontId="3" fillId="3" borderId="0" xfId="0" applyFont="1" applyFill="1"/>']
    xfs += [f'<xf numFmtId="{format_ids[f]}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
            for f in sorted(NUMBER_STYLES, key=NUMBER_STYLES.get)]
    return (f'{XML_HEAD}<styleSheet xmlns="{MAIN_NS}"><numFmts count="{len(CUSTOM_FORMATS)}">{custom}</numFmts>'
            f'<fonts count="4">{fonts}</fonts><fills count="4">{fills}</fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            f'<cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
            '<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
            'defaultPivotStyle="PivotStyleLight16"/></styleSheet>')


STYLES_XML = _styles_xml()


def _comments_xml(sheet: Sheet) -> str:
    comments = "".join(
        f'<comment ref="{column_letter(i)}1" authorId="0"><text><r><rPr><sz val="8"/><color indexed="81"/>'
        f'<rFont val="Tahoma"/><family val="2"/></rPr><t xml:space="preserve">{escape(_text(c.comment))}</t></r>'
        '</text></comment>' for i, c in enumerate(sheet.columns, start=1))
    return (f'{XML_HEAD}<comments xmlns="{MAIN_NS}"><authors><author>fedsplit</author></authors>'
            f'<commentList>{comments}</commentList></comments>')


def _vml_xml(sheet: Sheet, number: int) -> str:
    """The legacy drawing Excel needs to show the header comments (hidden notes next to each header)."""
    shapes = "".join(
        f'<v:shape id="_x0000_s{1024 * number + i + 1}" type="#_x0000_t202" style="position:absolute;'
        f'margin-left:{59.25 + 48 * i}pt;margin-top:1.5pt;width:144pt;height:79.5pt;z-index:{i + 1};'
        'visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
        '<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
        '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div></v:textbox>'
        f'<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:Anchor>{i + 1}, 15, 0, 2, '
        f'{i + 4}, 15, 4, 16</x:Anchor><x:AutoFill>False</x:AutoFill><x:Row>0</x:Row><x:Column>{i}</x:Column>'
        '</x:ClientData></v:shape>' for i in range(len(sheet.columns)))
    return ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            f'xmlns:x="urn:schemas-microsoft-com:office:excel"><o:shapelayout v:ext="edit"><o:idmap v:ext="edit" '
            f'data="{number}"/></o:shapelayout><v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" '
            'path="m,l,21600r21600,l21600,xe"><v:stroke joinstyle="miter"/><v:path gradientshapeok="t" '
            f'o:connecttype="rect"/></v:shapetype>{shapes}</xml>')


def _sheet_rels(number: int) -> str:
    return (f'{XML_HEAD}<Relationships xmlns="{PACKAGE_REL_NS}">'
            f'<Relationship Id="rId1" Type="{REL_NS}/vmlDrawing" Target="../drawings/vmlDrawing{number}.vml"/>'
            f'<Relationship Id="rId2" Type="{REL_NS}/comments" Target="../comments{number}.xml"/></Relationships>')


def _quoted(sheet_name: str) -> str:
    """A sheet name as a formula refers to it: in quotes, any quote doubled (always allowed)."""
    return "'" + sheet_name.replace("'", "''") + "'"


def _workbook_xml(sheets: list[Sheet]) -> str:
    entries = "".join(f'<sheet name="{escape(s.name)}" sheetId="{i}" r:id="rId{i}"/>'
                      for i, s in enumerate(sheets, start=1))
    # Excel's own name for each autofilter's range (it repairs a file whose filter lacks it).
    filters = "".join(
        f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
        f"{escape(_quoted(s.name))}!$A$1:${column_letter(len(s.columns))}"
        f'${min(s.rows, SHEET_ROW_LIMIT - 1) + 1}</definedName>'
        for i, s in enumerate(sheets) if s.columns)
    return (f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><workbookPr/><bookViews>'
            f'<workbookView/></bookViews><sheets>{entries}</sheets>'
            f'{f"<definedNames>{filters}</definedNames>" if filters else ""}<calcPr calcId="124519"/></workbook>')


def _workbook_rels(count: int) -> str:
    sheets = "".join(f'<Relationship Id="rId{i}" Type="{REL_NS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                     for i in range(1, count + 1))
    return (f'{XML_HEAD}<Relationships xmlns="{PACKAGE_REL_NS}">{sheets}'
            f'<Relationship Id="rId{count + 1}" Type="{REL_NS}/styles" Target="styles.xml"/>'
            f'<Relationship Id="rId{count + 2}" Type="{REL_NS}/sharedStrings" Target="sharedStrings.xml"/>'
            '</Relationships>')


def _content_types(sheets: list[Sheet]) -> str:
    parts = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{SPREADSHEET_TYPE}.worksheet+xml"/>'
                    + (f'<Override PartName="/xl/comments{i}.xml" ContentType="{SPREADSHEET_TYPE}.comments+xml"/>'
                       if s.columns else "")
                    for i, s in enumerate(sheets, start=1))
    return (f'{XML_HEAD}<Types xmlns="{CONTENT_NS}">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="vml" ContentType="application/vnd.openxmlformats-officedocument.vmlDrawing"/>'
            '<Override PartName="/docProps/app.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{SPREADSHEET_TYPE}.styles+xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{SPREADSHEET_TYPE}.sheet.main+xml"/>'
            f'{parts}<Override PartName="/xl/sharedStrings.xml" ContentType="{SPREADSHEET_TYPE}.sharedStrings+xml"/>'
            '</Types>')


ROOT_RELS = (f'{XML_HEAD}<Relationships xmlns="{PACKAGE_REL_NS}">'
             f'<Relationship Id="rId1" Type="{REL_NS}/officeDocument" Target="xl/workbook.xml"/>'
             f'<Relationship Id="rId2" Type="{PACKAGE_REL_NS}/metadata/core-properties" Target="docProps/core.xml"/>'
             f'<Relationship Id="rId3" Type="{REL_NS}/extended-properties" Target="docProps/app.xml"/>'
             '</Relationships>')
APP_XML = (f'{XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
           '<Application>fedsplit</Application></Properties>')
CORE_XML = (f'{XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>fedsplit</dc:creator>'
            '</cp:coreProperties>')
