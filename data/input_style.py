"""Input workbooks that are pleasant to edit, from the schema itself (data/schema.py stays the one source).

- Every sheet: a bold, frozen header; every header cell carries its description and unit as a comment.
- Every column (and every value of a `parameters` sheet) gets Excel data validation from its field:
  a drop-down list for choices and TRUE/FALSE, a whole or decimal range for numbers, an input message
  saying what is expected. Values in Hz are not range-checked by Excel, since the unit cell may say
  kHz, MHz or GHz (`parameter_units`), which fedsplit converts when it reads the sheet.
- Nothing here changes a value: the generators call it after writing, and `python -m data.input_style
  FILE...` restyles an existing workbook in place (the shipped ones were styled so).
"""

from __future__ import annotations

import sys
from pathlib import Path

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from data.schema import (
    CARD_CQI_COLUMNS,
    CARD_DEVICE_COLUMNS,
    CARD_LAYER_COLUMNS,
    CARD_LLM_COLUMNS,
    CARD_PARAMETERS,
    CARD_SERVER_COLUMNS,
    FEDSLLM_PARAMETERS,
    FEDSLLM_USER_COLUMNS,
    Field,
    Kind,
)
from data.units import CONVERTIBLE_UNITS

SHEET_FIELDS = {
    "fedsllm": {"parameters": FEDSLLM_PARAMETERS, "users": FEDSLLM_USER_COLUMNS},
    "card": {"parameters": CARD_PARAMETERS, "server": CARD_SERVER_COLUMNS, "devices": CARD_DEVICE_COLUMNS,
             "llm": CARD_LLM_COLUMNS, "cqi": CARD_CQI_COLUMNS, "layers": CARD_LAYER_COLUMNS},
}
PARAMETER_HEADER = {"name": "the parameter's name (do not change)", "value": "its value, in the unit beside it",
                    "unit": "the value's unit; for Hz values also kHz, MHz or GHz", "description": "what it is"}
HEADER_FILL = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
LAST_ROW = 100_000  # validation reaches this far below the header, so new rows are checked too


def validation_for(field: Field) -> DataValidation | None:
    """Excel's check of one field's cells, or None where Excel cannot state it (ids, text, lists, Hz)."""
    prompt = f"{field.description} ({field.unit}): {field.expected()}"[:255]
    common = dict(allow_blank=True, showErrorMessage=True, showInputMessage=True, promptTitle=field.name[:32],
                  prompt=prompt, errorTitle=field.name[:32], error=f"expected {field.expected()}"[:225])
    if field.kind is Kind.CHOICE:
        return DataValidation(type="list", formula1='"' + ",".join(field.choices) + '"', **common)
    if field.kind is Kind.BOOL:
        return DataValidation(type="list", formula1='"TRUE,FALSE"', **common)
    if field.kind not in (Kind.REAL, Kind.INTEGER) or field.unit in CONVERTIBLE_UNITS:
        return None
    kind = "whole" if field.kind is Kind.INTEGER else "decimal"
    if field.low is not None and field.high is not None:
        return DataValidation(type=kind, operator="between", formula1=f"{field.low:.17g}",
                              formula2=f"{field.high:.17g}", **common)
    if field.low is not None:
        return DataValidation(type=kind, operator="greaterThanOrEqual", formula1=f"{field.low:.17g}", **common)
    if field.high is not None:
        return DataValidation(type=kind, operator="lessThanOrEqual", formula1=f"{field.high:.17g}", **common)
    return None


def _style_header(sheet, notes: dict[str, str]) -> None:
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        note = notes.get(str(cell.value))
        if note:
            cell.comment = Comment(note, "fedsplit")
        width = max(len(str(cell.value or "")) + 4, 12)
        sheet.column_dimensions[cell.column_letter].width = min(max(
            width, sheet.column_dimensions[cell.column_letter].width or 0), 70)
    sheet.freeze_panes = "A2"


def style_parameter_sheet(sheet, fields: tuple[Field, ...]) -> None:
    """name, value, unit, description: the header explained, each value checked like its field."""
    _style_header(sheet, PARAMETER_HEADER)
    by_name = {f.name: f for f in fields}
    for row in range(2, sheet.max_row + 1):
        field = by_name.get(str(sheet.cell(row, 1).value))
        if field is None:
            continue
        check = validation_for(field)
        if check is not None:
            sheet.add_data_validation(check)
            check.add(f"B{row}")
    sheet.column_dimensions["D"].width = 70


def style_row_sheet(sheet, fields: tuple[Field, ...]) -> None:
    """One record per row: every header cell says its description and unit; every column is checked."""
    _style_header(sheet, {f.name: f"{f.description} ({f.unit}); expected {f.expected()}" for f in fields})
    letters = {str(cell.value): cell.column_letter for cell in sheet[1]}
    for field in fields:
        check = validation_for(field)
        if check is not None and field.name in letters:
            sheet.add_data_validation(check)
            check.add(f"{letters[field.name]}2:{letters[field.name]}{LAST_ROW}")


def style_workbook(workbook, model: str) -> None:
    """Style every sheet the schema knows (others are left as they are)."""
    for name, fields in SHEET_FIELDS[model].items():
        if name not in workbook.sheetnames:
            continue
        sheet = workbook[name]
        if name == "parameters":
            style_parameter_sheet(sheet, fields)
        else:
            style_row_sheet(sheet, fields)


def style_file(path: Path) -> Path:
    workbook = openpyxl.load_workbook(path)
    model = "card" if "devices" in workbook.sheetnames else "fedsllm"
    style_workbook(workbook, model)
    workbook.save(path)
    return path


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(f"styled {style_file(Path(argument))}")
