"""Checks of workbook tables against the schema. Every check only reports: it
collects `InputIssue`s and never changes, prints or drops anything."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from data.issues import Found, InputError, InputIssue
from data.schema import Field
from data.units import accepted_units, near_miss_unit
from data.workbook import Cell, Table

PARAMETER_COLUMNS = ("name", "value")


@dataclass(frozen=True)
class SheetContext:
    """Where the tables came from, for the messages."""

    file: str
    tables: dict[str, Table]

    def issue(self, sheet, row, column, value, expected) -> InputIssue:
        return InputIssue(self.file, sheet, row, column, value, expected)


def missing_sheet_issue(context: SheetContext, sheet: str) -> InputIssue:
    present = ", ".join(context.tables) or "none"
    return context.issue(sheet, None, None, Found(f"no such sheet (the sheets are: {present})"),
                         f"a sheet named '{sheet}'")


def missing_column_issues(context: SheetContext, table: Table, columns: Iterable[str]) -> list[InputIssue]:
    present = ", ".join(f"'{name}'" for name in table.header) or "none"
    return [
        context.issue(table.sheet, 1, f"'{name}'", Found(f"no column headed '{name}' (the headers are: {present})"),
                      f"a header cell '{name}' in row 1")
        for name in columns
        if name not in table.header
    ]


def repeated_header_issues(context: SheetContext, sheets: Iterable[str]) -> list[InputIssue]:
    """A header name given twice in a sheet: which column is meant is unclear, so it is an error; so is a
    header cell that cannot be read."""
    tables = [context.tables[sheet] for sheet in sheets if sheet in context.tables]
    return [
        context.issue(table.sheet, cell.row, cell.column_label, cell.value,
                      f"each header once (also in column {table.header[cell.column]})")
        for table in tables for cell in table.repeated_headers
    ] + [
        context.issue(table.sheet, cell.row, f"({cell.letter})", cell.value, "a header cell naming its column")
        for table in tables for cell in table.unreadable_headers
    ]


def parameter_cells(table: Table) -> dict[str, Cell]:
    """The `value` cell of each named row of a parameters sheet (first one wins)."""
    cells: dict[str, Cell] = {}
    for row in table.rows:
        name = row["name"].value
        if name is not None and str(name) not in cells:
            cells[str(name)] = row["value"]
    return cells


def check_parameter_sheet(context: SheetContext, sheet: str, fields: tuple[Field, ...]) -> list[InputIssue]:
    """A `name, value, unit, description` sheet: known names, once each, valid values."""
    table = context.tables.get(sheet)
    if table is None:
        return [missing_sheet_issue(context, sheet)]
    issues = missing_column_issues(context, table, PARAMETER_COLUMNS)
    if issues:
        return issues
    by_name = {field.name: field for field in fields}
    seen: dict[str, int] = {}
    for row in table.rows:
        name_cell, value_cell = row["name"], row["value"]
        name = None if name_cell.value is None else str(name_cell.value)
        label = table.column_label("name")
        if name is None:
            issues.append(context.issue(sheet, name_cell.row, label, None, "a parameter name"))
            continue
        field = by_name.get(name)
        if field is None:
            issues.append(
                context.issue(sheet, name_cell.row, label, name, f"one of the known parameters: {', '.join(by_name)}")
            )
            continue
        if name in seen:
            issues.append(
                context.issue(sheet, name_cell.row, label, name, f"each parameter once (first given in row {seen[name]})")
            )
            continue
        seen[name] = name_cell.row
        unit_issues = _unit_issues(context, sheet, row, field)
        problem = field.problem(value_cell.value)
        # a number in a unit we cannot read has no range to be judged by: the unit cell says what is wrong
        if problem and not (unit_issues and isinstance(value_cell.value, (int, float))):
            issues.append(context.issue(sheet, value_cell.row, f"{value_cell.column_label} of '{name}'",
                                        value_cell.value, problem))
        issues += unit_issues
    issues += [
        context.issue(sheet, None, "'name'", Found(f"no row named '{field.name}'"),
                      f"a row named '{field.name}': {field.description} ({field.unit})")
        for field in fields
        if field.name not in seen and field.required
    ]
    return issues


def _unit_issues(context: SheetContext, sheet: str, row: dict[str, Cell], field: Field) -> list[InputIssue]:
    """A unit cell that disagrees with the schema means the value is in the wrong unit (a near miss, `Mhz`,
    is named)."""
    unit_cell = row.get("unit")
    if unit_cell is None or unit_cell.value is None or str(unit_cell.value) == field.unit:
        return []
    accepted = accepted_units(field)
    if len(accepted) > 1:
        expected = f"one of {', '.join(repr(u) for u in accepted)} (values in {', '.join(accepted[1:])} are " \
                   f"converted to {field.unit})"
    else:
        expected = f"'{field.unit}' (values are read in {field.unit}; convert the value and the unit)"
    near = near_miss_unit(str(unit_cell.value), field)
    if near:
        expected += f": did you mean '{near}'? (units are case-sensitive)"
    return [context.issue(sheet, unit_cell.row, f"{unit_cell.column_label} of '{field.name}'", unit_cell.value,
                          expected)]


def check_row_table(context: SheetContext, sheet: str, fields: tuple[Field, ...], id_column: str | None,
                    exactly_one_row: bool = False) -> list[InputIssue]:
    """A table of one record per row: every column present, every cell valid, ids unique."""
    table = context.tables.get(sheet)
    if table is None:
        return [missing_sheet_issue(context, sheet)]
    issues = missing_column_issues(context, table, (field.name for field in fields))
    fields = tuple(field for field in fields if field.name in table.header)  # the others are reported missing
    if not table.rows:
        return issues + [context.issue(sheet, 2, None, Found("no data rows"), "at least one data row below the header")]
    if exactly_one_row and len(table.rows) > 1:
        second_row = next(iter(table.rows[1].values())).row if table.rows[1] else 3
        issues.append(context.issue(sheet, second_row, None, Found("a second row"),
                                    "exactly one data row below the header"))
    first_row_of_id: dict[str, int] = {}
    for row in table.rows:
        for field in fields:
            cell = row[field.name]
            problem = field.problem(cell.value)
            if problem:
                issues.append(context.issue(sheet, cell.row, cell.column_label, cell.value, problem))
        if id_column is None or id_column not in table.header:
            continue
        id_cell = row[id_column]
        if id_cell.value is None or isinstance(id_cell.value, Found):  # reported above
            continue
        key = normalise_id(id_cell.value)
        if key in first_row_of_id:
            issues.append(
                context.issue(
                    sheet, id_cell.row, id_cell.column_label, id_cell.value,
                    f"a unique {id_column} id (already used in row {first_row_of_id[key]})",
                )
            )
        else:
            first_row_of_id[key] = id_cell.row
    return issues


def normalise_id(value: object) -> str:
    """Ids compare as text, with 7 and 7.0 the same user."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


