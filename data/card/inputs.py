"""CARD input: read the workbook, validate every sheet, hand out checked values.

Sheets: `parameters`, `server` (one row), `devices`, `llm` (one row), `cqi`,
and the optional `layers` (a measured per-layer profile that replaces the one
computed from `llm`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from data.issues import Found, InputIssue
from data.schema import (
    CARD_CQI_COLUMNS,
    CARD_DEVICE_COLUMNS,
    CARD_LAYER_COLUMNS,
    CARD_LLM_COLUMNS,
    CARD_PARAMETERS,
    CARD_SERVER_COLUMNS,
    SHIPPED_WORKBOOKS,
    Field,
    Kind,
)
from data.validation import (
    SheetContext,
    cells_valid,
    check_parameter_sheet,
    check_row_table,
    normalise_id,
    parameter_cells,
    raise_issues,
    repeated_header_issues,
)
from data.units import parameters_in_schema_units
from data.workbook import Table, read_tables

DEFAULT_CARD_WORKBOOK = SHIPPED_WORKBOOKS["card"]
SHEET_ORDER = ("parameters", "server", "devices", "llm", "cqi", "layers")


def _rows(table: Table, fields: tuple[Field, ...]) -> list[dict[str, object]]:
    return [{f.name: f.convert(row[f.name].value) for f in fields} for row in table.rows]


def _rows_of(context: SheetContext, sheet: str) -> list[dict]:
    table = context.tables.get(sheet)
    return table.rows if table is not None else []


def _llm_issues(context: SheetContext) -> list[InputIssue]:
    issues = []
    for row in _rows_of(context, "llm")[:1]:
        if cells_valid(row, CARD_LLM_COLUMNS, "hidden_size", "attention_heads"):
            hidden, heads = row["hidden_size"].value, row["attention_heads"].value
            if hidden % heads:
                issues.append(context.issue("llm", row["attention_heads"].row, row["attention_heads"].column_label,
                                            heads, f"a divisor of hidden_size = {hidden} (the head dimension is "
                                                   f"hidden/heads)"))
        if cells_valid(row, CARD_LLM_COLUMNS, "attention_heads", "kv_heads"):
            heads, kv_heads = row["attention_heads"].value, row["kv_heads"].value
            if heads % kv_heads:
                issues.append(context.issue("llm", row["kv_heads"].row, row["kv_heads"].column_label, kv_heads,
                                            f"a divisor of attention_heads = {heads}"))
    return issues


def _cqi_issues(context: SheetContext) -> list[InputIssue]:
    """CQIs once each, thresholds and efficiencies rising with the CQI: judged on the rows whose cells are valid."""
    rows = [r for r in _rows_of(context, "cqi") if cells_valid(r, CARD_CQI_COLUMNS, "cqi")]
    rows = sorted(rows, key=lambda r: r["cqi"].value)
    issues = []
    for previous, row in zip(rows, rows[1:]):
        if row["cqi"].value == previous["cqi"].value:
            issues.append(context.issue("cqi", row["cqi"].row, row["cqi"].column_label, row["cqi"].value,
                                        f"a CQI given once (also in row {previous['cqi'].row})"))
            continue
        for name, noun, unit in (("snr_threshold_db", "a threshold", " dB"), ("efficiency", "an efficiency", "")):
            if cells_valid(row, CARD_CQI_COLUMNS, name) and cells_valid(previous, CARD_CQI_COLUMNS, name) \
                    and row[name].value <= previous[name].value:
                cell = row[name]
                issues.append(context.issue("cqi", cell.row, cell.column_label, cell.value,
                                            f"{noun} above CQI {previous['cqi'].value}'s "
                                            f"{previous[name].value:g}{unit}"))
    return issues


def _layer_issues(context: SheetContext) -> list[InputIssue]:
    rows = _rows_of(context, "layers")
    issues = []
    for expected, row in enumerate(rows):
        if not cells_valid(row, CARD_LAYER_COLUMNS, "layer"):
            continue
        cell = row["layer"]
        if cell.value != expected:
            issues.append(context.issue("layers", cell.row, cell.column_label, cell.value,
                                        f"layer {expected}: rows 0 (embedding), 1..I, I+1 (head) in order"))
    if "layers" in context.tables and len(rows) < 3:
        issues.append(context.issue("layers", None, None, Found(f"{len(rows)} rows"),
                                    "at least 3 rows: embedding, one layer, output head"))
    return issues


SPEED_COLUMNS = ("clock_hz", "cores", "flops_per_cycle")


def _device_speed_issues(context: SheetContext) -> list[InputIssue]:
    """F_min = f^D delta^D sigma^D / (delta^S sigma^S) must not exceed F_max: no device outruns the server."""
    servers = _rows_of(context, "server")
    if not servers or not cells_valid(servers[0], CARD_SERVER_COLUMNS, "clock_max_hz", "cores", "flops_per_cycle"):
        return []
    server = servers[0]
    server_flops = server["clock_max_hz"].value * server["cores"].value * server["flops_per_cycle"].value
    issues = []
    for row in _rows_of(context, "devices"):
        if not cells_valid(row, CARD_DEVICE_COLUMNS, *SPEED_COLUMNS):
            continue
        device_flops = row["clock_hz"].value * row["cores"].value * row["flops_per_cycle"].value
        if device_flops > server_flops:
            cell = row["clock_hz"]
            issues.append(context.issue("devices", cell.row, cell.column_label, cell.value,
                                        f"a device no faster than the server: clock x cores x flops_per_cycle <= "
                                        f"{server_flops:.4g} FLOP/s (this device: {device_flops:.4g})"))
    return issues


def validate_card(file: str, tables) -> list[InputIssue]:
    """Every problem of a CARD workbook, in sheet and row order: each rule between cells is judged wherever
    the cells it uses are valid, even when other cells of the sheet are not."""
    context = SheetContext(file, tables)
    issues = check_parameter_sheet(context, "parameters", CARD_PARAMETERS)
    issues += check_row_table(context, "server", CARD_SERVER_COLUMNS, None, exactly_one_row=True)
    issues += check_row_table(context, "devices", CARD_DEVICE_COLUMNS, "device")
    issues += _device_speed_issues(context)
    issues += check_row_table(context, "llm", CARD_LLM_COLUMNS, None, exactly_one_row=True)
    issues += _llm_issues(context)
    issues += check_row_table(context, "cqi", CARD_CQI_COLUMNS, "cqi")
    issues += _cqi_issues(context)
    if "layers" in tables:
        issues += check_row_table(context, "layers", CARD_LAYER_COLUMNS, "layer")
        issues += _layer_issues(context)
    issues += repeated_header_issues(context, SHEET_ORDER)
    order = {name: index for index, name in enumerate(SHEET_ORDER)}
    return sorted(issues, key=lambda issue: (order.get(issue.sheet, -1), issue.row or 0))


@dataclass(frozen=True)
class CardInputs:
    """A validated CARD scenario in the workbook's units."""

    source: str
    parameters: dict[str, object]
    server: dict[str, float]
    device_ids: tuple[str, ...]
    devices: dict[str, np.ndarray]  # column -> one value per device (platform as text)
    llm: dict[str, object]
    cqi: dict[str, np.ndarray]  # sorted by CQI
    layers: dict[str, np.ndarray] | None  # measured profile, or None

    def parameter(self, name: str):
        return self.parameters[name]

    def with_parameters(self, **changes) -> "CardInputs":
        return replace(self, parameters={**self.parameters, **changes})


