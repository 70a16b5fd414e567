"""fedsplit from Python (notebooks): the same runs as the command line, tables as pandas DataFrames.

    from solvers import api

    result = api.fedsllm("data/fedsllm.xlsx", eta__step=0.02)   # nested keys: __ for the dot
    result.summary                                             # a DataFrame per report table
    result.allocation.head()
    result.write("results/my-run")                             # the usual report folder, atomically

    card = api.card("data/card.xlsx", rounds=4, channel_state="Poor")
    card.decisions.groupby("device")["cut"].mean()

    study = api.fedsllm("data/fedsllm.xlsx", study="monte_carlo", drops=20, users=20,
                        sweep__name="power_dbm", sweep__values=[0, 10, 20])

Every override is checked exactly as on the command line (`python -m solvers.run --help` lists them);
everything wrong with the overrides or the workbook is raised at once as one `InputProblems` whose
`problems` lists each message (and `issues` the workbook's, with sheet, row and column). A solver
failure raises `SolveError` as the command line reports it. Progress bars are off unless progress=True.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from data.issues import InputError
from reports.export import PARTIAL_MARK, ResultTable, refuse_existing
from solvers.app.config import ConfigError
from solvers.app.overrides import SettingsProblems, check_run
from solvers.app.jobs import run_job


class InputProblems(Exception):
    """Everything wrong with a call's overrides or workbook, at once."""

    def __init__(self, problems: list[str], issues: list | None = None):
        self.problems = problems
        self.issues = issues or []
        super().__init__(f"{len(problems)} problem{'s' if len(problems) != 1 else ''}:\n"
                         + "\n".join(f"  - {p}" for p in problems))


def frame(table: ResultTable) -> pd.DataFrame:
    """A report table as a DataFrame; `attrs["units"]` and `attrs["descriptions"]` map each column."""
    data = pd.DataFrame([list(row) for row in table.rows], columns=[c.name for c in table.columns])
    data.attrs["units"] = {c.name: c.unit for c in table.columns}
    data.attrs["descriptions"] = {c.name: c.description for c in table.columns}
    return data


@dataclass
class Result:
    """A finished run: its tables (DataFrames, by the report's sheet names), console lines and headline
    numbers; `write(folder)` writes the usual report folder."""

    model: str
    tables: dict[str, pd.DataFrame]
    lines: list[str]
    headline: dict
    _report: Path = field(repr=False)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(f"no table {name!r}; this run has {', '.join(tables)}")

    def __dir__(self):
        return [*super().__dir__(), *self.tables]

    def write(self, folder: str | Path) -> Path:
        """The report folder (xlsx, CSVs, figures, config.yaml, run.log, the input copy) at `folder`,
        which must not exist; copied under a temporary name and renamed, so it appears whole or not at all."""
        destination = refuse_existing(Path(folder))
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.parent / f".{destination.name}{PARTIAL_MARK}{os.getpid()}"
        shutil.copytree(self._report, partial)
        os.rename(partial, destination)
        return destination


def _override_text(key: str, value) -> str:
    key = key.replace("__", ".")
    if isinstance(value, (list, tuple)):
        value = "[" + ",".join(str(v) for v in value) + "]"
    elif value is None:
        value = "null"
    elif isinstance(value, bool):
        value = str(value).lower()
    return f"{key}={value}"


def run(model: str, data: str | Path | None = None, progress: bool = False, **overrides) -> Result:
    """Any run: `model` is "fedsllm" or "card"; `overrides` as on the command line (`eta__step=0.02`)."""
    texts = [f"model={model}", f"progress={str(progress).lower()}"]
    if data is not None:
        texts.append(f"data={Path(data).resolve()}")
    texts += [_override_text(k, v) for k, v in overrides.items() if k != "out"]
    scratch = Path(tempfile.mkdtemp(prefix="fedsplit-api-"))
    texts.append(f"out={scratch / 'report'}")
    try:
        outcome = run_job(check_run(texts).configs[0])
    except InputError as error:
        shutil.rmtree(scratch, ignore_errors=True)
        raise InputProblems([str(issue) for issue in error.issues], error.issues) from None
    except SettingsProblems as error:  # the settings' problems and, beside them, the workbook's
        shutil.rmtree(scratch, ignore_errors=True)
        raise InputProblems([*error.problems, *map(str, error.issues)], error.issues) from None
    except ConfigError as error:
        shutil.rmtree(scratch, ignore_errors=True)
        lines = [line.strip()[2:] for line in str(error).splitlines() if line.strip().startswith("- ")]
        raise InputProblems(lines or [str(error)]) from None
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return Result(model, {t.name: frame(t) for t in outcome.tables}, outcome.lines, outcome.headline,
                  outcome.report)


def fedsllm(data: str | Path | None = None, **overrides) -> Result:
    """A FedsLLM run (study=optimum by default; power_sweep, monte_carlo)."""
    return run("fedsllm", data, **overrides)


def card(data: str | Path | None = None, **overrides) -> Result:
    """A CARD run (study=decisions by default; monte_carlo)."""
    return run("card", data, **overrides)
