"""What a sensitivity study varies: its settings, its factors with their ranges, and one sample point applied
to the base case.

A factor is either a numeric row of the workbook's `parameters` sheet (its range in the row's unit) or a
per-user / per-device column scaled by one factor (`users.cpu_max_hz` for FedsLLM, `devices.clock_hz` or
`server.cores` for CARD; its range is the factor, 1 = the workbook's values). A column in dB or dBm is
scaled in linear terms, so the factor f adds 10 log10(f) dB to every row. Ranges are checked like
overrides: a parameter's against its schema Field, a column factor's on the scaled column (every row
inside the Field's range), every problem at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from data.schema import (
    CARD_DEVICE_COLUMNS, CARD_PARAMETERS, CARD_SERVER_COLUMNS, FEDSLLM_PARAMETERS, FEDSLLM_USER_COLUMNS, Field, Kind, within,
)

NUMERIC = (Kind.REAL, Kind.INTEGER)
DECIBEL_UNITS = ("dB", "dBm", "dBm/Hz")
# Per model: the sheet prefix of a column factor -> its columns
COLUMN_SHEETS = {"fedsllm": {"users": FEDSLLM_USER_COLUMNS},
                 "card": {"devices": CARD_DEVICE_COLUMNS, "server": CARD_SERVER_COLUMNS}}
PARAMETER_SHEETS = {"fedsllm": FEDSLLM_PARAMETERS, "card": CARD_PARAMETERS}
EXCLUDED = ("eta_step", "seed", "distance_m", "shadowing_db")  # the search's grid, the fading seed, record-only

if TYPE_CHECKING:  # numpy is imported where columns are scaled: the command line's checks need none of it
    import numpy as np


class SensitivityMethod(Enum):
    morris = "morris"  # elementary effects along trajectories (mu*, sigma): cheap screening
    sobol = "sobol"  # variance-based S1 and ST from Saltelli's sample: (D + 2) x samples points


def _setting(default=None, help: str = "", factory=None, valid: Field | None = None):
    metadata = {"help": help, "internal": False, "valid": valid}
    return field(default_factory=factory, metadata=metadata) if factory else field(default=default, metadata=metadata)


@dataclass
class SensitivityConfig:
    method: SensitivityMethod = _setting(SensitivityMethod.morris, "morris (mu*, sigma) or sobol (S1, ST)")
    # NAME -> [low, high]; typed Any because OmegaConf refuses new keys in a typed dict
    parameters: Any = _setting(
        None, help="study=sensitivity: NAME: [low, high] per factor, e.g. {server_cpu_max_hz:[5e9,4e10],"
             "users.cpu_max_hz:[0.5,2]} (a column's range is a factor on the workbook's values)")
    samples: int = _setting(10, "trajectories (morris) or base samples (sobol, a power of 2)",
                            valid=within(1, 100_000, whole=True))
    levels: int = _setting(4, "morris: grid levels of each factor (an even number)", valid=within(2, 1000, whole=True))


@dataclass(frozen=True)
class Factor:
    name: str  # as written: "server_cpu_max_hz" or "users.cpu_max_hz"
    low: float
    high: float
    field: Field
    sheet: str | None = None  # None: a row of the parameters sheet; else the sheet whose column is scaled

    @property
    def unit(self) -> str:
        return "x" if self.sheet else self.field.unit

    def applied(self, value: float) -> float:
        """The value a sample point sets: a whole parameter rounded to the nearest whole number."""
        return float(round(value)) if self.sheet is None and self.field.kind is Kind.INTEGER else float(value)

    def scaled(self, column: np.ndarray, factor: float) -> np.ndarray:
        import numpy as np  # noqa: PLC0415

        column = np.asarray(column, dtype=float)
        if self.field.unit in DECIBEL_UNITS:
            return column + 10.0 * math.log10(factor)
        scaled = column * factor
        return np.round(scaled) if self.field.kind is Kind.INTEGER else scaled


def _field_of(model: str, name: str) -> tuple[Field | None, str | None]:
    if "." in name:
        sheet, column = name.split(".", 1)
        fields = COLUMN_SHEETS[model].get(sheet, ())
        found = next((f for f in fields if f.name == column and f.kind in NUMERIC and f.name not in EXCLUDED), None)
        return found, sheet
    found = next((f for f in PARAMETER_SHEETS[model] if f.name == name and f.kind in NUMERIC
                  and f.name not in EXCLUDED), None)
    return found, None


def factor_names(model: str) -> list[str]:
    names = [f.name for f in PARAMETER_SHEETS[model] if f.kind in NUMERIC and f.name not in EXCLUDED]
    for sheet, fields in COLUMN_SHEETS[model].items():
        names += [f"{sheet}.{f.name}" for f in fields if f.kind in NUMERIC and f.name not in EXCLUDED]
    return names


def _range_problem(name: str, bounds, spec: Field, sheet: str | None) -> str | None:
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2 or any(
            isinstance(b, bool) or not isinstance(b, (int, float)) or not math.isfinite(b) for b in bounds):
        return f"sensitivity.parameters.{name}={bounds}: expected [low, high], two finite numbers"
    low, high = float(bounds[0]), float(bounds[1])
    if not low < high:
        return f"sensitivity.parameters.{name}=[{low:g}, {high:g}]: expected low < high"
    if sheet is not None:
        if low <= 0:
            return f"sensitivity.parameters.{name}=[{low:g}, {high:g}]: expected a factor > 0 on the column"
        return None
    bad = [b for b in (low, high) if spec.problem(int(b) if spec.kind is Kind.INTEGER and b.is_integer() else b)]
    if bad:
        return (f"sensitivity.parameters.{name}=[{low:g}, {high:g}]: outside {name}'s allowed range, "
                f"{spec.expected()}")
    return None


def sensitivity_problems(settings, model: str) -> list[str]:
    """The sensitivity keys, each problem with what is expected (the factors only for study=sensitivity)."""
    config = settings.sensitivity
    problems = []
    if config.levels % 2:  # its range is its Field's
        problems.append(f"sensitivity.levels={config.levels}: expected an even whole number")
    if config.method is SensitivityMethod.sobol and config.samples & (config.samples - 1):
        problems.append(f"sensitivity.samples={config.samples}: expected a power of 2 with method=sobol (its "
                        f"Sobol' sequence is balanced there), e.g. {1 << max(0, config.samples.bit_length() - 1)}")
    if getattr(settings.study, "value", settings.study) != "sensitivity":
        return problems
    parameters = config.parameters
    if not isinstance(parameters, dict) or not parameters:
        problems.append("sensitivity.parameters={}: expected at least one factor NAME: [low, high], one of "
                        + ", ".join(factor_names(model)))
        return problems
    for name, bounds in parameters.items():
        spec, sheet = _field_of(model, str(name))
        if spec is None:
            problems.append(f"sensitivity.parameters.{name}: not a numeric parameter of model={model}; expected "
                            f"one of {', '.join(factor_names(model))}")
            continue
        problem = _range_problem(str(name), list(bounds) if bounds is not None else bounds, spec, sheet)
        if problem:
            problems.append(problem)
    return problems


def factors_of(model: str, parameters: dict) -> list[Factor]:
    """The checked factors in the order given (sensitivity_problems passed)."""
    factors = []
    for name, (low, high) in parameters.items():
        spec, sheet = _field_of(model, str(name))
        factors.append(Factor(str(name), float(low), float(high), spec, sheet))
    return factors


def column_problems(factors: list[Factor], columns_by_sheet: dict[str, dict[str, np.ndarray]]) -> list[str]:
    """A column factor's range checked on the workbook's column: at both ends every row inside its Field."""
    import numpy as np  # noqa: PLC0415

    problems = []
    for factor in factors:
        if factor.sheet is None:
            continue
        column = columns_by_sheet[factor.sheet][factor.field.name]
        for end in (factor.low, factor.high):
            scaled = factor.scaled(column, end)
            if any(factor.field.problem(float(v)) for v in np.atleast_1d(scaled)):
                problems.append(f"sensitivity.parameters.{factor.name}=[{factor.low:g}, {factor.high:g}]: at "
                                f"{end:g} the column leaves its allowed range, {factor.field.expected()} (the "
                                f"workbook's {factor.field.name} runs from {np.min(column):g} to {np.max(column):g})")
                break
    return problems


def fedsllm_point(inputs, factors: list[Factor], values) -> object:
    """The FedsLLM base case with one sample point applied (parameters set, columns scaled)."""
    parameters, users = dict(inputs.parameters), dict(inputs.users)
    for factor, value in zip(factors, values):
        if factor.sheet is None:
            parameters[factor.name] = factor.applied(value)
        else:
            users[factor.field.name] = factor.scaled(users[factor.field.name], value)
    return replace(inputs, parameters=parameters, users=users)


def card_point(inputs, factors: list[Factor], values) -> object:
    """The CARD base case with one sample point applied."""
    parameters, devices, server = dict(inputs.parameters), dict(inputs.devices), dict(inputs.server)
    for factor, value in zip(factors, values):
        if factor.sheet is None:
            applied = factor.applied(value)
            parameters[factor.name] = int(applied) if factor.field.kind is Kind.INTEGER else applied
        elif factor.sheet == "devices":
            devices[factor.field.name] = factor.scaled(devices[factor.field.name], value)
        else:
            scaled = float(factor.scaled(server[factor.field.name], value))
            server[factor.field.name] = int(scaled) if factor.field.kind is Kind.INTEGER else scaled
    return replace(inputs, parameters=parameters, devices=devices, server=server)
