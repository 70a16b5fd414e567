"""The units a reader sees in the Excel workbooks, while the CSVs (and the API's DataFrames) keep SI.

A clock of 989,600,000 Hz reads as 0.990 GHz, a link of 20,000,000 Hz as 20 MHz, a rate of 86,400,000 bit/s
as 86.4 Mbit/s, as in the figures. The CSVs keep the SI value under the SI name (`server_clock_hz`, Hz), so
that a script reads exact numbers; the workbook shows the converted value under the converted name
(`server_clock_ghz`, header `server_clock_ghz`), so that the name always says the unit of what is shown.
Clocks (a name with `clock` or `cpu`) are shown in GHz, other frequencies (bandwidths) in MHz, rates in
Mbit/s. Headers never repeat a unit the name already carries (`delay_s`, not `delay_s (s)`; `T (s)`).
"""

from __future__ import annotations

import numbers
from dataclasses import replace

SCALE = {("Hz", "GHz"): 1e-9, ("Hz", "MHz"): 1e-6, ("bit/s", "Mbit/s"): 1e-6}
SUFFIX = {"Hz": "_hz", "GHz": "_ghz", "MHz": "_mhz", "bit/s": "_bps", "Mbit/s": "_mbps"}
CLOCK_WORDS = ("clock", "cpu")
# The name tokens that already say a unit (`delay_s`, `flops_total`, `smashed_bits`).
UNIT_TOKENS = {"s": {"s", "seconds"}, "J": {"j"}, "Hz": {"hz"}, "kHz": {"khz"}, "MHz": {"mhz"}, "GHz": {"ghz"},
               "bit/s": {"bps"}, "Mbit/s": {"mbps"}, "dB": {"db"}, "dBm": {"dbm"}, "m": {"m"}, "bit": {"bit", "bits"},
               "FLOP": {"flop", "flops"}, "cycles": {"cycles"}, "in": {"in"}, "W": {"w"}}


def header_text(name: str, unit: str) -> str:
    """The visible header: the name, and the unit in brackets unless there is none or the name says it."""
    if unit in ("-", "") or UNIT_TOKENS.get(unit, set()) & set(name.lower().split("_")):
        return name
    return f"{name} ({unit})"


def display_unit(name: str, unit: str) -> str:
    """The unit a column of this name and SI unit is shown in: GHz for clocks, MHz for other frequencies,
    Mbit/s for rates; the unit itself otherwise."""
    if unit == "Hz":
        return "GHz" if any(word in name for word in CLOCK_WORDS) else "MHz"
    if unit == "bit/s":
        return "Mbit/s"
    return unit


def display_name(name: str, unit: str, shown: str) -> str:
    """The name with its unit suffix changed to the shown unit's (`server_clock_hz` -> `server_clock_ghz`)."""
    suffix = SUFFIX.get(unit)
    if shown == unit or not suffix or not name.endswith(suffix):
        return name
    return name[: -len(suffix)] + SUFFIX[shown]


def shown_column(column):
    """The column (a reports.export.Column) as the workbook shows it, and the factor its values are
    multiplied by."""
    shown = display_unit(column.name, column.unit)
    if shown == column.unit:
        return column, 1.0
    return (replace(column, name=display_name(column.name, column.unit, shown), unit=shown,
                    description=f"{column.description} (in {shown}; the CSV holds {column.name} in {column.unit})"),
            SCALE[column.unit, shown])


def _scaled(value, factor: float):
    if factor == 1.0 or isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    return float(value) * factor


def workbook_table(table):
    """The table (a reports.export.ResultTable) as the Excel workbook shows it: clocks, bandwidths and rates
    in display units, a column at a time; the table itself when nothing changes."""
    shown = [shown_column(column) for column in table.columns]
    if all(factor == 1.0 for _, factor in shown):
        return table
    values = [table.column_values(index) for index in range(len(shown))]
    return type(table).from_columns(table.name, [column for column, _ in shown], [
        column if factor == 1.0 else [_scaled(value, factor) for value in column]
        for column, (_, factor) in zip(values, shown)])
