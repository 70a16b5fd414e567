"""A workbook's sheets as editable tables (pandas DataFrames): the input of the notebook API.

`load_scenario(path)` reads every sheet as a run does (values, never formulas) and tells the model from
its sheets. `Scenario.read()` hands the tables, edited or not, back as the workbook loader's tables, each
row numbered as it would be in the workbook (the header is row 1, so DataFrame row i is row i + 2): the
model's validation then names the table, row and column of every problem exactly as for a file.
`copy_to(path)` writes the tables as a workbook (the report's input copy). The `parameters` table is
indexed by parameter name, so `scenario.parameters.loc["bandwidth_main_hz", "value"] = 10e6` edits one.
"""

from __future__ import annotations

import datetime
import math
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from data.issues import Found, InputError, InputIssue
from data.workbook import Cell, Table, append_as_data, read_tables

PARAMETERS = "parameters"
MODEL_OF_SHEET = {"users": "fedsllm", "devices": "card"}  # the sheet that tells a workbook's model


class Scenario:
    """A model's input as DataFrames, one per sheet (`scenario.users`, `scenario.devices`, `scenario.llm`,
    ...), read from `source`."""

    def __init__(self, model: str, source: str, tables: dict[str, pd.DataFrame],
                 repeated_headers: dict[str, tuple[Cell, ...]] | None = None):
        self.model = model
        self.source = source
        self.tables = tables
        self._repeated_headers = repeated_headers or {}

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(f"no table {name!r}; this scenario has {', '.join(tables)}")

    def __dir__(self):
        return [*super().__dir__(), *self.tables]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name} ({len(frame)} rows)" for name, frame in self.tables.items())
        return f"<{self.model} scenario from {self.source}: {sizes}>"

    # --- What a run reads (the same as data.workbook.WorkbookFile) ---

    @property
    def label(self) -> str:
        """How messages and reports name this input."""
        return f"{self.source} (tables in memory)"

    @property
    def name(self) -> str:
        return Path(self.source).name

    def resolved(self) -> str:
        return self.label

    def read(self) -> dict[str, Table]:
        """The tables as the workbook loader hands them out, with their workbook row numbers."""
        return {sheet: _table(sheet, _plain_frame(sheet, frame), self._repeated_headers.get(sheet, ()))
                for sheet, frame in self.tables.items()}

    def copy_to(self, path: Path) -> None:
        """The tables as an .xlsx workbook (text written as text)."""
        workbook = openpyxl.Workbook()
        workbook.remove(workbook.active)
        for sheet, frame in self.tables.items():
            frame = _plain_frame(sheet, frame)
            worksheet = workbook.create_sheet(sheet[:31])
            append_as_data(worksheet, [str(name) for name in frame.columns])
            for record in frame.itertuples(index=False, name=None):
                append_as_data(worksheet, [None if isinstance(v, Found) else v for v in map(_cell_value, record)])
        workbook.save(path)


def load_scenario(path: str | Path) -> Scenario:
    """Every sheet of the workbook at `path` as a DataFrame; an InputError when it cannot be read or is no
    model's workbook."""
    tables = read_tables(Path(path))
    models = {MODEL_OF_SHEET[sheet] for sheet in tables if sheet in MODEL_OF_SHEET}
    if len(models) != 1:
        raise InputError([InputIssue(str(path), None, None, None, Found(f"the sheets {', '.join(tables)}"),
                                     "a FedsLLM workbook (sheets parameters and users) or a CARD workbook "
                                     "(sheets parameters, server, devices, llm and cqi)")])
    frames = {sheet: _frame(sheet, table) for sheet, table in tables.items()}
    return Scenario(models.pop(), str(path), frames, {s: t.repeated_headers for s, t in tables.items()})


def _frame(sheet: str, table: Table) -> pd.DataFrame:
    frame = pd.DataFrame([[row[name].value for name in table.header] for row in table.rows],
                         columns=list(table.header), dtype=object)
    names = frame.get("name")
    if sheet == PARAMETERS and names is not None and names.notna().all() and names.is_unique:
        frame = frame.set_index("name")
    return frame


def _plain_frame(sheet: str, frame: pd.DataFrame) -> pd.DataFrame:
    """The parameters' name index back as the table's first column."""
    return frame.reset_index() if sheet == PARAMETERS and frame.index.name == "name" else frame


def _cell_value(value: object) -> object:
    """A DataFrame cell as a workbook cell: empty for None and NaN, numpy scalars unwrapped, text stripped."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, (str, datetime.date)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return value.strip() or None
    return value


def _table(sheet: str, frame: pd.DataFrame, repeated_headers: tuple[Cell, ...]) -> Table:
    header = {str(name): get_column_letter(index) for index, name in enumerate(frame.columns, start=1)}
    rows = []
    for number, record in enumerate(frame.itertuples(index=False, name=None), start=2):
        values = [_cell_value(value) for value in record]
        if all(value is None for value in values):
            continue  # an empty row, as the loader skips a blank line
        rows.append({name: Cell(number, name, header[name], value) for name, value in zip(header, values)})
    return Table(sheet, header, rows, repeated_headers)
