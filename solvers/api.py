"""fedsplit from Python (notebooks and scripts), in memory:

    from solvers import api
    scenario = api.load("data/fedsllm.xlsx")          # the model is read from the workbook
    scenario.parameters.loc["bandwidth_main_hz", "value"] = 10e6   # DataFrames, editable
    scenario.users["power_main_max_dbm"] = 15
    result = api.solve(scenario, eta__step=0.02)      # typed settings; validated like a workbook
    result.summary, result.allocation                  # DataFrames with attrs["units"]
    result.write("results/x")                          # only now is anything written

`solve` checks the settings (the command line's keys, `__` for the dot, typed values: a number, a bool, a
choice's name, a list) and the edited tables exactly as a workbook is checked, and raises one
`FedsplitError` listing every problem (`error.problems`; a workbook's `error.issues` name table, row and
column). It then runs the command line's pipeline and keeps the report in memory: nothing is written,
no figure drawn, until `result.figure(name)` or `result.write(folder)`. A solve that fails gives a result
whose `solved` is False and whose `failure` says which eta or device-round, the status and what to try.
`api.fedsllm(path, **settings)` and `api.card(path, **settings)` load and solve in one call.

A study (study="monte_carlo") on a local cluster starts worker processes that import the calling script
again: in a script, call it under `if __name__ == "__main__":` (a call without it is refused in one line).
"""

from __future__ import annotations

import types
from dataclasses import fields, is_dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import pandas as pd

from data.card.inputs import DEFAULT_CARD_WORKBOOK
from data.errors import FedsplitError
from data.fedsllm.inputs import DEFAULT_WORKBOOK
from data.scenario import Scenario, load_scenario
from reports.export import ResultTable
from reports.files.destination import check_destination
from reports.files.report import Report
from solvers.app.config import MODEL_CONFIGS, ConfigError
from solvers.app.help import key_help, nearest_key, shown
from solvers.app.jobs import run_pipeline
from solvers.app.overrides import SettingsProblems, read_range_problems, scenario_issues, study_problems
from solvers.runtime.ipopt import SolveError
from solvers.runtime.run_log import capturing_run_log
from solvers.studies.cluster import ClusterError, unguarded_main

__all__ = ["FedsplitError", "InputProblems", "Result", "Scenario", "card", "fedsllm", "load", "solve"]
NOT_SETTINGS = {"data": "the scenario is the input", "out": "nothing is written until result.write(folder)"}
InputProblems = SettingsProblems  # every problem of the settings (`problems`) and, beside them, the workbook's (`issues`)


def load(path: str | Path) -> Scenario:
    """The workbook at `path` as editable DataFrames, one per sheet; its model is told by its sheets."""
    return load_scenario(path)


def solve(scenario: Scenario, progress: bool = False, **settings) -> Result:
    """Validate the scenario and the settings as the command line does, run its pipeline, keep the report."""
    if not isinstance(scenario, Scenario):
        raise ConfigError(f"api.solve needs a scenario from api.load(path), got {type(scenario).__name__}")
    try:
        typed = typed_settings(scenario.model, {"progress": progress, **settings})
    except SettingsProblems as error:  # the workbook's problems beside the settings', fixed in one round
        raise SettingsProblems(error.settings_problems, scenario_issues(scenario)) from None
    on_a_cluster = typed.study.value in ("monte_carlo", "sensitivity", "pareto")
    unguarded = unguarded_main() if on_a_cluster and typed.dask.scheduler is None else None
    if unguarded:  # before any work: the local cluster's workers would import the script again
        raise ClusterError(unguarded)
    shown = ", ".join([repr(scenario.source), *(f"{k}={v!r}" for k, v in settings.items())])
    with capturing_run_log():
        try:
            report = run_pipeline(typed, scenario, command=f"solvers.api.solve({shown})")
        except SolveError as failure:
            return Result(scenario.model, None, failure)
    return Result(scenario.model, report)


def fedsllm(path: str | Path | None = None, **settings) -> Result:
    """Load a FedsLLM workbook (default: the shipped one) and solve it."""
    return _load_and_solve("fedsllm", path or DEFAULT_WORKBOOK, settings)


def card(path: str | Path | None = None, **settings) -> Result:
    """Load a CARD workbook (default: the shipped one) and solve it."""
    return _load_and_solve("card", path or DEFAULT_CARD_WORKBOOK, settings)


def _load_and_solve(model: str, path: str | Path, settings: dict) -> Result:
    scenario = load(path)
    if scenario.model != model:
        raise ConfigError(f"{path} is a {scenario.model} workbook; use api.{scenario.model}(...) or api.solve")
    return solve(scenario, **settings)


# --- Typed settings from keyword arguments ---------------------------------------------------