@dataclass(frozen=True)
class CrossRule:
    """A rule linking several parameters, reported at the cell of `reported_at`."""

    reported_at: str
    uses: tuple[str, ...]
    holds: Callable[[dict[str, float]], bool]
    expected: Callable[[dict[str, float]], str]


def valid_parameters(context: SheetContext, sheet: str, fields: tuple[Field, ...]) -> dict[str, object]:
    """The parameters of a `name, value` sheet that are valid on their own, converted (rules between
    cells are judged on these, whatever else the sheet holds)."""
    table = context.tables.get(sheet)
    if table is None or any(name not in table.header for name in PARAMETER_COLUMNS):
        return {}
    by_name = {field.name: field for field in fields}
    return {
        name: by_name[name].convert(cell.value)
        for name, cell in parameter_cells(table).items()
        if name in by_name and by_name[name].problem(cell.value) is None
    }


def cells_valid(row: dict[str, Cell], fields: tuple[Field, ...], *names: str) -> bool:
    """Whether a table row has these columns and each holds a valid value on its own."""
    by_name = {f.name: f for f in fields}
    return all(name in row and by_name[name].problem(row[name].value) is None for name in names)


def check_cross_rules(
    context: SheetContext, sheet: str, fields: tuple[Field, ...], rules: tuple[CrossRule, ...]
) -> list[InputIssue]:
    """Rules between parameters, checked only where their inputs are valid on their own."""
    valid = valid_parameters(context, sheet, fields)
    if not valid:
        return []
    cells = parameter_cells(context.tables[sheet])
    issues = []
    for rule in rules:
        if all(name in valid for name in rule.uses) and not rule.holds(valid):
            cell = cells[rule.reported_at]
            issues.append(
                context.issue(sheet, cell.row, f"{cell.column_label} of '{rule.reported_at}'", cell.value, rule.expected(valid))
            )
    return issues


def raise_issues(issues: list[InputIssue]) -> None:
    """An InputError listing every issue, if there are any."""
    if issues:
        raise InputError(issues)
