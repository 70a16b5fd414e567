"""Values entered in another unit of the same kind, where a `parameters` sheet's unit cell says so.

A Hz parameter may be typed in kHz, MHz or GHz with its unit cell saying which (`2.46` with `GHz`); the
schema's unit stays what the models read, and the current Hz entries stay valid. Conversion uses pint.
A unit cell pint does not know, or one of another kind (`dB` beside a Hz value), is left as it is, and
validation reports it with the units the value may carry; a near miss (`Mhz`, `ghz`) is named, not guessed:
units are case-sensitive (`mHz` is millihertz). Only a unit's name (letters, `MHz`) reaches pint: its
parser evaluates arithmetic, so `Hz/0` would divide by zero, `(Hz` fail to tokenize and `Hz**9**9**9`
never end. This returns new tables; it changes nothing it was given.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pint

from data.schema import Field, Kind
from data.workbook import Table

CONVERTIBLE_UNITS = ("Hz",)
UNIT_NAME = re.compile(r"[A-Za-zµμ]{1,20}")
PREFIXED_UNITS = {"Hz": ("Hz", "kHz", "MHz", "GHz")}  # what the input workbooks' comments offer
_REGISTRY = pint.UnitRegistry()


def converted(value: object, unit: str, target: str) -> float | None:
    """`value` in `unit` as a number in `target`, or None when the unit is not one of the target's kind."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not UNIT_NAME.fullmatch(unit.strip()):
        return None
    try:
        quantity = _REGISTRY.Quantity(float(value), unit.strip())
        if quantity.dimensionality != _REGISTRY.Quantity(1.0, target).dimensionality:
            return None
        return float(quantity.to(target).magnitude)
    except (pint.errors.PintError, ValueError, TypeError, AttributeError, AssertionError, ArithmeticError):
        return None


def accepted_units(field: Field) -> tuple[str, ...]:
    """The unit cells a value of `field` may carry: its unit, and the usual prefixed ones of a Hz value."""
    if field.unit in CONVERTIBLE_UNITS and field.kind in (Kind.REAL, Kind.INTEGER):
        return PREFIXED_UNITS[field.unit]
    return (field.unit,)


def near_miss_unit(text: str, field: Field) -> str | None:
    """The accepted unit a unit cell differs from only in case (`Mhz` -> `MHz`), if any."""
    typed = text.strip()
    return next((unit for unit in accepted_units(field) if unit.lower() == typed.lower() and unit != typed), None)


def parameters_in_schema_units(tables: dict[str, Table], sheet: str, fields: tuple[Field, ...]) -> dict[str, Table]:
    """The tables with `sheet`'s Hz values entered in kHz/MHz/GHz converted to Hz (and their unit cell to Hz)."""
    table = tables.get(sheet)
    if table is None or "unit" not in table.header or "value" not in table.header:
        return tables
    by_name = {f.name: f for f in fields if f.unit in CONVERTIBLE_UNITS and f.kind in (Kind.REAL, Kind.INTEGER)}
    rows = []
    for row in table.rows:
        field = by_name.get(str(row["name"].value)) if "name" in row else None
        unit_cell = row.get("unit")
        if field and unit_cell is not None and unit_cell.value is not None and str(unit_cell.value) != field.unit:
            value = converted(row["value"].value, str(unit_cell.value), field.unit)
            if value is not None:
                row = {**row, "value": replace(row["value"], value=value), "unit": replace(unit_cell, value=field.unit)}
        rows.append(row)
    return {**tables, sheet: replace(table, rows=rows)}