def typed_settings(model: str, values: dict[str, Any]):
    """The model's configuration with `values` set (`eta__step` is eta.step), each value of its key's type
    and in its range; a ConfigError listing every problem."""
    settings = MODEL_CONFIGS[model]()
    problems, given = [], []
    for name, value in values.items():
        key = name.replace("__", ".")
        if key in NOT_SETTINGS:
            problems.append(f"{name}: not a setting of api.solve ({NOT_SETTINGS[key]})")
            continue
        found = _leaf(settings, key)
        if found is None:
            guess = nearest_key(key, model)
            hint = f" (did you mean {guess.replace('.', '__')}?)" if guess else ""
            problems.append(f"{name}: model={model} has no key '{key}'{hint}; python -m solvers.run --help "
                            f"lists the keys")
            continue
        holder, leaf, kind = found
        converted, expected = _typed(value, kind)
        if expected:
            problems.append(f"{key}={shown(value)}: expected {expected}")
        else:
            setattr(holder, leaf, converted)
            given.append(f"{key}={shown(value)}")
    # every problem at once: the ranges of what could be set too, but not of a key this study does not read
    keys = {k.key: k for k in key_help(MODEL_CONFIGS[model])}
    problems += read_range_problems(settings, keys)
    problems += study_problems(given, settings.study.value, keys)
    if problems:
        raise SettingsProblems(list(dict.fromkeys(problems)))
    return settings


def _leaf(settings, key: str):
    """(the dataclass holding `key`, its last name, its type), or None when no such key may be set."""
    holder, *path, leaf = [settings, *key.split(".")]
    for part in path:
        holder = getattr(holder, part, None)
        if not is_dataclass(holder):
            return None
    item = next((f for f in fields(holder) if f.name == leaf), None)
    if item is None or item.metadata.get("internal") or is_dataclass(getattr(holder, leaf)):
        return None
    return holder, leaf, get_type_hints(type(holder))[leaf]  # in the module that declares the field


def _typed(value, kind) -> tuple[Any, str]:
    """`value` as `kind` (a dataclass field's type), or what was expected instead."""
    options = get_args(kind) if get_origin(kind) in (Union, types.UnionType) else (kind,)
    if value is None:
        return (None, "") if type(None) in options else (None, "a value (this key cannot be null)")
    kind = next(k for k in options if k is not type(None))
    if kind is Any:  # sensitivity.parameters: a dict NAME -> [low, high], checked by its key's own rules
        return value, ""
    origin = get_origin(kind)
    if isinstance(kind, type) and issubclass(kind, Enum):
        by_value = {member.value: member for member in kind}
        member = value if isinstance(value, kind) else by_value.get(value)
        return (member, "") if member is not None else (None, f"one of {', '.join(by_value)}")
    if origin is list:
        items = [_typed(item, get_args(kind)[0]) for item in value] if isinstance(value, (list, tuple)) else None
        if items is None or any(problem for _, problem in items):
            return None, f"a list of {get_args(kind)[0].__name__}s"
        return [item for item, _ in items], ""
    if origin is dict:
        return (dict(value), "") if isinstance(value, dict) else (None, "a dict of Ipopt options")
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is bool:
        return (value, "") if isinstance(value, bool) else (None, "True or False")
    if kind is int:
        whole = is_number and float(value).is_integer()
        return (int(value), "") if whole else (None, "a whole number")
    if kind is float:
        return (float(value), "") if is_number else (None, "a number")
    if is_number:  # a text key that also takes a number (crosscheck.rounds: all or N)
        return str(value), ""
    return (value, "") if isinstance(value, str) else (None, "a text")


# --- The result --------------------------------------------------------------------------------

def frame(table: ResultTable) -> pd.DataFrame:
    """A report table as a DataFrame; `attrs["units"]` and `attrs["descriptions"]` map each column."""
    data = pd.DataFrame([list(row) for row in table.rows], columns=[c.name for c in table.columns])
    data.attrs["units"] = {c.name: c.unit for c in table.columns}
    data.attrs["descriptions"] = {c.name: c.description for c in table.columns}
    return data


class Result:
    """A finished run: `solved` says first whether it has a solution (else `failure` says why); its tables
    as DataFrames by the report's sheet names (`result.summary`, or `result.tables`), the console `lines`
    and `headline` numbers; `figure(name)` draws one figure; `write(folder)` writes the report folder."""

    def __init__(self, model: str, report: Report | None, failure: SolveError | None = None):
        self.model = model
        self.solved = report is not None
        self.failure = failure
        self._report = report
        self.tables = {t.name: frame(t) for t in report.tables} if report is not None else {}
        self.lines = list(report.lines) if report is not None else str(failure).splitlines()
        self.headline = dict(report.headline) if report is not None else {}
        self.figures = list(report.figures) if report is not None else []

    def __repr__(self) -> str:
        if not self.solved:
            return f"<{self.model} result: no solution ({self.lines[0]})>"
        numbers = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.headline.items())
        return f"<{self.model} result: solved; {numbers}; tables {', '.join(self.tables)}>"

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        if not self.__dict__.get("solved", True):
            raise self.__dict__["failure"]
        raise AttributeError(f"no table {name!r}; this run has {', '.join(tables)}")

    def __dir__(self):
        return [*super().__dir__(), *self.tables]

    def _solved_report(self) -> Report:
        if self._report is None:
            raise self.failure
        return self._report

    def figure(self, name: str):
        """The report's figure `name` (see `figures`) as a matplotlib Figure, drawn now, written nowhere."""
        return self._solved_report().figure(name)

    def write(self, folder: str | Path) -> Path:
        """The command line's report folder at `folder`, which must not exist (xlsx, CSVs, figures,
        config.yaml, run.log, the input tables); built beside it and moved into place whole. The folder is
        checked first (free, its names short enough, creatable), as the command line checks it before solving."""
        report = self._solved_report()
        written, _ = report.write(check_destination(Path(folder)))
        return written