def load_card(path: Path | str = DEFAULT_CARD_WORKBOOK) -> CardInputs:
    """Read and validate a CARD workbook; raise InputError listing every problem."""
    return card_inputs(path, read_tables(path))


def card_inputs(path: Path | str, tables: dict[str, Table]) -> CardInputs:
    """Validate the workbook's tables; raise InputError listing every problem, else the inputs."""
    tables = parameters_in_schema_units(tables, "parameters", CARD_PARAMETERS)
    raise_issues(validate_card(str(path), tables))
    cells = parameter_cells(tables["parameters"])
    parameters = {f.name: f.convert(cells[f.name].value) for f in CARD_PARAMETERS}
    devices = _rows(tables["devices"], CARD_DEVICE_COLUMNS)
    cqi = sorted(_rows(tables["cqi"], CARD_CQI_COLUMNS), key=lambda r: r["cqi"])
    layers = _rows(tables["layers"], CARD_LAYER_COLUMNS) if "layers" in tables else None
    return CardInputs(
        source=str(path),
        parameters=parameters,
        server=_rows(tables["server"], CARD_SERVER_COLUMNS)[0],
        device_ids=tuple(normalise_id(d["device"]) for d in devices),
        devices={f.name: np.array([d[f.name] for d in devices]) for f in CARD_DEVICE_COLUMNS if f.kind is not Kind.ID},
        llm=_rows(tables["llm"], CARD_LLM_COLUMNS)[0],
        cqi={f.name: np.array([r[f.name] for r in cqi]) for f in CARD_CQI_COLUMNS},
        layers={f.name: np.array([r[f.name] for r in layers], dtype=float) for f in CARD_LAYER_COLUMNS}
        if layers else None,
    )
